"""Households, persons and tags: through the CLI, and the bulk upserts, on both backends."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from community365.db import bulk
from community365.db.schema import audit_log, households, person_tags, persons, tags
from community365.errors import FieldError
from community365.registry import people
from community365.registry.idcard import check_char, make_id_number
from community365.registry.people import HouseholdRecord, PersonRecord

# The CLI counts ages in the district's timezone (the test district's is the default).
TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()

# street 330212001 百丈街道
#   community 330212001001 划船社区 -- grid 33021200100101 第一网格 -- H101, H102
#   community 330212001002 东郊社区 -- H201
TREE = [
    ("330212001", "百丈街道"),
    ("330212001001", "划船社区"),
    ("330212001002", "东郊社区"),
    ("33021200100101", "第一网格"),
]
HOUSEHOLDS = [("H101", "33021200100101"), ("H102", "33021200100101"), ("H201", "330212001002")]


def ok(result):
    assert result.exit_code == 0, result.output
    return result


def refused(result, field):
    """A one-line user error naming ``field``, exit code 2."""
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {field}:"), result.output
    assert len(result.output.strip().splitlines()) == 1
    return result


def build_tree(run):
    """The small tree above, added through the CLI like a user would."""
    for code, name in TREE:
        ok(run("area", "add", code, name))
    for code, area in HOUSEHOLDS:
        ok(run("household", "add", code, "--area", area, "--address", f"{code}室"))


@pytest.fixture
def tree(run):
    build_tree(run)
    return run


def years_ago(years, days_later=0):
    """The date ``years`` before today (28 Feb for 29 Feb), moved ``days_later`` on."""
    try:
        day = TODAY.replace(year=TODAY.year - years)
    except ValueError:
        day = TODAY.replace(year=TODAY.year - years, day=28)
    return day + dt.timedelta(days=days_later)


def count(district, table, *where):
    with district.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()


def person_json(run, key, *flags):
    return json.loads(ok(run("person", "show", key, "--json", *flags)).output)


ZHANG = make_id_number("330212", dt.date(1950, 3, 4), 13)  # a man
LI = make_id_number("330203", dt.date(1988, 7, 9), 24)  # a woman


# -- through the CLI --------------------------------------------------------------------------


def test_add_show_and_list(tree):
    run = tree
    ok(run("person", "add", "张三", "--id-number", ZHANG, "--household", "H101"))
    ok(run("person", "add", "李梅", "--id-number", LI.lower(), "--household", "H201"))
    ok(
        run(
            "person",
            "add",
            "王小",
            "--household",
            "H101",
            "--gender",
            "女",
            "--birth-date",
            "2015/6/1",
        )
    )

    zhang = person_json(run, ZHANG)
    assert zhang["name"] == "张三"
    assert (zhang["gender"], zhang["birth_date"]) == ("M", "1950-03-04")
    assert zhang["household"] == "H101" and zhang["area"] == "33021200100101"
    assert person_json(run, LI)["gender"] == "F"  # stored upper-case, found upper-case
    wang = person_json(run, "H101/王小")
    assert (wang["gender"], wang["birth_date"], wang["id_number"]) == ("F", "2015-06-01", None)
    assert person_json(run, "H101/张三")["birth_date"] == "1950-03-04"

    def names(*args):
        return {p["name"] for p in json.loads(ok(run("person", "list", "--json", *args)).output)}

    assert names() == {"张三", "李梅", "王小"}
    assert names("--area", "330212001001") == {"张三", "王小"}
    assert names("--area", "330212001002") == {"李梅"}
    assert names("--area", "330212001") == {"张三", "李梅", "王小"}
    assert names("--household", "H101") == {"张三", "王小"}
    assert len(json.loads(ok(run("person", "list", "--json", "--limit", "2")).output)) == 2

    shown = json.loads(ok(run("household", "show", "H101", "--json")).output)
    assert shown["area"] == "33021200100101" and shown["members"] == 2
    assert {p["name"] for p in shown["persons"]} == {"张三", "王小"}
    listed = json.loads(ok(run("household", "list", "--area", "330212001001", "--json")).output)
    assert [(h["code"], h["members"]) for h in listed] == [("H101", 2), ("H102", 0)]
    assert "H201" in ok(run("household", "list")).output


def test_writes_are_audited_with_the_actor(tree, district):
    run = tree
    ok(
        run(
            "person", "add", "张三", "--id-number", ZHANG, "--household", "H101", actor="网格员小王"
        )
    )
    ok(run("person", "tag", ZHANG, "独居", actor="网格员小王"))
    with district.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.action, audit_log.c.subject, audit_log.c.actor)
            .where(audit_log.c.actor == "网格员小王")
            .order_by(audit_log.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("person.add", "H101/张三", "网格员小王"),
        ("person.tag", "H101/张三", "网格员小王"),
    ]
    assert count(district, audit_log, audit_log.c.action == "household.add") == len(HOUSEHOLDS)


def test_masked_by_default_and_reveal_is_audited(tree, district):
    run = tree
    ok(run("household", "add", "H103", "--area", "33021200100101", "--phone", "0574-87654321"))
    ok(run(*f"person add 张三 --id-number {ZHANG} --household H101 --phone 13912345678".split()))
    outputs = [
        ok(run("person", "show", ZHANG)).output,
        ok(run("person", "show", "H101/张三", "--json")).output,
        ok(run("person", "list")).output,
        ok(run("person", "list", "--json")).output,
        ok(run("household", "show", "H101", "--json")).output,
        ok(run("household", "list")).output,
    ]
    for output in outputs:
        assert ZHANG not in output and "13912345678" not in output and "87654321" not in output
    assert ZHANG[:6] + "********" + ZHANG[-4:] in outputs[0]
    assert "139****5678" in outputs[2]
    assert count(district, audit_log, audit_log.c.action == "reveal") == 0

    revealed = json.loads(ok(run("person", "list", "--json", "--reveal", actor="俞书记")).output)
    assert revealed[0]["id_number"] == ZHANG and revealed[0]["phone"] == "13912345678"
    assert ZHANG in ok(run("person", "show", "H101/张三", "--reveal", actor="俞书记")).output
    assert "0574-87654321" in ok(run("household", "list", "--reveal", actor="俞书记")).output
    with district.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log).where(audit_log.c.action == "reveal").order_by(audit_log.c.id)
        ).all()
    assert [r.actor for r in rows] == ["俞书记"] * 3
    assert rows[0].subject == "person list: 1 persons"
    assert rows[1].subject == "person show H101/张三: 1 person"
    assert rows[2].subject == f"household list: {len(HOUSEHOLDS) + 1} households"
    assert all(ZHANG not in r.subject + r.detail for r in rows)


def _bad_numbers():
    good = make_id_number("330212", dt.date(1950, 3, 4), 13)
    wrong_check = "0" if good[-1] != "0" else "1"
    return {
        "length": (good[:-1], "18 characters"),
        "region": (good[:17].replace("33", "99", 1) + "?", "region"),
        "date": (good[:10] + "13" + good[12:17] + "?", "birth date"),
        "check": (good[:-1] + wrong_check, "check character"),
    }


@pytest.mark.parametrize("kind", ["length", "region", "date", "check"])
def test_bad_id_numbers_are_refused(tree, district, kind):
    number, reason = _bad_numbers()[kind]
    if number.endswith("?"):  # only the part under test is wrong: the check character fits
        number = number[:17] + check_char(number[:17])
    result = refused(
        tree("person", "add", "张三", "--id-number", number, "--household", "H101"), "id_number"
    )
    assert reason in result.output
    assert "Traceback" not in result.output
    assert count(district, persons) == 0
    assert count(district, audit_log, audit_log.c.action == "person.add") == 0


def test_bad_fields_name_the_field(tree, district):
    run = tree
    female = ["--id-number", LI, "--household", "H101"]
    refused(run("person", "add", "李梅", *female, "--gender", "M"), "gender")
    refused(run("person", "add", "李梅", *female, "--birth-date", "1988-07-10"), "birth_date")
    refused(
        run("person", "add", "李梅", "--household", "H101", "--birth-date", "1988-13-01"),
        "birth_date",
    )
    refused(run("person", "add", "李梅", "--household", "H101", "--gender", "x"), "gender")
    refused(run("person", "add", "李梅", "--household", "H101", "--phone", "12345"), "phone")
    refused(run("person", "add", "李梅"), "household")
    refused(run("person", "add", "李梅", "--household", "H999"), "household")
    refused(run("household", "add", "H9", "--area", "999"), "area")
    refused(run("household", "add", "H/9", "--area", "330212001"), "code")
    assert count(district, persons) == 0
    assert count(district, households) == len(HOUSEHOLDS)
    unknown = run("person", "show", "H101/nobody")
    assert unknown.exit_code == 2
    assert unknown.output.strip() == "error: no person 'nobody' in household 'H101'"
    assert run("person", "list", "--area", "999").output.strip() == "error: no area with code '999'"
    assert run("household", "show", "H999").output.strip() == "error: no household with code 'H999'"


def test_duplicate_adds_are_refused(tree, district):
    run = tree
    ok(run("person", "add", "张三", "--id-number", ZHANG, "--household", "H101"))
    ok(run("person", "add", "王小", "--household", "H101"))
    refused(run("household", "add", "H101", "--area", "330212001002"), "code")
    refused(
        run("person", "add", "张三丰", "--id-number", ZHANG, "--household", "H102"), "id_number"
    )
    refused(run("person", "add", "王小", "--household", "H101"), "name")
    ok(run("person", "add", "王小", "--household", "H102"))  # same name, another household
    assert count(district, persons) == 3
    assert json.loads(ok(run("household", "show", "H101", "--json")).output)["area"] == (
        "33021200100101"
    )
    assert person_json(run, ZHANG)["name"] == "张三"


def test_builtin_and_free_tags(tree, district):
    run = tree
    ok(run(*f"person add 张三 --id-number {ZHANG} --household H101 --tag 独居 --tag 党员".split()))
    ok(run("person", "add", "王小", "--household", "H101", "--tag", "书法爱好者"))
    assert person_json(run, ZHANG)["tags"] == ["独居", "党员"]
    ok(run("person", "tag", "H101/王小", "独居", "低保"))
    ok(run("person", "tag", "H101/王小", "独居"))  # already there: kept once
    assert person_json(run, "H101/王小")["tags"] == ["独居", "低保", "书法爱好者"]
    ok(run("person", "untag", "H101/王小", "低保"))
    refused(run("person", "untag", "H101/王小", "特困"), "tag")

    listed = json.loads(ok(run("tag", "list", "--json")).output)
    builtin = [t["name"] for t in listed if t["builtin"]]
    assert builtin == ["独居", "残疾", "低保", "特困", "党员", "重点服务对象"]
    assert [t["builtin"] for t in listed] == sorted((t["builtin"] for t in listed), reverse=True)
    by_name = {t["name"]: t for t in listed}
    assert by_name["独居"]["name_en"] == "living alone"
    assert (by_name["独居"]["persons"], by_name["低保"]["persons"], by_name["党员"]["persons"]) == (
        2,
        0,
        1,
    )
    assert by_name["书法爱好者"] == {
        "name": "书法爱好者",
        "name_en": "",
        "builtin": False,
        "persons": 1,
    }
    tagged = json.loads(ok(run("person", "list", "--tag", "独居", "--json")).output)
    assert {p["name"] for p in tagged} == {"张三", "王小"}
    assert run("person", "list", "--tag", "无此标签").output.strip() == "error: no tag '无此标签'"

    ok(run("tag", "add", "志愿者", "--en", "volunteer"))
    refused(run("tag", "add", "志愿者"), "name")
    refused(run("tag", "add", "独居"), "name")
    refused(run("tag", "add", "两个 词"), "name")
    assert "志愿者" in ok(run("tag", "list")).output and "volunteer" in run("tag", "list").output
    assert count(district, tags, tags.c.name == "志愿者", tags.c.builtin.is_(False)) == 1


def test_age_filters(tree):
    run = tree
    ages = {  # name: (birth date, full years today)
        "甲": (years_ago(60), 60),  # sixtieth birthday today
        "乙": (years_ago(60, days_later=1), 59),  # sixtieth birthday tomorrow
        "丙": (years_ago(79), 79),
        "丁": (years_ago(80, days_later=1), 79),
        "戊": (years_ago(80), 80),
    }
    for name, (birth, _) in ages.items():
        ok(run("person", "add", name, "--household", "H101", "--birth-date", birth.isoformat()))
    ok(run("person", "add", "无生日", "--household", "H101"))

    def names(*args):
        listed = json.loads(ok(run("person", "list", "--json", *args)).output)
        return {p["name"] for p in listed}

    shown = {p["name"]: p["age"] for p in json.loads(run("person", "list", "--json").output)}
    assert shown == {name: age for name, (_, age) in ages.items()} | {"无生日": None}
    assert names("--min-age", "60") == {"甲", "丙", "丁", "戊"}
    assert names("--max-age", "59") == {"乙"}
    assert names("--min-age", "60", "--max-age", "79") == {"甲", "丙", "丁"}
    assert names("--min-age", "80") == {"戊"}
    assert names("--min-age", "81") == set()


# -- ages, without a database ----------------------------------------------------------------


def reference_age(birth: dt.date, day: dt.date) -> int:
    """Birthdays passed by ``day``; a 29 February birthday falls on 1 March in common years."""

    def birthday(year):
        try:
            return birth.replace(year=year)
        except ValueError:
            return dt.date(year, 3, 1)

    return sum(1 for year in range(birth.year + 1, day.year + 1) if birthday(year) <= day)


dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))


@given(dates, dates)
def test_age_on_counts_birthdays(birth, day):
    if birth <= day:
        assert people.age_on(birth, day) == reference_age(birth, day)


@given(dates, dates, st.integers(0, 120), st.integers(0, 120))
def test_birth_date_bounds_select_exactly_the_ages(birth, day, low, high):
    earliest, latest = people.birth_date_bounds(day, low, high)
    age = people.age_on(birth, day)
    assert (earliest <= birth <= latest) == (low <= age <= high)


# -- parsing -----------------------------------------------------------------------------------


def test_parse_person_takes_birth_date_and_gender_from_the_id_number():
    record = people.parse_person({"name": " 李梅 ", "id_number": LI.lower(), "household": ""})
    assert record == PersonRecord(
        name="李梅", id_number=LI, gender="F", birth_date=dt.date(1988, 7, 9), tags=None
    )
    agreeing = {"name": "李梅", "id_number": LI, "gender": "女", "birth_date": "19880709"}
    assert people.parse_person(agreeing).gender == "F"


@pytest.mark.parametrize(
    ("text", "gender"),
    [("M", "M"), ("f", "F"), ("男", "M"), ("女", "F"), ("Male", "M"), ("female", "F")],
)
def test_gender_spellings(text, gender):
    assert people.parse_person({"name": "某", "household": "H1", "gender": text}).gender == gender


@pytest.mark.parametrize("text", ["2024-01-31", "2024/1/31", "20240131", " 2024.01.31 "])
def test_date_spellings(text):
    record = people.parse_person({"name": "某", "household": "H1", "birth_date": text})
    assert record.birth_date == dt.date(2024, 1, 31)


@pytest.mark.parametrize("text", ["2024-1/31", "2024-02-30", "31/01/2024", "2024131"])
def test_bad_dates(text):
    with pytest.raises(FieldError) as raised:
        people.parse_person({"name": "某", "household": "H1", "birth_date": text})
    assert raised.value.field == "birth_date"


def test_tags_split_on_every_separator():
    record = people.parse_person(
        {
            "name": "某",
            "household": "H1",
            "tags": "独居;党员，低保,特困、残疾|重点服务对象 书法  独居",
        }
    )
    assert record.tags == ("独居", "党员", "低保", "特困", "残疾", "重点服务对象", "书法")
    assert people.parse_person({"name": "某", "household": "H1", "tags": " "}).tags == ()
    assert people.parse_person({"name": "某", "household": "H1"}).tags is None


def test_parse_household():
    fields = {"code": " H1 ", "area": "330212001", "address": " 1幢101 ", "phone": "138 1234 5678"}
    assert people.parse_household(fields) == HouseholdRecord(
        "H1", "330212001", "1幢101", "13812345678"
    )
    assert people.parse_household({"code": "H1", "area": "1"}) == HouseholdRecord("H1", "1")
    for fields, field in [
        ({"area": "1"}, "code"),
        ({"code": "H 1", "area": "1"}, "code"),
        ({"code": "H1", "area": " "}, "area"),
        ({"code": "H1", "area": "1", "phone": "110"}, "phone"),
        ({"code": "H1", "area": "1", "address": "x" * 201}, "address"),
    ]:
        with pytest.raises(FieldError) as raised:
            people.parse_household(fields)
        assert raised.value.field == field


# -- bulk upserts ------------------------------------------------------------------------------


def stored_households(conn):
    return {
        row.code: (row.area_id, row.address, row.phone) for row in conn.execute(select(households))
    }


def stored_persons(conn):
    query = select(persons, households.c.code).outerjoin(households)
    return {
        row.id_number or (row.code, row.name): (
            row.name,
            row.gender,
            row.birth_date,
            row.phone,
            row.code,
        )
        for row in conn.execute(query)
    }


def tags_of(conn, **where):
    query = (
        select(tags.c.name)
        .join_from(tags, person_tags)
        .join(persons, persons.c.id == person_tags.c.person_id)
        .where(*(persons.c[k] == v for k, v in where.items()))
    )
    return set(conn.execute(query).scalars())


def test_upsert_households_inserts_then_updates_by_code(tree, district):
    records = [
        HouseholdRecord("B1", "33021200100101", "1幢101", "13800000001"),
        HouseholdRecord("B2", "330212001002", "2幢202"),
        HouseholdRecord("B3", "999999"),
        HouseholdRecord("B2", "330212001002", "2幢203"),  # the last one of a code wins
    ]
    with district.engine.begin() as conn:
        errors = people.upsert_households(conn, records)
        area_ids = dict(conn.execute(select(households.c.code, households.c.area_id)).all())
    assert [(i, e.field, e.message) for i, e in errors] == [(2, "area", "no area '999999'")]
    with district.engine.begin() as conn:
        assert stored_households(conn)["B2"][1] == "2幢203"
        assert "B3" not in stored_households(conn)
        errors = people.upsert_households(
            conn,
            [
                HouseholdRecord("B1", "330212001002", "", None),  # moved; blanks keep values
                HouseholdRecord("B2", "330212001002", "2幢204", "0574-87654321"),
            ],
        )
        assert errors == []
        stored = stored_households(conn)
    assert stored["B1"] == (area_ids["H201"], "1幢101", "13800000001")
    assert stored["B2"] == (area_ids["H201"], "2幢204", "0574-87654321")
    assert count(district, households) == len(HOUSEHOLDS) + 2


def test_upsert_persons_inserts_then_updates_by_id_number(tree, district):
    first = [
        PersonRecord("张三", ZHANG, "M", dt.date(1950, 3, 4), "13900000001", "H101", ("独居",)),
        PersonRecord("李梅", LI, "F", dt.date(1988, 7, 9), household_code="H999"),
        PersonRecord("无户", make_id_number("330212", dt.date(2000, 1, 1), 1)),
    ]
    with district.engine.begin() as conn:
        errors = people.upsert_persons(conn, first)
    assert [(i, e.field, e.message) for i, e in errors] == [(1, "household", "no household 'H999'")]
    with district.engine.begin() as conn:
        assert LI not in stored_persons(conn)
        errors = people.upsert_persons(
            conn,
            [
                PersonRecord("张三", ZHANG, household_code="H102", tags=None),  # dropped:
                PersonRecord("张叁", ZHANG, phone="13900000002", tags=("党员", "新标签")),  # last
                PersonRecord("李梅", LI, "F", dt.date(1988, 7, 9), household_code="H201", tags=()),
            ],
        )
        assert errors == []
        stored = stored_persons(conn)
        # blanks of the last record keep stored values: household, gender, birth date
        assert stored[ZHANG] == ("张叁", "M", dt.date(1950, 3, 4), "13900000002", "H101")
        assert stored[LI][4] == "H201"
        assert tags_of(conn, id_number=ZHANG) == {"党员", "新标签"}
        assert tags_of(conn, id_number=LI) == set()
        free = conn.execute(select(tags.c.builtin).where(tags.c.name == "新标签")).scalar_one()
        assert free is False
    assert count(district, persons) == 3
    with district.engine.begin() as conn:
        people.upsert_persons(conn, [PersonRecord("张叁", ZHANG, household_code="H102")])
        assert stored_persons(conn)[ZHANG][4] == "H102"
        assert tags_of(conn, id_number=ZHANG) == {"党员", "新标签"}
        people.upsert_persons(conn, [PersonRecord("张叁", ZHANG, tags=())])
        assert tags_of(conn, id_number=ZHANG) == set()


def test_upsert_persons_without_id_number_use_household_and_name(tree, district):
    with district.engine.begin() as conn:
        errors = people.upsert_persons(
            conn,
            [
                PersonRecord("王小", household_code="H101", tags=("独居",)),
                PersonRecord("王大", household_code="H101", gender="M"),
                PersonRecord("王小", household_code="H102"),  # another household: another person
                PersonRecord("无名", household_code=None),
            ],
        )
    assert [(i, e.field) for i, e in errors] == [(3, "household")]
    assert count(district, persons) == 3
    wang = {"name": "王小", "id_number": None}
    with district.engine.begin() as conn:
        wang["household_id"] = _household_id(conn, "H101")
        errors = people.upsert_persons(
            conn,
            [
                PersonRecord("王小", gender="M", household_code="H101", phone="13900000003"),
                PersonRecord("王小", None, "F", dt.date(1999, 9, 9), household_code="H101"),
            ],
        )
        assert errors == []
        stored = stored_persons(conn)
        assert stored[("H101", "王小")] == ("王小", "F", dt.date(1999, 9, 9), None, "H101")
        people.upsert_persons(
            conn, [PersonRecord("王小", household_code="H101", phone="13900000003")]
        )
        stored = stored_persons(conn)
        assert stored[("H101", "王小")] == ("王小", "F", dt.date(1999, 9, 9), "13900000003", "H101")
        assert stored[("H101", "王大")][1] == "M"
        assert tags_of(conn, **wang) == {"独居"}
    assert count(district, persons) == 3


def _household_id(conn, code):
    return conn.execute(select(households.c.id).where(households.c.code == code)).scalar_one()


def test_upserts_leave_the_transaction_to_the_caller(tree, district):
    with district.engine.connect() as conn:
        people.upsert_households(conn, [HouseholdRecord("B1", "330212001")])
        people.upsert_persons(conn, [PersonRecord("王小", household_code="B1", tags=("新",))])
        assert count_in(conn, persons) == 1
        conn.rollback()
    assert count(district, persons) == 0
    assert count(district, households, households.c.code == "B1") == 0
    assert count(district, tags, tags.c.name == "新") == 0


def count_in(conn, table):
    return conn.execute(select(func.count()).select_from(table)).scalar()


def test_batches_larger_than_a_chunk(tree, district, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 3)
    codes = [f"C{i:02d}" for i in range(10)]
    records = [
        PersonRecord(f"居民{i}", household_code=codes[i % 10], tags=(f"t{i % 4}",))
        for i in range(25)
    ]
    with district.engine.begin() as conn:
        assert (
            people.upsert_households(conn, [HouseholdRecord(c, "330212001001") for c in codes])
            == []
        )
        assert people.upsert_persons(conn, records) == []
        with_id = [
            PersonRecord(f"有证{i}", make_id_number("330212", dt.date(1960, 1, 1 + i), i))
            for i in range(7)
        ]
        assert people.upsert_persons(conn, with_id) == []
    assert count(district, persons) == 32
    assert count(district, person_tags) == 25
    with district.engine.connect() as conn:
        listed = people.list_persons(conn, people.PersonQuery(tag="t1"))
    assert sorted(p.name for p in listed) == sorted(f"居民{i}" for i in range(25) if i % 4 == 1)


names_ = st.sampled_from(["甲", "乙", "丙"])
person_records = st.builds(
    PersonRecord,
    name=names_,
    id_number=st.one_of(st.none(), st.sampled_from([ZHANG, LI])),
    gender=st.sampled_from([None, "M", "F"]),
    birth_date=st.none(),
    phone=st.sampled_from([None, "13900000001", "13900000002"]),
    household_code=st.sampled_from(["H101", "H102", "H999"]),
    tags=st.one_of(
        st.none(), st.lists(st.sampled_from(["独居", "党员", "自由"]), max_size=3).map(tuple)
    ),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(person_records, max_size=8))
def test_upsert_persons_matches_a_last_wins_model(tree, district, batch):
    """One batch into an empty table: one row per key, holding the last record's values."""
    model = {}
    for record in batch:
        if record.household_code == "H999":
            continue
        key = record.id_number or (record.household_code, record.name)
        model[key] = record
    with district.engine.connect() as conn:
        errors = people.upsert_persons(conn, batch)
        stored = stored_persons(conn)
        assert [i for i, _ in errors] == [
            i for i, r in enumerate(batch) if r.household_code == "H999"
        ]
        assert set(stored) == set(model)
        for key, record in model.items():
            assert stored[key] == (
                record.name,
                record.gender,
                None,
                record.phone,
                record.household_code,
            )
            where = {"id_number": record.id_number}
            if not record.id_number:
                where |= {"name": record.name}
                where |= {"household_id": _household_id(conn, record.household_code)}
            assert tags_of(conn, **where) == set(record.tags or ())
        conn.rollback()
