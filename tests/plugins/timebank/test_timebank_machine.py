"""A hypothesis state machine over the whole time bank, through the plugin's public
functions, on SQLite and on PostgreSQL.

The tb_world district (two community banks; see tb_world.py) plus 裘德, a volunteer VD
living in the second community. Residents and the team T1 join (accounts.join_ref);
林芳, 裘德 and 蔡梅 move house between the two communities (the register is changed
directly, as an import would) and join the other bank with ``--move`` (at times once a
coordinator has rejected the hours pending on their account); accounts are closed
(accounts.leave) and frozen and unfrozen (accounts.set_frozen). Volunteers serve help
requests through the case pipeline (one at a time, or two or three neighbours in one
outing; a request may be entered late, received up to a day before), so the hours are
recorded as pending on resolution (earning.on_transition); a case is sent back (返工:
reopened, or rated unsatisfied) and then resolved again (by its volunteer, or by another
handler it is handed over to), withdrawn, marked a duplicate of another case, or handed
over and rejected (不予受理); resolved cases are closed (or rated satisfied). Pending
hours are verified (earning.verify: the recipient confirming as themselves, by ID number
or HOUSEHOLD/NAME, or a coordinator named in the settings signing off; never the
volunteer; with or without sign-in and sign-out times, which must lie within the case's
received_at..resolved_at) or rejected (earning.reject); a verified earning may be
reversed with its surplus (earning.reverse_earning), after which its status is
"reversed" and it no longer counts toward the daily cap. Members spend (giving.spend, to
the pool, a member or a team), give to recorded family (family.add_tie, giving.gift),
donate (giving.donate), and do both across the two banks (通存通兑, through the clearing
accounts, both legs keeping their kind); any transfer may be reversed
(earning.reverse_transfer: an earning or its surplus with its record, through
reverse_earning; any other transfer through ledger.reverse, both legs of a cross-bank
transfer at once). The clock moves on a day at a time, so the daily cap starts again.

Who may act (plugins.timebank.coordinators = ["协调员"]): spending, giving, donating,
leaving and joining with --move take the account's holder (a resident named by ID number
or HOUSEHOLD/NAME, or by the code of the handler they are; a team by its code; a bare
name, which may repeat, is not enough) or a coordinator; verifying as coordinator,
rejecting, reversing, freezing and unfreezing take a coordinator; the volunteer never
verifies their own hours, named in any of those ways or by their bare name. Each of
those operations is tried mostly by the holder (under any of their names, bare ones
included) or a coordinator, sometimes by anyone (the office, another resident or
volunteer), and what the rules forbid must be refused.

Recording (on every resolve): nothing for a handler without an account or with a closed
one (a frozen account's hours are recorded, and wait), for a volunteer helping
themselves, for time that rounds to nothing (quarter hours, halves up), or past the daily
cap (the other pending and verified records of the earner on that local day count); a
rework's resolve replaces a record still pending, or sets it aside (rejected by "c365",
its note starting "resolved again: ") when nothing is due now; a decided record never
changes. Withdrawing a case, marking it a duplicate or rejecting it (不予受理, once
handed over after a rework) sets its pending hours aside ("the case was withdrawn" /
"duplicate" / "rejected").

Who pays an earning (payer = "recipient_then_pool"): the helped resident when they are a
member of the volunteer's bank, active, old enough to use their hours and holding them
(the overdraft counts); else the pool when they are a priority elder (aged
``pool_pays_from_age`` = 70 or more on the day served; no tags count here); else nobody:
the record stays pending with no payer (NULL) and the reason in its note, and
verification is refused with a one-line error.

Verification needs the case resolved or closed and the earner's account active. With
signed times the credit is at most the signed time (rounded) and the day served becomes
the local date of the sign-in; the signed time may not overlap another verified record's
of the same volunteer. On that day the daily cap applies again: the credit is at most
the cap minus the earner's other pending and verified records of the day, and nothing
left refuses it; the payer is chosen for that credit. The earner's floor is then raised
to min(0, their balance just before the earning) when that is higher (a new member's
overdraft closes as they earn).

Overdrafts: only a spend and the recipient paying verified help may take a member below
zero (to their floor); a gift or a donation may not take the payer below zero. The
storage cap: after every credit of a member or team account but a reversal (an earning,
a spend paid to them, a gift, in one bank or across two) what the payee holds above
``storage_cap_hours`` (at most the credit) goes on to the payee's pool as a "surplus"
transfer in the same transaction (naming the case for an earning, none otherwise).
Leaving and moving are refused while the account has pending hours as volunteer or payer;
a member moving banks takes their balance across (kind "clear", no surplus) and keeps an
overdraft closed by earning closed (the new account's floor is the higher of the old
account's and a new member's).

Whether an operation is allowed, and what it moves, is predicted from a model the
machine keeps (accounts, balances, floors, statuses, homes, family ties, cases, pending
records, transfers), written from the rules above rather than from the code. An allowed
operation must succeed and move exactly what the model says; a refused one (an actor
who may not, a young member spending, a gift to someone not recorded as family, an
overdraft, a frozen or closed account, a record decided already, a volunteer verifying
their own hours, a second reversal, a verifier who is not the recipient or not a
coordinator, sign-in times outside the case or overlapping, the day's cap reached, hours
nobody is to pay, a case not resolved, hours pending on leaving, ...) must raise a
UsageError with a one-line message and change nothing in the database.

After every step: each bank's entries sum to zero (ledger.bank_totals); reconcile() is
empty; every stored balance, floor and status is the model's; no balance is below its
floor; no member or team account is above the storage cap unless a reversal (or moving
banks) took it there and it has not been back under the cap since; every pending record
is the model's (status, minutes, earner, payer, day served, signed times, who decided);
a verified or reversed one has exactly one earn transfer (its ``transfer_id``) and a
rejected or pending one none; a record decided has who decided it.

One district per backend, emptied of the time bank's rows between examples, and the
movers put back in their homes (cases stay: each example's cases have new refs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from cases_fixtures import HH1, HH2, HH3, Clock, Desk
from conftest import FIXED_NOW
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, func, select, update

from community365 import PersonRef
from community365.db.schema import households, persons
from community365.district import District
from community365.errors import UsageError
from community365.registry.handlers import HandlerRecord, add_handler
from community365.registry.idcard import make_id_number
from community365.registry.people import add_person, parse_person
from community365_timebank import accounts, earning, family, giving, ledger, tables
from community365_timebank.tables import entries, pending, transfers

from .tb_world import (
    CAI,
    COMMUNITY,
    HH4,
    HH5,
    LIN,
    SHI_BO_ID,
    SHI_ID,
    SUN,
    WANG_ID,
    YU,
    ledger_unguarded,
    world,
)

QIU = make_id_number("330212", dt.date(1962, 4, 5), 55)  # 裘德, VD, 64, in the second bank

CAP = 120  # storage_cap_hours = 2
DAILY = 180  # daily_cap_hours = 3
OVERDRAFT = 30  # new_member_overdraft_hours = 0.5
PRIORITY_AGE = 70  # pool_pays_from_age
COORDINATOR = "协调员"
SYSTEM = "c365"  # who sets hours aside when their case ends or is resolved again
SETTINGS = {
    "storage_cap_hours": "2",
    "daily_cap_hours": "3",
    "new_member_overdraft_hours": "0.5",
    "payer": "recipient_then_pool",
    "pool_pays_for_tags": [],
    "pool_pays_from_age": PRIORITY_AGE,
    "coordinators": [COORDINATOR],
}

# holder: (ID number, birth date, household at the start); the team T1 has a duty in the
# first bank. Households HH5 are in the second community (bank 1), the others in the first.
PEOPLE = {
    "史永康": (SHI_ID, dt.date(1956, 10, 22), HH1),
    "王翠娥": (WANG_ID, dt.date(1956, 1, 8), HH1),
    "史波": (SHI_BO_ID, dt.date(1985, 1, 21), HH3),
    "俞青": (YU, dt.date(1990, 3, 1), HH2),
    "蔡梅": (CAI, dt.date(1958, 5, 6), HH4),
    "孙杰": (SUN, dt.date(1992, 7, 8), HH3),
    "林芳": (LIN, dt.date(1950, 1, 2), HH5),
    "裘德": (QIU, dt.date(1962, 4, 5), HH5),
}
TEAM = "T1"
TEAM_NAME = "划船志愿服务队"
HOLDERS = [*PEOPLE, TEAM]
VOLUNTEERS = {"VA": "俞青", "VB": "蔡梅", "VC": "孙杰", "VD": "裘德", TEAM: TEAM}
HANDLER_OF = {holder: code for code, holder in VOLUNTEERS.items()}  # a resident's handler
POOLS = {0: f"pool:{COMMUNITY}", 1: "pool:330212001002"}
MOVERS = ["林芳", "裘德", "蔡梅"]  # who moves house between the communities
HOUSE_IN = {0: HH4, 1: HH5}  # where a mover moves to, by bank
OTHERS = ["office", "V1", "志愿者丁", "网格员甲"]  # actors who hold no account
HANDLERS = [*VOLUNTEERS, "V1", "A1"]  # who may take a case over: V1 and A1 hold no account

HOLDER = st.sampled_from(HOLDERS)
PERSON = st.sampled_from(list(PEOPLE))
MINUTES = st.one_of(st.sampled_from([15, 30, 45, 60]), st.integers(1, 150))
SPENT = st.one_of(st.none(), st.sampled_from([7, 8, 22, 23, 60, 95]), st.integers(1, 240))
PICK = st.integers(0, 999)
REASONS = st.sampled_from(["录入错误", "服务未完成", "  "])  # the last one is blank
RELATIONS = st.sampled_from(["spouse", "parent", "grandparent"])
# Ties that let gifts happen: the young volunteers' elders, in their bank and in the other.
LIKELY_TIES = [
    ("俞青", "蔡梅", "parent"),
    ("孙杰", "史永康", "grandparent"),
    ("孙杰", "林芳", "grandparent"),
    ("俞青", "裘德", "parent"),
    ("史永康", "王翠娥", "spouse"),
    ("蔡梅", "林芳", "parent"),
]
TIES = st.one_of(st.sampled_from(LIKELY_TIES), st.tuples(PERSON, PERSON, RELATIONS))
VOLUNTEER = st.sampled_from(list(VOLUNTEERS))
GIFT_PAIRS = st.one_of(
    st.sampled_from([(person, relative) for person, relative, _ in LIKELY_TIES]),
    st.tuples(HOLDER, HOLDER),
)
# Who acts on an account's hours: one of the names of its holder, a coordinator, or
# anyone at all (any name of any holder, or an actor holding no account), with a pick.
ACTING = st.tuples(
    st.sampled_from(["holder", "holder", "holder", "coordinator", "coordinator", "anyone"]),
    PICK,
)
# Who acts where only a coordinator may.
COORDINATING = st.sampled_from([COORDINATOR, COORDINATOR, COORDINATOR, "office", "VA", SHI_ID])
# Who acts when hours are verified: the record's recipient (by ID number or by
# HOUSEHOLD/NAME; by their name alone they are not recognised), a coordinator named in
# the settings, the volunteer (by any of their names), or someone else.
VERIFIERS = st.sampled_from(
    [
        ("recipient", "recipient"),
        ("coordinator", "coordinator"),
        ("recipient_hh", "recipient"),
        ("recipient", "recipient"),
        ("coordinator", "coordinator"),
        ("recipient", "coordinator"),
        ("coordinator", "recipient"),
        ("recipient_name", "recipient"),
        ("volunteer", "coordinator"),
        ("volunteer", "recipient"),
        ("office", "coordinator"),
    ]
)
# Sign-in as minutes after the request was received, and the minutes signed.
SIGNED = st.one_of(
    st.none(),
    st.tuples(st.integers(0, 30), st.integers(1, 60)),
    st.tuples(st.integers(0, 30), st.integers(1, 60)),
    st.tuples(st.integers(-20, 300), st.integers(-5, 240)),
)
PAYERS = st.one_of(st.sampled_from(["史永康", "蔡梅", "林芳", "裘德"]), HOLDER)  # mostly elders


def ref_of(holder: str) -> str:
    return TEAM if holder == TEAM else PEOPLE[holder][0]


def age(holder: str, day: dt.date) -> int | None:
    if holder == TEAM:
        return None
    born = PEOPLE[holder][1]
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def rounded(minutes: int) -> int:
    """To the nearest quarter hour, halves up."""
    return (2 * minutes + 15) // 30 * 15


def bank_of_house(household: str) -> int:
    return 1 if household == HH5 else 0


def add_qiu(district: District) -> None:
    with district.begin() as ctx:
        conn = ctx.connection
        add_person(conn, parse_person({"name": "裘德", "household": HH5, "id_number": QIU}))
        add_handler(conn, HandlerRecord("VD", "裘德", "volunteer", id_number=QIU, skills=("理发",)))


def move_house(conn: Any, person: str, household: str) -> None:
    """The register says ``person`` lives in ``household`` now."""
    house = select(households.c.id).where(households.c.code == household).scalar_subquery()
    conn.execute(
        update(persons).where(persons.c.id_number == PEOPLE[person][0]).values(household_id=house)
    )


class Timebank(RuleBasedStateMachine):
    """Given its district by :func:`run_machine`."""

    district: District

    def __init__(self) -> None:
        super().__init__()
        # Entries and transfers are immutable: their triggers are lifted to clear them.
        with self.district.begin() as ctx, ledger_unguarded(ctx.connection):
            for table in reversed(tables.metadata.sorted_tables):
                ctx.connection.execute(delete(table))
            for person in MOVERS:
                move_house(ctx.connection, person, PEOPLE[person][2])
        self.clock = Clock(FIXED_NOW)
        self.desks: dict[str, Desk] = {}
        self.db = self.desk(COORDINATOR).district  # units of work on the machine's clock
        # The model.
        self.home = {person: household for person, (_, _, household) in PEOPLE.items()}
        self.bank_ids: dict[int, int] = {}  # bank index: tb_banks.id
        self.pool: dict[int, int] = {}  # bank index: pool account
        self.account: dict[str, int] = {}  # holder: their last account (open or closed)
        self.account_in: dict[tuple[str, int], int] = {}  # (holder, bank index): account
        self.kind: dict[int, str] = {}
        self.bank: dict[int, int] = {}  # account: bank index
        self.floor: dict[int, int | None] = {}
        self.status: dict[int, str] = {}
        self.balance: dict[int, int] = {}
        self.above_cap_ok: set[int] = set()  # above the cap by a reversal (or a move)
        self.ties: set[tuple[str, str, str]] = set()  # (person, relative, relation)
        self.cases: dict[str, dict[str, Any]] = {}  # case ref: volunteer, reporter, status...
        self.records: dict[str, dict[str, Any]] = {}  # case ref: the pending record
        self.moves: dict[int, tuple[str, int, int, int]] = {}  # id: kind, from, to, minutes
        self.case_of: dict[int, str] = {}  # earn or surplus transfer of a verification: case
        self.reversed: set[int] = set()
        self.pair: dict[int, int] = {}  # cross-bank leg: its other leg

    # -- helpers ------------------------------------------------------------------------------

    def desk(self, actor: str) -> Desk:
        if actor not in self.desks:
            self.desks[actor] = Desk(self.district, self.clock, actor)
        return self.desks[actor]

    def today(self) -> dt.date:
        return self.clock.now.astimezone(self.db.tz).date()

    def settings(self, ctx: Any) -> Any:
        return ctx.settings["timebank"]

    def snapshot(self) -> tuple[Any, ...]:
        with self.district.engine.connect() as conn:
            return (
                sorted(
                    conn.execute(
                        select(
                            tables.accounts.c.id,
                            tables.accounts.c.balance,
                            tables.accounts.c.floor,
                            tables.accounts.c.status,
                        )
                    ).all()
                ),
                sorted(
                    conn.execute(
                        select(
                            pending.c.case_ref,
                            pending.c.status,
                            pending.c.minutes,
                            pending.c.decided_by,
                            pending.c.payer_account,
                        )
                    ).all()
                ),
                conn.execute(select(func.count()).select_from(transfers)).scalar_one(),
                conn.execute(select(func.count()).select_from(entries)).scalar_one(),
                conn.execute(select(func.count()).select_from(tables.family)).scalar_one(),
                conn.execute(select(func.count()).select_from(tables.banks)).scalar_one(),
            )

    def refused(self, what: str, call: Callable[[Any], object], actor: str) -> None:
        """``call`` by ``actor`` must raise a UsageError (a LedgerError, NotFound, ...)
        with a one-line message, and write nothing."""
        before = self.snapshot()
        try:
            with self.db.begin() as ctx:
                ctx.actor = actor
                call(ctx)
        except UsageError as exc:
            assert len(str(exc).splitlines()) == 1, str(exc)
        else:
            raise AssertionError(f"{what}: allowed what the rules forbid")
        assert self.snapshot() == before, f"{what}: a refused operation changed the database"
        event(f"refused {what}")

    def run(self, call: Callable[[Any], Any], actor: str) -> Any:
        with self.db.begin() as ctx:
            ctx.actor = actor
            return call(ctx)

    def balances(self) -> dict[int, int]:
        with self.district.engine.connect() as conn:
            return dict(conn.execute(select(tables.accounts.c.id, tables.accounts.c.balance)).all())

    def new_transfers(self) -> list[ledger.Transfer]:
        """Transfers written since the model's last, in id order."""
        with self.district.engine.connect() as conn:
            ids = conn.execute(select(transfers.c.id).order_by(transfers.c.id)).scalars().all()
            return [ledger.get_transfer(conn, i) for i in ids if i not in self.moves]

    def new_account(self, account: int, kind: str, bank: int, floor: int | None) -> None:
        self.kind[account] = kind
        self.bank[account] = bank
        self.floor[account] = floor
        self.status[account] = "active"
        self.balance[account] = 0

    def book(self, move: ledger.Transfer, kind: str, payer: int, payee: int, minutes: int) -> None:
        assert (move.kind, move.from_account, move.to_account, move.minutes) == (
            kind,
            payer,
            payee,
            minutes,
        )
        self.moves[move.id] = (kind, payer, payee, minutes)
        self.balance[payer] -= minutes
        self.balance[payee] += minutes
        if kind in ("reverse", "clear"):  # the storage cap does not apply to these
            self.above_cap_ok.add(payee)
        for account in (payer, payee):
            if self.balance[account] <= CAP:
                self.above_cap_ok.discard(account)
        event(f"booked {kind}")

    def bank_of(self, holder: str) -> int:
        """The bank a holder joins: the team's is the first; a resident's, their home's."""
        return 0 if holder == TEAM else bank_of_house(self.home[holder])

    def open_account(self, holder: str) -> int | None:
        """The holder's account as accounts.find gives it: the open one, else (for a
        resident, by ID number) the last closed one; None: no account to find."""
        account = self.account.get(holder)
        if account is None or (holder == TEAM and self.status[account] == "closed"):
            return None
        return account

    def names_of(self, holder: str | None, *, by_name: bool = False) -> list[str]:
        """Every name an actor may give to act as ``holder``: a resident's ID number or
        HOUSEHOLD/NAME, or the code of the handler they are; a team's code. Names repeat,
        so a bare name (a resident's, a handler's or a team's) names the holder only
        ``by_name``: when it refuses (a volunteer verifying their own hours)."""
        if holder is None:
            return []
        if holder == TEAM:
            return [TEAM, TEAM_NAME] if by_name else [TEAM]
        number, name = PEOPLE[holder][0], holder
        names = [number, f"{self.home[holder]}/{name}"]
        if holder in HANDLER_OF:
            names.append(HANDLER_OF[holder])  # the handler's name is the resident's
        return [*names, name] if by_name else names

    def actor_for(self, holder: str | None, acting: tuple[str, int]) -> tuple[str, bool]:
        """The actor ``acting`` picks, and whether they may act for ``holder``'s account
        (its holder, or a coordinator)."""
        how, pick = acting
        if how == "coordinator":
            return COORDINATOR, True
        if how == "holder" and holder is not None:
            names = self.names_of(holder, by_name=True)  # their bare name is refused
        else:
            names = [n for h in HOLDERS for n in self.names_of(h, by_name=True)] + OTHERS
        actor = names[pick % len(names)]
        return actor, actor in self.names_of(holder)

    def can_pay(self, account: int, minutes: int, overdraft: bool = True) -> bool:
        """Whether the account may pay ``minutes``: down to its floor, or, without the
        overdraft, down to zero at the lowest."""
        floor = self.floor[account]
        if floor is not None and not overdraft:
            floor = max(floor, 0)
        return floor is None or self.balance[account] - minutes >= floor

    def may_move(self, payer: int, payee: int, minutes: int, overdraft: bool = False) -> bool:
        """One transfer within a bank, or the two legs through the clearing accounts."""
        return (
            payer != payee
            and self.status[payer] == self.status[payee] == "active"
            and self.can_pay(payer, minutes, overdraft)
        )

    def overdraft_only(self, account: int | None, minutes: int) -> str:
        """For the label of a refusal: whether only the overdraft would have paid."""
        if account is None or self.can_pay(account, minutes, overdraft=False):
            return ""
        return ", only the overdraft would pay" if self.can_pay(account, minutes) else ""

    def clearing(self, bank: int, peer: int) -> int:
        with self.district.engine.connect() as conn:
            found = ledger.find_account(
                conn, self.bank_ids[bank], f"clearing:{self.bank_ids[peer]}"
            )
        assert found is not None
        if found not in self.kind:
            self.new_account(found, "clearing", bank, None)
        return found

    def booked_moves(
        self, made: list[ledger.Transfer], kind: str, payer: int, payee: int, minutes: int
    ) -> None:
        """Book a move of one transfer, or two legs across banks; then the payee's
        surplus above the storage cap, if the move is one the cap applies to."""
        if self.bank[payer] == self.bank[payee]:
            move, *rest = made
            self.book(move, kind, payer, payee, minutes)
        else:
            out_leg, in_leg, *rest = made
            owes = self.clearing(self.bank[payer], self.bank[payee])
            owed = self.clearing(self.bank[payee], self.bank[payer])
            self.book(out_leg, kind, payer, owes, minutes)
            self.book(in_leg, kind, owed, payee, minutes)
            assert (out_leg.pair, in_leg.pair) == (in_leg.id, out_leg.id)
            self.pair[out_leg.id], self.pair[in_leg.id] = in_leg.id, out_leg.id
        excess = self.excess(payee, minutes) if kind in ("spend", "gift") else 0
        if excess > 0:
            (surplus,) = rest
            assert surplus.case_ref is None
            self.book(surplus, "surplus", payee, self.pool[self.bank[payee]], excess)
            event(f"surplus after a {kind}")
        else:
            assert rest == [], f"a surplus below the storage cap: {rest}"

    def excess(self, account: int, credited: int) -> int:
        """What goes on to the pool after a credit of ``credited`` (booked already): what
        a member or team holds above the storage cap, at most the credit."""
        if self.kind[account] not in ("member", "team"):
            return 0
        return max(0, min(self.balance[account] - CAP, credited))

    def waiting(self, account: int) -> bool:
        """Whether hours the account earns or pays are pending."""
        return any(
            r["status"] == "pending" and account in (r["earner"], r["payer"])
            for r in self.records.values()
        )

    # -- joining and leaving -------------------------------------------------------------------

    @initialize(
        holders=st.sets(HOLDER, min_size=5),
        ties=st.lists(st.sampled_from(LIKELY_TIES), min_size=3, max_size=6),
        served=st.lists(
            st.tuples(VOLUNTEER, PERSON, st.integers(30, 180), SIGNED), min_size=2, max_size=5
        ),
    )
    def founders(
        self,
        holders: set[str],
        ties: list[tuple[str, str, str]],
        served: list[tuple[str, str, int, tuple[int, int] | None]],
    ) -> None:
        """Most of the residents and the team join; some family ties are recorded; some
        hours are earned."""
        for holder in sorted(holders):
            self.join(holder, False, ("holder", 0))
        for person, relative, relation in ties:
            self.tie(person, relative, relation)
        for volunteer, reporter, spent, signed in served:
            self.serve_and_verify(volunteer, reporter, spent, "coordinator", signed)

    @rule(
        holder=st.one_of(st.sampled_from(MOVERS), HOLDER),
        move=st.sampled_from([True, True, False]),
        acting=ACTING,
    )
    def join(self, holder: str, move: bool, acting: tuple[str, int]) -> None:
        """Join the bank of one's home; with ``move``, a member of another bank moves
        there with their balance (which only they or a coordinator may do)."""
        actor, allowed = self.actor_for(holder, acting)

        def call(ctx: Any) -> accounts.Account:
            return accounts.join_ref(ctx, self.settings(ctx), ref_of(holder), move=move)

        bank = self.bank_of(holder)
        current = self.account.get(holder)
        if current is not None and self.status[current] == "closed":
            current = None  # only an open account moves
        if holder == TEAM:
            refused = move or TEAM in self.account  # one account, never reopened
        else:
            refused = (holder, bank) in self.account_in  # a closed account is not reopened
            if current is not None:
                refused = (
                    refused
                    or self.bank[current] == bank  # already a member
                    or not move
                    or not allowed
                    or self.waiting(current)
                    or self.balance[current] < 0
                    or (self.balance[current] > 0 and self.status[current] != "active")
                )
        if refused:
            self.refused("join" if current is None else "join --move", call, actor)
            return
        made = self.run(call, actor)
        if bank not in self.bank_ids:
            self.bank_ids[bank] = made.bank_id
            with self.district.engine.connect() as conn:
                self.pool[bank] = ledger.pool_of(conn, made.bank_id)
            self.new_account(self.pool[bank], "pool", bank, None)
        assert made.bank_id == self.bank_ids[bank]
        kind = "team" if holder == TEAM else "member"
        floor = 0 if holder == TEAM else -OVERDRAFT
        if current is not None:  # an overdraft closed by earning stays closed
            floor = max(floor, self.floor[current])  # type: ignore[type-var]
        self.new_account(made.id, kind, bank, floor)
        self.account[holder] = made.id
        self.account_in[(holder, bank)] = made.id
        if current is not None:
            rest = self.balance[current]
            if rest:
                self.booked_moves(self.new_transfers(), "clear", current, made.id, rest)
            self.status[current] = "closed"
            event("moved banks" + (" with hours" if rest else ""))
        assert (made.balance, made.status) == (self.balance[made.id], "active")

    @rule(person=st.sampled_from(MOVERS), bank=st.sampled_from([0, 1]))
    def move_house(self, person: str, bank: int) -> None:
        """The register moves ``person`` to a household of the community of ``bank``; the
        time bank learns it when they join there with --move."""
        with self.district.begin() as ctx:
            move_house(ctx.connection, person, HOUSE_IN[bank])
        self.home[person] = HOUSE_IN[bank]

    @rule(person=st.sampled_from(MOVERS), acting=ACTING, settle=st.booleans())
    def move_away(self, person: str, acting: tuple[str, int], settle: bool) -> None:
        """``person`` moves to the other community and joins its bank with --move; with
        ``settle``, a coordinator first rejects the hours still pending on their account
        (as the refusal to move asks)."""
        account = self.account.get(person)
        if settle and account is not None:
            for ref, record in sorted(self.records.items()):
                if record["status"] == "pending" and account in (record["earner"], record["payer"]):
                    self.check_reject(ref, "迁出前清理", COORDINATOR)
        self.move_house(person, 1 - self.bank_of(person))
        self.join(person, True, acting)

    @rule(
        holder=st.one_of(HOLDER, st.sampled_from(list(POOLS.values()))),
        donate=st.booleans(),
        acting=ACTING,
    )
    def leave(self, holder: str, donate: bool, acting: tuple[str, int]) -> None:
        pool_ref = holder.startswith("pool:")
        ref = holder if pool_ref else ref_of(holder)
        actor, allowed = self.actor_for(None if pool_ref else holder, acting)

        def call(ctx: Any) -> tuple[accounts.Account, int]:
            return accounts.leave(ctx, ref, donate_rest=donate)

        account = None if pool_ref else self.open_account(holder)
        if (
            account is None
            or self.status[account] == "closed"
            or not allowed
            or self.waiting(account)
        ):
            self.refused("leave", call, actor)
            return
        rest = self.balance[account]
        if not (rest == 0 or (donate and rest > 0 and self.status[account] == "active")):
            self.refused("leave", call, actor)
            return
        left, donated = self.run(call, actor)
        assert (left.id, left.status, left.balance) == (account, "closed", 0)
        assert donated == rest
        if rest:
            (move,) = self.new_transfers()
            self.book(move, "donate", account, self.pool[self.bank[account]], rest)
        self.status[account] = "closed"

    @rule(
        holder=st.one_of(HOLDER, st.sampled_from(list(POOLS.values()))),
        frozen=st.booleans(),
        actor=COORDINATING,
    )
    def freeze(self, holder: str, frozen: bool, actor: str) -> None:
        ref = holder if holder.startswith("pool:") else ref_of(holder)

        def call(ctx: Any) -> accounts.Account:
            return accounts.set_frozen(ctx, ref, frozen)

        account = None if holder.startswith("pool:") else self.open_account(holder)
        if (
            account is None
            or self.status[account] != ("active" if frozen else "frozen")
            or actor != COORDINATOR
        ):
            self.refused("freeze" if frozen else "unfreeze", call, actor)
            return
        done = self.run(call, actor)
        self.status[account] = "frozen" if frozen else "active"
        assert (done.id, done.status) == (account, self.status[account])

    # -- earning ---------------------------------------------------------------------------

    def payer_for(self, reporter: str, earner: int, minutes: int, day: dt.date) -> int | None:
        """Who pays ``minutes`` of help to ``reporter`` earned by ``earner`` on ``day``: the
        recipient's own account, else the pool for a priority elder, else nobody (None)."""
        helped = self.account.get(reporter)
        if helped is not None and self.status[helped] == "closed":
            helped = None  # only an open member account pays
        old = age(reporter, day) or 0
        if (
            helped is not None
            and self.bank[helped] == self.bank[earner]
            and self.status[helped] == "active"
            and old >= 60
            and self.can_pay(helped, minutes)
        ):
            return helped
        if old >= PRIORITY_AGE:
            return self.pool[self.bank[earner]]
        return None

    def cap_left(self, earner: int, day: dt.date, ref: str) -> int:
        """What the daily cap leaves for ``earner`` on ``day`` beside the case ``ref``: the
        other records of that day count while pending or verified."""
        return DAILY - sum(
            r["minutes"]
            for other, r in self.records.items()
            if r["earner"] == earner
            and r["day"] == day
            and r["status"] in ("pending", "verified")
            and other != ref
        )

    def expected_record(self, volunteer: str, reporter: str, spent: int | None, ref: str) -> Any:
        """The pending record that resolving the case ``ref`` now must write (None:
        nothing is due), as (earner, payer, minutes); the payer is None when nobody is to
        pay yet."""
        holder = VOLUNTEERS.get(volunteer)  # None: a handler who holds no account
        earner = None if holder is None else self.open_account(holder)
        if earner is None or self.status[earner] == "closed":
            return None  # a frozen account's hours are recorded, and wait
        if holder == reporter:
            return None  # helping oneself earns nothing
        minutes = rounded(spent or 0)
        if minutes == 0:
            return None
        credit = min(minutes, self.cap_left(earner, self.today(), ref))
        if credit <= 0:
            return None
        return earner, self.payer_for(reporter, earner, credit, self.today()), credit

    def resolved(self, ref: str, spent: int | None) -> None:
        """The case ``ref`` is resolved (again) by its volunteer with ``spent`` minutes:
        the record the model expects is written, replaced, set aside or left alone."""
        case = self.cases[ref]
        record = self.records.get(ref)
        expected = None
        if record is None or record["status"] == "pending":
            expected = self.expected_record(case["volunteer"], case["reporter"], spent, ref)
        self.desk(case["volunteer"])("resolve", ref, "已完成", spent)
        case["status"] = "resolved"
        with self.district.engine.connect() as conn:
            row = conn.execute(select(pending).where(pending.c.case_ref == ref)).mappings().first()
        if record is not None and record["status"] != "pending":
            event("resolved again, record decided already")
        elif expected is None:
            if record is None:
                assert row is None, f"hours recorded when none were due: {dict(row)}"
                event("resolved, nothing recorded")
                return
            assert row is not None and row["note"].startswith("resolved again: "), row
            record.update(status="rejected", decided_by=SYSTEM)
            event("resolved again, nothing due: set aside")
        else:
            earner, payer, minutes = expected
            assert row is not None, "no hours recorded"
            assert (row["status"], row["transfer_id"], row["decided_by"]) == ("pending", None, None)
            assert (row["note"] != "") == (payer is None), row["note"]
            fields = {"earner": earner, "payer": payer, "minutes": minutes, "day": self.today()}
            if record is None:
                self.records[ref] = record = {
                    "status": "pending",
                    "decided_by": None,
                    "signed": None,
                    **fields,
                }
            else:
                record.update(fields)
            event(
                ("reworked, record updated" if case["reworks"] else "served, recorded")
                + (" (nobody to pay yet)" if payer is None else "")
                + (" (frozen earner)" if self.status[earner] == "frozen" else "")
            )
        assert row is not None
        assert (
            row["volunteer_account"],
            row["payer_account"],
            row["minutes"],
            row["status"],
        ) == (record["earner"], record["payer"], record["minutes"], record["status"])

    @rule(
        volunteer=VOLUNTEER,
        reporter=PERSON,
        spent=SPENT,
        took=st.integers(1, 240),
        earlier=st.one_of(st.just(0), st.integers(0, 24 * 60)),
    )
    def serve(
        self, volunteer: str, reporter: str, spent: int | None, took: int, earlier: int
    ) -> None:
        self.serve_case(volunteer, reporter, spent, took, earlier)

    def serve_case(
        self,
        volunteer: str,
        reporter: str,
        spent: int | None,
        took: int = 90,
        earlier: int = 0,
    ) -> str:
        """A help request from ``reporter`` received ``earlier`` minutes ago (entered
        late: it may be yesterday's, and overlap other cases), served by ``volunteer``
        and resolved ``took`` minutes from now, with ``spent`` minutes (or none given);
        its ref."""
        ref = self.take_case(volunteer, reporter, earlier)
        self.clock.advance(minutes=took)
        self.resolved(ref, spent)
        return ref

    def take_case(self, volunteer: str, reporter: str, earlier: int) -> str:
        """A help request from ``reporter`` received ``earlier`` minutes ago, accepted by
        ``volunteer``; its ref."""
        office = self.desk("office")
        submitted = office.submit(
            "想请志愿者帮忙",
            service="timebank.help",
            reporter=PersonRef(id_number=PEOPLE[reporter][0]),
            received_at=self.clock.now - dt.timedelta(minutes=earlier),
        )
        assert not submitted.linked
        ref = submitted.case.ref
        if office.case(ref).handler_code != volunteer:
            office("transfer", ref, "志愿者认领", to=volunteer)
        self.desk(volunteer)("accept", ref)
        self.cases[ref] = {
            "volunteer": volunteer,
            "reporter": reporter,
            "reworks": 0,
            "status": "accepted",
        }
        return ref

    @rule(
        volunteer=VOLUNTEER,
        reporter=PERSON,
        spent=st.integers(30, 240),
        as_=st.sampled_from(["coordinator", "recipient"]),
        signed=SIGNED,
        earlier=st.one_of(st.just(0), st.integers(0, 24 * 60)),
    )
    def serve_and_verify(
        self,
        volunteer: str,
        reporter: str,
        spent: int,
        as_: str,
        signed: tuple[int, int] | None = None,
        earlier: int = 0,
    ) -> None:
        """Served, recorded and signed off at once (the common case): by a coordinator, or
        confirmed by the recipient themselves, with or without signed times."""
        ref = self.serve_case(volunteer, reporter, spent, earlier=earlier)
        if ref in self.records:
            self.check_verify(ref, as_, as_, signed, 0)

    @rule(
        volunteer=VOLUNTEER,
        reporters=st.lists(PERSON, min_size=2, max_size=3, unique=True),
        spent=st.lists(st.integers(15, 150), min_size=3, max_size=3),
        took=st.integers(30, 240),
        earlier=st.one_of(st.just(0), st.integers(0, 24 * 60)),
        signed=st.lists(SIGNED, min_size=3, max_size=3),
    )
    def serve_at_once(
        self,
        volunteer: str,
        reporters: list[str],
        spent: list[int],
        took: int,
        earlier: int,
        signed: list[tuple[int, int] | None],
    ) -> None:
        """A volunteer serves two or three neighbours in one outing, all received at the
        same time and resolved together; a coordinator then signs them off, with signed
        times that may overlap, on a day that may be full already."""
        refs = [self.take_case(volunteer, reporter, earlier) for reporter in reporters]
        self.clock.advance(minutes=took)
        for ref, minutes in zip(refs, spent, strict=False):
            self.resolved(ref, minutes)
        for ref, times in zip(refs, signed, strict=False):
            if ref in self.records:
                self.check_verify(ref, "coordinator", "coordinator", times, 0)

    @rule(
        volunteer=st.sampled_from(["VA", "VC", TEAM]),
        reporter=st.sampled_from(["蔡梅", "史永康", "王翠娥"]),
        spent=st.sampled_from([15, 30, 45, 60]),
    )
    def elder_pays_own_help(self, volunteer: str, reporter: str, spent: int) -> None:
        """The recipient-pays path: an elder of the first bank confirms short help, paid
        from their own hours (or overdraft) when they hold them."""
        self.serve_and_verify(volunteer, reporter, spent, "recipient")

    def pick_case(self, pick: int, *statuses: str) -> str | None:
        refs = sorted(ref for ref, case in self.cases.items() if case["status"] in statuses)
        return refs[pick % len(refs)] if refs else None

    @precondition(lambda self: self.cases)
    @rule(
        pick=PICK,
        spent=SPENT,
        how=st.sampled_from(["reopen", "reopen", "rate"]),
        then=st.sampled_from(
            ["resolve", "resolve", "hand_over", "withdraw", "duplicate", "reject"]
        ),
        other=PICK,
    )
    def rework(self, pick: int, spent: int | None, how: str, then: str, other: int) -> None:
        """The case is sent back (返工: reopened, or rated unsatisfied) and then resolved
        again, by its volunteer or by another handler it is handed over to (a record still
        pending is recomputed for whoever resolves it, or set aside; one decided already
        never changes); or it ends: withdrawn, marked a duplicate of another case, or
        handed over and rejected (不予受理) (a record still pending is set aside)."""
        ref = self.pick_case(pick, "resolved")
        if ref is None or self.cases[ref]["reworks"] == 2:  # sla.max_reworks
            return
        case = self.cases[ref]
        record = self.records.get(ref)
        case["reworks"] += 1
        office = self.desk("office")
        if how == "reopen":
            office("reopen", ref, "没有做完")
        else:
            office("rate", ref, "unsatisfied", "没有做完")
        case["status"] = "accepted"
        if record is not None and record["status"] == "pending":
            self.refused(
                "verify in rework",
                lambda ctx: earning.verify(ctx, self.settings(ctx), ref),
                COORDINATOR,
            )
        self.clock.advance(minutes=20)
        if then in ("hand_over", "reject"):
            others = [h for h in HANDLERS if h != case["volunteer"]]
            to = others[other % len(others)]
            office("transfer", ref, "换人", to=to)
            case["volunteer"], case["status"] = to, "assigned"
            event("handed over")
        if then in ("resolve", "hand_over"):
            if then == "hand_over":
                self.desk(case["volunteer"])("accept", ref)
            self.resolved(ref, spent)
            return
        live = [
            r
            for r, c in self.cases.items()
            if r != ref and c["status"] not in ("withdrawn", "duplicate", "rejected")
        ]
        if then == "reject":
            office("reject", ref, "不属于社区服务范围")
            case["status"] = "rejected"
        elif then == "duplicate" and live:
            office("mark_duplicate", ref, live[other % len(live)])
            case["status"] = "duplicate"
        else:
            office("withdraw", ref, "不需要了")
            case["status"] = "withdrawn"
        if record is None or record["status"] != "pending":
            return
        with self.district.engine.connect() as conn:
            row = conn.execute(select(pending).where(pending.c.case_ref == ref)).mappings().one()
        assert (row["status"], row["decided_by"], row["note"]) == (
            "rejected",
            SYSTEM,
            f"the case was {case['status']}",
        )
        record.update(status="rejected", decided_by=SYSTEM)
        event(f"case {case['status']}: pending hours set aside")

    @precondition(lambda self: self.cases)
    @rule(pick=PICK, rate=st.booleans())
    def close_case(self, pick: int, rate: bool) -> None:
        """A resolved case is closed (or rated satisfied): its hours may still be verified."""
        ref = self.pick_case(pick, "resolved")
        if ref is None:
            return
        if rate:
            self.desk("office")("rate", ref, "satisfied")
        else:
            self.desk("office")("close", ref)
        self.cases[ref]["status"] = "closed"

    def pick_record(self, pick: int) -> str:
        refs = sorted(self.records)
        return refs[pick % len(refs)]

    def verifier(self, ref: str, who: str, pick: int) -> str:
        reporter = self.cases[ref]["reporter"]
        if who == "recipient":
            return PEOPLE[reporter][0]
        if who == "recipient_hh":
            return f"{self.home[reporter]}/{reporter}"
        if who == "recipient_name":
            return reporter
        if who == "coordinator":
            return COORDINATOR
        if who == "volunteer":  # the one whose hours they are
            earner = self.records[ref]["earner"]
            (holder,) = {h for (h, _), a in self.account_in.items() if a == earner}
            names = self.names_of(holder, by_name=True)
            return names[pick % len(names)]
        return who

    @precondition(lambda self: self.records)
    @rule(
        pick=PICK,
        acting=VERIFIERS,
        signed=SIGNED,
        waiting=st.integers(0, 3),
    )
    def verify(
        self, pick: int, acting: tuple[str, str], signed: tuple[int, int] | None, waiting: int
    ) -> None:
        """Hours verified (mostly hours still pending), or refused."""
        refs = sorted(self.records)
        if waiting:
            refs = [ref for ref in refs if self.records[ref]["status"] == "pending"] or refs
        self.check_verify(refs[pick % len(refs)], *acting, signed, pick)

    def check_verify(
        self, ref: str, who: str, as_: str, signed: tuple[int, int] | None, pick: int
    ) -> None:
        record = self.records[ref]
        actor = self.verifier(ref, who, pick)
        case = self.desk("office").case(ref)
        assert case.status == self.cases[ref]["status"]
        received, resolved = case.received_at, case.resolved_at
        times = {}
        window: tuple[dt.datetime, dt.datetime] | None = None
        window_ok = True
        minutes, day = record["minutes"], record["day"]
        if signed is not None:
            after, span = signed
            signed_in = received + dt.timedelta(minutes=after)
            signed_out = signed_in + dt.timedelta(minutes=span)
            times = {"signed_in": signed_in, "signed_out": signed_out}
            window = (signed_in, signed_out)
            window_ok = (
                span > 0
                and received <= signed_in
                and resolved is not None
                and signed_out <= resolved
            )
            minutes = min(minutes, rounded(span))
            day = signed_in.astimezone(self.db.tz).date()

        def call(ctx: Any) -> earning.Verified:
            return earning.verify(ctx, self.settings(ctx), ref, as_=as_, **times)  # type: ignore[arg-type]

        earner = record["earner"]
        allowed_actor = (who, as_) in (
            ("recipient", "recipient"),
            ("recipient_hh", "recipient"),
            ("coordinator", "coordinator"),
        )
        why = [
            ("decided", record["status"] != "pending"),
            ("case not resolved", self.cases[ref]["status"] not in ("resolved", "closed")),
            ("actor", not allowed_actor),
            ("signed times", not window_ok or minutes <= 0),
        ]
        if any(refused for _, refused in why):
            self.refused("verify, " + next(w for w, refused in why if refused), call, actor)
            return
        overlap = window is not None and any(
            r["earner"] == earner
            and r["status"] == "verified"
            and r["signed"] is not None
            and r["signed"][0] < window[1]
            and r["signed"][1] > window[0]
            for r in self.records.values()
        )
        left = self.cap_left(earner, day, ref)
        if overlap or left <= 0:
            self.refused("verify, overlapping" if overlap else "verify, daily cap", call, actor)
            return
        asked, minutes = minutes, min(minutes, left)
        payer = self.payer_for(self.cases[ref]["reporter"], earner, minutes, day)
        if payer is None or self.status[earner] != "active":
            why_not = "nobody pays" if payer is None else f"earner {self.status[earner]}"
            self.refused(f"verify, {why_not}", call, actor)
            return
        done = self.run(call, actor)
        before, served = self.balance[earner], record["day"]
        self.book(done.earned, "earn", payer, earner, minutes)
        self.case_of[done.earned.id] = ref
        floor = self.floor[earner]
        if floor is not None and min(0, before) > floor:
            self.floor[earner] = min(0, before)
            event("overdraft narrowed")
        excess = self.excess(earner, minutes)
        surplus = None
        if excess > 0:
            assert done.surplus is not None, "no surplus above the storage cap"
            assert done.surplus.case_ref == ref
            self.book(done.surplus, "surplus", earner, self.pool[self.bank[earner]], excess)
            self.case_of[done.surplus.id] = ref
            surplus = (done.surplus.id, excess)
        else:
            assert done.surplus is None
        assert (done.pending.status, done.pending.minutes) == ("verified", minutes)
        assert (done.pending.transfer_id, done.pending.decided_by) == (done.earned.id, actor)
        assert (done.pending.verified_as, done.pending.payer_account) == (as_, payer)
        record.update(
            status="verified",
            minutes=minutes,
            day=day,
            transfer=done.earned.id,
            payer=payer,
            surplus=surplus,
            decided_by=actor,
            signed=window,
        )
        event("verified, " + ("recipient paid" if self.kind[payer] == "member" else "pool paid"))
        if minutes < asked:
            event("verified, capped again")
        if signed is not None:
            event("verified, signed" + (" on another day" if day != served else ""))

    @precondition(lambda self: self.records)
    @rule(pick=PICK, reason=REASONS, actor=COORDINATING)
    def reject(self, pick: int, reason: str, actor: str) -> None:
        self.check_reject(self.pick_record(pick), reason, actor)

    def check_reject(self, ref: str, reason: str, actor: str) -> None:
        record = self.records[ref]

        def call(ctx: Any) -> earning.Pending:
            return earning.reject(ctx, ref, reason)

        if record["status"] != "pending" or not reason.strip() or actor != COORDINATOR:
            self.refused("reject", call, actor)
            return
        done = self.run(call, actor)
        assert (done.status, done.transfer_id, done.note) == ("rejected", None, reason.strip())
        record.update(status="rejected", decided_by=actor)

    def earning_reversal(self, ref: str, reason: str, actor: str, call: Callable) -> None:
        """A verified earning undone (冲正) with its surplus by ``call``: the volunteer is
        back where they were, the payer refunded, and the minutes no longer count toward
        the cap."""
        record = self.records[ref]
        if record["status"] != "verified" or not reason.strip() or actor != COORDINATOR:
            self.refused("reverse earning", call, actor)
            return
        earner, payer, minutes = record["earner"], record["payer"], record["minutes"]
        surplus = record["surplus"]
        back = surplus[1] if surplus else 0
        if "closed" in (self.status[earner], self.status[payer]) or not self.can_pay(
            earner, minutes - back
        ):
            self.refused("reverse earning", call, actor)
            return
        done = self.run(call, actor)
        expected = [(record["transfer"], payer, earner, minutes)]
        if surplus:
            expected.insert(0, (surplus[0], earner, self.pool[self.bank[earner]], back))
        assert [(t.reverses, t.memo) for t in done] == [(e[0], reason.strip()) for e in expected]
        for undo, (original, from_, to, moved) in zip(done, expected, strict=True):
            self.book(undo, "reverse", to, from_, moved)
            self.reversed.add(original)
        record["status"] = "reversed"
        event("earning reversed" + (" with its surplus" if surplus else ""))

    @precondition(lambda self: self.records)
    @rule(pick=PICK, reason=REASONS, actor=COORDINATING)
    def reverse_earning(self, pick: int, reason: str, actor: str) -> None:
        ref = self.pick_record(pick)
        self.earning_reversal(
            ref, reason, actor, lambda ctx: earning.reverse_earning(ctx, ref, reason)
        )

    @rule()
    def next_day(self) -> None:
        self.clock.advance(days=1)

    # -- spending and giving -----------------------------------------------------------------

    @rule(
        payer=PAYERS,
        payee=st.one_of(st.sampled_from(list(HANDLER_OF)), HOLDER, st.just("pool")),
        minutes=MINUTES,
        acting=ACTING,
    )
    def spend(self, payer: str, payee: str, minutes: int, acting: tuple[str, int]) -> None:
        actor, allowed = self.actor_for(payer, acting)

        def call(ctx: Any) -> list[ledger.Transfer]:
            to = "pool" if payee == "pool" else ref_of(payee)
            return giving.spend(ctx, self.settings(ctx), ref_of(payer), to, minutes)

        source = self.open_account(payer)
        if source is None or self.kind[source] != "member" or not allowed:
            self.refused("spend", call, actor)
            return
        target = self.pool[self.bank[source]] if payee == "pool" else self.open_account(payee)
        if (
            target is None
            or (age(payer, self.today()) or 0) < 60
            or not self.may_move(source, target, minutes, overdraft=True)
        ):
            self.refused("spend", call, actor)
            return
        made = self.run(call, actor)
        self.booked_moves(made, "spend", source, target, minutes)
        if self.balance[source] < 0:
            event("spent into the overdraft")

    @rule(minutes=st.sampled_from([15, 30, 45]), pick=st.integers(0, 2))
    def pay_the_busiest(self, minutes: int, pick: int) -> None:
        """The elder holding the most hours pays, for help, one of the members or teams
        holding the most (a busy volunteer, near the storage cap): what goes above the cap
        goes on to the pool."""

        def held(holder: str) -> int:
            return self.balance[self.account[holder]]

        members = [h for h in HOLDERS if self.open_account(h) is not None]
        elders = [h for h in members if (age(h, self.today()) or 0) >= 60]
        if not elders:
            return
        payer = max(elders, key=held)
        richest = sorted((h for h in members if h != payer), key=held, reverse=True)
        if richest:
            self.spend(payer, richest[min(pick, len(richest) - 1)], minutes, ("holder", pick))

    def related(self, person: str, relative: str) -> bool:
        """What ``relative`` is to ``person`` is recorded (a spouse either way round)."""
        return any(
            (p, r) == (person, relative) or (p, r, rel) == (relative, person, "spouse")
            for p, r, rel in self.ties
        )

    @rule(tie=TIES)
    def record_tie(self, tie: tuple[str, str, str]) -> None:
        self.tie(*tie)

    def tie(self, person: str, relative: str, relation: str) -> None:
        def call(ctx: Any) -> family.Tie:
            return family.add_tie(ctx, PEOPLE[person][0], PEOPLE[relative][0], relation)

        if (
            person == relative
            or self.related(person, relative)
            or self.related(relative, person)
            or any({p, r} == {person, relative} for p, r, _ in self.ties)
        ):
            self.refused("tie", call, COORDINATOR)
            return
        self.run(call, COORDINATOR)
        self.ties.add((person, relative, relation))

    @rule(pair=GIFT_PAIRS, minutes=st.one_of(st.sampled_from([15, 30]), MINUTES), acting=ACTING)
    def gift(self, pair: tuple[str, str], minutes: int, acting: tuple[str, int]) -> None:
        giver, relative = pair
        actor, allowed = self.actor_for(giver, acting)

        def call(ctx: Any) -> list[ledger.Transfer]:
            return giving.gift(ctx, self.settings(ctx), ref_of(giver), ref_of(relative), minutes)

        source, target = self.open_account(giver), self.open_account(relative)
        if (
            source is None
            or target is None
            or not allowed
            or TEAM in (giver, relative)
            or not self.related(giver, relative)
            or (age(relative, self.today()) or 0) < 60
            or not self.may_move(source, target, minutes)  # no overdraft for a gift
        ):
            self.refused("gift" + self.overdraft_only(source, minutes), call, actor)
            return
        made = self.run(call, actor)
        self.booked_moves(made, "gift", source, target, minutes)

    @rule(
        donor=st.one_of(HOLDER, st.sampled_from(list(POOLS.values()))),
        minutes=MINUTES,
        acting=ACTING,
    )
    def donate(self, donor: str, minutes: int, acting: tuple[str, int]) -> None:
        pool_ref = donor.startswith("pool:")
        ref = donor if pool_ref else ref_of(donor)
        actor, allowed = self.actor_for(None if pool_ref else donor, acting)

        def call(ctx: Any) -> ledger.Transfer:
            return giving.donate(ctx, ref, minutes)

        source = None if pool_ref else self.open_account(donor)
        pool = None if source is None else self.pool[self.bank[source]]
        if (
            source is None
            or pool is None
            or not allowed
            or not self.may_move(source, pool, minutes)  # no overdraft for a donation
        ):
            self.refused("donate" + self.overdraft_only(source, minutes), call, actor)
            return
        move = self.run(call, actor)
        self.book(move, "donate", source, pool, minutes)

    # -- reversals -------------------------------------------------------------------------------

    @precondition(lambda self: self.moves)
    @rule(pick=PICK, reason=REASONS, actor=COORDINATING)
    def reverse(self, pick: int, reason: str, actor: str) -> None:
        """Any transfer reversed through earning.reverse_transfer: an earning or its
        surplus with its record (reverse_earning); any other by ledger.reverse."""
        ids = sorted(self.moves)
        move = ids[pick % len(ids)]

        def call(ctx: Any) -> list[ledger.Transfer]:
            return earning.reverse_transfer(ctx, move, reason)

        if move in self.case_of:
            self.earning_reversal(self.case_of[move], reason, actor, call)
            return
        legs = sorted({move, self.pair.get(move, move)})
        if (
            actor != COORDINATOR
            or not reason.strip()
            or self.moves[move][0] == "reverse"
            or any(leg in self.reversed for leg in legs)
            or any(
                "closed" in (self.status[self.moves[leg][1]], self.status[self.moves[leg][2]])
                or not self.can_pay(self.moves[leg][2], self.moves[leg][3])
                for leg in legs
            )
        ):
            self.refused("reverse", call, actor)
            return
        before = self.balances()
        made = self.run(call, actor)
        after = self.balances()
        assert len(made) == len(legs), (made, legs)
        # Every balance is restored, and nothing else moves.
        delta: dict[int, int] = {}
        for leg in legs:
            _, payer, payee, minutes = self.moves[leg]
            delta[payer] = delta.get(payer, 0) + minutes
            delta[payee] = delta.get(payee, 0) - minutes
        assert {a: after[a] - before.get(a, 0) for a in after if after[a] != before.get(a, 0)} == {
            a: d for a, d in delta.items() if d
        }
        for leg, reversal in zip(legs, made, strict=True):
            _, payer, payee, minutes = self.moves[leg]
            assert (reversal.reverses, reversal.memo) == (leg, reason.strip())
            self.reversed.add(leg)
            self.book(reversal, "reverse", payee, payer, minutes)
        if len(made) == 2:
            assert (made[0].pair, made[1].pair) == (made[1].id, made[0].id)
            self.pair[made[0].id], self.pair[made[1].id] = made[1].id, made[0].id
            event("cross-bank transfer reversed, both legs")
        event(f"reversed a {self.moves[move][0]}")

    @rule(donor=HOLDER, minutes=MINUTES)
    def donate_then_reverse(self, donor: str, minutes: int) -> None:
        """A donation by its holder reversed at once by a coordinator leaves every
        balance as it was."""
        source = self.open_account(donor)
        if source is None or not self.may_move(source, self.pool[self.bank[source]], minutes):
            return
        before = self.balances()
        move = self.run(lambda ctx: giving.donate(ctx, ref_of(donor), minutes), ref_of(donor))
        self.book(move, "donate", source, self.pool[self.bank[source]], minutes)
        (undo,) = self.run(
            lambda ctx: earning.reverse_transfer(ctx, move.id, "捐错了"), COORDINATOR
        )
        self.book(undo, "reverse", move.to_account, source, minutes)
        self.reversed.add(move.id)
        assert self.balances() == before

    # -- invariants ------------------------------------------------------------------------------

    @invariant()
    def the_books_balance(self) -> None:
        with self.district.engine.connect() as conn:
            totals = ledger.bank_totals(conn)
            differences = ledger.reconcile(conn)
            stored = {
                row.id: (row.kind, row.balance, row.floor, row.status)
                for row in conn.execute(select(tables.accounts))
            }
            moves = conn.execute(select(func.count()).select_from(transfers)).scalar_one()
        assert all(total == 0 for total in totals.values()), totals
        assert differences == []
        assert moves == len(self.moves)
        assert stored == {
            a: (self.kind[a], self.balance[a], self.floor[a], self.status[a]) for a in self.kind
        }
        for account, (kind, balance, floor, _) in stored.items():
            assert floor is None or balance >= floor, f"#{account} below its floor"
            if kind in ("member", "team") and account not in self.above_cap_ok:
                assert balance <= CAP, f"#{account} holds {balance} minutes, above the cap"

    @invariant()
    def each_record_is_decided_once(self) -> None:
        with self.district.engine.connect() as conn:
            rows = {row["case_ref"]: row for row in conn.execute(select(pending)).mappings().all()}
            earned: dict[str, list[int]] = {}
            for case_ref, transfer_id in conn.execute(
                select(transfers.c.case_ref, transfers.c.id).where(transfers.c.kind == "earn")
            ):
                earned.setdefault(case_ref, []).append(transfer_id)
        assert set(rows) == set(self.records)
        for ref, record in self.records.items():
            row = rows[ref]
            signed = None if row["signed_in"] is None else (row["signed_in"], row["signed_out"])
            assert (
                row["status"],
                row["minutes"],
                row["volunteer_account"],
                row["payer_account"],
                row["served_on"],
                row["decided_by"],
                signed,
            ) == (
                record["status"],
                record["minutes"],
                record["earner"],
                record["payer"],
                record["day"],
                record["decided_by"],
                record["signed"],
            )
            if record["status"] in ("verified", "reversed"):
                assert earned.get(ref) == [row["transfer_id"]] == [record["transfer"]]
            else:
                assert ref not in earned and row["transfer_id"] is None
            assert (row["decided_by"] is None) == (record["status"] == "pending")
        assert set(earned) <= set(self.records)


def run_machine(district: District) -> None:
    machine = type("TimebankOn", (Timebank,), {"district": district})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_timebank_state_machine(make_district: Callable[..., District]) -> None:
    district = world(make_district, **SETTINGS)
    try:
        add_qiu(district)
        run_machine(district)
    finally:
        district.engine.dispose()
