"""Routing (派单) through the pipeline: who gets a case, and the reason written down.

A unless unavailable (leave, shifts, inactive), then B, then the leader, then the next
area up; the nearest area with a duty for the case's group; ties to the least loaded;
plugins' proposals scoring above 3 win; refusals and transfers route again without those
who passed the case on. Runs on SQLite and PostgreSQL, on :mod:`cases_fixtures`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pytest
from cases_fixtures import (
    BUILDING,
    GRID,
    HH1,
    HH3,
    SMALL,
    SMALL_B,
    STANDARD_DUTIES,
    STREET,
    Clock,
    Desk,
    build,
    events,
    plugin,
    row,
)
from conftest import FIXED_NOW

from community365 import Candidate, CaseView
from community365.district import District
from community365.registry.handlers import set_active
from community365.registry.schedule import ShiftView, add_leave, add_shift

TODAY = dt.date(2026, 11, 25)  # FIXED_NOW is Wednesday 25 November, 10:00 in Beijing

# A, B and leader all on the first small grid; the street's A above them.
ONE_AREA = (
    ("A1", SMALL, "A", ""),
    ("B1", SMALL, "B", ""),
    ("L1", SMALL, "leader", ""),
    ("S1", STREET, "A", ""),
)


@pytest.fixture
def clock() -> Clock:
    return Clock(FIXED_NOW)


@pytest.fixture
def make_desk(district: District, clock: Clock) -> Any:
    def make(duties: Iterable[tuple[str, str, str, str]] = STANDARD_DUTIES) -> Desk:
        build(district, duties)
        return Desk(district, clock)

    return make


@pytest.fixture
def desk(make_desk: Any) -> Desk:
    return make_desk(ONE_AREA)


def on_leave(desk: Desk, *codes: str, days: int = 0) -> None:
    with desk.district.begin() as ctx:
        for code in codes:
            add_leave(ctx.connection, code, TODAY, TODAY + dt.timedelta(days=days), "年假")


def last_assignment(desk: Desk, ref: str) -> dict[str, Any]:
    return [e for e in events(desk.district, ref) if e["action"] == "assign"][-1]


def submit(desk: Desk, n: int = 0, **kwargs: Any) -> CaseView:
    """A repair demand from an outside caller ``n`` (never a repeat) in building 1."""
    kwargs.setdefault("area_code", BUILDING)
    return desk.submit("楼道路灯坏了", contact=f"来电{n}", **kwargs).case


# -- A, B, leader, parent --------------------------------------------------------------------------


def test_the_a_of_the_nearest_area_with_a_duty(desk: Desk) -> None:
    case = submit(desk)
    assert (case.status, case.handler_code) == ("assigned", "A1")
    assert last_assignment(desk, case.ref)["note"] == f"A角 of {SMALL}, 0 open"


def test_b_when_a_is_on_leave(desk: Desk) -> None:
    on_leave(desk, "A1")
    case = submit(desk)
    assert case.handler_code == "B1"
    assert last_assignment(desk, case.ref)["note"] == (
        f"B角 of {SMALL}, 0 open; passed over: A1 (A, unavailable)"
    )


def test_the_leader_when_a_and_b_are_away(desk: Desk) -> None:
    on_leave(desk, "A1", "B1")
    case = submit(desk)
    assert case.handler_code == "L1"
    assert last_assignment(desk, case.ref)["note"] == (
        f"网格长 leader of {SMALL}, 0 open; passed over: A1 (A, unavailable), B1 (B, unavailable)"
    )


def test_the_parent_area_when_nobody_of_the_area_is_available(desk: Desk) -> None:
    on_leave(desk, "A1", "B1", "L1")
    case = submit(desk)
    assert case.handler_code == "S1"
    note = last_assignment(desk, case.ref)["note"]
    assert note.startswith(f"A角 of {STREET}, 0 open; passed over: ")
    assert "L1 (leader, unavailable)" in note


def test_leave_ends(desk: Desk, clock: Clock) -> None:
    on_leave(desk, "A1", days=1)  # today and tomorrow
    assert submit(desk, 1).handler_code == "B1"
    clock.advance(days=2)
    assert submit(desk, 2).handler_code == "A1"


def test_shifts_decide_availability(desk: Desk, clock: Clock) -> None:
    with desk.district.begin() as ctx:  # A1 works Wednesday mornings only
        add_shift(ctx.connection, "A1", ShiftView(3, dt.time(8, 0), dt.time(12, 0)))
    assert submit(desk, 1).handler_code == "A1"  # Wednesday 10:00
    clock.advance(hours=3)  # 13:00: the shift is over
    assert submit(desk, 2).handler_code == "B1"
    clock.advance(days=1, hours=-4)  # Thursday 09:00: no shift on Thursdays
    assert submit(desk, 3).handler_code == "B1"


def test_an_inactive_handler_is_unavailable(desk: Desk) -> None:
    with desk.district.begin() as ctx:
        set_active(ctx.connection, "A1", False)
    assert submit(desk).handler_code == "B1"


def test_cases_go_to_the_nearest_area_up_the_tree(make_desk: Any) -> None:
    desk = make_desk()  # STANDARD_DUTIES: A1/B1 on the small grid, L1 on the grid
    assert submit(desk, 1, area_code=SMALL_B).handler_code == "L1"  # no duty on SMALL_B
    assert submit(desk, 2, area_code=GRID).handler_code == "L1"
    assert submit(desk, 3, area_code=STREET).handler_code == "S1"
    assert submit(desk, 4, household_code=HH3, area_code=None).handler_code == "A2"


def test_a_duty_for_a_group_or_for_every_group(make_desk: Any) -> None:
    desk = make_desk(
        (
            ("A2", SMALL, "A", "repair"),  # the small grid's A, for repairs only
            ("A1", GRID, "A", ""),  # the grid's A, for everything
            ("S1", STREET, "A", "consult"),
        )
    )
    assert submit(desk, 1).handler_code == "A2"
    complaint = desk.submit("楼道噪音扰民", contact="来电2", area_code=BUILDING).case
    assert (complaint.service, complaint.handler_code) == ("complaint", "A1")
    assert last_assignment(desk, complaint.ref)["note"] == f"A角 of {GRID}, 0 open"
    # A nearer duty for another group does not stop the search; a farther one for the
    # group does not win over a nearer one for every group.
    consult = desk.submit("请问怎么办理", contact="来电3", area_code=BUILDING).case
    assert (consult.service, consult.handler_code) == ("consult", "A1")


def test_nobody_for_the_group_anywhere(make_desk: Any) -> None:
    desk = make_desk((("A1", SMALL, "A", "repair"),))
    case = desk.submit("楼道噪音扰民", contact="来电", area_code=BUILDING).case
    assert (case.status, case.handler_code) == ("received", None)
    assert last_assignment(desk, case.ref)["note"] == (
        f"nobody available for complaint at {BUILDING} or above"
    )


# -- load ----------------------------------------------------------------------------------------


def test_ties_go_to_the_least_loaded(make_desk: Any) -> None:
    desk = make_desk((("A1", SMALL, "A", ""), ("A2", SMALL, "A", ""), ("B1", SMALL, "B", "")))
    first, second, third = (submit(desk, n) for n in (1, 2, 3))
    assert [c.handler_code for c in (first, second, third)] == ["A1", "A2", "A1"]
    assert last_assignment(desk, third.ref)["note"] == f"A角 of {SMALL}, 1 open"
    # Finished work is no load: A1's two cases resolved, A1 is the less loaded again.
    for case in (first, third):
        desk("accept", case.ref)
        desk("resolve", case.ref, "修好了")
    assert submit(desk, 4).handler_code == "A1"
    assert submit(desk, 5).handler_code == "A1"  # A1 1 open, A2 1 open: the code decides
    assert submit(desk, 6).handler_code == "A2"


def test_load_does_not_beat_the_role(desk: Desk) -> None:
    refs = [submit(desk, n).ref for n in range(3)]
    assert {desk.case(r).handler_code for r in refs} == {"A1"}


# -- plugins' proposals ---------------------------------------------------------------------------


def proposer(*candidates: Candidate, seen: list[CaseView] | None = None) -> Any:
    def propose(case: CaseView, ctx: Any) -> list[Candidate]:
        if seen is not None:
            seen.append(case)
        return list(candidates)

    return plugin(propose_handlers=propose)


def test_a_proposal_scoring_above_3_wins(desk: Desk) -> None:
    seen: list[CaseView] = []
    ranked = desk.with_plugins(
        ("timebank_match", proposer(Candidate("V1", 5.0, "熟悉水电的志愿者"), seen=seen))
    )
    case = submit(ranked)
    assert case.handler_code == "V1"
    assert last_assignment(desk, case.ref)["note"] == "timebank_match: 熟悉水电的志愿者"
    assert seen[0].ref == case.ref and seen[0].status == "received"
    assert seen[0].area_code == BUILDING and seen[0].service_group == "repair"


@pytest.mark.parametrize("score", [3.0, 2.5, 1.0])
def test_a_proposal_scoring_3_or_less_does_not_beat_the_a(desk: Desk, score: float) -> None:
    ranked = desk.with_plugins(("match", proposer(Candidate("V1", score, "就在附近"))))
    assert submit(ranked).handler_code == "A1"


def test_a_proposal_beats_b_when_a_is_away(desk: Desk) -> None:
    on_leave(desk, "A1")
    ranked = desk.with_plugins(("match", proposer(Candidate("V1", 2.5, "就在附近"))))
    case = submit(ranked)
    assert case.handler_code == "V1"
    assert last_assignment(desk, case.ref)["note"] == (
        "match: 就在附近; passed over: A1 (A, unavailable)"
    )


def test_unknown_and_unavailable_proposals_are_dropped_with_a_reason(desk: Desk) -> None:
    on_leave(desk, "V1")
    ranked = desk.with_plugins(
        ("match", proposer(Candidate("Z9", 9.0, "不存在"), Candidate("V1", 8.0, "请假中")))
    )
    case = submit(ranked)
    assert case.handler_code == "A1"
    assert last_assignment(desk, case.ref)["note"] == (
        f"A角 of {SMALL}, 0 open; passed over: match proposed Z9 (unknown), "
        "match proposed V1 (unavailable)"
    )


def test_proposals_of_several_plugins_compete(desk: Desk) -> None:
    ranked = desk.with_plugins(
        ("first", proposer(Candidate("V1", 4.0, "志愿者"))),
        ("second", proposer(Candidate("A2", 6.0, "专业维修"))),
    )
    case = submit(ranked)
    assert case.handler_code == "A2"
    assert last_assignment(desk, case.ref)["note"] == "second: 专业维修"


def test_a_plugin_failing_to_propose_undoes_the_intake(desk: Desk) -> None:
    def broken(case: CaseView, ctx: Any) -> list[Candidate]:
        raise LookupError("matching service down")

    failing = desk.with_plugins(("match", plugin(propose_handlers=broken)))
    with pytest.raises(Exception, match="'match' failed in c365_propose_handlers"):
        submit(failing)
    with desk.district.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM cases").scalar_one() == 0


# -- refusal and transfer ------------------------------------------------------------------------


def test_refusals_route_again_without_the_refusers(desk: Desk) -> None:
    ref = submit(desk).ref
    chain = []
    for refuser in ("A1", "B1", "L1", "S1"):
        case = desk.as_(refuser)("refuse", ref, f"{refuser}忙不过来")
        chain.append(case.handler_code)
    assert chain == ["B1", "L1", "S1", None]
    assert desk.case(ref).status == "received"
    history = events(desk.district, ref)
    assert [e["action"] for e in history] == ["submit", "assign"] + ["refuse", "assign"] * 4
    notes = [e["note"] for e in history if e["action"] == "assign"]
    assert notes[1] == f"B角 of {SMALL}, 0 open; passed over: A1 (A, passed it on)"
    assert notes[-1] == (
        f"nobody available for repair at {BUILDING} or above; passed over: "
        "A1 (A, passed it on), B1 (B, passed it on), L1 (leader, passed it on), "
        "S1 (A, passed it on)"
    )
    assert history[-1]["to_status"] == "received"
    assert row(desk.district, ref)["handler_id"] is None


def test_a_refuser_proposed_by_a_plugin_is_excluded_too(desk: Desk) -> None:
    ranked = desk.with_plugins(("match", proposer(Candidate("V1", 5.0, "志愿者"))))
    ref = submit(ranked).ref
    case = ranked.as_("V1", [("match", proposer(Candidate("V1", 5.0, "志愿者")))])(
        "refuse", ref, "没空"
    )
    assert case.handler_code == "A1"
    assert "match proposed V1 (excluded)" in last_assignment(desk, ref)["note"]


def test_transfer_to_a_named_handler(desk: Desk) -> None:
    ref = submit(desk).ref
    moved = desk.as_("A1")("transfer", ref, "属于第三微网格", "A2")
    assert (moved.status, moved.handler_code) == ("assigned", "A2")
    transfer = events(desk.district, ref)[-1]
    assert (transfer["action"], transfer["note"]) == ("transfer", "属于第三微网格 → A2")
    assert transfer["from_status"] == transfer["to_status"] == "assigned"


def test_transfer_without_a_name_routes_again(desk: Desk) -> None:
    ref = submit(desk).ref
    desk("accept", ref)
    again = desk("transfer", ref, "需要B角处理")
    assert (again.status, again.handler_code, again.accepted_at) == ("assigned", "B1", None)
    history = events(desk.district, ref)
    assert [(e["action"], e["from_status"], e["to_status"]) for e in history[-2:]] == [
        ("transfer", "accepted", "received"),
        ("assign", "received", "assigned"),
    ]
    assert history[-1]["note"] == f"B角 of {SMALL}, 0 open; passed over: A1 (A, passed it on)"
    # Everyone who passed it on is skipped from now on: A1 (transferred it away), B1
    # (transferred it to A2 by name) and A2 (transfers it on without a name).
    desk.as_("B1")("transfer", ref, "转第三微网格", "A2")
    assert desk.as_("A2")("transfer", ref, "不归我").handler_code == "L1"


def test_nobody_available_leaves_the_case_received(desk: Desk, clock: Clock) -> None:
    on_leave(desk, "A1", "B1", "L1", "S1")
    case = submit(desk)
    assert (case.status, case.handler_code) == ("received", None)
    assignment = last_assignment(desk, case.ref)
    assert assignment["to_status"] == "received" and assignment["changes"] == {}
    assert assignment["note"].startswith(f"nobody available for repair at {BUILDING} or above")
    clock.advance(days=1)  # the leave is over: routing again finds the A
    assert desk("route", case.ref).handler_code == "A1"


def test_the_first_contact_stays_on_record(desk: Desk) -> None:
    case = desk.as_("S1").submit("楼道路灯坏了", household_code=HH1).case
    assert (case.receiver_code, case.handler_code) == ("S1", "A1")
    assert desk.as_("A1")("accept", case.ref).receiver_code == "S1"
