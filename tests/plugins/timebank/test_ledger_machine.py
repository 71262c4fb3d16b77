"""A hypothesis state machine over the time bank's ledger, on SQLite and on PostgreSQL.

Two community banks, each with its pool. Members join either bank with no overdraft or a
small one; they earn from the pool, spend (to the pool, or to another member who helped
them), give to other members, donate to the pool, send minutes to the other bank through
the clearing accounts, are frozen, unfrozen and closed; any earlier transfer may be
reversed, with or without a reason, once or again, a reversal included; reversing either
leg of a cross-bank transfer reverses both.

Whether an operation is allowed is predicted from a model the machine keeps (balances,
floors, statuses, what was reversed), written independently of the ledger: an allowed one
must succeed and move exactly what the model says; a refused one must raise LedgerError
and change nothing in the database. Every operation is its own transaction.

After every step: each bank's entries sum to zero; every stored balance is the sum of its
entries (reconcile() == []) and the model's; every transfer has exactly two entries that
cancel; no balance is below its floor; the two legs of every cross-bank transfer name each
other; and for any two banks, each one's clearing account with the other cancels it.

One district per backend, emptied of the time bank's rows between examples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, func, select

from community365.district import District
from community365_timebank import ledger, tables
from community365_timebank.ledger import LedgerError
from community365_timebank.tables import accounts, entries, transfers

from .tb_world import add_communities, ledger_unguarded

MINUTES = st.one_of(st.sampled_from([15, 30, 45, 60, 90]), st.integers(1, 300))
FLOORS = st.sampled_from([0, 0, -60, -120])  # a new member may get a small overdraft
REASONS = st.sampled_from(["录入错误", "重复记录", "  "])  # the last one is blank


class Ledger(RuleBasedStateMachine):
    """Given its district and the two community areas by :func:`run_machine`."""

    district: District
    communities: list[int]
    members = Bundle("members")
    moves = Bundle("moves")

    def __init__(self) -> None:
        super().__init__()
        with self.district.begin() as ctx:
            with ledger_unguarded(ctx.connection):  # entries and transfers are immutable
                for table in reversed(tables.metadata.sorted_tables):
                    ctx.connection.execute(delete(table))
            self.banks = [ledger.open_bank(ctx, area) for area in self.communities]
            self.pools = [ledger.pool_of(ctx.connection, bank) for bank in self.banks]
        # The model.
        self.bank_of = dict(zip(self.pools, self.banks, strict=True))
        self.floor: dict[int, int | None] = dict.fromkeys(self.pools)
        self.status = dict.fromkeys(self.pools, "active")
        self.balance = dict.fromkeys(self.pools, 0)
        self.done: dict[int, tuple[str, int, int, int]] = {}  # id: kind, from, to, minutes
        self.reversed: set[int] = set()
        self.pair: dict[int, int] = {}  # a cross-bank leg: its other leg
        self.joined = 0
        self.joined_members: list[int] = []

    # -- helpers ------------------------------------------------------------------------------

    def snapshot(self) -> tuple[dict[int, tuple[int, str]], int, int]:
        with self.district.engine.connect() as conn:
            return (
                {
                    row.id: (row.balance, row.status)
                    for row in conn.execute(
                        select(accounts.c.id, accounts.c.balance, accounts.c.status)
                    )
                },
                conn.execute(select(func.count()).select_from(transfers)).scalar_one(),
                conn.execute(select(func.count()).select_from(entries)).scalar_one(),
            )

    def refused(self, call: Callable[[Any], object]) -> None:
        before = self.snapshot()
        try:
            with self.district.begin() as ctx:
                call(ctx)
        except LedgerError as exc:
            assert len(str(exc).splitlines()) == 1, str(exc)
        else:
            raise AssertionError("the ledger allowed what the rules forbid")
        assert self.snapshot() == before, "a refused operation changed the database"
        event("refused")

    def can_pay(self, account: int, minutes: int) -> bool:
        floor = self.floor[account]
        return floor is None or self.balance[account] - minutes >= floor

    def allowed(self, payer: int, payee: int, minutes: int) -> bool:
        return (
            payer != payee
            and self.bank_of[payer] == self.bank_of[payee]
            and self.status[payer] == self.status[payee] == "active"
            and self.can_pay(payer, minutes)
        )

    def book(self, move: ledger.Transfer) -> None:
        self.done[move.id] = (move.kind, move.from_account, move.to_account, move.minutes)
        event(f"booked {move.kind}")
        self.balance[move.from_account] -= move.minutes
        self.balance[move.to_account] += move.minutes

    def attempt(self, kind: str, payer: int, payee: int, minutes: int) -> Any:
        if not self.allowed(payer, payee, minutes):
            self.refused(lambda ctx: ledger.transfer(ctx, kind, payer, payee, minutes))
            return multiple()
        with self.district.begin() as ctx:
            move = ledger.transfer(ctx, kind, payer, payee, minutes)
        assert (move.kind, move.from_account, move.to_account, move.minutes) == (
            kind,
            payer,
            payee,
            minutes,
        )
        self.book(move)
        return move.id

    def pool(self, member: int) -> int:
        return self.pools[self.banks.index(self.bank_of[member])]

    def other(self, member: int, pick: int, *, same_bank: bool) -> int | None:
        """Another member of the same bank (or of the other bank), chosen by ``pick``."""
        found = [
            account
            for account in self.joined_members
            if account != member and (self.bank_of[account] == self.bank_of[member]) == same_bank
        ]
        return found[pick % len(found)] if found else None

    # -- rules ---------------------------------------------------------------------------------

    @initialize(target=members, start=st.lists(st.integers(0, 600), min_size=4, max_size=4))
    def founders(self, start: list[int]) -> Any:
        """Two members in each bank, with what they earned before (possibly nothing)."""
        founders = [self.join(n % 2, 0) for n in range(4)]
        for account, minutes in zip(founders, start, strict=True):
            if minutes:
                self.attempt("earn", self.pool(account), account, minutes)
        return multiple(*founders)

    @rule(target=members, bank=st.sampled_from([0, 1]), floor=FLOORS)
    def join(self, bank: int, floor: int) -> int:
        self.joined += 1
        with self.district.begin() as ctx:
            account = ledger.open_account(
                ctx, self.banks[bank], "member", f"member:{self.joined}", floor=floor
            )
        self.bank_of[account] = self.banks[bank]
        self.floor[account] = floor
        self.status[account] = "active"
        self.balance[account] = 0
        self.joined_members.append(account)
        return account

    @rule(target=moves, member=members, minutes=MINUTES)
    def earn(self, member: int, minutes: int) -> Any:
        return self.attempt("earn", self.pool(member), member, minutes)

    @rule(target=moves, member=members, minutes=MINUTES)
    def spend(self, member: int, minutes: int) -> Any:
        return self.attempt("spend", member, self.pool(member), minutes)

    @rule(target=moves, member=members, pick=st.integers(0, 99), minutes=MINUTES)
    def spend_with(self, member: int, pick: int, minutes: int) -> Any:
        """A neighbour of the same bank helped the member, who pays with hours."""
        helper = self.other(member, pick, same_bank=True)
        return multiple() if helper is None else self.attempt("spend", member, helper, minutes)

    @rule(target=moves, giver=members, relative=members, minutes=MINUTES)
    def gift(self, giver: int, relative: int, minutes: int) -> Any:
        return self.attempt("gift", giver, relative, minutes)

    @rule(target=moves, member=members, minutes=MINUTES)
    def donate(self, member: int, minutes: int) -> Any:
        return self.attempt("donate", member, self.pool(member), minutes)

    @rule(target=moves, payer=members, pick=st.integers(0, 99), minutes=MINUTES)
    def across_to(self, payer: int, pick: int, minutes: int) -> Any:
        """To a member of the other bank (通存通兑)."""
        payee = self.other(payer, pick, same_bank=False)
        return multiple() if payee is None else self.across(payer, payee, minutes)

    @rule(target=moves, payer=members, payee=members, minutes=MINUTES)
    def across(self, payer: int, payee: int, minutes: int) -> Any:
        ok = (
            self.bank_of[payer] != self.bank_of[payee]
            and self.status[payer] == self.status[payee] == "active"
            and self.can_pay(payer, minutes)
        )
        if not ok:
            self.refused(lambda ctx: ledger.transfer_across(ctx, payer, payee, minutes))
            return multiple()
        with self.district.begin() as ctx:
            out_leg, in_leg = ledger.transfer_across(ctx, payer, payee, minutes)
        owes, owed = out_leg.to_account, in_leg.from_account
        with self.district.engine.connect() as conn:
            assert owes == ledger.find_account(
                conn, self.bank_of[payer], f"clearing:{self.bank_of[payee]}"
            )
            assert owed == ledger.find_account(
                conn, self.bank_of[payee], f"clearing:{self.bank_of[payer]}"
            )
        for clearing, bank in ((owes, self.bank_of[payer]), (owed, self.bank_of[payee])):
            if clearing not in self.balance:
                self.bank_of[clearing] = bank
                self.floor[clearing] = None
                self.status[clearing] = "active"
                self.balance[clearing] = 0
        assert (out_leg.from_account, in_leg.to_account) == (payer, payee)
        assert out_leg.minutes == in_leg.minutes == minutes
        assert (out_leg.pair, in_leg.pair) == (in_leg.id, out_leg.id)
        self.book(out_leg)
        self.book(in_leg)
        self.pair[out_leg.id], self.pair[in_leg.id] = in_leg.id, out_leg.id
        return multiple(out_leg.id, in_leg.id)

    @rule(target=moves, move=moves, reason=REASONS)
    def reverse(self, move: int, reason: str) -> Any:
        legs = sorted([move, self.pair[move]]) if move in self.pair else [move]
        ok = bool(reason.strip()) and all(
            self.done[leg][0] != "reverse"
            and leg not in self.reversed
            and "closed" not in (self.status[self.done[leg][1]], self.status[self.done[leg][2]])
            and self.can_pay(self.done[leg][2], self.done[leg][3])
            for leg in legs
        )
        if not ok:
            self.refused(lambda ctx: ledger.reverse(ctx, move, reason))
            return multiple()
        before = self.snapshot()[0]
        with self.district.begin() as ctx:
            made = ledger.reverse(ctx, move, reason)
        undone = list(made) if isinstance(made, tuple) else [made]
        after = self.snapshot()[0]
        # Each reversal gives back to its payer exactly what the payee got, nothing else.
        touched: set[int] = set()
        for leg, undo in zip(legs, undone, strict=True):
            _, payer, payee, minutes = self.done[leg]
            assert after[payer][0] == before[payer][0] + minutes
            assert after[payee][0] == before[payee][0] - minutes
            assert (undo.kind, undo.reverses, undo.memo) == ("reverse", leg, reason.strip())
            touched |= {payer, payee}
        assert {a: b for a, b in after.items() if a not in touched} == {
            a: b for a, b in before.items() if a not in touched
        }
        for leg, undo in zip(legs, undone, strict=True):
            self.reversed.add(leg)
            self.book(undo)
        if len(undone) == 2:
            first, second = undone
            assert (first.pair, second.pair) == (second.id, first.id)
            self.pair[first.id], self.pair[second.id] = second.id, first.id
        return multiple(*(undo.id for undo in undone))

    @rule(payer=members, pick=st.integers(0, 99), minutes=MINUTES, which=st.sampled_from([0, 1]))
    def across_then_reverse(self, payer: int, pick: int, minutes: int, which: int) -> None:
        """A cross-bank transfer reversed at once, by either leg, leaves every balance (the
        clearing accounts' included) as it was before it."""
        payee = self.other(payer, pick, same_bank=False)
        if payee is None or not (
            self.status[payer] == self.status[payee] == "active" and self.can_pay(payer, minutes)
        ):
            return
        legs = self.across(payer, payee, minutes)
        leg = list(legs.values)[which]
        before = {a: b for a, (b, _) in self.snapshot()[0].items()}
        expected = dict(before)
        for one in (leg, self.pair[leg]):
            _, a, b, m = self.done[one]
            expected[a], expected[b] = expected[a] + m, expected[b] - m
        self.reverse(leg, "转错了")
        assert {a: b for a, (b, _) in self.snapshot()[0].items()} == expected

    @rule(payer=members, payee=members, minutes=MINUTES)
    def transfer_then_reverse(self, payer: int, payee: int, minutes: int) -> None:
        """A transfer reversed at once leaves every balance as it was before it."""
        if not self.allowed(payer, payee, minutes):
            return
        before = self.snapshot()[0]
        with self.district.begin() as ctx:
            move = ledger.transfer(ctx, "gift", payer, payee, minutes)
        self.book(move)
        with self.district.begin() as ctx:
            undo = ledger.reverse(ctx, move.id, "转错了")
        self.book(undo)
        self.reversed.add(move.id)
        assert self.snapshot()[0] == before

    @rule(target=moves, member=members)
    def leave(self, member: int) -> Any:
        """The member donates what is left and closes the account (refused when it is
        overdrawn, frozen or already closed)."""
        moved = multiple()
        if self.balance[member] > 0:
            moved = self.attempt("donate", member, self.pool(member), self.balance[member])
        self.set_status(member, "closed")
        return moved

    @rule(member=members, status=st.sampled_from(["frozen", "active", "closed"]))
    def set_status(self, member: int, status: str) -> None:
        if self.status[member] == "closed" or (status == "closed" and self.balance[member]):
            self.refused(lambda ctx: ledger.set_status(ctx, member, status))
            return
        with self.district.begin() as ctx:
            ledger.set_status(ctx, member, status)
        self.status[member] = status

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def the_books_balance(self) -> None:
        with self.district.engine.connect() as conn:
            assert all(total == 0 for total in ledger.bank_totals(conn).values())
            assert ledger.reconcile(conn) == []
            stored = {
                row.id: (row.balance, row.floor, row.status)
                for row in conn.execute(
                    select(accounts.c.id, accounts.c.balance, accounts.c.floor, accounts.c.status)
                )
            }
            legs = conn.execute(
                select(
                    entries.c.transfer_id,
                    func.count(),
                    func.sum(entries.c.minutes),
                    func.min(entries.c.minutes),
                )
                .group_by(entries.c.transfer_id)
                .having(
                    (func.count() != 2)
                    | (func.sum(entries.c.minutes) != 0)
                    | (func.min(entries.c.minutes) >= 0)
                )
            ).all()
            moves = conn.execute(select(func.count()).select_from(transfers)).scalar_one()
            pairs = dict(
                conn.execute(
                    select(transfers.c.id, transfers.c.pair).where(transfers.c.pair.is_not(None))
                ).all()
            )
            clearing = {
                (row.bank_id, row.peer_bank_id): row.balance
                for row in conn.execute(
                    select(accounts.c.bank_id, accounts.c.peer_bank_id, accounts.c.balance).where(
                        accounts.c.kind == "clearing"
                    )
                )
            }
        assert legs == []
        assert pairs == self.pair
        for (bank, peer), held in clearing.items():
            assert held == -clearing.get((peer, bank), 0), "clearing accounts apart"
        assert moves == len(self.done)
        assert stored == {a: (self.balance[a], self.floor[a], self.status[a]) for a in self.balance}
        for balance, floor, _ in stored.values():
            assert floor is None or balance >= floor


def run_machine(district: District, communities: list[int]) -> None:
    machine = type("LedgerOn", (Ledger,), {"district": district, "communities": communities})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=40,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_ledger_state_machine(make_district: Callable[..., District]) -> None:
    district = make_district(enabled=("timebank",))
    try:
        run_machine(district, add_communities(district))
    finally:
        district.engine.dispose()
