"""A hypothesis state machine over the whole time bank, through the plugin's public
functions, on SQLite and on PostgreSQL.

The tb_world district (two community banks; see tb_world.py) plus 裘德, a volunteer VD
living in the second community. Residents and the team T1 join (accounts.join_ref) and
leave (accounts.leave); volunteers serve help requests through the case pipeline, so the
hours are recorded as pending on resolution (earning.on_transition), and are then
verified (earning.verify: the recipient confirming as themselves, or a coordinator named
in the settings signing off; never the volunteer; with or without sign-in and sign-out
times, which must lie within the case's received_at..resolved_at) or rejected
(earning.reject); a verified earning may be reversed with its surplus
(earning.reverse_earning), after which its status is "reversed" and it no longer counts
toward the daily cap; members
spend (giving.spend, to the pool, a member or a team), give to recorded family
(family.add_tie, giving.gift), donate (giving.donate), and do both across the two banks
(通存通兑, through the clearing accounts, both legs keeping their kind); accounts are
frozen and unfrozen (accounts.set_frozen); any other transfer may be reversed
(ledger.reverse: both legs of a cross-bank transfer at once). The clock moves on a day at
a time, so the daily cap starts again.

Who pays an earning (payer = "recipient_then_pool"): the helped resident when they are a
member of the volunteer's bank, active, old enough to use their hours and holding them
(the overdraft counts); else the pool when they are a priority elder (aged
``pool_pays_from_age`` = 70 or more on the day served; no tags count here); else nobody:
the record stays pending with no payer (NULL) and the reason in its note, and
verification is refused with a one-line error.

Whether an operation is allowed, and what it moves, is predicted from a model the
machine keeps (accounts, balances, statuses, family ties, pending records, transfers),
written from the rules in docs/plugins/timebank.md rather than from the code. An allowed
operation must succeed and move exactly what the model says; a refused one (a young
member spending, a gift to someone not recorded as family, an overdraft, a frozen or
closed account, a record decided already, a volunteer verifying their own hours, a
second reversal, a verifier who is not the recipient or not a coordinator, sign-in
times outside the case, hours nobody is to pay, ...) must raise a UsageError and change
nothing in the database.

After every step: each bank's entries sum to zero (ledger.bank_totals); reconcile() is
empty; every stored balance, floor and status is the model's; no balance is below its
floor; no member or team account is above the storage cap unless hours reached it
otherwise than by earning (a gift, a payment, a transfer between banks, a reversal: the
cap applies to earnings only, gifts and the like may exceed it); every
pending record is the model's; a verified one has exactly one earn transfer (its
``transfer_id``) and a rejected or pending one none; a record decided has who decided it.

One district per backend, emptied of the time bank's rows between examples (cases stay:
each example's cases have new refs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from cases_fixtures import Clock, Desk
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
from sqlalchemy import delete, func, select

from community365 import PersonRef
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
SETTINGS = {
    "storage_cap_hours": "2",
    "daily_cap_hours": "3",
    "new_member_overdraft_hours": "0.5",
    "payer": "recipient_then_pool",
    "pool_pays_for_tags": [],
    "pool_pays_from_age": PRIORITY_AGE,
    "coordinators": [COORDINATOR],
}

# holder: (reference, birth date, bank 0 or 1); the team T1 has a duty in the first bank.
PEOPLE = {
    "史永康": (SHI_ID, dt.date(1956, 10, 22), 0),
    "王翠娥": (WANG_ID, dt.date(1956, 1, 8), 0),
    "史波": (SHI_BO_ID, dt.date(1985, 1, 21), 0),
    "俞青": (YU, dt.date(1990, 3, 1), 0),
    "蔡梅": (CAI, dt.date(1958, 5, 6), 0),
    "孙杰": (SUN, dt.date(1992, 7, 8), 0),
    "林芳": (LIN, dt.date(1950, 1, 2), 1),
    "裘德": (QIU, dt.date(1962, 4, 5), 1),
}
TEAM = "T1"
HOLDERS = [*PEOPLE, TEAM]
VOLUNTEERS = {"VA": "俞青", "VB": "蔡梅", "VC": "孙杰", "VD": "裘德", TEAM: TEAM}
POOLS = {0: f"pool:{COMMUNITY}", 1: "pool:330212001002"}

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
# Who acts when hours are verified: the record's recipient (by ID number), a coordinator
# named in the settings, the volunteer (by handler code or by ID number), or someone else.
VERIFIERS = st.sampled_from(
    ["recipient", "coordinator", "recipient", "coordinator", "volunteer", "volunteer_id", "office"]
)
# Sign-in as minutes after the request was received, and the minutes signed.
SIGNED = st.one_of(
    st.none(),
    st.tuples(st.integers(0, 60), st.integers(1, 240)),
    st.tuples(st.integers(-20, 240), st.integers(-5, 240)),
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


def add_qiu(district: District) -> None:
    with district.begin() as ctx:
        conn = ctx.connection
        add_person(conn, parse_person({"name": "裘德", "household": HH5, "id_number": QIU}))
        add_handler(conn, HandlerRecord("VD", "裘德", "volunteer", id_number=QIU, skills=("理发",)))


class Timebank(RuleBasedStateMachine):
    """Given its district by :func:`run_machine`."""

    district: District

    def __init__(self) -> None:
        super().__init__()
        # Entries and transfers are immutable: their triggers are lifted to clear them.
        with self.district.begin() as ctx, ledger_unguarded(ctx.connection):
            for table in reversed(tables.metadata.sorted_tables):
                ctx.connection.execute(delete(table))
        self.clock = Clock(FIXED_NOW)
        self.desks: dict[str, Desk] = {}
        self.db = self.desk(COORDINATOR).district  # units of work on the machine's clock
        # The model.
        self.bank_ids: dict[int, int] = {}  # bank index: tb_banks.id
        self.pool: dict[int, int] = {}  # bank index: pool account
        self.account: dict[str, int] = {}  # holder: their account (open or last closed)
        self.holder_of: dict[int, str] = {}
        self.kind: dict[int, str] = {}
        self.bank: dict[int, int] = {}  # account: bank index
        self.floor: dict[int, int | None] = {}
        self.status: dict[int, str] = {}
        self.balance: dict[int, int] = {}
        self.above_cap_ok: set[int] = set()  # credited otherwise than by an earning
        self.ties: set[tuple[str, str, str]] = set()  # (person, relative, relation)
        self.records: dict[str, dict[str, Any]] = {}  # case ref: the pending record
        self.moves: dict[int, tuple[str, int, int, int]] = {}  # id: kind, from, to, minutes
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
                            tables.accounts.c.status,
                        )
                    ).all()
                ),
                sorted(
                    conn.execute(
                        select(pending.c.case_ref, pending.c.status, pending.c.minutes)
                    ).all()
                ),
                conn.execute(select(func.count()).select_from(transfers)).scalar_one(),
                conn.execute(select(func.count()).select_from(entries)).scalar_one(),
                conn.execute(select(func.count()).select_from(tables.family)).scalar_one(),
                conn.execute(select(func.count()).select_from(tables.banks)).scalar_one(),
            )

    def refused(self, what: str, call: Callable[[Any], object], actor: str = "office") -> None:
        """``call`` must raise a UsageError (a LedgerError, NotFound, ...) and write
        nothing."""
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

    def balances(self) -> dict[int, int]:
        with self.district.engine.connect() as conn:
            return dict(conn.execute(select(tables.accounts.c.id, tables.accounts.c.balance)).all())

    def new_account(self, account: int, kind: str, bank: int, floor: int | None) -> None:
        self.kind[account] = kind
        self.bank[account] = bank
        self.floor[account] = floor
        self.status[account] = "active"
        self.balance[account] = 0

    def book(
        self,
        move: ledger.Transfer,
        kind: str,
        payer: int,
        payee: int,
        minutes: int,
        *,
        exempt: bool = True,
    ) -> None:
        assert (move.kind, move.from_account, move.to_account, move.minutes) == (
            kind,
            payer,
            payee,
            minutes,
        )
        self.moves[move.id] = (kind, payer, payee, minutes)
        self.balance[payer] -= minutes
        self.balance[payee] += minutes
        if kind not in ("earn", "surplus") and exempt:
            self.above_cap_ok.add(payee)
        event(f"booked {kind}")

    def open_account(self, holder: str) -> int | None:
        """The holder's account as accounts.find gives it: the open one, else (for a
        resident, by ID number) the last closed one; None: no account to find."""
        account = self.account.get(holder)
        if account is None or (holder == TEAM and self.status[account] == "closed"):
            return None
        return account

    def can_pay(self, account: int, minutes: int) -> bool:
        floor = self.floor[account]
        return floor is None or self.balance[account] - minutes >= floor

    def may_move(self, payer: int, payee: int, minutes: int) -> bool:
        """One transfer within a bank, or the two legs through the clearing accounts."""
        return (
            payer != payee
            and self.status[payer] == self.status[payee] == "active"
            and self.can_pay(payer, minutes)
        )

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
        if self.bank[payer] == self.bank[payee]:
            (move,) = made
            self.book(move, kind, payer, payee, minutes)
            return
        out_leg, in_leg = made
        owes = self.clearing(self.bank[payer], self.bank[payee])
        owed = self.clearing(self.bank[payee], self.bank[payer])
        self.book(out_leg, kind, payer, owes, minutes)
        self.book(in_leg, kind, owed, payee, minutes)
        assert (out_leg.pair, in_leg.pair) == (in_leg.id, out_leg.id)
        self.pair[out_leg.id], self.pair[in_leg.id] = in_leg.id, out_leg.id

    # -- joining and leaving -------------------------------------------------------------------

    @initialize(
        holders=st.sets(HOLDER, min_size=5),
        ties=st.lists(st.sampled_from(LIKELY_TIES), min_size=3, max_size=6),
        served=st.lists(st.tuples(VOLUNTEER, PERSON, st.integers(30, 180)), min_size=2, max_size=5),
    )
    def founders(
        self,
        holders: set[str],
        ties: list[tuple[str, str, str]],
        served: list[tuple[str, str, int]],
    ) -> None:
        """Most of the residents and the team join; some family ties are recorded; some
        hours are earned."""
        for holder in sorted(holders):
            self.join(holder)
        for person, relative, relation in ties:
            self.tie(person, relative, relation)
        for volunteer, reporter, spent in served:
            self.serve_and_verify(volunteer, reporter, spent, "coordinator")

    @rule(holder=HOLDER)
    def join(self, holder: str) -> None:
        def call(ctx: Any) -> accounts.Account:
            return accounts.join_ref(ctx, self.settings(ctx), ref_of(holder))

        if holder in self.account:  # already a member, or left: a closed account stays so
            self.refused("join", call)
            return
        with self.db.begin() as ctx:
            made = call(ctx)
        bank = 0 if holder == TEAM else PEOPLE[holder][2]
        if bank not in self.bank_ids:
            self.bank_ids[bank] = made.bank_id
            with self.district.engine.connect() as conn:
                self.pool[bank] = ledger.pool_of(conn, made.bank_id)
            self.new_account(self.pool[bank], "pool", bank, None)
        assert made.bank_id == self.bank_ids[bank]
        kind = "team" if holder == TEAM else "member"
        self.new_account(made.id, kind, bank, 0 if holder == TEAM else -OVERDRAFT)
        self.account[holder] = made.id
        self.holder_of[made.id] = holder

    @rule(holder=st.one_of(HOLDER, st.sampled_from(list(POOLS.values()))), donate=st.booleans())
    def leave(self, holder: str, donate: bool) -> None:
        ref = holder if holder.startswith("pool:") else ref_of(holder)

        def call(ctx: Any) -> tuple[accounts.Account, int]:
            return accounts.leave(ctx, ref, donate_rest=donate)

        account = None if holder.startswith("pool:") else self.open_account(holder)
        if account is None or self.status[account] == "closed":
            self.refused("leave", call)
            return
        rest = self.balance[account]
        if not (rest == 0 or (donate and rest > 0 and self.status[account] == "active")):
            self.refused("leave", call)
            return
        with self.db.begin() as ctx:
            left, donated = call(ctx)
        assert (left.id, left.status, left.balance) == (account, "closed", 0)
        assert donated == rest
        if rest:
            with self.district.engine.connect() as conn:
                last = conn.execute(select(func.max(transfers.c.id))).scalar_one()
                move = ledger.get_transfer(conn, last)
            self.book(move, "donate", account, self.pool[self.bank[account]], rest)
        self.status[account] = "closed"

    @rule(holder=st.one_of(HOLDER, st.sampled_from(list(POOLS.values()))), frozen=st.booleans())
    def freeze(self, holder: str, frozen: bool) -> None:
        ref = holder if holder.startswith("pool:") else ref_of(holder)

        def call(ctx: Any) -> accounts.Account:
            return accounts.set_frozen(ctx, ref, frozen)

        account = None if holder.startswith("pool:") else self.open_account(holder)
        if account is None or self.status[account] != ("active" if frozen else "frozen"):
            self.refused("freeze" if frozen else "unfreeze", call)
            return
        with self.db.begin() as ctx:
            done = call(ctx)
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

    def counted(self, record: dict[str, Any]) -> bool:
        """Whether the record's minutes count toward its earner's daily cap."""
        return record["status"] in ("pending", "verified")

    def expected_record(
        self, volunteer: str, reporter: str, spent: int | None, ref: str | None = None
    ) -> Any:
        """The pending record that resolving the case ``ref`` (None: a new case) now must
        write (None: nothing), as (earner, payer, minutes); the payer is None when nobody
        is to pay yet."""
        earner = self.open_account(VOLUNTEERS[volunteer])
        if earner is None or self.status[earner] != "active" or spent is None:
            return None
        if VOLUNTEERS[volunteer] == reporter:
            return None  # helping oneself earns nothing
        minutes = rounded(spent)
        if minutes == 0:
            return None
        day = self.today()
        used = sum(
            r["minutes"]
            for other, r in self.records.items()
            if r["earner"] == earner and r["day"] == day and self.counted(r) and other != ref
        )
        credit = min(minutes, DAILY - used)
        if credit <= 0:
            return None
        payer = self.payer_for(reporter, earner, credit, day)
        return earner, payer, credit

    @rule(volunteer=VOLUNTEER, reporter=PERSON, spent=SPENT, took=st.integers(1, 240))
    def serve(self, volunteer: str, reporter: str, spent: int | None, took: int = 90) -> None:
        """A help request from ``reporter`` served by ``volunteer`` and resolved ``took``
        minutes after it was received, with ``spent`` minutes (or none given)."""
        office = self.desk("office")
        ref = office.submit(
            "想请志愿者帮忙",
            service="timebank.help",
            reporter=PersonRef(id_number=PEOPLE[reporter][0]),
        ).case.ref
        if office.case(ref).handler_code != volunteer:
            office("transfer", ref, "志愿者认领", to=volunteer)
        they = self.desk(volunteer)
        they("accept", ref)
        self.clock.advance(minutes=took)
        expected = self.expected_record(volunteer, reporter, spent)
        they("resolve", ref, "已完成", spent)
        with self.district.engine.connect() as conn:
            row = conn.execute(select(pending).where(pending.c.case_ref == ref)).mappings().first()
        if expected is None:
            assert row is None, f"hours recorded when none were due: {dict(row)}"
            event("served, nothing recorded")
            return
        earner, payer, minutes = expected
        assert row is not None, "no hours recorded"
        assert (row["volunteer_account"], row["payer_account"], row["minutes"]) == expected
        assert (row["status"], row["transfer_id"], row["decided_by"]) == ("pending", None, None)
        nobody = payer is None
        assert (row["note"] != "") == nobody, row["note"]
        self.records[ref] = {
            "earner": earner,
            "payer": payer,
            "minutes": minutes,
            "day": self.today(),
            "status": "pending",
            "volunteer": volunteer,
            "reporter": reporter,
            "reworks": 0,
        }
        event("served, recorded" + (" (nobody to pay yet)" if nobody else ""))

    @rule(
        volunteer=VOLUNTEER,
        reporter=PERSON,
        spent=st.integers(30, 240),
        as_=st.sampled_from(["coordinator", "recipient"]),
    )
    def serve_and_verify(self, volunteer: str, reporter: str, spent: int, as_: str) -> None:
        """Served, recorded and signed off at once (the common case): by a coordinator, or
        confirmed by the recipient themselves."""
        before = set(self.records)
        self.serve(volunteer, reporter, spent)
        (ref,) = set(self.records) - before or {None}
        if ref is not None:
            self.verify(sorted(self.records).index(ref), as_, as_, None)

    @rule(
        volunteer=st.sampled_from(["VA", "VC", TEAM]),
        reporter=st.sampled_from(["蔡梅", "史永康", "王翠娥"]),
        spent=st.sampled_from([15, 30, 45, 60]),
    )
    def elder_pays_own_help(self, volunteer: str, reporter: str, spent: int) -> None:
        """The recipient-pays path: an elder of the first bank confirms short help, paid
        from their own hours (or overdraft) when they hold them."""
        self.serve_and_verify(volunteer, reporter, spent, "recipient")

    @precondition(lambda self: self.records)
    @rule(pick=PICK, spent=SPENT)
    def rework(self, pick: int, spent: int | None) -> None:
        """The case is sent back (返工) and resolved again: a record still pending is
        recomputed, one decided already never changes."""
        ref = self.pick_record(pick)
        record = self.records[ref]
        if record["reworks"] == 2:  # sla.max_reworks
            return
        record["reworks"] += 1
        self.desk("office")("reopen", ref, "没有做完")
        if record["status"] == "pending":
            self.refused(
                "verify in rework",
                lambda ctx: earning.verify(ctx, self.settings(ctx), ref),
                COORDINATOR,
            )
        self.clock.advance(minutes=20)
        expected = None
        if record["status"] == "pending":
            expected = self.expected_record(record["volunteer"], record["reporter"], spent, ref)
        self.desk(record["volunteer"])("resolve", ref, "返工完成", spent)
        if expected is not None:
            earner, payer, minutes = expected
            record.update(earner=earner, payer=payer, minutes=minutes, day=self.today())
            event("reworked, record updated")
        with self.district.engine.connect() as conn:
            row = conn.execute(select(pending).where(pending.c.case_ref == ref)).mappings().one()
        assert (row["volunteer_account"], row["payer_account"], row["minutes"]) == (
            record["earner"],
            record["payer"],
            record["minutes"],
        )

    def pick_record(self, pick: int) -> str:
        refs = sorted(self.records)
        return refs[pick % len(refs)]

    def verifier(self, record: dict[str, Any], who: str) -> str:
        volunteer = record["volunteer"]
        if who == "recipient":
            return PEOPLE[record["reporter"]][0]
        if who == "coordinator":
            return COORDINATOR
        if who == "volunteer":
            return volunteer
        if who == "volunteer_id":
            holder = VOLUNTEERS[volunteer]
            return TEAM if holder == TEAM else PEOPLE[holder][0]
        return who

    @precondition(lambda self: self.records)
    @rule(
        pick=PICK,
        who=VERIFIERS,
        as_=st.sampled_from(["coordinator", "recipient"]),
        signed=SIGNED,
    )
    def verify(self, pick: int, who: str, as_: str, signed: tuple[int, int] | None) -> None:
        ref = self.pick_record(pick)
        record = self.records[ref]
        actor = self.verifier(record, who)
        case = self.desk("office").case(ref)
        received, resolved = case.received_at, case.resolved_at
        assert resolved is not None
        times = {}
        window_ok = True
        span = 0
        if signed is not None:
            after, span = signed
            signed_in = received + dt.timedelta(minutes=after)
            signed_out = signed_in + dt.timedelta(minutes=span)
            times = {"signed_in": signed_in, "signed_out": signed_out}
            window_ok = span > 0 and received <= signed_in and signed_out <= resolved

        def call(ctx: Any) -> earning.Verified:
            return earning.verify(ctx, self.settings(ctx), ref, as_=as_, **times)  # type: ignore[arg-type]

        earner = record["earner"]
        minutes = record["minutes"]
        if signed is not None and window_ok:
            minutes = min(minutes, rounded(span))
        allowed_actor = (who, as_) in (("recipient", "recipient"), ("coordinator", "coordinator"))
        if record["status"] != "pending" or not allowed_actor or not window_ok or minutes == 0:
            self.refused("verify", call, actor)
            return
        payer = self.payer_for(record["reporter"], earner, minutes, record["day"])
        if payer is None or self.status[earner] != "active":
            self.refused("verify" if payer is not None else "verify, nobody pays", call, actor)
            return
        with self.db.begin() as ctx:
            ctx.actor = actor
            done = call(ctx)
        self.book(done.earned, "earn", payer, earner, minutes)
        excess = min(self.balance[earner] - CAP, minutes)
        surplus = None
        if excess > 0:
            assert done.surplus is not None, "no surplus above the storage cap"
            self.book(done.surplus, "surplus", earner, self.pool[self.bank[earner]], excess)
            surplus = (done.surplus.id, excess)
        else:
            assert done.surplus is None
        assert (done.pending.status, done.pending.minutes) == ("verified", minutes)
        assert (done.pending.transfer_id, done.pending.decided_by) == (done.earned.id, actor)
        assert (done.pending.verified_as, done.pending.payer_account) == (as_, payer)
        record.update(
            status="verified",
            minutes=minutes,
            transfer=done.earned.id,
            payer=payer,
            surplus=surplus,
        )
        event("verified, " + ("recipient paid" if self.kind[payer] == "member" else "pool paid"))

    @precondition(lambda self: self.records)
    @rule(pick=PICK, reason=REASONS)
    def reject(self, pick: int, reason: str) -> None:
        ref = self.pick_record(pick)
        record = self.records[ref]

        def call(ctx: Any) -> earning.Pending:
            return earning.reject(ctx, ref, reason)

        if record["status"] != "pending" or not reason.strip():
            self.refused("reject", call, COORDINATOR)
            return
        with self.db.begin() as ctx:
            ctx.actor = COORDINATOR
            done = call(ctx)
        assert (done.status, done.transfer_id, done.note) == ("rejected", None, reason.strip())
        record["status"] = "rejected"

    @precondition(lambda self: self.records)
    @rule(pick=PICK, reason=REASONS)
    def reverse_earning(self, pick: int, reason: str) -> None:
        """A verified earning undone (冲正) with its surplus: the volunteer is back where
        they were, the payer refunded, and the minutes no longer count toward the cap."""
        ref = self.pick_record(pick)
        record = self.records[ref]

        def call(ctx: Any) -> list[ledger.Transfer]:
            return earning.reverse_earning(ctx, ref, reason)

        if record["status"] != "verified" or not reason.strip():
            self.refused("reverse earning", call, COORDINATOR)
            return
        earner, payer, minutes = record["earner"], record["payer"], record["minutes"]
        surplus = record["surplus"]
        back = surplus[1] if surplus else 0
        if "closed" in (self.status[earner], self.status[payer]) or not self.can_pay(
            earner, minutes - back
        ):
            self.refused("reverse earning", call, COORDINATOR)
            return
        with self.db.begin() as ctx:
            ctx.actor = COORDINATOR
            done = call(ctx)
        expected = [(record["transfer"], payer, earner, minutes)]
        if surplus:
            expected.insert(0, (surplus[0], earner, self.pool[self.bank[earner]], back))
        assert [(t.reverses, t.memo) for t in done] == [(e[0], reason.strip()) for e in expected]
        for undo, (original, from_, to, moved) in zip(done, expected, strict=True):
            # the earner's refund of a surplus is no credit above the cap: they end lower
            self.book(undo, "reverse", to, from_, moved, exempt=from_ != earner)
            self.reversed.add(original)
        record["status"] = "reversed"
        event("earning reversed" + (" with its surplus" if surplus else ""))

    @rule()
    def next_day(self) -> None:
        self.clock.advance(days=1)

    # -- spending and giving -----------------------------------------------------------------

    @rule(payer=PAYERS, payee=st.one_of(HOLDER, st.just("pool")), minutes=MINUTES)
    def spend(self, payer: str, payee: str, minutes: int) -> None:
        def call(ctx: Any) -> list[ledger.Transfer]:
            to = "pool" if payee == "pool" else ref_of(payee)
            return giving.spend(ctx, self.settings(ctx), ref_of(payer), to, minutes)

        source = self.open_account(payer)
        if source is None or self.kind[source] != "member":
            self.refused("spend", call)
            return
        target = self.pool[self.bank[source]] if payee == "pool" else self.open_account(payee)
        if (
            target is None
            or (age(payer, self.today()) or 0) < 60
            or not self.may_move(source, target, minutes)
        ):
            self.refused("spend", call)
            return
        with self.db.begin() as ctx:
            made = call(ctx)
        self.booked_moves(made, "spend", source, target, minutes)

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
            self.refused("tie", call)
            return
        with self.db.begin() as ctx:
            call(ctx)
        self.ties.add((person, relative, relation))

    @rule(pair=GIFT_PAIRS, minutes=MINUTES)
    def gift(self, pair: tuple[str, str], minutes: int) -> None:
        giver, relative = pair

        def call(ctx: Any) -> list[ledger.Transfer]:
            return giving.gift(ctx, self.settings(ctx), ref_of(giver), ref_of(relative), minutes)

        source, target = self.open_account(giver), self.open_account(relative)
        if (
            source is None
            or target is None
            or TEAM in (giver, relative)
            or not self.related(giver, relative)
            or (age(relative, self.today()) or 0) < 60
            or not self.may_move(source, target, minutes)
        ):
            self.refused("gift", call)
            return
        with self.db.begin() as ctx:
            made = call(ctx)
        self.booked_moves(made, "gift", source, target, minutes)

    @rule(donor=st.one_of(HOLDER, st.sampled_from(list(POOLS.values()))), minutes=MINUTES)
    def donate(self, donor: str, minutes: int) -> None:
        ref = donor if donor.startswith("pool:") else ref_of(donor)

        def call(ctx: Any) -> ledger.Transfer:
            return giving.donate(ctx, ref, minutes)

        source = None if donor.startswith("pool:") else self.open_account(donor)
        pool = None if source is None else self.pool[self.bank[source]]
        if source is None or pool is None or not self.may_move(source, pool, minutes):
            self.refused("donate", call)
            return
        with self.db.begin() as ctx:
            move = call(ctx)
        self.book(move, "donate", source, pool, minutes)

    # -- reversals -------------------------------------------------------------------------------

    def reversible(self) -> list[int]:
        """Transfers :func:`ledger.reverse` is asked to undo here: all but earnings and
        their surplus, which go through :func:`earning.reverse_earning`."""
        return sorted(m for m, (kind, *_) in self.moves.items() if kind not in ("earn", "surplus"))

    @precondition(lambda self: self.reversible())
    @rule(pick=PICK, reason=REASONS)
    def reverse(self, pick: int, reason: str) -> None:
        ids = self.reversible()
        move = ids[pick % len(ids)]
        legs = sorted({move, self.pair.get(move, move)})

        def call(ctx: Any) -> Any:
            return ledger.reverse(ctx, move, reason)

        if (
            not reason.strip()
            or self.moves[move][0] == "reverse"
            or any(leg in self.reversed for leg in legs)
            or any(
                "closed" in (self.status[self.moves[leg][1]], self.status[self.moves[leg][2]])
                or not self.can_pay(self.moves[leg][2], self.moves[leg][3])
                for leg in legs
            )
        ):
            self.refused("reverse", call, COORDINATOR)
            return
        before = self.balances()
        with self.db.begin() as ctx:
            ctx.actor = COORDINATOR
            undo = call(ctx)
        after = self.balances()
        made = list(undo) if isinstance(undo, tuple) else [undo]
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

    @rule(donor=HOLDER, minutes=MINUTES)
    def donate_then_reverse(self, donor: str, minutes: int) -> None:
        """A donation reversed at once leaves every balance as it was."""
        source = self.open_account(donor)
        if source is None or not self.may_move(source, self.pool[self.bank[source]], minutes):
            return
        before = self.balances()
        with self.db.begin() as ctx:
            move = giving.donate(ctx, ref_of(donor), minutes)
        self.book(move, "donate", source, self.pool[self.bank[source]], minutes)
        with self.db.begin() as ctx:
            undo = ledger.reverse(ctx, move.id, "捐错了")
        assert isinstance(undo, ledger.Transfer)
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
                assert balance <= CAP, f"#{account} holds {balance} minutes after earnings"

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
            assert (row["status"], row["minutes"], row["volunteer_account"]) == (
                record["status"],
                record["minutes"],
                record["earner"],
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
