"""`case_stats`: every figure on a hand-built set of cases, on SQLite and PostgreSQL.

The cases are driven through the pipeline with an injected clock, so each deadline,
reply and resolution time is known and every expected number below can be counted by
hand. ``build_district`` and ``Clock`` are shared with test_daily.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import Result

from community365.cases.pipeline import Pipeline
from community365.cases.scope import acting_handler
from community365.cases.stats import (
    CHANNEL_LABELS,
    LABELS,
    RATING_LABELS,
    STATUS_LABELS,
    CaseStats,
    Count,
    PluginMetric,
    case_stats,
    inclusive_period,
    rate,
)
from community365.district import District
from community365.errors import NotFound
from community365.values import AreaView, CaseDraft, Context, Metric, Period

TZ = ZoneInfo("Asia/Shanghai")
STREET, EAST = "330212001", "330212001002"
COMMUNITY, GRID1, GRID2, EAST_GRID = (
    "330212001001",
    "33021200100101",
    "33021200100102",
    "33021200100201",
)

AREAS_CSV = f"""区域编码,区域名称,层级,上级编码
{STREET},百丈街道,街道,330212
{COMMUNITY},划船社区,社区,{STREET}
{GRID1},第一网格,网格,{COMMUNITY}
{GRID2},第二网格,网格,{COMMUNITY}
{EAST},东郊社区,社区,{STREET}
{EAST_GRID},东郊第一网格,网格,{EAST}
"""
HANDLERS_CSV = """处置人编码,名称,类型,联系电话,身份证号,技能
G1A,张一,工作人员,,,
G1B,李一,工作人员,,,
G2A,王二,工作人员,,,
E1A,赵东,工作人员,,,
K1,前台小陈,工作人员,,,
L0,区网格长,工作人员,,,
L1,社区网格长,工作人员,,,
L2,街道网格长,工作人员,,,
LR,东郊报修网格长,工作人员,,,
"""
# Leaders: L1 on the community of grids 1 and 2, L2 on the street, L0 on the district,
# LR on the east community but only for repairs.
DUTIES_CSV = f"""处置人编码,区域编码,服务类别,角色
G1A,{GRID1},,A角
G1B,{GRID1},,B角
G2A,{GRID2},,A角
E1A,{EAST_GRID},,A角
L1,{COMMUNITY},,网格长
L2,{STREET},,网格长
L0,330212,,网格长
LR,{EAST},repair,网格长
"""


def local(text: str) -> dt.datetime:
    """A local (Asia/Shanghai) time, e.g. ``local("2026-11-02 09:00")``, as aware UTC."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ).astimezone(dt.UTC)


class Clock:
    """The injectable clock: set ``now`` (or call ``at``) before each unit of work."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def at(self, text: str) -> Clock:
        self.now = local(text)
        return self


def build_district(
    run: Callable[..., Result],
    district: District,
    tmp_path: Path,
    clock: Clock,
    plugins: tuple[tuple[str, Any], ...] = (),
) -> District:
    """The fixture's district with the areas, handlers and duties above (imported from
    CSV as a user would), opened again as office staff on ``clock`` with ``plugins``."""
    for entity, text in (
        ("areas", AREAS_CSV),
        ("handlers", HANDLERS_CSV),
        ("duties", DUTIES_CSV),
    ):
        path = tmp_path / f"{entity}.csv"
        path.write_text(text, encoding="utf-8")
        result = run("import", entity, str(path))
        assert result.exit_code == 0, result.output
    return District.open(district.root, actor="office", clock=clock, extra_plugins=plugins)


@contextlib.contextmanager
def acting(d: District, actor: str = "office") -> Iterator[Pipeline]:
    """A pipeline in one unit of work at the clock's time, as ``actor``."""
    with d.begin() as ctx:
        ctx.actor = actor
        yield d.pipeline(ctx)


