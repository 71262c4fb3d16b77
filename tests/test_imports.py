"""Importing CSV ledgers (台账), on SQLite and PostgreSQL, from real files as a user would."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select

from community365.db.schema import (
    areas,
    audit_log,
    duties,
    handler_skills,
    handlers,
    households,
    person_tags,
    persons,
    tags,
)
from community365.errors import ImportRowsError, UsageError
from community365.imports import ENTITIES, import_file
from community365.imports.encoding import CHUNK, detect_encoding
from community365.imports.engine import Batches
from community365.imports.reader import open_csv
from community365.registry.idcard import make_id_number

AREAS_CSV = """\
区域编码,区域名称,层级,上级编码
33021200100101,第一网格,,
330212001,百丈街道,,
330212001001,划船社区,社区,
33021200100102,第二网格,网格,330212001001
330212001002,七塔社区,,
"""

HOUSEHOLDS_CSV = """\
户号,网格编码,地址,联系电话
H001,33021200100101,"划船社区1幢
101室",0574-87654321
H002,33021200100101,划船社区1幢102室,
H003,33021200100102,划船社区2幢201室,13805740001
"""


def idn(year: int, seq: int, region: str = "330212") -> str:
    return make_id_number(region, dt.date(year, 3, 15), seq)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def ok(result):
    assert result.exit_code == 0, result.output
    return result


def setup_households(run, tmp_path: Path) -> None:
    ok(run("import", "areas", str(write(tmp_path, "areas.csv", AREAS_CSV))))
    ok(run("import", "households", str(write(tmp_path, "households.csv", HOUSEHOLDS_CSV))))


def snapshot(district) -> dict[str, list]:
    """Every row of the registry tables an import writes, for before/after comparisons."""
    tables = (areas, households, persons, tags, person_tags, handlers, handler_skills, duties)
    with district.engine.connect() as conn:
        shot = {t.name: sorted(map(tuple, conn.execute(select(t)).all()), key=repr) for t in tables}
        shot["audit_log"] = conn.execute(select(func.count()).select_from(audit_log)).scalar()
    return shot


def stored_persons(district) -> dict[str, dict]:
    """Persons by ID number (or household/name) with household code and sorted tags."""
    query = (
        select(persons, households.c.code.label("household"))
        .select_from(persons)
        .outerjoin(households, persons.c.household_id == households.c.id)
    )
    tag_query = select(person_tags.c.person_id, tags.c.name).join(tags)
    with district.engine.connect() as conn:
        tag_map: dict[int, list[str]] = {}
        for person_id, name in conn.execute(tag_query):
            tag_map.setdefault(person_id, []).append(name)
        rows = conn.execute(query).mappings().all()
    return {
        row["id_number"] or f"{row['household']}/{row['name']}": {
            "name": row["name"],
            "gender": row["gender"],
            "birth_date": row["birth_date"],
            "phone": row["phone"],
            "household": row["household"],
            "tags": sorted(tag_map.get(row["id"], [])),
        }
        for row in rows
    }


# -- areas ----------------------------------------------------------------------------------


def test_areas_in_any_order_with_chinese_headers(run, district, tmp_path):
    result = ok(run("import", "areas", str(write(tmp_path, "areas.csv", AREAS_CSV))))
    assert result.output.strip() == "areas.csv: 5 rows imported (utf-8): 5 added, 0 updated"
    nodes = json.loads(ok(run("area", "tree", "--json")).output)
    # Depth first, in code order: each code with its level and depth.
    tree = "330212 district 0, 330212001 street 1, 330212001001 community 2, "
    tree += "33021200100101 grid 3, 33021200100102 grid 3, 330212001002 community 2"
    assert ", ".join(f"{n['code']} {n['level']} {n['depth']}" for n in nodes) == tree
    with district.engine.connect() as conn:
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "import.areas")).one()
    assert entry.actor == "tester" and entry.subject == "areas.csv"
    assert entry.detail.startswith("5 rows: 5 added, 0 updated")


def test_areas_reimport_updates_names(run, district, tmp_path):
    ok(run("import", "areas", str(write(tmp_path, "areas.csv", AREAS_CSV))))
    renamed = AREAS_CSV.replace("第一网格", "一网格（新）")
    result = ok(run("import", "areas", str(write(tmp_path, "areas.csv", renamed)), "--json"))
    assert json.loads(result.output)["added"] == 0
    assert json.loads(result.output)["updated"] == 5
    with district.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(areas)).scalar() == 6
        name = conn.execute(select(areas.c.name).where(areas.c.code == "33021200100101"))
        assert name.scalar() == "一网格（新）"


def test_areas_that_do_not_fit_the_tree(run, district, tmp_path):
    text = (
        "code,name,level,parent\n"
        "330212001,百丈街道,,\n"
        "3302120019,坏编码,,\n"  # 10 digits: no level has that length
        "330212009001,无上级社区,,330212009\n"  # parent neither exists nor is imported
        "330212001003,错层级,grid,\n"  # a grid straight under a street needs 14 digits
        "330299,另一个区,,\n"  # the district already has its root
    )
    before = snapshot(district)
    result = run("import", "areas", str(write(tmp_path, "areas.csv", text)))
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0] == "error: areas.csv: 4 bad row(s), nothing was imported"
    assert lines[1].startswith("areas.csv:3: level: cannot tell the level")
    assert lines[2] == "areas.csv:4: parent: no area with code '330212009'"
    assert lines[3].startswith("areas.csv:5: code: '330212001003' is not a grid code")
    assert lines[4] == "areas.csv:6: parent: the district already has its root area"
    assert snapshot(district) == before


# -- encodings and headers ------------------------------------------------------------------

PERSONS_CSV = f"""\
姓名,身份证号码,性别,出生日期,手机号,户号,人员类别
张三,{idn(1950, 11)},男,1950-03-15,13805740011,H001,独居、党员
李四,{idn(1962, 22)},,,,H001,
王五,{idn(1944, 32)},女,,0574-87650000,H003,"低保
残疾"
"""


@pytest.mark.parametrize(
    ("encoding", "shown"), [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030")]
)
def test_encodings_are_detected(run, district, tmp_path, encoding, shown):
    setup_households(run, tmp_path)
    path = write(tmp_path, "persons.csv", PERSONS_CSV, encoding)
    result = ok(run("import", "persons", str(path)))
    assert result.output.strip() == f"persons.csv: 3 rows imported ({shown}): 3 added, 0 updated"
    stored = stored_persons(district)
    assert stored[idn(1950, 11)] == {
        "name": "张三",
        "gender": "M",
        "birth_date": dt.date(1950, 3, 15),
        "phone": "13805740011",
        "household": "H001",
        "tags": sorted(["独居", "党员"]),
    }
    assert stored[idn(1944, 32)]["tags"] == sorted(["低保", "残疾"])
    assert stored[idn(1944, 32)]["gender"] == "F"
    assert stored[idn(1962, 22)]["phone"] is None


def test_gbk_detected_beyond_an_ascii_first_megabyte(tmp_path):
    ascii_rows = "".join(f"330212{i:06d},Grid {i:06d}\n" for i in range(60_000))
    path = write(tmp_path, "areas.csv", "code,name\n" + ascii_rows + "330212099,七塔\n", "gbk")
    assert path.stat().st_size > CHUNK
    assert detect_encoding(path) == "gb18030"


@pytest.mark.parametrize("offset", [2, 3])
def test_utf8_character_cut_at_the_chunk_end(tmp_path, offset):
    """The sniffed chunk may end inside a multibyte character: still UTF-8."""
    text = "名" * (CHUNK // 3 + 10)
    data = b"a" * offset + text.encode("utf-8")
    assert data[:CHUNK].decode("utf-8", errors="replace").endswith("\ufffd")
    (tmp_path / "cut.csv").write_bytes(data)
    assert detect_encoding(tmp_path / "cut.csv") == "utf-8"
    gbk = b"a" * (CHUNK - 1) + "七塔".encode("gbk")  # a GBK lead byte is the chunk's last
    (tmp_path / "gbk.csv").write_bytes(gbk)
    assert detect_encoding(tmp_path / "gbk.csv") == "gb18030"


def test_encoding_option(run, district, tmp_path):
    setup_households(run, tmp_path)
    path = write(tmp_path, "persons.csv", PERSONS_CSV, "gbk")
    wrong = run("import", "persons", str(path), "--encoding", "utf-8")
    assert wrong.exit_code == 2
    assert wrong.output.startswith("error: persons.csv:1: cannot be read as utf-8")
    assert "Traceback" not in wrong.output
    rows = "".join(f"Zhang {i},{idn(1950, i % 1000)},,,H001,\n" for i in range(2_000))
    mixed = "name,id_number,gender,phone,household,tags\n" + rows + "张三,,,,H001,\n"
    late = write(tmp_path, "late.csv", mixed, "gbk")
    result = run("import", "persons", str(late), "--encoding", "utf-8")
    assert result.output.startswith("error: late.csv:2002: cannot be read as utf-8")
    unknown = run("import", "persons", str(path), "--encoding", "klingon")
    assert unknown.exit_code == 2 and "unknown encoding 'klingon'" in unknown.output
    result = ok(run("import", "persons", str(path), "--encoding", "GBK", "--json"))
    assert json.loads(result.output)["encoding"] == "gbk"
    assert stored_persons(district)[idn(1950, 11)]["name"] == "张三"


def test_english_headers_in_any_case_and_spacing(run, district, tmp_path):
    text = " CODE ,Name,\ufeffLevel\n330212001,百丈街道,street\n"
    ok(run("import", "areas", str(write(tmp_path, "areas.csv", text))))
    assert "百丈街道" in ok(run("area", "show", "330212001")).output


def test_unknown_column_is_named(run, district, tmp_path):
    path = write(tmp_path, "persons.csv", "姓名,身份证号,备注\n张三,,\n")
    result = run("import", "persons", str(path))
    assert result.exit_code == 2
    assert result.output.startswith("error: persons.csv: unknown column(s) '备注'; expected: ")
    assert "姓名 name*" in result.output and "身份证号 id_number" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_required_column(run, district, tmp_path):
    path = write(tmp_path, "households.csv", "户号,地址\nH001,1幢\n")
    result = run("import", "households", str(path))
    assert result.exit_code == 2
    assert result.output.startswith("error: households.csv: missing column(s) 网格编码 area*")


def test_two_headers_for_one_field(run, district, tmp_path):
    path = write(tmp_path, "persons.csv", "姓名,电话,手机号\n张三,,\n")
    result = run("import", "persons", str(path))
    assert result.exit_code == 2
    assert "columns 电话, 手机号 are the same field (phone)" in result.output


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "blank"])
def test_unusable_file(run, district, tmp_path, case):
    path = tmp_path / "persons.csv"
    if case == "directory":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "blank":
        path.write_bytes(b"\r\n\n")
    result = run("import", "persons", str(path))
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {path}: ")
    assert len(result.output.strip().splitlines()) == 1


# -- bad rows: all listed, nothing written --------------------------------------------------


def test_bad_rows_are_all_listed_and_nothing_is_written(run, district, tmp_path):
    setup_households(run, tmp_path)
    ok(run("import", "persons", str(write(tmp_path, "first.csv", PERSONS_CSV))))
    before = snapshot(district)
    bad_check = idn(1970, 41)[:17] + ("0" if idn(1970, 41)[17] != "0" else "1")
    text = "\n".join(
        [
            "姓名,身份证号,性别,联系电话,户号,标签",
            f'赵六,{idn(1980, 51)},,,H002,"独居',  # line 2: a quoted newline ...
            '残疾"',  # ... so the next record starts on line 4
            f"钱七,{bad_check},,,H002,",  # 4: check character
            f"孙八,{idn(1985, 61)},女,,H002,",  # 5: sequence 061 is a man's
            f"周九,{idn(1990, 71)},,12345,H002,",  # 6: phone
            f"吴十,{idn(1991, 81)},,,H404,",  # 7: household does not exist
            "",  # 8: blank, skipped
            f"郑一,{idn(1992, 91)},,,H002",  # 9: a cell short
            f"冯二,{idn(1980, 51)},,,H002,",  # 10: same ID number as line 2
            ",,,,,",  # 11: all empty, skipped
            f"张三,{idn(1950, 11)},,13900000000,H001,",  # 12: valid update of a stored person
            ",,,,H002,",  # 13: no name
        ]
    )
    result = run("import", "persons", str(write(tmp_path, "persons.csv", text + "\n")))
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "error: persons.csv: 7 bad row(s), nothing was imported",
        f"persons.csv:4: id_number: ID number check character is {bad_check[17]}, "
        f"expected {idn(1970, 41)[17]}",
        "persons.csv:5: gender: F disagrees with the ID number (M)",
        "persons.csv:6: phone: not a phone number: '12345' "
        "(mobile 1xxxxxxxxxx or landline 0xxx-xxxxxxx)",
        "persons.csv:7: household: no household 'H404'",
        "persons.csv:9: expected 6 cells, found 5",
        "persons.csv:10: id_number: the same as on an earlier line of the file",
        "persons.csv:13: name: a person needs a name",
    ]
    assert snapshot(district) == before


def test_bad_row_listing_is_capped(district, tmp_path):
    rows = "".join(f"{i:04d},名称{i},,\n" for i in range(60))  # 4 digits: not an area code length
    path = write(tmp_path, "areas.csv", "code,name,level,parent\n" + rows)
    with pytest.raises(ImportRowsError) as caught:
        import_file(district, "areas", path)
    problems = caught.value.problems
    assert str(caught.value).startswith("areas.csv: 60 bad row(s), nothing was imported\n")
    assert len(problems) == 51 and problems[-1] == "... and 10 more"
    assert [p.split(":")[1] for p in problems[:50]] == [str(n) for n in range(2, 52)]


def test_database_refusal_is_reported_at_its_line(district, tmp_path):
    """A batch the database refuses is retried row by row in savepoints: the refused row
    is reported at its line and the transaction goes on with the others."""
    path = write(tmp_path, "areas.csv", "code,name\n330212101,甲街道\n330212,重复\n330212102,乙\n")
    spec = ENTITIES["areas"]

    def plain_insert(conn, records):
        root = conn.execute(select(areas.c.id).where(areas.c.code == "330212")).scalar()
        rows = [
            {"code": r.code, "name": r.name, "level": "street", "parent_id": root} for r in records
        ]
        conn.execute(insert(areas), rows)
        return []

    with district.engine.connect() as conn, open_csv(path, "utf-8") as csv_file:
        batches = Batches(spec, "areas.csv", plain_insert, conn)
        batches.run(csv_file)
        assert (batches.bad, batches.written) == (1, 2)
        assert batches.problems[0].startswith("areas.csv:3: the database refused this row: ")
        codes = set(conn.execute(select(areas.c.code)).scalars())
        assert {"330212101", "330212102"} <= codes


# -- re-import and the other entities -------------------------------------------------------


def test_reimport_updates_instead_of_duplicating(run, district, tmp_path):
    setup_households(run, tmp_path)
    path = write(tmp_path, "persons.csv", PERSONS_CSV)
    ok(run("import", "persons", str(path)))
    changed = PERSONS_CSV.replace("13805740011", "13905740099").replace("独居、党员", "党员")
    result = ok(run("import", "persons", str(write(tmp_path, "persons.csv", changed))))
    assert result.output.strip() == "persons.csv: 3 rows imported (utf-8): 0 added, 3 updated"
    stored = stored_persons(district)
    assert len(stored) == 3
    assert stored[idn(1950, 11)]["phone"] == "13905740099"
    assert stored[idn(1950, 11)]["tags"] == ["党员"]
    with district.engine.connect() as conn:
        actions = conn.execute(
            select(audit_log.c.action).where(audit_log.c.action.startswith("import."))
        ).scalars()
        assert list(actions) == ["import.areas", "import.households"] + ["import.persons"] * 2


def test_reimport_mixing_new_and_known_rows(run, district, tmp_path):
    """One batch with known and new ID numbers, and columns in another order with some
    missing: the known are updated, the new added, absent columns keep the stored values."""
    setup_households(run, tmp_path)
    ok(run("import", "persons", str(write(tmp_path, "persons.csv", PERSONS_CSV))))
    text = (
        "户号,联系电话,身份证号,姓名\n"
        f"H002,13905740099,{idn(1950, 11)},张三丰\n"
        f"H002,,{idn(1971, 41)},赵六\n"
        "H003,13905740077,,钱七\n"
    )
    result = ok(run("import", "persons", str(write(tmp_path, "more.csv", text))))
    assert result.output.strip() == "more.csv: 3 rows imported (utf-8): 2 added, 1 updated"
    stored = stored_persons(district)
    assert len(stored) == 5
    assert stored[idn(1950, 11)] == {
        "name": "张三丰",
        "gender": "M",
        "birth_date": dt.date(1950, 3, 15),
        "phone": "13905740099",
        "household": "H002",
        "tags": ["党员", "独居"],
    }
    assert stored[idn(1971, 41)]["birth_date"] == dt.date(1971, 3, 15)
    assert stored["H003/钱七"]["phone"] == "13905740077"


def test_households_keep_line_numbers_across_quoted_newlines(run, district, tmp_path):
    ok(run("import", "areas", str(write(tmp_path, "areas.csv", AREAS_CSV))))
    text = HOUSEHOLDS_CSV + "H004,33021200100199,3幢,\n"
    result = run("import", "households", str(write(tmp_path, "households.csv", text)))
    assert result.exit_code == 2
    assert result.output.splitlines()[1] == ("households.csv:6: area: no area '33021200100199'")


def test_handlers_and_duties(run, district, tmp_path):
    setup_households(run, tmp_path)
    ok(run("import", "persons", str(write(tmp_path, "persons.csv", PERSONS_CSV))))
    handlers_csv = (
        "处置人编码,名称,类型,联系电话,身份证号,技能\n"
        f"W001,俞网格员,网格员,13805740101,{idn(1962, 22)},调解、电工\n"
        "T001,和事佬调解队,调解队,,,调解\n"
        "O001,物业公司,物业公司,0574-87000000,,维修\n"
    )
    duties_csv = (
        "处置人编码,区域编码,角色,服务类别\n"
        "W001,33021200100101,A角,\n"
        "T001,33021200100101,B角,dispute\n"
        "W001,330212001001,网格长,\n"
    )
    ok(run("import", "handlers", str(write(tmp_path, "handlers.csv", handlers_csv, "gbk"))))
    for _ in range(2):
        result = ok(run("import", "duties", str(write(tmp_path, "duties.csv", duties_csv))))
    assert result.output.strip() == "duties.csv: 3 rows imported (utf-8): 0 added, 3 updated"
    with district.engine.connect() as conn:
        kinds = dict(conn.execute(select(handlers.c.code, handlers.c.kind)).all())
        skills = conn.execute(select(func.count()).select_from(handler_skills)).scalar()
        roles = sorted(conn.execute(select(duties.c.role, duties.c.service_group)))
    assert kinds == {"W001": "staff", "T001": "team", "O001": "organisation"}
    assert skills == 4
    assert roles == [("A", ""), ("B", "dispute"), ("leader", "")]


def test_trailing_empty_cells_and_blank_lines(run, district, tmp_path):
    text = "区域编码,区域名称,,\r\n\r\n330212001,百丈街道,,\r\n330212002,东胜街道,\r\n\r\n"
    result = ok(run("import", "areas", str(write(tmp_path, "areas.csv", text))))
    assert "2 rows imported" in result.output


def test_template_round_trip(run, district, tmp_path):
    for name, spec in ENTITIES.items():
        result = ok(run("import", "template", name))
        header = result.stdout.splitlines()[0]
        assert header == ",".join(c.zh for c in spec.columns)
        assert f"{spec.columns[0].zh}={spec.columns[0].field}" in result.stderr
        imported = ok(run("import", name, str(write(tmp_path, f"{name}.csv", header + "\n"))))
        assert f"{name}.csv: 0 rows imported" in imported.output
    as_json = json.loads(ok(run("import", "template", "duties", "--json")).output)
    assert [c["field"] for c in as_json] == ["handler", "area", "role", "service_group"]
    assert run("import", "template", "cases").exit_code == 2


def test_unknown_entity(district, tmp_path):
    with pytest.raises(UsageError, match="cannot import 'people'"):
        import_file(district, "people", write(tmp_path, "p.csv", "姓名\n张三\n"))


def test_progress_bar_on_large_files(district, tmp_path, capsys):
    body = "".join(f"330212{s:03d},街道{s:03d} {'名' * 40}\n" for s in range(1, 1000))
    small = write(tmp_path, "small.csv", "code,name\n330212001,百丈街道\n")
    import_file(district, "areas", small, progress=True)
    assert "importing" not in capsys.readouterr().err
    large = write(tmp_path, "large.csv", "code,name\n" + body * 10)
    with pytest.raises(ImportRowsError):  # the same codes ten times over
        import_file(district, "areas", large, progress=True)
    assert large.stat().st_size > (1 << 20)
    assert "importing large.csv" in capsys.readouterr().err


# -- property: import then re-import -------------------------------------------------------

NAMES = st.text(alphabet="张王李赵刘陈杨黄周吴伟芳娜敏静丽强磊军洋", min_size=2, max_size=4)
PHONES = st.one_of(st.just(""), st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
TAG_SETS = st.lists(st.sampled_from(["独居", "残疾", "低保", "党员", "楼长"]), unique=True)


@st.composite
def person_rows(draw):
    birth = draw(st.dates(dt.date(1920, 1, 1), dt.date(2020, 12, 31)))
    sequence = draw(st.integers(0, 999))
    number = make_id_number(draw(st.sampled_from(["330212", "110105", "440304"])), birth, sequence)
    gender = "男" if sequence % 2 else "女"
    return {
        "name": draw(NAMES),
        "id_number": number.lower() if draw(st.booleans()) else number,
        "gender": draw(st.sampled_from([gender, ""])),
        "birth_date": draw(st.sampled_from([birth.isoformat(), f"{birth:%Y%m%d}", ""])),
        "phone": draw(PHONES),
        "household": draw(st.sampled_from(["H001", "H002", "H003", ""])),
        "tags": draw(TAG_SETS),
    }


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(person_rows(), min_size=1, max_size=30, unique_by=lambda r: r["id_number"][:17]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk"]),
)
def test_import_twice_gives_one_row_per_id_number_with_the_file_values(
    district, tmp_path, rows, encoding
):
    with district.engine.connect() as conn:
        ready = conn.execute(select(households.c.id).limit(1)).first()
    if not ready:
        for entity, text in (("areas", AREAS_CSV), ("households", HOUSEHOLDS_CSV)):
            import_file(district, entity, write(tmp_path, f"{entity}.csv", text))
    with district.begin() as ctx:
        ctx.connection.execute(delete(person_tags))
        ctx.connection.execute(delete(persons))
    header = "姓名,身份证号,性别,出生日期,联系电话,户号,标签\n"
    lines = [
        ",".join([r["name"], r["id_number"], r["gender"], r["birth_date"], r["phone"]])
        + f",{r['household']},{'、'.join(r['tags'])}\n"
        for r in rows
    ]
    path = write(tmp_path, "persons.csv", header + "".join(lines), encoding)
    first = import_file(district, "persons", path)
    second = import_file(district, "persons", path)
    assert (first.added, second.added, second.written) == (len(rows), 0, len(rows))
    with district.engine.connect() as conn:
        counts = conn.execute(
            select(persons.c.id_number, func.count()).group_by(persons.c.id_number)
        ).all()
    assert sorted(n for n, _ in counts) == sorted(r["id_number"].upper() for r in rows)
    assert all(count == 1 for _, count in counts)
    stored = stored_persons(district)
    for r in rows:
        number = r["id_number"].upper()
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        assert stored[number] == {
            "name": r["name"],
            "gender": "M" if int(number[16]) % 2 else "F",
            "birth_date": birth,
            "phone": r["phone"] or None,
            "household": r["household"] or None,
            "tags": sorted(r["tags"]),
        }
