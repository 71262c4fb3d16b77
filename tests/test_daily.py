"""`run_daily`, the 365-day heartbeat, on SQLite and PostgreSQL: escalation once per day,
auto-close, the 日碰头 sheet, plugin tasks once per day, and a repeated run that leaves
every table as it was."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from test_case_stats import (
    EAST_GRID,
    GRID1,
    GRID2,
    Clock,
    build_district,
    local,
    step,
    submit,
)

from community365.cases import store
from community365.cases.daily import (
    AUTO_CLOSE,
    ESCALATE,
    HUDDLE,
    STEP_LABELS,
    DailyReport,
    HuddleLine,
    huddle_sheet,
    run_daily,
)
from community365.db.schema import cases, daily_runs, huddle_items, metadata
from community365.district import District
from community365.errors import NotFound, UsageError
from community365.values import Context, DailyTask

NOV26, NOV27 = dt.date(2026, 11, 26), dt.date(2026, 11, 27)


def daily(d: District, when: str, day: dt.date, actor: str = "office") -> DailyReport:
    d.clock.now = local(when)  # type: ignore[attr-defined]
    with d.begin() as ctx:
        ctx.actor = actor
        return run_daily(d, ctx, day)


def snapshot(d: District) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every core table."""
    with d.engine.connect() as conn:
        return {
            t.name: sorted(map(tuple, conn.execute(select(t)).all()), key=repr)
            for t in metadata.sorted_tables
        }


def sheet(d: District, day: dt.date, handler: str | None = None) -> set[tuple[str, str, bool]]:
    with d.engine.connect() as conn:
        return {
            (line.handler_code, line.ref, line.overdue) for line in huddle_sheet(conn, day, handler)
        }


def case(d: District, ref: str) -> Any:
    with d.engine.connect() as conn:
        return store.get_case(conn, ref)


def events(d: District, ref: str, action: str) -> list[Any]:
    with d.engine.connect() as conn:
        row = store.case_row(conn, ref)
        return [e for e in store.events_of(conn, row["id"]) if e["action"] == action]


class Rota:
    """An in-process plugin with one daily task that counts its runs."""

    def __init__(self) -> None:
        self.days: list[dt.date] = []

    def c365_daily_tasks(self) -> list[DailyTask]:
        def run(ctx: Context, day: dt.date) -> str | None:
            self.days.append(day)
            return f"rota for {day.isoformat()}"

        return [DailyTask("rota", run, label_zh="排班表", label_en="the rota")]


def build_cases(d: District) -> dict[str, str]:
    refs: dict[str, str] = {}
    # d1: taken in by K1 at the front desk (首问), assigned to G1A, never accepted nor
    # answered: reply by 11-20 10:00 and resolve by the end of 11-23 both pass.
    refs["d1"] = submit(d, "2026-11-20 09:00", "repair", GRID1, actor="K1")
    # d2: help in the east grid, accepted and answered by E1A; resolve by the end of 11-25.
    refs["d2"] = d2 = submit(d, "2026-11-23 09:00", "help", EAST_GRID)
    step(d, "2026-11-23 09:10", "accept", d2)
    step(d, "2026-11-23 09:15", "reply", d2, "下午上门")
    # d3: resolved on 11-11, never rated: auto-closed on 11-26 (7 days).
    refs["d3"] = d3 = submit(d, "2026-11-10 09:00", "repair", GRID2)
    step(d, "2026-11-10 09:30", "accept", d3)
    step(d, "2026-11-11 10:00", "resolve", d3, "已修好", 20)
    # d4: resolved at 11-20 00:00 exactly: 7 days before 11-27, not before 11-26.
    refs["d4"] = d4 = submit(d, "2026-11-19 09:00", "repair", GRID2)
    step(d, "2026-11-19 09:30", "accept", d4)
    step(d, "2026-11-20 00:00", "resolve", d4, "已修好")
    # d5: a consultation answered in time; resolve by the end of 11-26 (one working day).
    refs["d5"] = d5 = submit(d, "2026-11-25 09:00", "consult", GRID1)
    step(d, "2026-11-25 09:02", "reply", d5, "请带户口本")
    return refs