def submit(
    d: District,
    received: str,
    service: str,
    area: str,
    channel: Any = "hotline",
    actor: str = "office",
) -> str:
    """Take a demand in at the local time ``received``; return its reference."""
    d.clock.now = local(received)  # type: ignore[attr-defined]
    draft = CaseDraft(
        channel=channel,
        text=f"{service} 诉求 {received}",
        received_at=local(received),
        service=service,
        area_code=area,
        contact=f"居民 {received} {area}",  # one reporter per demand: no repeat linking
    )
    with acting(d, actor) as p:
        return p.submit(draft).case.ref


def step(d: District, when: str, action: str, ref: str, *args: Any, **kwargs: Any) -> Any:
    """Do ``action`` on ``ref`` at the local time ``when``, as office staff."""
    d.clock.now = local(when)  # type: ignore[attr-defined]
    with acting(d) as p:
        return getattr(p, action)(ref, *args, **kwargs)


def stats(
    d: District,
    now: str,
    period: Period,
    area: str | None = None,
    as_handler: str | None = None,
) -> CaseStats:
    d.clock.now = local(now)  # type: ignore[attr-defined]
    with d.begin() as ctx:
        actor = acting_handler(ctx.connection, as_handler) if as_handler else None
        return case_stats(d, ctx, period, area, actor)


def counts(found: list[Count]) -> dict[str, int]:
    return {c.key: c.count for c in found}


NOVEMBER = inclusive_period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))


# -- pure helpers ------------------------------------------------------------------------------


def test_rate_and_period_helpers() -> None:
    assert rate(2, 3) == Decimal("0.6667")
    assert rate(1, 8) == Decimal("0.1250")
    assert rate(0, 5) == Decimal("0.0000")
    assert rate(0, 0) is None and rate(3, 0) is None
    assert inclusive_period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)) == Period(
        dt.date(2026, 11, 1), dt.date(2026, 12, 1)
    )
    with pytest.raises(ValueError):
        inclusive_period(dt.date(2026, 11, 2), dt.date(2026, 11, 1))
    for key in ("response_rate", "resolution_rate", "satisfaction_rate", "overdue_open"):
        zh, en = LABELS[key]
        assert zh and en
    assert LABELS["response_rate"][0] == "响应率"
    assert LABELS["resolution_rate"][0] == "解决率"
    assert LABELS["satisfaction_rate"][0] == "满意率"
    assert set(CHANNEL_LABELS) == {"hotline", "sms", "web", "walk_in", "visit", "patrol"}
    assert "closed" in STATUS_LABELS and "fairly_satisfied" in RATING_LABELS


# -- the hand-built set ------------------------------------------------------------------------


