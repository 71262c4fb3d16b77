"""Handlers, their skills, leave and shifts, and duties: through the CLI and the bulk
upserts, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, insert, select

from community365.db.schema import (
    audit_log,
    duties,
    handler_leave,
    handler_shifts,
    handler_skills,
    handlers,
    persons,
)
from community365.errors import FieldError
from community365.registry import handlers as registry
from community365.registry import schedule
from community365.registry.idcard import make_id_number

SHANGHAI = ZoneInfo("Asia/Shanghai")
STREET, COMMUNITY, GRID, GRID2 = "330212001", "330212001001", "33021200100101", "33021200100102"
RESIDENT = make_id_number("330212", dt.date(1990, 5, 1), 11)
STRANGER = make_id_number("330212", dt.date(1985, 3, 9), 22)


def ok(result):
    assert result.exit_code == 0, result.output
    return result


def as_json(result):
    return json.loads(ok(result).output)


def build_areas(run):
    for code, name in [
        (STREET, "百丈街道"),
        (COMMUNITY, "划船社区"),
        (GRID, "第一网格"),
        (GRID2, "第二网格"),
        ("330212001002", "东郊社区"),
    ]:
        ok(run("area", "add", code, name))


def add_person(district, name, id_number):
    with district.engine.begin() as conn:
        conn.execute(insert(persons).values(name=name, id_number=id_number))


def count(district, table):
    with district.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def audit_rows(district, action):
    with district.engine.connect() as conn:
        return conn.execute(select(audit_log).where(audit_log.c.action == action)).all()


def at(text):
    return dt.datetime.fromisoformat(text)


# -- handlers through the CLI ---------------------------------------------------------------


def test_add_show_list_each_kind(run, district):
    add_person(district, "张志愿", RESIDENT)
    ok(run("handler", "add", "SG01", "李社工", "--kind", "staff", "--phone", "138 1234 5678"))
    ok(run("handler", "add", "ZY01", "张志愿", "--kind", "志愿者", "--person", RESIDENT.lower()))
    ok(run("handler", "add", "DUI01", "和事佬调解队", "--kind", "调解队"))
    ok(run("handler", "add", "WY01", "红色物业", "--kind", "物业公司", "--phone", "0574-87654321"))

    listed = as_json(run("handler", "list", "--json"))
    assert {h["code"]: h["kind"] for h in listed} == {
        "DUI01": "team",
        "SG01": "staff",
        "WY01": "organisation",
        "ZY01": "volunteer",
    }
    assert [h["code"] for h in listed] == sorted(h["code"] for h in listed)
    assert [
        h["code"] for h in as_json(run("handler", "list", "--kind", "volunteer", "--json"))
    ] == ["ZY01"]
    assert [h["code"] for h in as_json(run("handler", "list", "--kind", "队伍", "--json"))] == [
        "DUI01"
    ]

    staff = as_json(run("handler", "show", "SG01", "--json"))
    assert staff["phone"] == "138****5678" and staff["person"] is None and staff["active"]
    volunteer = as_json(run("handler", "show", "ZY01", "--json"))
    assert volunteer["person"]["name"] == "张志愿"
    shown = volunteer["person"]["id_number"]
    assert shown != RESIDENT and shown[:6] == RESIDENT[:6] and shown[-4:] == RESIDENT[-4:]
    text = ok(run("handler", "show", "WY01")).output
    assert "红色物业" in text and "组织 organisation" in text and "87654321" not in text
    table = ok(run("handler", "list")).output
    assert "志愿者 volunteer" in table and "13812345678" not in table
    assert [row.subject for row in audit_rows(district, "handler.add")] == [
        "SG01",
        "ZY01",
        "DUI01",
        "WY01",
    ]


def test_every_kind_name(run):
    names = {
        "staff": "staff",
        "Staff": "staff",
        "工作人员": "staff",
        "社工": "staff",
        "网格员": "staff",
        "volunteer": "volunteer",
        "志愿者": "volunteer",
        "team": "team",
        "队伍": "team",
        "志愿服务队": "team",
        "调解队": "team",
        "organisation": "organisation",
        "组织": "organisation",
        "单位": "organisation",
        "物业公司": "organisation",
        "社会组织": "organisation",
    }
    for i, name in enumerate(names):
        ok(run("handler", "add", f"H{i:02d}", f"处置人{i}", "--kind", name))
    listed = as_json(run("handler", "list", "--json"))
    assert [h["kind"] for h in listed] == list(names.values())


def test_reveal_is_audited(run, district):
    add_person(district, "张志愿", RESIDENT)
    ok(run("handler", "add", "ZY01", "张志愿", "--kind", "volunteer", "--person", RESIDENT))
    ok(run("handler", "shift", "ZY01", "1", "08:00", "12:00"))
    with district.engine.begin() as conn:
        conn.execute(handlers.update().values(phone="13900001111"))
    assert audit_rows(district, "reveal") == []
    shown = as_json(run("handler", "show", "ZY01", "--json", "--reveal", actor="俞书记"))
    assert shown["phone"] == "13900001111" and shown["person"]["id_number"] == RESIDENT
    listed = as_json(run("handler", "list", "--json", "--reveal", actor="俞书记"))
    assert listed[0]["phone"] == "13900001111"
    reveals = audit_rows(district, "reveal")
    assert [(r.actor, r.subject) for r in reveals] == [
        ("俞书记", "ZY01"),
        ("俞书记", "handler list"),
    ]
    assert "ZY01" in reveals[1].detail


def test_skills(run, district):
    ok(run("handler", "add", "ZY01", "张志愿", "--kind", "volunteer", "--skill", "维修，理发"))
    ok(run("handler", "add", "ZY02", "王志愿", "--kind", "volunteer", "--skill", "陪聊"))
    assert as_json(run("handler", "show", "ZY01", "--json"))["skills"] == sorted(["维修", "理发"])
    ok(run("handler", "skill", "ZY01", "--add", "陪聊 代购", "--remove", "理发"))
    assert as_json(run("handler", "show", "ZY01", "--json"))["skills"] == sorted(
        ["维修", "陪聊", "代购"]
    )
    with_skill = as_json(run("handler", "list", "--skill", "陪聊", "--json"))
    assert [h["code"] for h in with_skill] == ["ZY01", "ZY02"]
    assert as_json(run("handler", "list", "--skill", "理发", "--json")) == []
    assert audit_rows(district, "handler.skill")[0].detail == "+陪聊 +代购 -理发"


def test_deactivate_and_activate(run, district):
    ok(run("handler", "add", "SG01", "李社工", "--kind", "staff"))
    assert "deactivated SG01" in ok(run("handler", "deactivate", "SG01")).output
    assert "already" in ok(run("handler", "deactivate", "SG01")).output
    assert as_json(run("handler", "show", "SG01", "--json"))["active"] is False
    moment = "2026-11-25T10:00:00+08:00"
    assert as_json(run("handler", "list", "--available-at", moment, "--json")) == []
    with district.engine.connect() as conn:
        assert not registry.is_available(conn, "SG01", at(moment), SHANGHAI)
    ok(run("handler", "activate", "SG01"))
    assert [
        h["code"] for h in as_json(run("handler", "list", "--available-at", moment, "--json"))
    ] == ["SG01"]
    assert len(audit_rows(district, "handler.deactivate")) == 1
    assert len(audit_rows(district, "handler.activate")) == 1


# -- availability ---------------------------------------------------------------------------


def available_codes(run, moment):
    return [h["code"] for h in as_json(run("handler", "list", "--available-at", moment, "--json"))]


def test_leave_and_shifts_drive_availability(run, district):
    for code in ("ANY", "DAY", "WED", "NIGHT"):
        ok(run("handler", "add", code, f"处置人{code}", "--kind", "staff"))
    # 2026-11-25 is a Wednesday; 2026-11-26 a Thursday.
    ok(run("handler", "leave", "DAY", "2026-11-26", "2026-11-27", "--reason", "病假"))
    ok(run("handler", "shift", "WED", "周三", "08:30", "17:00"))
    ok(run("handler", "shift", "WED", "fri", "8:30", "12:00"))
    ok(run("handler", "shift", "NIGHT", "星期四", "00:00", "08:00"))

    # Local time (no offset) is the district's: Wednesday 10:00 in Shanghai.
    assert available_codes(run, "2026-11-25T10:00") == ["ANY", "DAY", "WED"]
    assert available_codes(run, "2026-11-25T08:29") == ["ANY", "DAY"]
    assert available_codes(run, "2026-11-25T08:30") == ["ANY", "DAY", "WED"]
    assert available_codes(run, "2026-11-25T17:00") == ["ANY", "DAY"]
    assert available_codes(run, "2026-11-27T11:59") == ["ANY", "WED"]
    # 17:00 UTC on Wednesday the 25th is 01:00 on Thursday the 26th in Shanghai: the leave
    # day and the Thursday shift apply, not the Wednesday one.
    assert available_codes(run, "2026-11-25T17:00:00Z") == ["ANY", "NIGHT"]
    assert available_codes(run, "2026-11-25T15:59:00+00:00") == ["ANY", "DAY"]

    with district.engine.connect() as conn:
        utc_wednesday = at("2026-11-25T17:00:00+00:00")
        assert not registry.is_available(conn, "DAY", utc_wednesday, SHANGHAI)
        assert registry.is_available(conn, "DAY", utc_wednesday, ZoneInfo("UTC"))
        assert registry.is_available(conn, "NIGHT", utc_wednesday, SHANGHAI)
        assert not registry.is_available(conn, "NIGHT", utc_wednesday, ZoneInfo("UTC"))
        night = conn.execute(select(handlers.c.id).where(handlers.c.code == "NIGHT")).scalar()
        assert registry.is_available(conn, night, utc_wednesday, SHANGHAI)

    shown = as_json(run("handler", "show", "WED", "--json"))
    assert [(s["weekday"], s["start"], s["end"]) for s in shown["shifts"]] == [
        (3, "08:30", "17:00"),
        (5, "08:30", "12:00"),
    ]
    assert as_json(run("handler", "show", "DAY", "--json"))["leave"] == [
        {"from": "2026-11-26", "to": "2026-11-27", "reason": "病假"}
    ]
    # Dates are spelled as everywhere in the registry: 2026/11/26 and 20261127 too.
    ok(run("handler", "leave", "DAY", "2026/11/26", "20261127", "--remove"))
    ok(run("handler", "shift", "WED", "5", "08:30", "12:00", "--remove"))
    assert available_codes(run, "2026-11-27T11:59") == ["ANY", "DAY"]
    assert [r.action for r in audit_rows(district, "handler.shift")] == ["handler.shift"] * 3


@st.composite
def timetables(draw):
    first = dt.date(2026, 11, 20)
    leave = draw(
        st.lists(
            st.tuples(st.integers(0, 30), st.integers(0, 4)).map(
                lambda p: (first + dt.timedelta(p[0]), first + dt.timedelta(p[0] + p[1]))
            ),
            max_size=3,
        )
    )
    shifts = draw(
        st.lists(
            st.tuples(st.integers(1, 7), st.integers(0, 46), st.integers(1, 12)).map(
                lambda s: (
                    s[0],
                    dt.time(s[1] // 2, 30 * (s[1] % 2)),
                    dt.time(min(s[1] + s[2], 47) // 2, 30 * (min(s[1] + s[2], 47) % 2)),
                )
            ),
            max_size=4,
            unique=True,
        )
    )
    return leave, shifts


def model_available(leave, shifts, moment, tz):
    local = moment.astimezone(tz)
    on_leave = any(start <= local.date() <= end for start, end in leave)
    in_shift = any(
        day == local.isoweekday() and start <= local.time() < end for day, start, end in shifts
    )
    return not on_leave and (not shifts or in_shift)


def shift_edges(shifts, tz):
    """The instants each shift starts and ends, on its weekday in the week of 2026-11-23."""
    for day, start, end in shifts:
        date = dt.date(2026, 11, 22) + dt.timedelta(days=day)
        for clock in (start, end):
            yield dt.datetime.combine(date, clock, tzinfo=tz)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=timetables(),
    moments=st.lists(
        st.integers(0, 35 * 48).map(
            lambda n: dt.datetime(2026, 11, 18, tzinfo=dt.UTC) + dt.timedelta(minutes=30 * n)
        ),
        min_size=1,
        max_size=6,
    ),
    zone=st.sampled_from(["Asia/Shanghai", "UTC", "America/Los_Angeles"]),
)
def test_availability_matches_its_definition(district, table, moments, zone):
    leave, shifts = table
    tz = ZoneInfo(zone)
    with district.engine.connect() as conn, conn.begin() as tx:
        registry.add_handler(conn, registry.HandlerRecord("P1", "某人", "staff"))
        hid = registry.handler_id(conn, "P1")
        for start, end in leave:
            conn.execute(insert(handler_leave).values(handler_id=hid, starts_on=start, ends_on=end))
        for day, start, end in shifts:
            shift = {"handler_id": hid, "weekday": day, "starts_at": start, "ends_at": end}
            conn.execute(insert(handler_shifts).values(shift))
        for moment in [*moments, *shift_edges(shifts, tz)]:
            expected = model_available(leave, shifts, moment, tz)
            assert registry.is_available(conn, "P1", moment, tz) is expected, moment
        tx.rollback()


# -- duties ---------------------------------------------------------------------------------


def test_duties_roles_and_uniqueness(run, district):
    build_areas(run)
    ok(run("handler", "add", "WGY01", "王网格", "--kind", "网格员"))
    ok(run("handler", "add", "WGY02", "赵网格", "--kind", "网格员"))
    ok(run("handler", "add", "DUI01", "和事佬调解队", "--kind", "调解队"))
    ok(run("duty", "add", "WGY01", GRID, "--role", "A角"))
    ok(run("duty", "add", "WGY02", GRID, "--role", "B角"))
    ok(run("duty", "add", "WGY01", COMMUNITY, "--role", "网格长"))
    ok(run("duty", "add", "DUI01", GRID, "--role", "A", "--group", "dispute"))
    ok(run("duty", "add", "WGY02", GRID2, "--role", "leader"))

    again = run("duty", "add", "WGY01", GRID, "--role", "A")
    assert again.exit_code == 2 and again.output.startswith("error: duty: already there")
    # The same handler and area with another role or another group is another duty.
    ok(run("duty", "add", "WGY01", GRID, "--role", "leader"))
    ok(run("duty", "add", "WGY01", GRID, "--role", "A", "--group", "dispute"))
    assert count(district, duties) == 7

    rows = as_json(run("duty", "list", "--area", GRID, "--json"))
    assert [(r["handler"], r["role"], r["service_group"]) for r in rows] == [
        ("DUI01", "A", "dispute"),
        ("WGY01", "A", "dispute"),
        ("WGY01", "A", ""),
        ("WGY02", "B", ""),
        ("WGY01", "leader", ""),
    ]
    assert rows[0]["area_name"] == "第一网格" and rows[0]["handler_name"] == "和事佬调解队"
    subtree = as_json(run("duty", "list", "--area", COMMUNITY, "--json"))
    assert {r["area"] for r in subtree} == {COMMUNITY, GRID, GRID2}
    assert as_json(run("duty", "list", "--area", "330212001002", "--json")) == []
    mine = as_json(run("duty", "list", "--handler", "WGY02", "--json"))
    assert [(r["area"], r["role"]) for r in mine] == [(GRID, "B"), (GRID2, "leader")]
    assert "网格长 leader" in ok(run("duty", "list")).output

    on_grid2 = as_json(run("handler", "list", "--area", GRID2, "--json"))
    assert [h["code"] for h in on_grid2] == ["WGY02"]
    in_street = as_json(run("handler", "list", "--area", STREET, "--json"))
    assert [h["code"] for h in in_street] == ["DUI01", "WGY01", "WGY02"]
    shown = as_json(run("handler", "show", "WGY02", "--json"))
    assert [(d["area"], d["role"]) for d in shown["duties"]] == [(GRID, "B"), (GRID2, "leader")]

    ok(run("duty", "remove", "WGY01", GRID, "--role", "A角", "--group", "dispute"))
    assert count(district, duties) == 6
    gone = run("duty", "remove", "WGY01", GRID, "--role", "A", "--group", "dispute")
    assert gone.exit_code == 2 and gone.output.startswith("error: no duty WGY01 as A")
    assert [r.subject for r in audit_rows(district, "duty.remove")] == [f"WGY01 {GRID}"]
    assert len(audit_rows(district, "duty.add")) == 7


def test_duties_for_area(run, district):
    build_areas(run)
    for code in ("A1", "A2", "B1", "L1"):
        ok(run("handler", "add", code, f"处置人{code}", "--kind", "staff"))
    ok(run("duty", "add", "L1", GRID, "--role", "leader"))
    ok(run("duty", "add", "B1", GRID, "--role", "B"))
    ok(run("duty", "add", "A2", GRID, "--role", "A", "--group", "repair"))
    ok(run("duty", "add", "A1", GRID, "--role", "A"))
    ok(run("duty", "add", "A1", GRID, "--role", "A", "--group", "dispute"))
    ok(run("duty", "add", "A1", COMMUNITY, "--role", "A"))
    ok(run("handler", "deactivate", "B1"))

    def on(group):
        with district.engine.connect() as conn:
            found = registry.duties_for_area(conn, GRID, group)
        return [(d.handler_code, d.role, d.service_group) for d in found]

    assert on("repair") == [
        ("A2", "A", "repair"),
        ("A1", "A", ""),
        ("B1", "B", ""),
        ("L1", "leader", ""),
    ]
    assert on("consult") == [("A1", "A", ""), ("B1", "B", ""), ("L1", "leader", "")]
    assert len(on(None)) == 5
    with district.engine.connect() as conn:
        b_duty = registry.duties_for_area(conn, GRID, "consult")[1]
        assert b_duty.handler_active is False and b_duty.area_name == "第一网格"


# -- bad input ------------------------------------------------------------------------------


BAD = [
    (("handler", "add", "X1", "某人", "--kind", "alien"), "error: kind: unknown kind 'alien'"),
    (("handler", "add", "SG01", "又一个", "--kind", "staff"), "error: code: handler SG01 already"),
    (("handler", "add", "X2", "某人", "--kind", "staff", "--phone", "12345"), "error: phone:"),
    (("handler", "add", "X3", "某队", "--kind", "team", "--person", RESIDENT), "error: id_number:"),
    (("handler", "add", "X4", "某人", "--kind", "志愿者", "--person", STRANGER), "no person"),
    (
        ("handler", "add", "X5", "某人", "--kind", "staff", "--person", "330212"),
        "error: id_number:",
    ),
    (("handler", "add", "坏 码", "某人", "--kind", "staff"), "error: code:"),
    (("handler", "show", "NOPE"), "error: no handler with code 'NOPE'"),
    (("handler", "skill", "SG01"), "error: give --add"),
    (("handler", "skill", "SG01", "--remove", "理发"), "error: skill: SG01 has no skill"),
    (("handler", "leave", "SG01", "2026-12-05", "2026-12-01"), "error: to: 2026-12-01 is before"),
    (("handler", "leave", "SG01", "2026-13-01", "2026-12-01"), "error: from: not a date"),
    (("handler", "leave", "NOPE", "2026-12-01", "2026-12-05"), "error: no handler with code"),
    (("handler", "leave", "SG01", "2026-12-01", "2026-12-05", "--remove"), "error: SG01 has no"),
    (("handler", "shift", "SG01", "周三", "17:00", "08:00"), "error: end: 08:00 is not after"),
    (("handler", "shift", "SG01", "周三", "08:00", "08:00"), "error: end:"),
    (("handler", "shift", "SG01", "周八", "08:00", "17:00"), "error: weekday: unknown weekday"),
    (("handler", "shift", "SG01", "8", "08:00", "17:00"), "error: weekday:"),
    (("handler", "shift", "SG01", "3", "8am", "17:00"), "error: start: not a time"),
    (("handler", "shift", "SG01", "3", "08:00", "12:00", "--remove"), "error: SG01 has no"),
    (("handler", "list", "--available-at", "tomorrow"), "error: --available-at:"),
    (("handler", "list", "--kind", "朋友"), "error: kind:"),
    (("handler", "list", "--area", "999999"), "error: no area with code '999999'"),
    (("handler", "deactivate", "NOPE"), "error: no handler with code"),
    (("duty", "add", "SG01", "999999", "--role", "A"), "error: no area with code '999999'"),
    (("duty", "add", "NOPE", GRID, "--role", "A"), "error: no handler with code 'NOPE'"),
    (("duty", "add", "SG01", GRID, "--role", "C角"), "error: role: unknown role 'C角'"),
    (("duty", "add", "SG01", "grid-1", "--role", "A"), "error: area: area codes are digits"),
    (("duty", "remove", "SG01", GRID, "--role", "B"), "error: no duty SG01 as B"),
    (("duty", "list", "--handler", "NOPE"), "error: no handler with code"),
    (("duty", "list", "--area", "999999"), "error: no area with code"),
]


def test_bad_input_is_one_line_and_writes_nothing(run, district):
    build_areas(run)
    add_person(district, "张志愿", RESIDENT)
    ok(run("handler", "add", "SG01", "李社工", "--kind", "staff"))
    ok(run("handler", "shift", "SG01", "周三", "08:00", "17:00"))
    ok(run("duty", "add", "SG01", GRID, "--role", "A"))
    tables = (handlers, handler_skills, handler_leave, handler_shifts, duties, audit_log)
    before = [count(district, t) for t in tables]
    for args, message in BAD:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert result.output.startswith("error: "), (args, result.output)
        assert result.output.count("\n") == 1, (args, result.output)
    assert [count(district, t) for t in tables] == before


# -- bulk upserts ---------------------------------------------------------------------------


def upsert_and_read(district, records):
    """Upsert ``records`` in one transaction, then read the handlers and skills back."""
    with district.engine.begin() as conn:
        assert registry.upsert_handlers(conn, records) == []
    return handler_rows(district)


def handler_rows(district):
    with district.engine.connect() as conn:
        rows = conn.execute(
            select(handlers.c.code, handlers.c.name, handlers.c.kind, handlers.c.phone)
        ).all()
        skills = conn.execute(
            select(handlers.c.code, handler_skills.c.skill).join(handler_skills)
        ).all()
    return {tuple(r) for r in rows}, {tuple(s) for s in skills}


def test_upsert_handlers_inserts_then_updates(district):
    add_person(district, "张志愿", RESIDENT)
    first = [
        registry.parse_handler(
            {"code": "SG01", "name": "李社工", "kind": "社工", "phone": "13800000001"}
        ),
        registry.parse_handler(
            {
                "code": "ZY01",
                "name": "张志愿",
                "kind": "志愿者",
                "id_number": RESIDENT,
                "skills": "维修、理发",
            }
        ),
        registry.parse_handler(
            {"code": "WY01", "name": "物业", "kind": "物业公司", "skills": "保洁"}
        ),
    ]
    rows, skills = upsert_and_read(district, first)
    assert rows == {
        ("SG01", "李社工", "staff", "13800000001"),
        ("ZY01", "张志愿", "volunteer", None),
        ("WY01", "物业", "organisation", None),
    }
    assert skills == {("ZY01", "维修"), ("ZY01", "理发"), ("WY01", "保洁")}

    second = [
        # No phone and no skills key: the stored phone and skills stay.
        registry.parse_handler({"code": "SG01", "name": "李社工（新）", "kind": "staff"}),
        registry.parse_handler(
            {"code": "ZY01", "name": "张志愿", "kind": "volunteer", "skills": ""}
        ),
        registry.parse_handler({"code": "WY01", "name": "旧名", "kind": "team", "skills": "维修"}),
        registry.parse_handler(
            {"code": "WY01", "name": "红色物业", "kind": "单位", "skills": "保洁|绿化"}
        ),
    ]
    rows, skills = upsert_and_read(district, second)
    assert rows == {
        ("SG01", "李社工（新）", "staff", "13800000001"),
        ("ZY01", "张志愿", "volunteer", None),
        ("WY01", "红色物业", "organisation", None),
    }
    assert skills == {("WY01", "保洁"), ("WY01", "绿化")}
    with district.engine.connect() as conn:
        linked = conn.execute(
            select(persons.c.name).join(handlers, handlers.c.person_id == persons.c.id)
        ).scalars()
        assert list(linked) == ["张志愿"]


def test_upsert_handlers_reports_unknown_people(district):
    add_person(district, "张志愿", RESIDENT)
    records = [
        registry.HandlerRecord("ZY01", "张志愿", "volunteer", id_number=RESIDENT),
        registry.HandlerRecord("ZY02", "陌生人", "volunteer", id_number=STRANGER),
        registry.HandlerRecord("ZY03", "王志愿", "volunteer", skills=("陪聊",)),
    ]
    with district.engine.begin() as conn:
        problems = registry.upsert_handlers(conn, records)
    assert [(i, e.field) for i, e in problems] == [(1, "id_number")]
    assert STRANGER not in str(problems[0][1]) and STRANGER[-4:] in str(problems[0][1])
    rows, skills = handler_rows(district)
    assert {r[0] for r in rows} == {"ZY01", "ZY03"}
    assert skills == {("ZY03", "陪聊")}


def test_upsert_duties(run, district):
    build_areas(run)
    with district.engine.begin() as conn:
        registry.upsert_handlers(
            conn, [registry.HandlerRecord(c, c, "staff") for c in ("H1", "H2", "H3")]
        )
    first = [
        registry.parse_duty({"handler": "H1", "area": GRID, "role": "A角"}),
        registry.parse_duty({"handler": "H2", "area": GRID, "role": "B角", "service_group": ""}),
        registry.parse_duty({"handler": "H3", "area": COMMUNITY, "role": "网格长"}),
        registry.parse_duty({"handler": "H1", "area": GRID, "role": "A"}),
    ]
    with district.engine.begin() as conn:
        assert registry.upsert_duties(conn, first) == []
    assert count(district, duties) == 3
    second = [
        *first,
        registry.DutyRecord("H9", GRID, "A"),
        registry.DutyRecord("H2", "123", "A"),
        registry.DutyRecord("H2", GRID2, "A", "repair"),
    ]
    with district.engine.begin() as conn:
        problems = registry.upsert_duties(conn, second)
    assert [(i, e.field, e.message) for i, e in problems] == [
        (4, "handler", "no handler 'H9'"),
        (5, "area", "no area '123'"),
    ]
    with district.engine.connect() as conn:
        listed = registry.list_duties(conn)
    assert [(d.area_code, d.handler_code, d.role, d.service_group) for d in listed] == [
        (COMMUNITY, "H3", "leader", ""),
        (GRID, "H1", "A", ""),
        (GRID, "H2", "B", ""),
        (GRID2, "H2", "A", "repair"),
    ]


def test_upserts_use_a_constant_number_of_statements(run, district):
    build_areas(run)
    statements = []
    event.listen(district.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    def cost(size):
        statements.clear()
        records = [
            registry.HandlerRecord(f"S{size}-{i}", f"处置人{i}", "staff", skills=("维修", "陪聊"))
            for i in range(size)
        ]
        duty_records = [registry.DutyRecord(r.code, GRID, "A") for r in records]
        with district.engine.begin() as conn:
            assert registry.upsert_handlers(conn, records) == []
            assert registry.upsert_duties(conn, duty_records) == []
        return len(statements)

    assert cost(3) == cost(300)
    assert count(district, handlers) == 303 and count(district, duties) == 303
    assert count(district, handler_skills) == 606


# -- parsing --------------------------------------------------------------------------------

skill_words = st.text(alphabet=st.characters(categories=["Lo", "Ll", "Nd"]), min_size=1, max_size=8)


@given(
    words=st.lists(skill_words, min_size=0, max_size=6),
    separators=st.lists(
        st.sampled_from([";", "，", ",", "、", "|", " ", " 、 ", "\t"]), min_size=6, max_size=6
    ),
)
def test_skills_split_on_any_separator(words, separators):
    text = "".join(w + s for w, s in zip(words, separators, strict=False))
    assert registry.parse_skills(text) == tuple(dict.fromkeys(words))


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("A", "A"),
        ("a", "A"),
        ("A角", "A"),
        ("B", "B"),
        ("B角", "B"),
        ("leader", "leader"),
        ("网格长", "leader"),
    ],
)
def test_role_names(text, role):
    assert registry.parse_duty({"handler": "H1", "area": GRID, "role": f" {text} "}).role == role


def test_parse_handler_reports_the_first_bad_field():
    def field_of(fields):
        with pytest.raises(FieldError) as caught:
            registry.parse_handler(fields)
        return caught.value.field

    good = {"code": "H1", "name": "某人", "kind": "staff"}
    assert registry.parse_handler({**good, "phone": " ", "id_number": ""}).phone is None
    assert registry.parse_handler(good).skills is None
    assert field_of({**good, "code": ""}) == "code"
    assert field_of({**good, "name": "  "}) == "name"
    assert field_of({**good, "kind": "", "phone": "1"}) == "kind"
    assert field_of({**good, "phone": "110"}) == "phone"
    wrong_check = RESIDENT[:17] + ("1" if RESIDENT[17] == "0" else "0")
    assert field_of({**good, "id_number": wrong_check}) == "id_number"
    assert field_of({**good, "skills": "x" * 51}) == "skills"


@pytest.mark.parametrize(
    ("text", "weekday"),
    [
        ("1", 1),
        ("7", 7),
        ("周一", 1),
        ("星期三", 3),
        ("周日", 7),
        ("周天", 7),
        ("Mon", 1),
        ("sunday", 7),
    ],
)
def test_weekday_names(text, weekday):
    assert schedule.parse_weekday(text) == weekday


def test_times():
    assert schedule.parse_time("start", "8:30") == dt.time(8, 30)
    assert schedule.parse_time("start", " 23:59:59 ") == dt.time(23, 59, 59)
    for bad in ("24:00", "8:3", "08:60", "0830"):
        with pytest.raises(FieldError, match=r"^start: not a time"):
            schedule.parse_time("start", bad)
