"""The case commands as a user runs them: `c365 services` and `c365 case ...`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select, update

from community365.db.schema import case_events, cases
from community365.district import District

GRID = "3302120010010101"
BUILDING = "3302120010010101001"
HOUSEHOLD = "3302120010010101001-0101"
ID_NUMBER = "33021219561022207X"

LEDGERS = {
    "areas": "区域编码,区域名称,层级,上级编码\n"
    "330212001,百丈街道,街道,330212\n"
    "330212001001,划船社区,社区,330212001\n"
    "33021200100101,第一网格,网格,330212001001\n"
    f"{GRID},第一微网格,微网格,33021200100101\n"
    f"{BUILDING},1幢,楼栋,{GRID}\n",
    "households": f"户号,所属区域,地址,联系电话\n{HOUSEHOLD},{BUILDING},百丈东路118弄1号101室,\n",
    "persons": "身份证号,姓名,户号,联系电话,标签\n"
    f"{ID_NUMBER},史永康,{HOUSEHOLD},13603990107,独居\n",
    "handlers": "处置人编码,名称,类型,联系电话,身份证号,技能\n"
    "S001,傅晓红,工作人员,13222335403,,\n"
    "S006,金雨萱,工作人员,15965637342,,\n"
    "S007,项海峰,工作人员,18170343662,,\n",
    "duties": "处置人编码,区域编码,服务类别,角色\n"
    "S001,33021200100101,,网格长\n"
    f"S006,{GRID},,A角\n"
    f"S007,{GRID},,B角\n",
}


@pytest.fixture
def grid(run: Callable[..., Result], tmp_path: Path) -> Callable[..., Result]:
    for entity, text in LEDGERS.items():
        path = tmp_path / f"{entity}.csv"
        path.write_text(text, encoding="utf-8")
        result = run("import", entity, str(path))
        assert result.exit_code == 0, result.output
    return run


def submit(run: Callable[..., Result], *args: str) -> dict:
    result = run("case", "submit", "--channel", "hotline", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def counts(district: District) -> tuple[int, int]:
    with district.engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(cases)).scalar_one(),
            conn.execute(select(func.count()).select_from(case_events)).scalar_one(),
        )


def test_services_list_shows_the_core_catalogue(run: Callable[..., Result]) -> None:
    result = run("services", "list", "--json")
    assert result.exit_code == 0, result.output
    services = {s["code"]: s for s in json.loads(result.stdout)}
    assert list(services) == [
        "consult",
        "appointment",
        "help",
        "repair",
        "complaint",
        "dispute",
        "suggestion",
    ]
    assert services["consult"]["reply_minutes"] == 5
    assert services["repair"]["name_zh"] == "报修"
    table = run("services", "list")
    assert "纠纷调解" in table.output and "工作日 working day" in table.output


def test_submit_classifies_routes_and_answers_with_a_reference(
    grid: Callable[..., Result],
) -> None:
    case = submit(grid, "--text", "楼道路灯坏了", "--reporter", ID_NUMBER)
    assert case["ref"].endswith("-000001")
    assert case["service"] == "repair"
    assert case["status"] == "assigned" and case["handler_code"] == "S006"
    assert case["household_code"] == HOUSEHOLD and case["area_code"] == BUILDING
    text = grid(
        "case", "submit", "--channel", "sms", "--text", "请问高龄津贴怎么申请", "--area", GRID
    )
    assert text.exit_code == 0, text.output
    assert "-000002: 咨询 consult" in text.output and "→ S006" in text.output


def test_the_whole_lifecycle_from_the_command_line(grid: Callable[..., Result]) -> None:
    ref = submit(grid, "--text", "厨房下水管漏水", "--household", HOUSEHOLD)["ref"]
    steps = [
        ("accept", ref),
        ("reply", ref, "已通知维修师傅"),
        ("resolve", ref, "--outcome", "更换了下水管", "--minutes", "45"),
        ("rate", ref, "满意", "--comment", "很及时"),
    ]
    for step in steps:
        result = grid("case", *step, actor="S006")
        assert result.exit_code == 0, (step, result.output)
    shown = grid("case", "show", ref, "--json")
    data = json.loads(shown.stdout)
    assert data["status"] == "closed" and data["rating"] == "satisfied"
    assert data["minutes_spent"] == 45
    assert [e["action"] for e in data["events"]] == [
        "submit",
        "assign",
        "accept",
        "reply",
        "resolve",
        "rate",
    ]
    assert [e["actor"] for e in data["events"]][2:] == ["S006"] * 4
    history = grid("case", "show", ref)
    assert "已结案 closed" in history.output and "更换了下水管" in history.output


def test_invalid_steps_are_one_line_errors_and_write_nothing(
    grid: Callable[..., Result], district: District
) -> None:
    ref = submit(grid, "--text", "楼道路灯坏了", "--area", GRID)["ref"]
    before = counts(district)
    for args, message in [
        (("resolve", ref, "--outcome", "x"), "cannot resolve"),
        (("refuse", ref, "--reason", " "), "needs a reason"),
        (("accept", "2026-999999"), "no case '2026-999999'"),
        (("duplicate", ref, "--of", ref), "cannot duplicate itself"),
        (("transfer", ref, "--reason", "x", "--to", "NOBODY"), "no handler with code 'NOBODY'"),
    ]:
        result = grid("case", *args)
        assert result.exit_code == 2, result.output
        assert result.output.startswith("error: ") and message in result.output
        assert len(result.output.strip().splitlines()) == 1
        assert "Traceback" not in result.output
    assert counts(district) == before


def test_a_bad_draft_lists_every_problem_at_once(
    grid: Callable[..., Result], district: District
) -> None:
    result = grid(
        "case",
        "submit",
        "--channel",
        "web",
        "--text",
        "x",
        "--reporter",
        "110105199003070000",
        "--area",
        "999",
    )
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.startswith("error: case not taken in:")
    assert "reporter:" in line and "area:" in line and "service:" in line
    assert counts(district) == (0, 0)


def test_a_repeated_demand_is_linked_not_opened_again(grid: Callable[..., Result]) -> None:
    first = submit(grid, "--text", "楼道路灯坏了", "--reporter", ID_NUMBER)
    again = submit(grid, "--text", "路灯还是坏的", "--reporter", ID_NUMBER, "--service", "repair")
    assert again["linked"] and again["ref"] == first["ref"] and again["repeats"] == 1
    listed = json.loads(grid("case", "list", "--json").stdout)
    assert [c["ref"] for c in listed] == [first["ref"]]


def test_a_handler_sees_and_acts_only_in_their_areas(grid: Callable[..., Result]) -> None:
    ref = submit(grid, "--text", "楼道路灯坏了", "--area", GRID)["ref"]
    refused = grid("case", "accept", ref, actor="S007")
    assert refused.exit_code == 2 and "not assigned to S007" in refused.output
    assert grid("case", "accept", ref, actor="S006").exit_code == 0
    mine = json.loads(grid("case", "list", "--json", actor="S006").stdout)
    assert [c["ref"] for c in mine] == [ref]
    leader = json.loads(grid("case", "list", "--json", actor="S001").stdout)
    assert [c["ref"] for c in leader] == [ref]


def test_list_filters(grid: Callable[..., Result]) -> None:
    repair = submit(grid, "--text", "楼道路灯坏了", "--area", GRID)["ref"]
    consult = submit(grid, "--text", "请问居住证怎么办理", "--area", GRID)["ref"]
    grid("case", "accept", consult)

    def refs(*args: str) -> list[str]:
        result = grid("case", "list", "--json", *args)
        assert result.exit_code == 0, result.output
        return [c["ref"] for c in json.loads(result.stdout)]

    assert refs("--service", "repair") == [repair]
    assert refs("--status", "accepted") == [consult]
    assert refs("--open") == [consult, repair]
    assert refs("--channel", "sms") == []
    assert refs("--area", BUILDING) == []
    assert refs("--handler", "S006") == [consult, repair]
    assert refs("--overdue") == []
    bad = grid("case", "list", "--from", "2026-12-01", "--to", "2026-11-01")
    assert bad.exit_code == 2 and "before --from" in bad.output


def overdue_already(district: District, ref: str) -> None:
    """Move a case's deadlines into the past (the CLI runs on the real clock)."""
    past = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with district.engine.begin() as conn:
        conn.execute(update(cases).where(cases.c.ref == ref).values(reply_by=past, resolve_by=past))