def build_cases(d: District) -> dict[str, str]:
    """Ten demands; what happens to each is written beside it (deadlines in comments are
    local: repair answers in 60 min and is done by the end of the third calendar day,
    help in 30 min and two days, consult in 5 min)."""
    refs: dict[str, str] = {}
    # c1: answered and done on time (30 min of work), satisfied → closed.
    refs["c1"] = c1 = submit(d, "2026-11-02 09:00", "repair", GRID1)
    step(d, "2026-11-02 09:05", "accept", c1)
    step(d, "2026-11-02 09:30", "reply", c1, "明天上午上门")
    step(d, "2026-11-03 10:00", "resolve", c1, "已修好", 30)
    step(d, "2026-11-03 12:00", "rate", c1, "satisfied")
    # c6: the same demand as c1 from someone else: a duplicate, not counted.
    refs["c6"] = c6 = submit(d, "2026-11-03 09:00", "repair", GRID1)
    step(d, "2026-11-03 09:10", "mark_duplicate", c6, c1)
    # c2 (sms): answered late (reply by 10:00), done late (by 11-08), fairly satisfied.
    refs["c2"] = c2 = submit(d, "2026-11-05 09:00", "repair", GRID1, "sms")
    step(d, "2026-11-05 10:30", "accept", c2)
    step(d, "2026-11-05 11:00", "reply", c2, "已派维修工")
    step(d, "2026-11-10 09:00", "resolve", c2, "已更换", 90)
    step(d, "2026-11-10 18:00", "rate", c2, "fairly_satisfied")
    # c3 (web, grid 2): answered and done on time, but unsatisfied → back to work (返工),
    # open and overdue (resolve by the end of 11-12); keeps its rating.
    refs["c3"] = c3 = submit(d, "2026-11-10 09:00", "help", GRID2, "web")
    step(d, "2026-11-10 09:05", "accept", c3)
    step(d, "2026-11-10 09:10", "reply", c3, "马上联系")
    step(d, "2026-11-11 09:00", "resolve", c3, "已陪同就医")
    step(d, "2026-11-11 12:00", "rate", c3, "unsatisfied", "太慢")
    # c5: withdrawn: not counted.
    refs["c5"] = c5 = submit(d, "2026-11-15 09:00", "help", GRID1)
    step(d, "2026-11-15 10:00", "withdraw", c5, "已自行解决")
    # c10 (patrol, grid 2): no answer before the resolution (reply by 11-20 10:00, so the
    # resolution at 11-21 answers late), done on time, 60 min; closed without a rating.
    refs["c10"] = c10 = submit(d, "2026-11-20 09:00", "repair", GRID2, "patrol")
    step(d, "2026-11-20 09:30", "accept", c10)
    step(d, "2026-11-21 09:00", "resolve", c10, "已清理", 60)
    step(d, "2026-11-28 09:00", "close", c10)
    # c7: a consultation just after the period starts (local time; 10-31 16:30 UTC),
    # rejected within its 5 minutes: answered on time, not resolved.
    refs["c7"] = c7 = submit(d, "2026-11-01 00:30", "consult", GRID1)
    step(d, "2026-11-01 00:33", "reject", c7, "不属于社区事务")
    # c4 (walk-in, east): the last minutes of the period; answered late, open, not overdue
    # on 12-02 (resolve by the end of 12-03).
    refs["c4"] = c4 = submit(d, "2026-11-30 23:50", "repair", EAST_GRID, "walk_in")
    step(d, "2026-12-01 08:00", "accept", c4)
    step(d, "2026-12-01 08:10", "reply", c4, "今天处理")
    # c8 just before the period (local), c9 just after: never counted in November.
    refs["c8"] = submit(d, "2026-10-31 23:30", "repair", GRID1)
    refs["c9"] = submit(d, "2026-12-01 00:10", "repair", GRID1)
    return refs


