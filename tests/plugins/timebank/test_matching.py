"""Matching time-bank requests to volunteers through the routing hook: skill, nearest
home first, availability, recent load, and the score above the grid's A角. On SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from cases_fixtures import HH2, STREET, events

from community365 import Candidate
from community365.district import District
from community365.registry.handlers import HandlerRecord, add_handler
from community365.registry.idcard import make_id_number
from community365.registry.people import add_person, parse_person
from community365.registry.schedule import add_leave
from community365_timebank import accounts, matching

from .tb_world import SHI_BO_ID, SHI_ID, YU, desk, help_request, join, world


@pytest.fixture
def tb(make_district: Callable[..., District]) -> Iterator[District]:
    district = world(make_district)
    yield district
    district.engine.dispose()


@pytest.fixture
def members(tb: District) -> District:
    join(tb, "VA", "VB", "VC")
    return tb


def proposals(district: District, ref: str) -> list[Candidate]:
    office = desk(district)
    with district.begin() as ctx:
        return matching.propose(office.case(ref), ctx)


def assigned_note(district: District, ref: str) -> str:
    return [e for e in events(district, ref) if e["action"] == "assign"][-1]["note"]


def test_the_nearest_volunteer_with_the_skill_wins_over_the_grid_a(members: District) -> None:
    office = desk(members)
    ref = help_request(office, SHI_ID, skill="理发")  # 史永康 lives in 1号楼
    found = proposals(members, ref)
    assert [(c.handler_code, c.score) for c in found] == [("VA", 3.9), ("VB", 3.7)]
    assert office.case(ref).handler_code == "VA"  # not A1, the small grid's A角 (3)
    note = assigned_note(members, ref)
    assert note.startswith("timebank: 时间银行志愿者，技能 理发，同楼栋 3302120010010101001")
    assert "time-bank volunteer with skill 理发, same building 3302120010010101001" in note
    assert "同网格 33021200100101" in found[1].reason  # VB: another small grid, same grid


def test_the_service_gives_the_skill_when_the_case_does_not(members: District) -> None:
    ref = help_request(desk(members), SHI_ID, skill=None, service="timebank.escort")
    assert [c.handler_code for c in proposals(members, ref)] == ["VB"]  # 陪护; T1 is a team
    ref = help_request(desk(members), SHI_BO_ID, skill=None)  # timebank.help: any skill
    assert [c.handler_code for c in proposals(members, ref)] == ["VC", "VA", "VB"]


def test_up_the_tree_to_the_community(members: District) -> None:
    ref = help_request(desk(members), SHI_BO_ID, skill="维修")  # 史波 lives in 2号楼, grid 2
    found = proposals(members, ref)
    assert [(c.handler_code, c.score) for c in found] == [("VC", 3.9), ("VA", 3.6)]
    assert "同社区 330212001001" in found[1].reason


def test_the_asking_resident_is_not_offered_their_own_request(members: District) -> None:
    ref = help_request(desk(members), YU, skill="理发")  # 俞青 (VA) asks for a haircut
    assert [c.handler_code for c in proposals(members, ref)] == ["VB"]


def test_only_available_active_members(members: District) -> None:
    with members.begin() as ctx:
        accounts.set_frozen(ctx, "VA", True)
        add_leave(ctx.connection, "VB", dt.date(2026, 11, 24), dt.date(2026, 11, 26), "探亲")
    office = desk(members)
    ref = help_request(office, SHI_ID, skill="理发")
    assert proposals(members, ref) == []
    assert office.case(ref).handler_code == "A1"  # the duty table, as for any help request


def test_recent_load_ranks_volunteers_of_one_area(members: District) -> None:
    number = make_id_number("330212", dt.date(1988, 8, 8), 55)
    with members.begin() as ctx:
        conn = ctx.connection
        add_person(conn, parse_person({"name": "何静", "id_number": number, "household": HH2}))
        add_handler(
            conn, HandlerRecord("VD", "何静", "volunteer", id_number=number, skills=("理发",))
        )
    join(members, "VD")
    office = desk(members)
    first = help_request(office, SHI_ID, skill="理发")
    assert office.case(first).handler_code == "VA"  # VA and VD both live in 1号楼: by code
    # Seen from 2号楼 (grid 2) VA, VB and VD are all in the community; VA now holds a case.
    found = proposals(members, help_request(office, SHI_BO_ID, skill="理发"))
    assert [(c.handler_code, c.score) for c in found] == [("VB", 3.6), ("VD", 3.6), ("VA", 3.59)]
    assert "近期任务 1 件" in found[2].reason and "recent load 1" in found[2].reason


def test_a_refusal_offers_the_request_to_the_next_volunteer(members: District) -> None:
    office = desk(members)
    ref = help_request(office, SHI_ID, skill="理发")
    office.as_("VA")("refuse", ref, "今天没空")
    assert office.case(ref).handler_code == "VB"


def test_only_time_bank_services_and_only_where_a_bank_is(tb: District) -> None:
    office = desk(tb)
    ref = help_request(office, SHI_ID, skill="理发")
    assert proposals(tb, ref) == []  # nobody has joined: no bank yet
    assert office.case(ref).handler_code == "A1"
    join(tb, "VA")
    plain = office.submit("想请人帮忙理发", service="help").case.ref
    assert proposals(tb, plain) == []
    street = office.submit("想请志愿者帮忙", service="timebank.help", area_code=STREET).case.ref
    assert proposals(tb, street) == []  # placed above any community


def test_match_limit(make_district: Callable[..., District]) -> None:
    district = world(make_district, match_limit=1)
    join(district, "VA", "VB")
    ref = help_request(desk(district), SHI_ID, skill="理发")
    assert [c.handler_code for c in proposals(district, ref)] == ["VA"]
    district.engine.dispose()


def test_scores_stay_above_the_a_role() -> None:
    worst = matching.Match("V", tier=50, near_code="3", near_level="district", load=500)
    best = matching.Match("V", tier=0, near_code="3", near_level="building", load=0)
    assert 3 < worst.score < best.score == 3.9