def test_daily_twice_and_the_huddle_sheet(grid: Callable[..., Result], district: District) -> None:
    ref = submit(grid, "--text", "楼道路灯坏了", "--area", GRID)["ref"]
    overdue_already(district, ref)
    first = grid("daily", "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["escalated"] == [ref] and not report["already_ran"]
    second = grid("daily")
    assert second.exit_code == 0 and "(already ran)" in second.output
    unwritten = grid("case", "huddle", "--date", "2026-11-01")
    assert unwritten.exit_code == 2
    assert "no huddle sheet for 2026-11-01: `c365 daily --date 2026-11-01`" in unwritten.output
    sheet = json.loads(grid("case", "huddle", "--json").stdout)
    assert {(line["handler_code"], line["ref"], line["overdue"]) for line in sheet} >= {
        ("S006", ref, True),
        ("S001", ref, True),
    }
    as_handler = grid("daily", actor="S006")
    assert as_handler.exit_code == 2 and "office staff" in as_handler.output


def test_stats_for_a_month_and_bad_periods(grid: Callable[..., Result]) -> None:
    ref = submit(grid, "--text", "请问居住证怎么办理", "--area", GRID)["ref"]
    assert grid("case", "reply", ref, "需要带身份证").exit_code == 0
    result = grid("case", "stats", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["received"] == 1 and stats["response_rate"] == "1.0000"
    assert stats["satisfaction_rate"] is None
    table = grid("case", "stats")
    assert "响应率" in table.output and "100.0%" in table.output
    for args, message in [
        (("--month", "2026-13"), "--month: expected YYYY-MM"),
        (("--month", "2026-11", "--from", "2026-11-01"), "not both"),
        (("--from", "2026-11-20", "--to", "2026-11-01"), "before --from"),
        (("--area", "999"), "no area"),
    ]:
        bad = grid("case", "stats", *args)
        assert bad.exit_code == 2 and message in bad.output, bad.output


def test_each_case_shows_its_sla_outcome(grid: Callable[..., Result]) -> None:
    ref = submit(grid, "--text", "请问居住证怎么办理", "--area", GRID)["ref"]
    assert grid("case", "reply", ref, "需要带身份证").exit_code == 0
    data = json.loads(grid("case", "show", ref, "--json").stdout)
    assert data["replied_on_time"] is True and data["resolved_on_time"] is None
    assert "按时 on time" in grid("case", "show", ref).output


def test_a_deadline_beyond_the_calendar_warns_in_one_line(grid: Callable[..., Result]) -> None:
    ref = submit(grid, "--text", "小区乱停车堵住消防通道，投诉", "--area", GRID)["ref"]
    assert grid("case", "accept", ref, actor="S006").exit_code == 0
    result = grid("case", "extend", ref, "--by", "60", "--reason", "需要多部门协调")
    assert result.exit_code == 0, result.output
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "Monday–Friday" in warning[0]
    assert "Traceback" not in result.output


def test_out_of_range_input_is_a_one_line_error(grid: Callable[..., Result]) -> None:
    ref = submit(grid, "--text", "楼道路灯坏了", "--area", GRID)["ref"]
    assert grid("case", "accept", ref).exit_code == 0
    for args, message in [
        (("daily", "--date", "2099-01-01"), "today or a past day"),
        (("daily", "--date", "1999-01-01"), "outside 2000-2100"),
        (("case", "stats", "--from", "0001-01-01"), "outside 2000-2100"),
        (("case", "list", "--to", "9999-12-31"), "outside 2000-2100"),
        (("case", "extend", ref, "--by", "999999", "--reason", "x"), "1<=x<=365"),
        (("--as", "长" * 101, "case", "list"), "at most 100 characters"),
    ]:
        result = grid(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_duplicates_never_loop(grid: Callable[..., Result]) -> None:
    first = submit(grid, "--text", "楼道路灯坏了", "--area", GRID)["ref"]
    second = submit(grid, "--text", "请问居住证怎么办理", "--area", GRID)["ref"]
    assert grid("case", "duplicate", second, "--of", first).exit_code == 0
    back = grid("case", "duplicate", first, "--of", second)
    assert back.exit_code == 2 and f"case {second} is duplicate" in back.output


def test_a_handler_sees_only_their_own_huddle_sheet(grid: Callable[..., Result]) -> None:
    submit(grid, "--text", "楼道路灯坏了", "--area", GRID)
    assert grid("daily").exit_code == 0
    mine = json.loads(grid("case", "huddle", "--json", actor="S007").stdout)
    assert all(line["handler_code"] == "S007" for line in mine)
    other = grid("case", "huddle", "--handler", "S006", actor="S007")
    assert other.exit_code == 2 and "your own sheet" in other.output
