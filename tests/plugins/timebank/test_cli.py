"""``c365 timebank`` as a district runs it: the whole round from joining to statements,
one-line errors, audit entries, reconciliation, figures. On SQLite and PostgreSQL.

The CLI runs on the real clock: ages and periods are relative to today.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from community365.cli import cli
from community365.db.schema import cases
from community365.district import District
from community365_timebank.tables import accounts

from .tb_world import COMMUNITY, LIN, SHI_BO_ID, SHI_ID, WANG_ID, fund, world

TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


@pytest.fixture
def tb(make_district: Callable[..., District]) -> Iterator[District]:
    district = world(make_district)
    yield district
    district.engine.dispose()


def runner(district: District) -> Callable[..., Result]:
    """``c365 --district ... --as ACTOR ARGS...`` on ``district``."""

    def run(*args: str, actor: str = "时间银行管理员") -> Result:
        return CliRunner().invoke(cli, ["--district", str(district.root), "--as", actor, *args])

    return run


@pytest.fixture
def c365(tb: District) -> Callable[..., Result]:
    return runner(tb)


def priority(c365: Callable[..., Result], who: str, tag: str = "重点服务对象") -> None:
    """Tag ``who`` as a priority elder (重点服务对象): the pool pays for help they cannot
    pay themselves (settings pool_pays_for_tags)."""
    ok(c365("person", "tag", who, tag))


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def data(result: Result) -> object:
    return json.loads(ok(result))


def refused(result: Result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and result.output.startswith("error: "), result.output
    assert message in result.output, result.output


def serve(c365: Callable[..., Result], reporter: str, volunteer: str, minutes: int) -> str:
    """A time-bank request by ``reporter``, served by ``volunteer`` through ``c365 case``."""
    case = data(
        c365(
            "case",
            "submit",
            "--channel",
            "hotline",
            "--service",
            "timebank.help",
            "--text",
            "想请志愿者帮忙理发",
            "--reporter",
            reporter,
            "--field",
            "skill=理发",
            "--json",
        )
    )
    ref = case["ref"]
    if case["handler_code"] != volunteer:
        ok(c365("case", "transfer", ref, "--reason", "认领", "--to", volunteer))
    ok(c365("case", "accept", ref, actor=volunteer))
    ok(
        c365(
            "case",
            "resolve",
            ref,
            "--outcome",
            "已完成",
            "--minutes",
            str(minutes),
            actor=volunteer,
        )
    )
    return ref


def test_the_round_from_joining_to_a_statement(c365: Callable[..., Result], tmp_path: Path) -> None:
    joined = data(c365("timebank", "join", "VA", "--json"))
    assert (joined["kind"], joined["balance"], joined["bank"]) == ("member", "0:00", COMMUNITY)
    assert "joined: #3 史永康 330212********207X — 划船社区 (330212001001)" in ok(
        c365("timebank", "join", SHI_ID)
    )
    listed = data(c365("timebank", "accounts", "--json"))
    assert [(a["id"], a["kind"]) for a in listed] == [(1, "pool"), (2, "member"), (3, "member")]
    assert all("*" in a["holder"] for a in listed if a["kind"] == "member")

    priority(c365, SHI_ID)  # 史永康 (70) holds no hours: the pool pays for a priority elder
    ref = serve(c365, SHI_ID, "VA", 50)
    (waiting,) = data(c365("timebank", "pending", "--json"))
    assert (waiting["case_ref"], waiting["hours"], waiting["payer_account"]) == (ref, "0:45", 1)
    assert ref in ok(c365("timebank", "pending"))

    refused(c365("timebank", "verify", ref, actor="VA"), "does not verify their own hours")
    out = ok(c365("timebank", "verify", ref, "--note", "电话回访确认"))
    assert out.startswith(f"{ref}: 0:45 verified for 俞青 330212********0110, balance 0:45\n")
    assert "transfer 1: earn 0:45 #1 → #2" in out
    assert data(c365("timebank", "pending", "--json")) == []

    balance = data(c365("timebank", "balance", "VA", "--json"))
    assert (balance["balance"], balance["balance_minutes"], balance["available"]) == (
        "0:45",
        45,
        "0:45",
    )
    refused(c365("timebank", "transfer", "VA", "pool", "0.5"), "may use their own hours from 60")
    (donation,) = data(c365("timebank", "donate", "VA", "0:15", "--memo", "捐给公共池", "--json"))
    assert (donation["kind"], donation["hours"], donation["memo"]) == (
        "donate",
        "0:15",
        "捐给公共池",
    )
    (undone,) = data(
        c365("timebank", "reverse", str(donation["id"]), "--reason", "误操作", "--json")
    )
    assert (undone["kind"], undone["reverses"], undone["hours"]) == (
        "reverse",
        donation["id"],
        "0:15",
    )
    refused(
        c365("timebank", "reverse", str(donation["id"]), "--reason", "again"), "already reversed"
    )

    statement = data(c365("timebank", "statement", "VA", "--json"))
    assert (statement["opening"], statement["closing"]) == ("0:00", "0:45")
    assert [(line["kind"], line["hours"], line["balance"]) for line in statement["lines"]] == [
        ("earn", "0:45", "0:45"),
        ("donate", "-0:15", "0:30"),
        ("reverse", "0:15", "0:45"),
    ]
    assert statement["lines"][0]["case_ref"] == ref
    shown = ok(c365("timebank", "statement", "VA"))
    assert "服务所得 earn" in shown and "in 1:00, out 0:15, closing 0:45" in shown

    target = tmp_path / "对账单.csv"
    assert ok(c365("timebank", "statement", "VA", "--csv", str(target))) == f"{target}: 3 line(s)\n"
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    with target.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][0] == "时间 time" and [r[5] for r in rows[1:]] == ["0:45", "-0:15", "0:15"]
    assert [r[2] for r in rows[1:]] == ["服务所得 earn", "捐赠 donate", "冲正 reverse"]
    pool = data(c365("timebank", "statement", f"pool:{COMMUNITY}", "--json"))
    assert [line["label"] for line in pool["lines"]] == [  # the same transfers, seen from the pool
        "支付服务 paid for help",
        "受捐 donation received",
        "冲正 reverse",
    ]

    assert ok(c365("timebank", "reconcile")).startswith("3 account(s) in 1 bank(s): every balance")
    assert data(c365("timebank", "reconcile", "--json"))["ok"] is True

    stats = data(c365("timebank", "stats", "--json"))
    assert (stats["earned"], stats["spent"], stats["donated"], stats["members"]) == (45, 0, 0, 2)
    assert stats["givers"] == [{"account_id": 2, "name": "俞青", "minutes": 45}]
    assert stats["buckets"]["balance_zero"] == 1 and stats["buckets"]["balance_upto_10h"] == 1
    assert "帮扶之星 candidates" in ok(c365("timebank", "stats"))

    actions = [e["action"] for e in data(c365("audit", "list", "--action", "timebank.", "--json"))]
    assert sorted(set(actions)) == [
        "timebank.donate",
        "timebank.join",
        "timebank.pending",
        "timebank.reverse",
        "timebank.verify",
    ]


def test_case_stats_show_the_time_bank_figures(c365: Callable[..., Result]) -> None:
    ok(c365("timebank", "join", "VA"))
    priority(c365, SHI_ID)
    ref = serve(c365, SHI_ID, "VA", 90)
    ok(c365("timebank", "verify", ref))
    metrics = {
        m["key"]: m
        for m in data(c365("case", "stats", "--json"))["metrics"]
        if m["plugin"] == "timebank"
    }
    assert metrics["earned_hours"]["value"] == "1.50" and metrics["earned_hours"]["unit"] == "小时"
    assert metrics["active_volunteers"]["value"] == 1
    assert metrics["star_1"]["label_zh"] == "帮扶之星候选 1: 俞青"
    assert "timebank  服务时数" in ok(c365("case", "stats"))


def test_hours_nobody_pays_yet_through_the_cli(c365: Callable[..., Result]) -> None:
    ok(c365("timebank", "join", "VA"))
    ref = serve(c365, SHI_ID, "VA", 60)  # 史永康 (70): not a member, not a priority elder
    (waiting,) = data(c365("timebank", "pending", "--json"))
    assert (waiting["case_ref"], waiting["status"], waiting["payer_account"]) == (
        ref,
        "pending",
        None,
    )
    assert "史永康 is neither a member paying their own help" in waiting["note"]
    assert "nobody yet" in ok(c365("timebank", "pending"))
    refused(c365("timebank", "verify", ref), "nobody pays these hours")


def test_gifts_and_family_through_the_cli(c365: Callable[..., Result]) -> None:
    for who in ("VA", SHI_ID, WANG_ID):
        ok(c365("timebank", "join", who))
    priority(c365, SHI_BO_ID, "特困")  # 史波 (41) cannot pay his own help: the pool does
    ref = serve(c365, SHI_BO_ID, "VA", 120)
    ok(c365("timebank", "verify", ref))
    refused(c365("timebank", "gift", "VA", SHI_ID, "1"), "is not recorded as 俞青's spouse")
    from .tb_world import YU

    assert ok(c365("timebank", "family", "add", YU, SHI_ID, "--relation", "祖父母")) == (
        "史永康 recorded as 俞青's grandparent (祖父母/外祖父母)\n"
    )
    (made,) = data(c365("timebank", "gift", "VA", SHI_ID, "1.5", "--json"))
    assert (made["kind"], made["minutes"]) == ("gift", 90)
    ties = data(c365("timebank", "family", "list", SHI_ID, "--json"))
    assert [(t["person"], t["relation"], t["relative"]) for t in ties] == [
        ("俞青", "grandparent", "史永康")
    ]
    # 史永康 (70) may now spend on help for himself
    (spent,) = data(c365("timebank", "transfer", SHI_ID, "VA", "1:00", "--json"))
    assert spent["kind"] == "spend"
    assert data(c365("timebank", "balance", SHI_ID, "--json"))["balance"] == "0:30"


def test_accounts_freeze_leave_and_teams(c365: Callable[..., Result]) -> None:
    ok(c365("timebank", "join", SHI_ID))
    assert "队伍 team" in ok(c365("timebank", "join", "T1"))
    assert ok(c365("timebank", "freeze", SHI_ID, "--reason", "核查")).endswith("frozen\n")
    frozen = data(c365("timebank", "accounts", "--status", "frozen", "--json"))
    assert [a["holder"] for a in frozen] == ["史永康 330212********207X"]
    ok(c365("timebank", "unfreeze", SHI_ID))
    assert "closed" in ok(c365("timebank", "leave", SHI_ID))
    teams = data(c365("timebank", "accounts", "--kind", "team", "--bank", COMMUNITY, "--json"))
    assert [t["holder"] for t in teams] == ["划船志愿服务队 (T1)"]
    revealed = data(c365("timebank", "accounts", "--kind", "member", "--reveal", "--json"))
    assert revealed[0]["holder"] == f"史永康 {SHI_ID}"
    assert data(c365("audit", "list", "--action", "reveal", "--json"))[0]["subject"] == (
        "timebank accounts"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("balance", "#99"), "no time bank account #99"),
        (("balance", WANG_ID), "王翠娥 is not a member of a time bank"),
        (("join", "NOBODY"), "no handler with code 'NOBODY'"),
        (("join", SHI_ID, "--bank", COMMUNITY), "--bank is for teams"),
        (("donate", SHI_ID, "1.01"), "1.01 hours is not a whole number of minutes"),
        (("donate", SHI_ID, "abc"), "expected hours such as 1.5 or 1:30"),
        (("donate", SHI_ID, "0"), "expected more than 0 hours"),
        (("donate", SHI_ID, "1"), "would take it below 0:00"),
        (("donate", SHI_ID, "1e999999999"), "expected hours such as 1.5 or 1:30"),
        (("donate", SHI_ID, "10001"), "10001 hours is more than 10,000"),
        (("statement", SHI_ID, "--csv", "/nonexist/x.csv"), "cannot write /nonexist/x.csv"),
        (("verify", "2026-999999"), "no time-bank hours recorded for case 2026-999999"),
        (("reject", "2026-999999", "--reason", "x"), "no time-bank hours recorded"),
        (("reverse", "99", "--reason", "x"), "no time bank transfer 99"),
        (("freeze", f"pool:{COMMUNITY}"), "the bank's own pool account"),
        (("leave", f"pool:{COMMUNITY}"), "the bank's own pool account"),
        (("stats", "--month", "2026-13"), "--month: expected YYYY-MM"),
        (("stats", "--from", "2026-11-20", "--to", "2026-11-01"), "is before --from"),
        (("statement", SHI_ID, "--from", "2026-11-20", "--to", "2026-11-01"), "is before"),
        (("family", "add", SHI_ID, WANG_ID, "--relation", "cousin"), "relation: expected one of"),
        (("accounts", "--bank", "330212001002"), "has no time bank yet"),
    ],
)
def test_mistakes_are_one_line_errors(
    c365: Callable[..., Result], args: tuple[str, ...], message: str
) -> None:
    ok(c365("timebank", "join", SHI_ID))
    refused(c365("timebank", *args), message)


def test_sign_in_and_out_in_local_time(tb: District, c365: Callable[..., Result]) -> None:
    ok(c365("timebank", "join", "VA"))
    priority(c365, SHI_ID)
    ref = serve(c365, SHI_ID, "VA", 120)
    now = dt.datetime.now(ZoneInfo("Asia/Shanghai")).replace(second=0, microsecond=0)
    # The CLI runs on the real clock: the request came in two hours ago, the volunteer
    # signed in and out in between (the times must lie within received..resolved).
    with tb.engine.begin() as conn:
        received = now - dt.timedelta(minutes=120)
        conn.execute(update(cases).where(cases.c.ref == ref).values(received_at=received))
    signed_in = (now - dt.timedelta(minutes=70)).strftime("%Y-%m-%d %H:%M")
    signed_out = (now - dt.timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M")
    too_early = (now - dt.timedelta(minutes=130)).strftime("%Y-%m-%d %H:%M")
    too_late = (now + dt.timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M")
    refused(
        c365("timebank", "verify", ref, "--signed-in", signed_out, "--signed-out", signed_in),
        "must be after the sign-in",
    )
    refused(
        c365("timebank", "verify", ref, "--signed-in", too_early, "--signed-out", signed_out),
        "before the request was received",
    )
    refused(
        c365("timebank", "verify", ref, "--signed-in", signed_in, "--signed-out", too_late),
        "after the case was resolved",
    )
    confirm = ("timebank", "verify", ref, "--by", "recipient")
    signed = ("--signed-in", signed_in, "--signed-out", signed_out, "--json")
    refused(c365(*confirm, *signed), "only the recipient confirms their help")
    done = data(c365(*confirm, *signed, actor=SHI_ID))
    assert done["pending"]["minutes"] == 60 and done["pending"]["verified_as"] == "recipient"
    assert done["pending"]["signed_in"].startswith(signed_in.replace(" ", "T"))
    assert [t["kind"] for t in done["transfers"]] == ["earn"]


def test_reject_and_list_decided(c365: Callable[..., Result]) -> None:
    ok(c365("timebank", "join", "VA"))
    ref = serve(c365, SHI_ID, "VA", 30)
    assert ok(c365("timebank", "reject", ref, "--reason", "无签到记录")) == (
        f"{ref}: 0:30 rejected (无签到记录)\n"
    )
    (decided,) = data(c365("timebank", "pending", "--status", "all", "--json"))
    assert (decided["status"], decided["note"]) == ("rejected", "无签到记录")


def test_reconcile_and_the_daily_run_report_a_drifted_balance(
    tb: District, c365: Callable[..., Result]
) -> None:
    ok(c365("timebank", "join", SHI_ID))
    daily = data(c365("daily", "--json"))
    (step,) = [s for s in daily["steps"] if s["task"] == "timebank.reconcile"]
    assert step["status"] == "done" and "every balance equals" in step["summary"]
    with tb.engine.begin() as conn:  # what the ledger never does: edit a balance
        conn.execute(update(accounts).where(accounts.c.kind == "member").values(balance=30))
    result = c365("timebank", "reconcile")
    assert result.exit_code == 1
    assert "account #2 stores 0:30 but its entries sum to 0:00" in result.output
    yesterday = (TODAY - dt.timedelta(days=1)).isoformat()  # today's check already ran
    result = c365("daily", "--date", yesterday)
    assert result.exit_code == 1 and "ledger differs" in result.output


def test_a_cross_bank_spend_keeps_its_kind_and_counts_as_spent(
    tb: District, c365: Callable[..., Result]
) -> None:
    ok(c365("timebank", "join", SHI_ID))
    ok(c365("timebank", "join", LIN))
    fund(tb, LIN, 120)
    legs = data(c365("timebank", "transfer", LIN, SHI_ID, "0:45", "--json"))
    assert [leg["kind"] for leg in legs] == ["spend", "spend"]
    assert (legs[0]["pair"], legs[1]["pair"]) == (legs[1]["id"], legs[0]["id"])
    assert data(c365("timebank", "stats", "--json"))["spent"] == 45
    # Reversing one leg reverses both: 林芳 and 史永康 are back where they were.
    undone = data(c365("timebank", "reverse", str(legs[1]["id"]), "--reason", "x", "--json"))
    assert sorted(leg["reverses"] for leg in undone) == [legs[0]["id"], legs[1]["id"]]
    assert data(c365("timebank", "stats", "--json"))["spent"] == 0
    ok(c365("timebank", "reconcile"))


def test_reconcile_prints_one_line_per_problem(
    tb: District, c365: Callable[..., Result], tmp_path: Path
) -> None:
    ok(c365("timebank", "join", SHI_ID))
    ok(c365("timebank", "join", SHI_BO_ID))
    with tb.engine.begin() as conn:  # what the ledger never does: edit balances
        conn.execute(update(accounts).where(accounts.c.kind == "member").values(balance=30))
    result = c365("timebank", "reconcile")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 2 and all("stores 0:30 but its entries sum to 0:00" in x for x in lines)
    found = data_of(c365("timebank", "reconcile", "--json"))
    assert [d["problem"] for d in found["differences"]] == ["balance", "balance"]


def data_of(result: Result) -> dict[str, object]:
    return json.loads(result.output)


def test_a_statement_file_is_written_whole_through_a_temporary_file(
    c365: Callable[..., Result], tmp_path: Path
) -> None:
    ok(c365("timebank", "join", SHI_ID))
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "statement.csv"
    target.write_text("old")
    assert ok(c365("timebank", "statement", SHI_ID, "--csv", str(target))).endswith("0 line(s)\n")
    assert target.read_text(encoding="utf-8-sig").startswith("时间 time")
    assert [p.name for p in target.parent.iterdir()] == ["statement.csv"]  # no temporary left


def test_reversing_an_earning_through_the_cli_reverses_its_surplus(
    make_district: Callable[..., District],
) -> None:
    district = world(make_district, storage_cap_hours="10")
    c365 = runner(district)
    ok(c365("timebank", "join", "VA"))
    fund(district, "VA", 9 * 60 + 30)
    priority(c365, SHI_ID)
    ref = serve(c365, SHI_ID, "VA", 60)
    made = data(c365("timebank", "verify", ref, "--json"))["transfers"]
    assert [(t["kind"], t["minutes"]) for t in made] == [("earn", 60), ("surplus", 30)]
    earned, surplus = made
    assert data(c365("timebank", "balance", "VA", "--json"))["balance_minutes"] == 600

    undone = data(c365("timebank", "reverse", str(earned["id"]), "--reason", "核实有误", "--json"))
    assert all(t["kind"] == "reverse" for t in undone)
    assert sorted(t["reverses"] for t in undone) == sorted([earned["id"], surplus["id"]])
    # 俞青 holds what she held before the earning, and so does the pool
    assert data(c365("timebank", "balance", "VA", "--json"))["balance_minutes"] == 570
    assert data(c365("timebank", "balance", f"pool:{COMMUNITY}", "--json"))["balance"] == "-9:30"
    (record,) = data(c365("timebank", "pending", "--status", "all", "--json"))
    assert record["status"] == "reversed"
    assert "冲正 reversed" in record["note"] and "核实有误" in record["note"]
    assert data(c365("timebank", "pending", "--status", "verified", "--json")) == []
    (listed,) = data(c365("timebank", "pending", "--status", "reversed", "--json"))
    assert listed["case_ref"] == ref
    assert "reversed" in ok(c365("timebank", "pending", "--status", "reversed"))
    refused(
        c365("timebank", "reverse", str(surplus["id"]), "--reason", "again"), "already reversed"
    )
    actions = [e["action"] for e in data(c365("audit", "list", "--action", "timebank.", "--json"))]
    assert {"timebank.reverse", "timebank.reverse_earning"} <= set(actions)
    ok(c365("timebank", "reconcile"))
    district.engine.dispose()