def test_daily_run(run, district: District, tmp_path: Path) -> None:
    rota = Rota()
    d = build_district(
        run, district, tmp_path, Clock(local("2026-11-10 00:00")), (("meals", rota),)
    )
    try:
        refs = build_cases(d)
        d1, d2, d3, d4, d5 = (refs[k] for k in ("d1", "d2", "d3", "d4", "d5"))
        assert case(d, d1).handler_code == "G1A" and case(d, d1).receiver_code == "K1"
        assert case(d, d2).handler_code == "E1A"

        report = daily(d, "2026-11-26 06:00", NOV26)
        assert report.day == NOV26 and not report.already_ran
        assert report.escalated == (d1, d2)
        assert report.closed == (d3,)
        assert (report.huddle_added, report.huddle_total) == (6, 6)
        assert [(s.task, s.status) for s in report.steps] == [
            (ESCALATE, "done"),
            (AUTO_CLOSE, "done"),
            (HUDDLE, "done"),
            ("meals.rota", "done"),
        ]
        assert report.steps[0].cases == (d1, d2)
        assert report.steps[0].label_zh == STEP_LABELS[ESCALATE][0] == "催办"
        assert report.steps[3].summary == "rota for 2026-11-26"
        assert (report.steps[3].label_zh, report.steps[3].label_en) == ("排班表", "the rota")
        assert rota.days == [NOV26]

        # Escalation: an event naming what is overdue and by how long; the day is kept.
        (e1,) = events(d, d1, "escalate")
        assert e1["note"] == (
            "催办 overdue on 2026-11-26: resolve by 2026-11-23 23:59, 2 d late; "
            "reply by 2026-11-20 10:00, 5 d 14 h late"
        )
        assert e1["actor"] == "office"
        (e2,) = events(d, d2, "escalate")
        assert e2["note"] == "催办 overdue on 2026-11-26: resolve by 2026-11-25 23:59, 1 min late"
        assert (case(d, d1).escalation, case(d, d1).escalated_on) == (1, NOV26)
        assert case(d, d1).status == "assigned"
        assert case(d, d5).escalation == 0

        # Auto-close at 7 days, with a note; d4 is not old enough yet.
        assert case(d, d3).status == "closed" and case(d, d3).rating is None
        assert events(d, d3, "close")[0]["note"].startswith("自动结案")
        assert case(d, d4).status == "resolved"

        # The sheet: assignees; K1 for d1 until it is accepted; the nearest leaders of the
        # escalated cases (L1 on the community; for the east grid, L2 on the street, since
        # LR's duty there covers repairs only and L0 is further up).
        assert sheet(d, NOV26) == {
            ("G1A", d1, True),
            ("K1", d1, True),
            ("L1", d1, True),
            ("E1A", d2, True),
            ("L2", d2, True),
            ("G1A", d5, False),
        }
        with d.engine.connect() as conn:
            lines = huddle_sheet(conn, NOV26, "G1A")
            with pytest.raises(NotFound):
                huddle_sheet(conn, NOV26, "NOBODY")
        assert [(x.ref, x.overdue) for x in lines] == [(d1, True), (d5, False)]
        assert lines[0] == HuddleLine(
            handler_code="G1A",
            handler_name="张一",
            ref=d1,
            service="repair",
            status="assigned",
            area_code=GRID1,
            reply_by=local("2026-11-20 10:00"),
            resolve_by=local("2026-11-23 23:59:59"),
            overdue=True,
        )
        assert lines[0].to_json()["reply_by"] == "2026-11-20T02:00:00+00:00"

        with d.engine.connect() as conn:
            runs = conn.execute(select(daily_runs.c.task, daily_runs.c.summary)).all()
        assert sorted(runs) == sorted(
            [
                (ESCALATE, f"escalated 2: {d1}, {d2}"),
                (AUTO_CLOSE, f"closed 1: {d3}"),
                (HUDDLE, "6 lines added; 6 lines on the sheets of 5 handlers"),
                ("meals.rota", "rota for 2026-11-26"),
            ]
        )

        # The same day again, later: nothing changes, and the report says so.
        before = snapshot(d)
        again = daily(d, "2026-11-26 09:30", NOV26)
        assert snapshot(d) == before
        assert again.already_ran
        assert (again.escalated, again.closed, again.huddle_added) == ((), (), 0)
        assert again.huddle_total == 6
        assert [s.status for s in again.steps] == ["already_ran"] * 4
        assert again.steps[0].ran_at == local("2026-11-26 06:00")
        assert again.steps[0].summary == f"escalated 2: {d1}, {d2}"
        assert again.to_json()["already_ran"] is True
        assert rota.days == [NOV26]

        # The next day: still overdue, so escalated again (and d5, due by the end of
        # 11-26, now too); d4 is closed; a new sheet; the plugin task runs for the new day.
        report = daily(d, "2026-11-27 06:00", NOV27)
        assert report.escalated == (d1, d2, d5)
        assert report.closed == (d4,)
        assert (case(d, d1).escalation, case(d, d1).escalated_on) == (2, NOV27)
        assert len(events(d, d1, "escalate")) == 2
        # Escalated twice, each case goes one leader further up the tree: d1 to the
        # street's L2, d2 to the district's L0; d5, escalated once, to its nearest, L1.
        assert sheet(d, NOV27) == {
            ("G1A", d1, True),
            ("K1", d1, True),
            ("L2", d1, True),
            ("E1A", d2, True),
            ("L0", d2, True),
            ("G1A", d5, True),
            ("L1", d5, True),
        }
        assert len(sheet(d, NOV26)) == 6  # the day before is kept as it was
        assert rota.days == [NOV26, NOV27]

        # Accepted cases leave the receiver's sheet; a case taken in later the same day
        # is added by a further run (the core steps always look again).
        step(d, "2026-11-27 08:00", "accept", d1)
        late = submit(d, "2026-11-27 08:30", "repair", GRID2, actor="K1")
        report = daily(d, "2026-11-27 09:00", NOV27)
        assert [s.status for s in report.steps] == [
            "already_ran",
            "already_ran",
            "done",
            "already_ran",
        ]
        assert report.huddle_added == 2  # G2A and K1 for the new case; K1 keeps d1's row
        assert {(h, r) for h, r, _ in sheet(d, NOV27, "K1")} == {("K1", d1), ("K1", late)}
        assert rota.days == [NOV26, NOV27]
    finally:
        d.engine.dispose()


