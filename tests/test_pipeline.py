"""The case pipeline through its public API: ``district.pipeline(ctx)`` in a unit of work.

Every test runs on SQLite and on PostgreSQL (the ``district`` fixture), on the small
district of :mod:`cases_fixtures` with a clock the test moves. The office user
(``office``) is not a handler and may act on any case; handlers act under their code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cases_fixtures import (
    BUILDING,
    HH1,
    HH2,
    HH3,
    SHI,
    SHI_BO,
    SMALL,
    SMALL2,
    WANG,
    ZHANG,
    Clock,
    Desk,
    build,
    case_count,
    event_count,
    events,
    plugin,
    row,
    set_sla,
    snapshot,
)
from conftest import FIXED_NOW
from sqlalchemy import select

from community365 import CaseView, PersonRef, PluginError, Problem, Transition
from community365.cases import DraftRejected
from community365.db.schema import persons
from community365.district import District
from community365.errors import NotFound, UsageError

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A Beijing wall-clock time as an aware UTC datetime."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(dt.UTC)


def end_of(year: int, month: int, day: int) -> dt.datetime:
    return local(year, month, day, 23, 59) + dt.timedelta(seconds=59)


@pytest.fixture
def clock() -> Clock:
    return Clock(FIXED_NOW)


@pytest.fixture
def desk(district: District, clock: Clock) -> Desk:
    build(district)
    return Desk(district, clock)


def actions_of(desk: Desk, ref: str) -> list[str]:
    return [e["action"] for e in events(desk.district, ref)]


# -- intake: classification ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "service"),
    [
        ("楼道路灯坏了", "repair"),
        ("厨房水管漏水，请派人维修", "repair"),
        ("请问低保怎么办理，需要什么材料", "consult"),
        ("想预约上门办理居住证", "appointment"),
        ("独居老人在家摔倒了，需要帮忙", "help"),
        ("楼上装修噪音扰民，我要投诉", "complaint"),
        ("邻里因为漏水吵架，请来调解纠纷", "dispute"),
        ("建议小区增设健身器材", "suggestion"),
    ],
)
def test_submit_classifies_by_keywords(desk: Desk, text: str, service: str) -> None:
    case = desk.submit(text).case
    assert (case.service, case.service_group) == (service, service)
    assert case.status == "assigned" and case.handler_code == "A1"
    assert row(desk.district, case.ref)["service"] == service


def test_an_explicit_service_wins_over_keywords(desk: Desk) -> None:
    case = desk.submit("楼道路灯坏了", service="complaint").case
    assert case.service == "complaint"


def test_an_unknown_service_or_an_unclassifiable_text_is_rejected(desk: Desk) -> None:
    error = desk.refused("submit", desk.draft("路灯坏了", service="plumbing"), error=DraftRejected)
    assert [p.field for p in error.problems] == ["service"]
    assert "no service 'plumbing'" in str(error) and "repair" in str(error)
    error = desk.refused("submit", desk.draft("你好"), error=DraftRejected)
    assert error.problems == (Problem("service", "cannot tell from the text; name the service"),)


def test_a_plugin_classifier_wins_over_keywords(desk: Desk) -> None:
    seen: list[list[str]] = []

    def classify(draft: Any, services: list[Any]) -> str | None:
        seen.append([s.code for s in services])
        return "dispute" if "楼道" in draft.text else None

    office = desk.with_plugins(("mediator", plugin(classify=classify)))
    assert office.submit("楼道路灯坏了").case.service == "dispute"
    # The plugin passes (None): the core's keywords decide.
    assert office.submit("电梯坏了").case.service == "repair"
    assert "consult" in seen[0] and "repair" in seen[0]
    # An explicit service is not asked about.
    office.submit("楼道里太吵", service="complaint")
    assert len(seen) == 2


def test_a_plugin_classifying_to_an_unknown_service_fails_naming_itself(desk: Desk) -> None:
    office = desk.with_plugins(("confused", plugin(classify=lambda draft, services: "nonsense")))
    error = office.refused("submit", office.draft("楼道路灯坏了"), error=PluginError)
    assert error.plugin == "confused" and error.hook == "c365_classify"
    assert case_count(desk.district) == 0


# -- intake: validation and the reporter -------------------------------------------------------


def test_validation_collects_every_problem_and_writes_nothing(desk: Desk) -> None:
    draft = desk.draft(
        "   ",
        reporter=PersonRef(phone="13900000000"),
        area_code="330212999",
    )
    error = desk.refused("submit", draft, error=DraftRejected)
    fields = [p.field for p in error.problems]
    assert {"text", "reporter", "area", "service"} <= set(fields)
    message = str(error)
    assert message.startswith("case not taken in:")
    assert "no person with phone 13900000000" in message and "no area '330212999'" in message
    assert (case_count(desk.district), event_count(desk.district)) == (0, 0)
    # Nothing was used up either: the first stored case is still number one.
    assert desk.submit().case.ref == "2026-000001"


def test_a_bad_channel_and_a_naive_time_are_problems_too(desk: Desk) -> None:
    draft = desk.draft(channel="fax", received_at=dt.datetime(2026, 11, 25, 10, 0))
    error = desk.refused("submit", draft, error=DraftRejected)
    assert {"channel", "received_at"} <= {p.field for p in error.problems}


def test_plugin_problems_are_shown_with_the_core_ones(desk: Desk) -> None:
    def validate(draft: Any, service: Any) -> list[Problem]:
        return [Problem("fields.floor", f"{service.code} needs the floor")]

    office = desk.with_plugins(("strict", plugin(validate=validate)))
    draft = office.draft(
        "楼道路灯坏了", reporter=PersonRef(phone="13900000000"), household_code=HH1
    )
    error = office.refused("submit", draft, error=DraftRejected)
    assert [p.field for p in error.problems] == ["reporter", "fields.floor"]
    error = office.refused("submit", office.draft("楼道路灯坏了"), error=DraftRejected)
    assert error.problems == (Problem("fields.floor", "repair needs the floor"),)


@pytest.mark.parametrize(
    ("reporter", "name", "household"),
    [
        (PersonRef(id_number=WANG[0]), WANG[1], HH1),
        (PersonRef(id_number=" " + SHI[0].lower() + " "), SHI[1], HH1),
        (PersonRef(phone=WANG[3]), WANG[1], HH1),
        (PersonRef(name=ZHANG[1], household_code=HH2), ZHANG[1], HH2),
        (PersonRef(phone=SHI_BO[3]), SHI_BO[1], HH3),
        (PersonRef(phone="136-0399-0107"), SHI[1], HH1),
        (PersonRef(phone="+86 150 1701 1261"), WANG[1], HH1),
    ],
    ids=[
        "id-number",
        "id-number-lower-x",
        "phone",
        "name+household",
        "other-building",
        "phone-with-dashes",
        "phone-with-country-code",
    ],
)
def test_the_reporter_is_found_and_the_place_defaults_to_their_household(
    desk: Desk, reporter: PersonRef, name: str, household: str
) -> None:
    case = desk.submit("楼道路灯坏了", reporter=reporter).case
    with desk.district.engine.connect() as conn:
        found = conn.execute(
            select(persons.c.name).where(persons.c.id == case.reporter_id)
        ).scalar_one()
    assert found == name
    assert (case.household_code, case.area_code) == (household, household.split("-")[0])


@pytest.mark.parametrize(
    ("reporter", "message"),
    [
        (PersonRef(id_number="110105199001011234"), "no person with this ID number"),
        (PersonRef(phone="13900000000"), "no person with phone 13900000000"),
        (PersonRef(phone="12345"), "not a phone number: '12345'"),
        (PersonRef(name="史永康", household_code=HH3), "no person '史永康' in household"),
        (PersonRef(name="史永康"), "give an ID number, a phone, or name+household"),
    ],
)
def test_an_unknown_reporter_is_a_problem(desk: Desk, reporter: PersonRef, message: str) -> None:
    error = desk.refused("submit", desk.draft(reporter=reporter), error=DraftRejected)
    assert error.problems[0].field == "reporter" and message in error.problems[0].message


def test_the_place_given_wins_over_the_reporters_household(desk: Desk) -> None:
    at_household = desk.submit(household_code=HH3).case
    assert (at_household.household_code, at_household.handler_code) == (HH3, "A2")
    at_area = desk.submit("路灯坏了", area_code=SMALL2).case
    assert (at_area.area_code, at_area.household_code) == (SMALL2, None)
    error = desk.refused("submit", desk.draft(household_code="nope"), error=DraftRejected)
    assert error.problems == (Problem("household", "no household 'nope'"),)


def test_an_outside_contact_needs_a_place(desk: Desk) -> None:
    case = desk.submit("路灯坏了", contact="李先生 13900000000", area_code=SMALL).case
    assert (case.reporter_id, case.contact, case.area_code) == (None, "李先生 13900000000", SMALL)
    assert case.handler_code == "A1"
    error = desk.refused("submit", desk.draft(contact="李先生"), error=DraftRejected)
    assert [p.field for p in error.problems] == ["place"]


# -- intake: repeated demands, references ------------------------------------------------------


def test_a_repeated_demand_is_linked_to_the_open_case(desk: Desk, clock: Clock) -> None:
    first = desk.submit("楼道路灯坏了")
    assert not first.linked
    clock.advance(days=1)
    again = desk.submit("楼道路灯还是坏的")
    assert again.linked and again.case.ref == first.case.ref
    assert again.case.repeats == 1
    clock.advance(days=5, hours=23)
    assert desk.submit("路灯到底什么时候修").case.repeats == 2
    assert case_count(desk.district) == 1
    assert actions_of(desk, first.case.ref) == ["submit", "assign", "repeat", "repeat"]
    assert events(desk.district, first.case.ref)[-1]["note"] == "路灯到底什么时候修"
    # The status and handler stay as they were.
    assert (again.case.status, again.case.handler_code) == ("assigned", "A1")


def test_outside_the_window_or_for_another_service_a_new_case_opens(
    desk: Desk, clock: Clock
) -> None:
    first = desk.submit("楼道路灯坏了").case
    other_service = desk.submit("楼道路灯坏了", service="complaint")
    other_person = desk.submit("楼道路灯坏了", reporter=PersonRef(phone=WANG[3]))
    other_place = desk.submit("楼道路灯坏了", household_code=HH2)
    assert not any(s.linked for s in (other_service, other_person, other_place))
    clock.advance(days=7, seconds=1)  # repeat_window_days = 7
    late = desk.submit("楼道路灯坏了")
    assert not late.linked
    assert [s.case.ref for s in (other_service, other_person, other_place, late)] == [
        "2026-000002",
        "2026-000003",
        "2026-000004",
        "2026-000005",
    ]
    assert desk.case(first.ref).repeats == 0


def test_a_demand_repeating_a_finished_case_opens_a_new_one(desk: Desk) -> None:
    ref = desk.submit().case.ref
    desk("accept", ref)
    desk("resolve", ref, "换了灯泡")
    assert not desk.submit().linked


def test_an_outside_contact_repeating_is_linked_by_contact(desk: Desk) -> None:
    first = desk.submit("路灯坏了", contact="李先生 139", area_code=SMALL)
    assert desk.submit("路灯坏了", contact="李先生 139", area_code=SMALL).linked
    assert not desk.submit("路灯坏了", contact="王女士 138", area_code=SMALL).linked
    assert desk.case(first.case.ref).repeats == 1


def test_references_count_per_local_year(desk: Desk, clock: Clock) -> None:
    refs = [desk.submit(f"{n}号楼路灯坏了", contact=f"来电{n}", area_code=SMALL) for n in (1, 2)]
    assert [s.case.ref for s in refs] == ["2026-000001", "2026-000002"]
    # 17:00 UTC on 31 December is already 1 January in Beijing.
    clock.now = dt.datetime(2026, 12, 31, 17, 0, tzinfo=dt.UTC)
    assert desk.submit(contact="新年", area_code=SMALL).case.ref == "2027-000001"
    clock.now = dt.datetime(2026, 12, 31, 15, 0, tzinfo=dt.UTC)
    assert desk.submit(contact="除夕", area_code=SMALL).case.ref == "2026-000003"


# -- deadlines ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "service", "reply_minutes", "resolve_by"),
    [
        # Wednesday: consult, 5 minutes and 1 working day.
        (local(2026, 11, 25), "consult", 5, end_of(2026, 11, 26)),
        # Friday: the weekend does not count.
        (local(2026, 11, 27), "consult", 5, end_of(2026, 11, 30)),
        (local(2026, 11, 25), "appointment", 5, end_of(2026, 11, 30)),
        # The day before National Day: 1–7 October are holidays.
        (local(2026, 9, 30), "consult", 5, end_of(2026, 10, 8)),
        # 5 working days: 8, 9, 10 (a Saturday made a working day), 12, 13 October.
        (local(2026, 9, 30), "complaint", 120, end_of(2026, 10, 13)),
        # The 365-day services count calendar days, holidays included.
        (local(2026, 9, 30), "help", 30, end_of(2026, 10, 2)),
        (local(2026, 11, 25), "repair", 60, end_of(2026, 11, 28)),
        # Just after midnight in Beijing (still the day before in UTC) counts from Thursday.
        (local(2026, 11, 26, 0, 30), "consult", 5, end_of(2026, 11, 27)),
    ],
)
def test_deadlines_are_computed_at_intake_and_stored(
    desk: Desk,
    clock: Clock,
    received: dt.datetime,
    service: str,
    reply_minutes: int,
    resolve_by: dt.datetime,
) -> None:
    clock.now = received
    case = desk.submit("有事", service=service).case
    stored = row(desk.district, case.ref)
    assert stored["received_at"] == received
    assert stored["reply_by"] == received + dt.timedelta(minutes=reply_minutes)
    assert stored["resolve_by"] == resolve_by
    assert (case.reply_by, case.resolve_by) == (stored["reply_by"], stored["resolve_by"])


def test_a_plugin_may_move_deadlines_but_not_before_intake(desk: Desk, clock: Clock) -> None:
    def later(case: CaseView, deadlines: Any) -> Any:
        return type(deadlines)(case.received_at + dt.timedelta(minutes=1), deadlines.resolve_by)

    case = desk.with_plugins(("urgent", plugin(adjust_deadlines=later))).submit().case
    assert row(desk.district, case.ref)["reply_by"] == clock.now + dt.timedelta(minutes=1)

    def earlier(case: CaseView, deadlines: Any) -> Any:
        return type(deadlines)(case.received_at - dt.timedelta(minutes=1), deadlines.resolve_by)

    office = desk.with_plugins(("broken", plugin(adjust_deadlines=earlier)))
    error = office.refused("submit", office.draft(household_code=HH2), error=PluginError)
    assert error.hook == "c365_adjust_deadlines" and "before the intake" in str(error)


# -- delivery -------------------------------------------------------------------------------------


def test_the_whole_lifecycle_of_a_case(desk: Desk, clock: Clock) -> None:
    t0 = clock.now
    ref = desk.submit().case.ref
    clock.advance(minutes=1)
    accepted = desk("accept", ref)
    assert (accepted.status, accepted.accepted_at) == ("accepted", t0 + dt.timedelta(minutes=1))
    clock.advance(minutes=2)
    replied = desk("reply", ref, "已收到，今天下午来修")
    assert replied.replied_at == t0 + dt.timedelta(minutes=3)
    clock.advance(hours=3)
    desk("note", ref, "上门查看，需要换灯泡")
    clock.advance(hours=1)
    resolved = desk("resolve", ref, "已更换灯泡", minutes_spent=30)
    assert (resolved.status, resolved.outcome, resolved.minutes_spent) == (
        "resolved",
        "已更换灯泡",
        30,
    )
    assert resolved.resolved_at == clock.now
    assert resolved.replied_at == t0 + dt.timedelta(minutes=3)  # the first answer stays
    clock.advance(days=1)
    closed = desk("rate", ref, "satisfied", "很及时")
    assert (closed.status, closed.rating, closed.rating_comment) == (
        "closed",
        "satisfied",
        "很及时",
    )
    assert closed.closed_at == clock.now
    assert actions_of(desk, ref) == [
        "submit",
        "assign",
        "accept",
        "reply",
        "note",
        "resolve",
        "rate",
    ]
    history = events(desk.district, ref)
    assert [e["to_status"] for e in history] == [
        "received",
        "assigned",
        "accepted",
        "accepted",
        "accepted",
        "resolved",
        "closed",
    ]
    assert all(e["actor"] == "office" for e in history)
    assert history[-1]["at"] == clock.now


def test_resolving_answers_the_resident_when_nobody_replied(desk: Desk, clock: Clock) -> None:
    ref = desk.submit().case.ref
    desk("accept", ref)
    clock.advance(hours=2)
    assert desk("resolve", ref, "修好了").replied_at == clock.now


def test_a_second_reply_keeps_the_first_answer_time(desk: Desk, clock: Clock) -> None:
    ref = desk.submit().case.ref
    first = desk("reply", ref, "收到").replied_at
    clock.advance(minutes=10)
    assert desk("reply", ref, "明天上门").replied_at == first
    assert actions_of(desk, ref)[-2:] == ["reply", "reply"]


@pytest.mark.parametrize("level", ["satisfied", "fairly_satisfied"])
def test_a_good_rating_closes(desk: Desk, level: str) -> None:
    ref = desk.submit().case.ref
    desk("accept", ref)
    desk("resolve", ref, "修好了")
    assert desk("rate", ref, level).status == "closed"


def test_close_without_a_rating(desk: Desk) -> None:
    ref = desk.submit().case.ref
    desk("accept", ref)
    desk("resolve", ref, "修好了")
    closed = desk("close", ref, "七天未评价，自动结案")
    assert (closed.status, closed.rating) == ("closed", None)


def test_an_unsatisfied_rating_reopens_until_max_reworks(desk: Desk, clock: Clock) -> None:
    ref = desk.submit().case.ref
    desk("accept", ref)
    for rework in (1, 2):  # sla.max_reworks = 2 by default
        desk("resolve", ref, f"第{rework}次修理")
        clock.advance(hours=1)
        reopened = desk("rate", ref, "unsatisfied", "灯还是不亮")
        assert (reopened.status, reopened.reworks) == ("accepted", rework)
        assert reopened.resolved_at is None and reopened.rating == "unsatisfied"
        assert reopened.handler_code == "A1"
    desk("resolve", ref, "第3次修理")
    closed = desk("rate", ref, "unsatisfied", "算了")
    assert (closed.status, closed.reworks, closed.rating) == ("closed", 2, "unsatisfied")
    assert closed.replied_at is not None


def test_max_reworks_and_max_extensions_come_from_district_toml(
    district: District, desk: Desk
) -> None:
    set_sla(district, max_reworks=0, max_extensions=1)
    strict = Desk(district, desk.clock)
    ref = strict.submit().case.ref
    strict("accept", ref)
    strict("extend", ref, 1, "等配件")
    error = strict.refused("extend", ref, 1, "还要等")
    assert "sla.max_extensions = 1" in str(error)
    strict("resolve", ref, "修好了")
    assert strict("rate", ref, "unsatisfied").status == "closed"


def test_reopen_sends_a_resolved_case_back(desk: Desk) -> None:
    ref = desk.submit().case.ref
    desk("accept", ref)
    desk("resolve", ref, "修好了")
    reopened = desk("reopen", ref, "回访发现没修好")
    assert (reopened.status, reopened.reworks, reopened.resolved_at) == ("accepted", 1, None)


def test_extensions_move_the_resolve_deadline(desk: Desk, clock: Clock) -> None:
    repair = desk.submit().case  # calendar days: due at the end of Saturday 28 November
    assert repair.resolve_by == end_of(2026, 11, 28)
    assert desk("extend", repair.ref, 2, "等配件").resolve_by == end_of(2026, 11, 30)
    desk("accept", repair.ref)
    extended = desk("extend", repair.ref, 1, "配件延误")
    assert (extended.resolve_by, extended.extensions) == (end_of(2026, 12, 1), 2)
    error = desk.refused("extend", repair.ref, 1, "再等等")
    assert "extended 2 times" in str(error) and "sla.max_extensions = 2" in str(error)
    history = events(desk.district, repair.ref)
    assert history[-1]["note"] == "+1 calendar_days: 配件延误"


def test_working_day_extensions_skip_the_weekend(desk: Desk) -> None:
    consult = desk.submit("请问怎么办理", service="consult").case  # due Thursday
    assert consult.resolve_by == end_of(2026, 11, 26)
    assert desk("extend", consult.ref, 1, "需要查政策").resolve_by == end_of(2026, 11, 27)
    assert desk("extend", consult.ref, 1, "还要核实").resolve_by == end_of(2026, 11, 30)


def test_an_extension_needs_a_reason_and_a_positive_amount(desk: Desk) -> None:
    ref = desk.submit().case.ref
    assert "needs a reason" in str(desk.refused("extend", ref, 1, "  "))
    assert "1 to 365" in str(desk.refused("extend", ref, 0, "等配件", error=UsageError))
    assert "1 to 365" in str(desk.refused("extend", ref, 366, "等配件", error=UsageError))


def test_withdraw_duplicate_and_reject_end_a_case(desk: Desk, clock: Clock) -> None:
    original = desk.submit().case.ref
    withdrawn = desk("withdraw", desk.submit(household_code=HH2).case.ref, "自己修好了")
    assert (withdrawn.status, withdrawn.closed_at, withdrawn.replied_at) == (
        "withdrawn",
        clock.now,
        None,
    )
    copy = desk.submit(contact="邻居", area_code=SMALL).case.ref
    duplicate = desk("mark_duplicate", copy, original)
    assert (duplicate.status, duplicate.duplicate_of) == ("duplicate", original)
    assert events(desk.district, copy)[-1]["note"] == f"duplicate of {original}"
    rejected = desk("reject", desk.submit(household_code=HH3).case.ref, "属于物业公司职责")
    assert (rejected.status, rejected.replied_at, rejected.closed_at) == (
        "rejected",
        clock.now,
        clock.now,
    )
    for ref in (withdrawn.ref, copy, rejected.ref):
        error = desk.refused("note", ref, "还能记录吗")
        assert "cannot be changed" in str(error)


def test_a_case_cannot_duplicate_itself_or_an_unknown_case(desk: Desk) -> None:
    ref = desk.submit().case.ref
    desk.refused("mark_duplicate", ref, ref, error=UsageError)
    desk.refused("mark_duplicate", ref, "2026-999999", error=NotFound)


def test_an_unknown_reference_is_not_found(desk: Desk) -> None:
    assert "2026-000404" in str(desk.refused("accept", "2026-000404", error=NotFound))


def test_a_rating_must_be_one_of_the_three_levels(desk: Desk) -> None:
    ref = desk.submit().case.ref
    desk("accept", ref)
    desk("resolve", ref, "修好了")
    error = desk.refused("rate", ref, "great", error=UsageError)
    assert "satisfied, fairly_satisfied, unsatisfied" in str(error)


# -- every action against every status ----------------------------------------------------------

ACTIONS: dict[str, tuple[Any, ...]] = {
    "accept": ("accept",),
    "refuse": ("refuse", "不归我管"),
    "transfer": ("transfer", "转第三微网格", "A2"),
    "reply": ("reply", "已收到"),
    "note": ("note", "上门查看"),
    "extend": ("extend", 1, "等配件"),
    "resolve": ("resolve", "已处理"),
    "rate": ("rate", "satisfied"),
    "close": ("close",),
    "reopen": ("reopen", "没修好"),
    "withdraw": ("withdraw", "不需要了"),
    "duplicate": ("mark_duplicate", "ORIGINAL"),
    "reject": ("reject", "不属于社区事务"),
    "escalate": ("escalate", "超时催办"),
}
OPEN_ANYWHERE = {"reply", "note", "withdraw", "duplicate", "escalate"}
ALLOWED: dict[str, set[str]] = {
    "received": OPEN_ANYWHERE | {"reject"},
    "assigned": OPEN_ANYWHERE | {"accept", "refuse", "transfer", "extend", "reject"},
    "accepted": OPEN_ANYWHERE | {"transfer", "extend", "resolve"},
    "resolved": {"note", "rate", "close", "reopen"},
    "closed": set(),
    "withdrawn": set(),
    "duplicate": set(),
    "rejected": set(),
}
# Events an allowed action writes: one, except those that route the case again.
EVENTS = {"refuse": 2, ("escalate", "received"): 2}


def bring(desk: Desk, status: str, n: int, original: str) -> str:
    """A new case (an outside caller ``n``, never a repeat) brought to ``status``."""
    area = "330212" if status == "received" else SMALL  # nobody has a duty at the root
    ref = desk.submit("楼道路灯坏了", contact=f"来电{n}", area_code=area).case.ref
    steps = {
        "received": [],
        "assigned": [],
        "accepted": ["accept"],
        "resolved": ["accept", "resolve"],
        "closed": ["accept", "resolve", "rate"],
        "withdrawn": ["withdraw"],
        "duplicate": ["duplicate"],
        "rejected": ["reject"],
    }[status]
    for step in steps:
        call(desk, step, ref, original)
    assert desk.case(ref).status == status
    return ref


def call(desk: Desk, action: str, ref: str, original: str) -> CaseView:
    method, *args = ACTIONS[action]
    args = [original if a == "ORIGINAL" else a for a in args]
    return desk(method, ref, *args)


@pytest.mark.parametrize("status", list(ALLOWED))
def test_each_action_in_each_status(desk: Desk, status: str) -> None:
    """Allowed actions write their events; the others raise InvalidTransition, say why,
    and write nothing (not even before raising)."""
    original = desk.submit("邻里纠纷", household_code=HH3).case.ref
    for n, action in enumerate(ACTIONS):
        ref = bring(desk, status, n, original)
        before = event_count(desk.district)
        if action in ALLOWED[status]:
            call(desk, action, ref, original)
            expected = EVENTS.get(action, EVENTS.get((action, status), 1))
            assert event_count(desk.district) - before == expected, (status, action)
        else:
            method, *args = ACTIONS[action]
            args = [original if a == "ORIGINAL" else a for a in args]
            error = desk.refused(method, ref, *args)
            message = str(error)
            assert f"case {ref} is {status}" in message, message
            if status in ("closed", "withdrawn", "duplicate", "rejected"):
                assert "cannot be changed" in message
            else:
                assert f"cannot {action}" in message and "needs a case that is" in message


@pytest.mark.parametrize(
    ("status", "action", "args"),
    [
        ("assigned", "refuse", (" ",)),
        ("assigned", "transfer", ("", "A2")),
        ("assigned", "reply", ("",)),
        ("assigned", "note", ("\n",)),
        ("assigned", "withdraw", ("",)),
        ("assigned", "reject", ("",)),
        ("accepted", "resolve", ("",)),
        ("resolved", "reopen", ("",)),
    ],
)
def test_actions_that_need_a_reason(desk: Desk, status: str, action: str, args: tuple) -> None:
    ref = bring(desk, status, 0, "")
    error = desk.refused(action, ref, *args)
    assert str(error) == f"case {ref}: {action} needs a reason or a text"


def test_submit_writes_two_events_and_each_action_one(desk: Desk) -> None:
    ref = desk.submit().case.ref
    assert event_count(desk.district, ref) == 2  # submit, assign
    for method, *args in [
        ("reply", "收到"),
        ("note", "记一笔"),
        ("extend", 1, "等配件"),
        ("transfer", "转第三微网格", "A2"),
        ("accept",),
        ("resolve", "修好了"),
        ("reopen", "没修好"),
        ("resolve", "又修了"),
        ("close",),
    ]:
        before = event_count(desk.district, ref)
        desk(method, ref, *args)
        assert event_count(desk.district, ref) == before + 1, method
    ref = desk.submit(household_code=HH2).case.ref
    desk("transfer", ref, "重新派单")  # without a name: transfer, then assign
    assert actions_of(desk, ref)[-2:] == ["transfer", "assign"]
    desk.as_("B1")("refuse", ref, "请假了")
    assert actions_of(desk, ref)[-2:] == ["refuse", "assign"]


# -- plugins act on transitions ----------------------------------------------------------------


def test_plugins_see_every_transition(desk: Desk, clock: Clock) -> None:
    seen: list[tuple[str, Transition]] = []

    def transition(case: CaseView, transition: Transition, ctx: Any) -> None:
        seen.append((case.status, transition))

    office = desk.with_plugins(("watcher", plugin(case_transition=transition)))
    ref = office.submit().case.ref
    t0 = clock.now
    clock.advance(minutes=3)
    office("accept", ref)
    clock.advance(hours=1)
    office("resolve", ref, "修好了")
    office("rate", ref, "unsatisfied", "不亮")
    assert [(status, t.action, t.from_status, t.to_status) for status, t in seen] == [
        ("assigned", "assign", "received", "assigned"),
        ("accepted", "accept", "assigned", "accepted"),
        ("resolved", "resolve", "accepted", "resolved"),
        ("accepted", "rate", "resolved", "accepted"),
    ]
    assert seen[1][1] == Transition(
        from_status="assigned",
        to_status="accepted",
        action="accept",
        actor="office",
        at=t0 + dt.timedelta(minutes=3),
        note="",
    )
    assert seen[2][1].note == "修好了" and seen[3][1].note == "unsatisfied: 不亮"
    seen.clear()
    office.as_("A1", [("watcher", plugin(case_transition=transition))])("note", ref, "再去看")
    assert seen[0][1].actor == "A1" and seen[0][1].action == "note"


def test_a_plugin_failing_on_a_transition_rolls_the_action_back(desk: Desk, clock: Clock) -> None:
    def fail_on_resolve(case: CaseView, transition: Transition, ctx: Any) -> None:
        if transition.action == "resolve":
            raise RuntimeError("timebank is closed")

    office = desk.with_plugins(("timebank_test", plugin(case_transition=fail_on_resolve)))
    ref = office.submit().case.ref
    office("accept", ref)
    before = snapshot(desk.district)
    clock.advance(hours=1)
    with pytest.raises(PluginError) as info:
        office("resolve", ref, "修好了")
    assert info.value.plugin == "timebank_test" and info.value.hook == "c365_case_transition"
    assert "timebank is closed" in str(info.value)
    assert snapshot(desk.district) == before
    assert desk.case(ref).status == "accepted"


def test_a_plugin_failing_on_the_first_assignment_undoes_the_intake(desk: Desk) -> None:
    def fail(case: CaseView, transition: Transition, ctx: Any) -> None:
        raise RuntimeError("no")

    office = desk.with_plugins(("grumpy", plugin(case_transition=fail)))
    with pytest.raises(PluginError, match="'grumpy' failed in c365_case_transition"):
        office.submit()
    assert (case_count(desk.district), event_count(desk.district)) == (0, 0)
    assert desk.submit().case.ref == "2026-000001"


def test_plugins_are_told_of_intake_and_ratings(desk: Desk) -> None:
    told: list[str] = []
    watcher = plugin(
        case_received=lambda case, ctx: told.append(f"received {case.ref} {case.status}"),
        case_rated=lambda case, rating, ctx: told.append(f"rated {case.ref} {rating.level}"),
    )
    office = desk.with_plugins(("watcher", watcher))
    ref = office.submit().case.ref
    office("accept", ref)
    office("resolve", ref, "修好了")
    office("rate", ref, "fairly_satisfied")
    assert told == [f"received {ref} received", f"rated {ref} fairly_satisfied"]


# -- scope: handlers act on their own areas -------------------------------------------------------


def test_only_the_assignee_accepts_or_refuses(desk: Desk) -> None:
    ref = desk.submit().case.ref  # A1 is the A of the small grid
    for who in ("B1", "L1"):
        error = desk.as_(who).refused("accept", ref)
        assert str(error) == f"case {ref} is not assigned to {who}"
        desk.as_(who).refused("refuse", ref, "不是我的")
    # Outside one's areas, the case's status is not even told.
    assert str(desk.as_("A2").refused("accept", ref)) == f"case {ref} is outside A2's areas"
    assert desk.as_("A1")("accept", ref).accepted_at is not None
    assert events(desk.district, ref)[-1]["actor"] == "A1"


def test_handlers_act_only_on_cases_of_their_areas(desk: Desk) -> None:
    ref = desk.submit().case.ref  # in building 1 of the first small grid
    desk.as_("B1")("note", ref, "B角知悉")  # a duty on the small grid
    desk.as_("L1")("note", ref, "网格长知悉")  # the grid leader: the whole grid
    desk.as_("S1")("note", ref, "街道知悉")  # the street
    for outsider in ("A2", "L2", "V1"):
        error = desk.as_(outsider).refused("note", ref, "看看")
        assert str(error) == f"case {ref} is outside {outsider}'s areas"
    desk.as_("A2").refused("withdraw", ref, "撤了")
    # A handler may act on a case assigned to them wherever it is.
    desk("transfer", ref, "交给志愿者", "V1")
    v1 = desk.as_("V1")
    v1("accept", ref)
    v1("resolve", ref, "志愿者修好了")
    assert desk.case(ref).status == "resolved"


def test_the_first_contact_keeps_acting_on_what_they_took_in(desk: Desk) -> None:
    taken = desk.as_("A2").submit("路灯坏了", household_code=HH1).case  # A2 took the call
    assert (taken.receiver_code, taken.handler_code) == ("A2", "A1")
    desk.as_("A2")("reply", taken.ref, "已转网格员处理")
    desk.as_("A2").refused("accept", taken.ref)  # but only the assignee accepts


def test_office_staff_act_on_any_case(desk: Desk) -> None:
    refs = [desk.submit(household_code=h).case.ref for h in (HH1, HH3)]
    for ref in refs:
        desk("accept", ref)  # on the assignee's behalf
        desk("resolve", ref, "办结")
    assert {desk.case(r).status for r in refs} == {"resolved"}


def test_a_refusal_and_a_transfer_by_a_handler(desk: Desk) -> None:
    ref = desk.submit().case.ref
    rerouted = desk.as_("A1")("refuse", ref, "本周请假")
    assert rerouted.handler_code == "B1"
    history = events(desk.district, ref)
    assert [(e["action"], e["actor"]) for e in history[-2:]] == [
        ("refuse", "A1"),
        ("assign", "A1"),
    ]
    assert history[-2]["note"] == "本周请假"
    moved = desk.as_("B1")("transfer", ref, "属第三微网格", "A2")
    assert (moved.status, moved.handler_code) == ("assigned", "A2")
    assert events(desk.district, ref)[-1]["note"] == "属第三微网格 → A2"


def handlers_of(desk: Desk, refs: list[str]) -> list[str | None]:
    return [desk.case(r).handler_code for r in refs]


def test_handler_codes_that_are_not_handlers_are_office_staff(desk: Desk) -> None:
    ref = desk.submit().case.ref
    clerk = desk.as_("clerk-zhang")
    clerk("accept", ref)
    assert handlers_of(desk, [ref]) == ["A1"]
    assert events(desk.district, ref)[-1]["actor"] == "clerk-zhang"


def test_an_accepted_case_transferred_must_be_accepted_again(desk: Desk) -> None:
    ref = desk.submit().case.ref
    desk("accept", ref)
    moved = desk("transfer", ref, "转第三微网格", "A2")
    assert (moved.status, moved.accepted_at) == ("assigned", None)
    desk.refused("transfer", ref, "再转", "A2")
    desk.refused("transfer", ref, "转给不存在的人", "Z9", error=NotFound)
    assert row(desk.district, ref)["handler_id"] is not None
    assert desk.case(ref).handler_code == "A2"


def test_the_area_of_every_case_is_stored(desk: Desk) -> None:
    refs = [desk.submit(household_code=h).case.ref for h in (HH1, HH2, HH3)]
    assert [desk.case(r).area_code for r in refs] == [BUILDING, BUILDING, HH3.split("-")[0]]


def test_references_stay_unique_when_two_intakes_start_a_year_together(desk: Desk) -> None:
    """Two units of work take the first number of a new year at the same time: the
    second waits for the first and gets the next number (it must not fail)."""
    import threading

    from community365.cases import store

    engine = desk.district.engine
    results: list[object] = []
    first = engine.connect()
    transaction = first.begin()
    assert store.next_ref(first, 2031) == "2031-000001"

    def second() -> None:
        try:
            with engine.begin() as conn:
                results.append(store.next_ref(conn, 2031))
        except Exception as exc:  # reported below, in the test's thread
            results.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)  # it waits on the first one's row (PostgreSQL) or lock (SQLite)
    transaction.commit()
    first.close()
    thread.join(15)
    assert results == ["2031-000002"]