def test_case_stats_figures(run, district: District, tmp_path: Path) -> None:
    seen: list[tuple[Period, AreaView]] = []

    def metrics(period: Period, area: AreaView, ctx: Context) -> list[Metric]:
        seen.append((period, area))
        return [Metric("lunches", "助餐人次", "lunches served", 31, "人次")]

    plugin = type("Plugin", (), {"c365_metrics": staticmethod(metrics)})
    clock = Clock(local("2026-11-01 00:00"))
    d = build_district(run, district, tmp_path, clock, (("meals", plugin),))
    try:
        build_cases(d)

        # The whole district in November, on 12-02 at noon.
        s = stats(d, "2026-12-02 12:00", NOVEMBER)
        assert s.area.code == "330212" and s.scope is None and s.period == NOVEMBER
        assert (s.received, s.counted, s.replied, s.replied_on_time) == (8, 6, 6, 3)
        assert (s.resolved, s.resolved_on_time, s.rated, s.satisfied) == (3, 2, 3, 2)
        assert (s.open, s.overdue_open) == (2, 1)
        assert s.response_rate == Decimal("1.0000")
        assert s.resolution_rate == Decimal("0.5000")
        assert s.satisfaction_rate == Decimal("0.6667")
        assert s.reply_on_time_rate == Decimal("0.5000")
        assert s.resolve_on_time_rate == Decimal("0.6667")
        assert (s.minutes_spent, s.minutes_average) == (180, Decimal("60.0"))
        assert [(c.key, c.count) for c in s.by_status] == [
            ("accepted", 2),
            ("closed", 3),
            ("withdrawn", 1),
            ("duplicate", 1),
            ("rejected", 1),
        ]
        assert s.by_status[1] == Count("closed", "已结案", "closed", 3)
        assert [(c.key, c.count) for c in s.by_service] == [
            ("repair", 5),
            ("help", 2),
            ("consult", 1),
        ]
        assert s.by_service[0].label_zh == "报修"
        assert [(c.key, c.count) for c in s.by_channel] == [
            ("hotline", 4),
            ("sms", 1),
            ("web", 1),
            ("walk_in", 1),
            ("patrol", 1),
        ]
        assert counts(s.by_rating) == {"satisfied": 1, "fairly_satisfied": 1, "unsatisfied": 1}
        assert s.metrics == [
            PluginMetric("meals", "lunches", "助餐人次", "lunches served", 31, "人次")
        ]
        assert seen[-1] == (NOVEMBER, s.area)
        data = s.to_json()
        assert data["response_rate"] == "1.0000" and data["period"]["start"] == "2026-11-01"
        assert data["by_channel"][0] == {
            "key": "hotline",
            "label_zh": "365热线",
            "label_en": "hotline",
            "count": 4,
        }

        # Later, c4 is overdue as well.
        assert stats(d, "2026-12-04 00:00", NOVEMBER).overdue_open == 2

        # One community's subtree: c4 (east) is out.
        s = stats(d, "2026-12-02 12:00", NOVEMBER, COMMUNITY)
        assert s.area.code == COMMUNITY and seen[-1][1].code == COMMUNITY
        assert (s.received, s.counted, s.replied, s.replied_on_time) == (7, 5, 5, 3)
        assert (s.resolved, s.resolved_on_time, s.rated, s.satisfied) == (3, 2, 3, 2)
        assert (s.open, s.overdue_open) == (1, 1)
        assert (s.response_rate, s.resolution_rate) == (Decimal("1.0000"), Decimal("0.6000"))
        assert s.reply_on_time_rate == Decimal("0.6000")
        assert counts(s.by_service) == {"repair": 4, "help": 2, "consult": 1}

        # As G2A, the A of grid 2: only c3 and c10; nobody satisfied is 0, not None.
        s = stats(d, "2026-12-02 12:00", NOVEMBER, as_handler="G2A")
        assert s.scope == "G2A"
        assert (s.received, s.counted, s.replied, s.replied_on_time) == (2, 2, 2, 1)
        assert (s.resolved, s.rated, s.satisfied) == (1, 1, 0)
        assert s.satisfaction_rate == Decimal("0.0000")
        assert s.resolution_rate == Decimal("0.5000")
        assert (s.minutes_spent, s.minutes_average) == (60, Decimal("60.0"))
        # ... and G2A sees nothing in the east community.
        assert stats(d, "2026-12-02 12:00", NOVEMBER, EAST, as_handler="G2A").received == 0

        # December holds c9 only: nothing answered or rated, so no division by zero.
        december = Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1))
        s = stats(d, "2026-12-02 12:00", december)
        assert (s.received, s.counted, s.replied, s.resolved, s.rated) == (1, 1, 0, 0, 0)
        assert s.response_rate == Decimal("0.0000") and s.resolution_rate == Decimal("0.0000")
        assert s.satisfaction_rate is None
        assert s.reply_on_time_rate is None and s.resolve_on_time_rate is None
        assert s.minutes_average is None and s.minutes_spent == 0
        assert counts(s.by_status) == {"assigned": 1} and s.by_rating == []

        # October's last half hour holds c8; an empty period gives zeros and Nones.
        october = inclusive_period(dt.date(2026, 10, 31), dt.date(2026, 10, 31))
        assert stats(d, "2026-12-02 12:00", october).received == 1
        s = stats(d, "2026-12-02 12:00", Period(dt.date(2027, 1, 1), dt.date(2027, 2, 1)))
        assert (s.received, s.counted, s.open, s.overdue_open) == (0, 0, 0, 0)
        assert s.response_rate is None and s.resolution_rate is None
        assert s.satisfaction_rate is None and s.minutes_average is None
        assert s.by_status == s.by_service == s.by_channel == s.by_rating == []
        assert s.to_json()["response_rate"] is None

        with pytest.raises(NotFound):
            stats(d, "2026-12-02 12:00", NOVEMBER, "999999")
    finally:
        d.engine.dispose()