def test_daily_refuses_a_handler_and_isolates_a_failing_task(
    run, district: District, tmp_path: Path
) -> None:
    calls: list[dt.date] = []

    def broken(ctx: Context, day: dt.date) -> str | None:
        calls.append(day)
        ctx.connection.execute(delete(huddle_items))  # undone with the task
        raise RuntimeError("rota sheet missing")

    plugin = type(
        "Plugin", (), {"c365_daily_tasks": staticmethod(lambda: [DailyTask("rota", broken)])}
    )
    d = build_district(
        run, district, tmp_path, Clock(local("2026-11-20 00:00")), (("meals", plugin),)
    )
    try:
        ref = submit(d, "2026-11-20 09:00", "repair", GRID1)
        with pytest.raises(UsageError, match="office staff"):
            daily(d, "2026-11-26 06:00", NOV26, actor="G1A")
        report = daily(d, "2026-11-26 06:00", NOV26)
        [failed] = report.failed
        assert failed.task == "meals.rota" and failed.status == "failed"
        assert failed.label_zh == failed.label_en == "meals.rota"  # no labels: its name
        assert "'meals'" in failed.summary and "rota sheet missing" in failed.summary
        with d.engine.connect() as conn:  # the core's steps stand
            assert conn.execute(select(cases.c.escalation).where(cases.c.ref == ref)).scalar() == 1
            assert conn.execute(select(huddle_items)).all() != []
            tasks = conn.execute(select(daily_runs.c.task)).scalars().all()
            assert "meals.rota" not in tasks
        again = daily(d, "2026-11-26 07:00", NOV26)  # tried again, still failing
        assert [s.task for s in again.failed] == ["meals.rota"]
        assert calls == [NOV26, NOV26]
    finally:
        d.engine.dispose()
