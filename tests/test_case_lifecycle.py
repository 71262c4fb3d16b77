"""A hypothesis state machine over the case lifecycle, on SQLite and on PostgreSQL.

The machine submits demands (any channel, service, place, text and reporter), moves the
clock, sends A1 on leave, and tries every action on every case it has, valid or not,
as office staff, as the assignee or as a handler from elsewhere. Whether an action is
allowed is predicted from the stored row by the table below, written independently of
:mod:`community365.cases.lifecycle`: an allowed action must succeed and end in one of the
statuses the table says, a forbidden one must raise and change nothing.

After every step: no case is lost (cases = successful submits - linked repeats); every
closed case was answered; replaying each case's events gives its stored row; no deadline
lies before intake; every status is a known one; a case that reached a final status
never changes again.

One district per backend, emptied of cases between examples.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from cases_fixtures import (
    BUILDING2,
    HH1,
    HH3,
    SHI,
    SHI_BO,
    SMALL_B,
    STANDARD_DUTIES,
    ZHANG,
    Clock,
    Desk,
    build,
)
from conftest import FIXED_NOW
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
from sqlalchemy import delete, func, select, update

from community365 import CHANNELS, PersonRef
from community365.cases import CORE_SERVICES, DraftRejected, store
from community365.db.schema import (
    CASE_STATUSES,
    case_counters,
    case_events,
    cases,
    handler_leave,
    huddle_items,
)
from community365.district import District
from community365.errors import InvalidTransition, UsageError
from community365.registry.schedule import add_leave

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
OPEN = {"received", "assigned", "accepted"}
WORKING = {"assigned", "accepted"}
FINAL = {"closed", "withdrawn", "duplicate", "rejected"}
MAX_EXTENSIONS = MAX_REWORKS = 2  # the district defaults (sla.*)

# What the core's keywords make of each text (None: nothing; the service must be named).
TEXTS = {
    "楼道路灯坏了": "repair",
    "请问低保怎么办理": "consult",
    "楼上噪音扰民": "complaint",
    "邻里纠纷需要调解": "dispute",
    "老人摔倒了需要帮忙": "help",
    "你好": None,
}
# (household code, area code): the place given; (None, None) is the reporter's household.
PLACES = [
    (HH1, None),
    (HH3, None),
    (None, SMALL_B),
    (None, BUILDING2),
    (None, "330212"),
    (None, None),
]
REPORTERS = [
    PersonRef(phone=SHI[3]),
    PersonRef(id_number=SHI_BO[0]),
    PersonRef(name=ZHANG[1], household_code=ZHANG[2]),
    None,  # an outside contact
]
HANDLERS = ("S1", "L1", "L2", "A1", "B1", "A2", "V1")
DUTY_AREAS = {h: [area for who, area, _, _ in STANDARD_DUTIES if who == h] for h in HANDLERS}
# What a new case row holds in the columns its submit event does not set.
UNSET = {
    "extensions": 0,
    "reworks": 0,
    "repeats": 0,
    "escalation": 0,
    "outcome": "",
    "rating_comment": "",
}
# Notes and reasons; the last one is blank, which no action takes.
notes = st.sampled_from(["处理中", "上门查看", "已联系居民", "已办结", "  "])
LEVELS = st.sampled_from(["satisfied", "fairly_satisfied", "unsatisfied"])
ENDS = st.sampled_from(["satisfied", "fairly_satisfied", "unsatisfied", "close", "reopen"])


def blank(text: str) -> bool:
    return not text.strip()


class Lifecycle(RuleBasedStateMachine):
    """Given the desks (office and every handler) of one district and its clock by
    :func:`run_machine`; each example starts from a district without cases."""

    desks: dict[str, Desk]
    clock: Clock
    refs = Bundle("refs")

    def __init__(self) -> None:
        super().__init__()
        self.office = self.desks["office"]
        self.district = self.office.district
        self.submitted = 0
        self.linked = 0
        self.leave_days: set[dt.date] = set()
        self.final: dict[str, tuple[dict[str, Any], int]] = {}

    @initialize()
    def empty_district(self) -> None:
        self.clock.now = FIXED_NOW
        with self.district.begin() as ctx:
            conn = ctx.connection
            conn.execute(delete(huddle_items))
            conn.execute(delete(case_events))
            conn.execute(update(cases).values(duplicate_of=None))
            conn.execute(delete(cases))
            conn.execute(delete(case_counters))
            conn.execute(delete(handler_leave))

    # -- helpers ---------------------------------------------------------------------------

    def row(self, ref: str) -> dict[str, Any]:
        with self.district.engine.connect() as conn:
            found = store.case_row(conn, ref)
            view = store.get_case(conn, ref)
        codes = ("handler_code", "receiver_code", "area_code")
        return {**found, **{k: getattr(view, k) for k in codes}}

    def attempt(
        self,
        ref: str,
        allowed: bool,
        method: str,
        *args: Any,
        results: set[str] | None = None,
        actor: str = "office",
        error: type[Exception] = InvalidTransition,
    ) -> dict[str, Any] | None:
        """Run the action: if allowed, it must succeed and end in one of ``results``
        (None: the status it had); if not, it must raise ``error`` and write nothing."""
        desk = self.desks[actor]
        before = self.row(ref)
        event(f"{method} from {before['status']}: {'done' if allowed else 'refused'}")
        if not allowed:
            desk.refused(method, ref, *args, error=error)
            return None
        desk(method, ref, *args)
        after = self.row(ref)
        assert after["status"] in (results or {before["status"]}), (method, before, after)
        return after

    # -- intake -----------------------------------------------------------------------------

    @rule(
        target=refs,
        channel=st.sampled_from(CHANNELS),
        service=st.sampled_from([None, *(s.code for s in CORE_SERVICES)]),
        text=st.sampled_from(list(TEXTS)),
        place=st.sampled_from(PLACES),
        reporter=st.sampled_from(REPORTERS),
        caller=st.integers(0, 2),
    )
    def submit(
        self,
        channel: str,
        service: str | None,
        text: str,
        place: tuple[str | None, str | None],
        reporter: PersonRef | None,
        caller: int,
    ) -> Any:
        household, area = place
        contact = "" if reporter is not None else f"路人{caller} 1390000000{caller}"
        draft = self.office.draft(
            text,
            channel=channel,
            service=service,
            household_code=household,
            area_code=area,
            reporter=reporter,
            contact=contact,
        )
        unclassified = service is None and TEXTS[text] is None
        if unclassified or (reporter is None and place == (None, None)):
            self.office.refused("submit", draft, error=DraftRejected)
            return multiple()
        with self.district.engine.connect() as conn:
            open_before = {
                r.ref: r.repeats
                for r in conn.execute(
                    select(cases.c.ref, cases.c.repeats).where(cases.c.status.in_(OPEN))
                )
            }
        done = self.office("submit", draft)
        self.submitted += 1
        case = done.case
        assert case.service == (service or TEXTS[text])
        if done.linked:  # the open case keeps its own channel and intake time
            self.linked += 1
            assert case.ref in open_before and case.repeats == open_before[case.ref] + 1
            return multiple()
        assert case.ref not in open_before and case.repeats == 0
        assert case.channel == channel and case.received_at == self.clock.now
        assert case.status in ("assigned", "received")
        # Only the root has no duty at or above it: there nobody can be found.
        assert (case.status == "received") == (case.area_code == "330212")
        return case.ref

    # -- routing ---------------------------------------------------------------------------

    @rule(ref=refs)
    def route(self, ref: str) -> None:
        status = self.row(ref)["status"]
        allowed = status in ("received", "assigned")
        self.attempt(ref, allowed, "route", results={"assigned", "received"})

    @rule(ref=refs, by_assignee=st.booleans())
    def accept(self, ref: str, by_assignee: bool) -> None:
        row = self.row(ref)
        actor = row["handler_code"] if by_assignee and row["handler_code"] else "office"
        allowed = row["status"] == "assigned"
        after = self.attempt(ref, allowed, "accept", results={"accepted"}, actor=actor)
        if after is not None:
            assert after["accepted_at"] == self.clock.now
            assert after["handler_id"] == row["handler_id"]

    @rule(ref=refs, reason=notes, by_assignee=st.booleans())
    def refuse(self, ref: str, reason: str, by_assignee: bool) -> None:
        row = self.row(ref)
        actor = row["handler_code"] if by_assignee and row["handler_code"] else "office"
        allowed = row["status"] == "assigned" and not blank(reason)
        results = {"assigned", "received"}
        after = self.attempt(ref, allowed, "refuse", reason, results=results, actor=actor)
        if after is not None:
            assert after["handler_id"] != row["handler_id"]

    @rule(ref=refs, reason=notes, to=st.sampled_from([None, "A1", "A2", "V1"]))
    def transfer(self, ref: str, reason: str, to: str | None) -> None:
        row = self.row(ref)
        today = self.clock.now.astimezone(SHANGHAI).date()
        away = to == "A1" and today in self.leave_days  # a named handler must be available
        allowed = (
            row["status"] in WORKING
            and not blank(reason)
            and to != row["handler_code"]
            and not away
        )
        results = {"assigned"} if to else {"assigned", "received"}
        error = UsageError if away else InvalidTransition
        after = self.attempt(ref, allowed, "transfer", reason, to, results=results, error=error)
        if after is not None:
            assert after["accepted_at"] is None
            if to is not None:
                assert after["handler_code"] == to
            else:
                assert after["handler_id"] != row["handler_id"]

    @rule(ref=refs)
    def escalate(self, ref: str) -> None:
        row = self.row(ref)
        results = {"received", "assigned"} if row["status"] == "received" else None
        after = self.attempt(ref, row["status"] in OPEN, "escalate", "超时催办", results=results)
        if after is not None:
            assert after["escalation"] == row["escalation"] + 1

    # -- delivery --------------------------------------------------------------------------

    @rule(ref=refs, text=notes)
    def reply(self, ref: str, text: str) -> None:
        row = self.row(ref)
        after = self.attempt(ref, row["status"] in OPEN and not blank(text), "reply", text)
        if after is not None:
            assert after["replied_at"] == (row["replied_at"] or self.clock.now)

    @rule(ref=refs, text=notes)
    def note(self, ref: str, text: str) -> None:
        row = self.row(ref)
        allowed = row["status"] in OPEN | {"resolved"} and not blank(text)
        self.attempt(ref, allowed, "note", text)

    @rule(ref=refs, amount=st.integers(1, 3), reason=notes)
    def extend(self, ref: str, amount: int, reason: str) -> None:
        row = self.row(ref)
        allowed = (
            row["status"] in WORKING and not blank(reason) and row["extensions"] < MAX_EXTENSIONS
        )
        after = self.attempt(ref, allowed, "extend", amount, reason)
        if after is not None:
            assert after["resolve_by"] > row["resolve_by"]
            assert after["extensions"] == row["extensions"] + 1

    @rule(ref=refs, outcome=notes, minutes=st.none() | st.integers(0, 600))
    def resolve(self, ref: str, outcome: str, minutes: int | None) -> None:
        row = self.row(ref)
        allowed = row["status"] == "accepted" and not blank(outcome)
        after = self.attempt(ref, allowed, "resolve", outcome, minutes, results={"resolved"})
        if after is not None:
            assert after["resolved_at"] == self.clock.now
            assert after["replied_at"] == (row["replied_at"] or self.clock.now)
            assert after["minutes_spent"] == minutes

    @rule(ref=refs, level=LEVELS)
    def rate(self, ref: str, level: str) -> None:
        row = self.row(ref)
        rework = level == "unsatisfied" and row["reworks"] < MAX_REWORKS
        results = {"accepted"} if rework else {"closed"}
        after = self.attempt(ref, row["status"] == "resolved", "rate", level, "", results=results)
        if after is not None:
            assert after["rating"] == level
            assert after["reworks"] == row["reworks"] + rework

    @rule(ref=refs)
    def close(self, ref: str) -> None:
        self.attempt(ref, self.row(ref)["status"] == "resolved", "close", results={"closed"})

    @rule(ref=refs, reason=notes)
    def reopen(self, ref: str, reason: str) -> None:
        row = self.row(ref)
        allowed = row["status"] == "resolved" and not blank(reason) and row["reworks"] < MAX_REWORKS
        self.attempt(ref, allowed, "reopen", reason, results={"accepted"})

    @rule(ref=refs, reason=notes)
    def withdraw(self, ref: str, reason: str) -> None:
        allowed = self.row(ref)["status"] in OPEN and not blank(reason)
        self.attempt(ref, allowed, "withdraw", reason, results={"withdrawn"})

    @rule(ref=refs, of=refs)
    def duplicate(self, ref: str, of: str) -> None:
        status = self.row(ref)["status"]
        if status in OPEN and ref == of:
            self.attempt(ref, False, "mark_duplicate", of, error=UsageError)
            return
        live = self.row(of)["status"] not in ("duplicate", "withdrawn", "rejected")
        self.attempt(ref, status in OPEN and live, "mark_duplicate", of, results={"duplicate"})

    @rule(ref=refs, reason=notes)
    def reject(self, ref: str, reason: str) -> None:
        allowed = self.row(ref)["status"] in ("received", "assigned") and not blank(reason)
        after = self.attempt(ref, allowed, "reject", reason, results={"rejected"})
        if after is not None:
            assert after["replied_at"] is not None

    @rule(ref=refs, ends=st.lists(ENDS, min_size=1, max_size=6), reply=st.booleans())
    def next_steps(self, ref: str, ends: list[str], reply: bool) -> None:
        """Take a case along the steps its statuses usually take next, one per item of
        ``ends`` (which also says how a resolved case goes on: a rating, close or
        reopen), so that runs go deep; the other rules try anything, mostly refused."""
        for end in ends:
            status = self.row(ref)["status"]
            if status == "received":
                self.escalate(ref)
            elif status == "assigned":
                self.accept(ref, by_assignee=True)
            elif status == "accepted" and reply:
                self.reply(ref, "已联系居民")
                reply = False
            elif status == "accepted":
                self.resolve(ref, "已处理", 30)
            elif status == "resolved" and end == "close":
                self.close(ref)
            elif status == "resolved" and end == "reopen":
                self.reopen(ref, "回访不满意")
            elif status == "resolved":
                self.rate(ref, end)
            else:
                self.note(ref, "结案后补记")
                break
            self.clock.advance(minutes=7)

    @rule(ref=refs, method=st.sampled_from(["accept", "note", "withdraw"]))
    def outsider_tries(self, ref: str, method: str) -> None:
        """A handler with no duty over the case, not holding it and not its first
        contact, can do nothing to it."""
        row = self.row(ref)
        area = row["area_code"]
        outsiders = [
            h
            for h in HANDLERS
            if h not in (row["handler_code"], row["receiver_code"])
            and not any(area.startswith(a) for a in DUTY_AREAS[h])
        ]
        args = () if method == "accept" else ("路过看看",)
        self.attempt(ref, False, method, *args, actor=outsiders[0])

    # -- time ------------------------------------------------------------------------------

    @rule(minutes=st.sampled_from([1, 4, 6, 59, 61, 600, 1440, 3 * 1440, 8 * 1440]))
    def advance_clock(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)

    @rule()
    def a1_takes_today_off(self) -> None:
        today = self.clock.now.astimezone(SHANGHAI).date()
        if today in self.leave_days:
            return
        self.leave_days.add(today)
        with self.district.begin() as ctx:
            add_leave(ctx.connection, "A1", today, today, "事假")

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def nothing_is_lost_and_every_row_holds(self) -> None:
        with self.district.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(cases)).mappings()]
            counts = dict(
                conn.execute(
                    select(case_events.c.case_id, func.count()).group_by(case_events.c.case_id)
                ).all()
            )
            assert len(rows) == self.submitted - self.linked
            for row in rows:
                assert row["status"] in CASE_STATUSES
                if row["status"] == "closed":
                    assert row["replied_at"] is not None, row
                assert row["reply_by"] >= row["received_at"]
                assert row["resolve_by"] >= row["received_at"]
                replayed = store.replay(conn, row["id"])
                assert replayed == {k: row[k] for k in replayed}, row["ref"]
                # A column no event touched still has the value a new row gets.
                untouched = {k: row[k] for k in row if k not in replayed and k != "id"}
                assert untouched == {k: UNSET.get(k) for k in untouched}, row["ref"]
                if row["status"] in FINAL:
                    seen = self.final.setdefault(row["ref"], (row, counts[row["id"]]))
                    assert seen == (row, counts[row["id"]]), f"{row['ref']} changed"
            # Every chain of duplicates ends at a demand that is not a duplicate: no loop.
            by_id = {row["id"]: row for row in rows}
            for row in rows:
                seen_ids, current = set(), row
                while current["status"] == "duplicate":
                    assert current["id"] not in seen_ids, f"duplicate loop at {row['ref']}"
                    seen_ids.add(current["id"])
                    current = by_id[current["duplicate_of"]]


def run_machine(desks: dict[str, Desk], clock: Clock) -> None:
    machine = type("LifecycleOn", (Lifecycle,), {"desks": desks, "clock": clock})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=30,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.mark.filterwarnings("ignore::community365.workdays.CalendarWarning")
def test_lifecycle_state_machine(make_district: Callable[..., District]) -> None:
    district = make_district()
    try:
        build(district)
        clock = Clock(FIXED_NOW)
        office = Desk(district, clock)
        desks = {"office": office, **{h: office.as_(h) for h in HANDLERS}}
        run_machine(desks, clock)
    finally:
        district.engine.dispose()


def test_the_machines_table_is_the_lifecycles() -> None:
    """The table the machine predicts from agrees with the lifecycle's own, so that a
    change of the rules fails here first, in one place, instead of as a random example."""
    from community365.cases import lifecycle

    table = {
        "accept": {"assigned"},
        "refuse": {"assigned"},
        "transfer": WORKING,
        "reply": OPEN,
        "note": OPEN | {"resolved"},
        "extend": WORKING,
        "resolve": {"accepted"},
        "rate": {"resolved"},
        "close": {"resolved"},
        "reopen": {"resolved"},
        "withdraw": OPEN,
        "duplicate": OPEN,
        "reject": {"received", "assigned"},
        "escalate": OPEN,
        "assign": {"received", "assigned"},
    }
    for action, allowed in table.items():
        assert set(lifecycle.ACTIONS[action].allowed_from) == allowed, action
