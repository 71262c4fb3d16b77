"""评议: case statistics for a period and an area subtree (`c365 case stats`).

The cases counted are those *received* in the period, in the area's subtree (area codes
are hierarchical: the subtree is ``code LIKE 'prefix%'``), and, when an acting handler is
given, in that handler's scope (:meth:`Actor.where`). Every figure comes from SQL
aggregation: one query of conditional counts, and one ``GROUP BY`` per breakdown.

Definitions (``counted`` leaves out withdrawn and duplicate cases, which are not demands of
their own; every rate is over counted cases):

    响应率 response rate        replied / counted
    解决率 resolution rate      resolved / counted, where resolved means status resolved or
                                closed with a resolution time
    满意率 satisfaction rate    (satisfied + fairly satisfied) / rated
    按时答复率 reply on time     replied by the reply deadline / replied
    按时办结率 resolve on time   resolved by the resolve deadline / resolved
    超期未办结 overdue open      still open (received, assigned, accepted) and past the
                                resolve deadline at ``ctx.now``

Rates are :class:`Decimal` with four places (0.8333), or None when the denominator is 0.
The breakdowns by status, service and channel cover every received case (each sums to
``received``); the rating breakdown covers the counted cases that were rated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import and_, case, func, select
from sqlalchemy.sql import ColumnElement

from community365.cases.labels import CHANNEL_LABELS, RATING_LABELS, STATUS_LABELS
from community365.cases.queries import past_deadline
from community365.db.schema import CASE_STATUSES, areas, cases
from community365.registry.areas import get_area
from community365.values import (
    CHANNELS,
    OPEN_STATUSES,
    AreaView,
    Context,
    Period,
)

if TYPE_CHECKING:
    from community365.cases.scope import Actor
    from community365.district import District

RATE_PLACES = Decimal("0.0001")
AVERAGE_PLACES = Decimal("0.1")
NOT_COUNTED = ("withdrawn", "duplicate")
RESOLVED_STATUSES = ("resolved", "closed")
SATISFIED = ("satisfied", "fairly_satisfied")

# Labels for the CLI: figure key → (Chinese, English).
LABELS: dict[str, tuple[str, str]] = {
    "received": ("受理总数", "received"),
    "counted": ("有效诉求", "counted (not withdrawn or duplicate)"),
    "replied": ("已答复", "replied"),
    "replied_on_time": ("按时答复", "replied on time"),
    "resolved": ("已办结", "resolved"),
    "resolved_on_time": ("按时办结", "resolved on time"),
    "rated": ("已评价", "rated"),
    "satisfied": ("满意及基本满意", "satisfied or fairly satisfied"),
    "open": ("在办", "open"),
    "overdue_open": ("超期", "open and past a deadline now"),
    "response_rate": ("响应率", "response rate"),
    "resolution_rate": ("解决率", "resolution rate"),
    "satisfaction_rate": ("满意率", "satisfaction rate"),
    "reply_on_time_rate": ("按时答复率", "reply on-time rate"),
    "resolve_on_time_rate": ("按时办结率", "resolve on-time rate"),
    "minutes_spent": ("办理用时（分钟）", "minutes spent"),
    "minutes_average": ("平均用时（分钟）", "average minutes spent"),
    "by_status": ("按状态", "by status"),
    "by_service": ("按服务", "by service"),
    "by_channel": ("按渠道", "by channel"),
    "by_rating": ("按评价", "by rating"),
    "metrics": ("插件指标", "plugin metrics"),
}


def rate(numerator: int, denominator: int) -> Decimal | None:
    """``numerator / denominator`` to four places (half up); None when nothing to divide by."""
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATE_PLACES, ROUND_HALF_UP)


def inclusive_period(first: dt.date, last: dt.date) -> Period:
    """The :class:`Period` (half-open ``[start, end)``) covering ``first`` to ``last``
    inclusive, as a CLI's ``--from``/``--to`` give them."""
    if last < first:
        raise ValueError(f"period: {last} is before {first}")
    return Period(first, last + dt.timedelta(days=1))


def period_bounds(period: Period, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The period's instants in UTC: local midnight of ``start`` and of ``end``."""
    return local_midnight(period.start, tz), local_midnight(period.end, tz)


def local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The start of ``day`` in ``tz``, as an aware UTC datetime."""
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)


@attrs.frozen
class Count:
    """One line of a breakdown: a key (status, service code, channel, rating), its
    labels and how many cases."""

    key: str
    label_zh: str
    label_en: str
    count: int


@attrs.frozen
class PluginMetric:
    """A plugin's :class:`~community365.values.Metric`, with the plugin's name."""

    plugin: str
    key: str
    label_zh: str
    label_en: str
    value: int | Decimal
    unit: str = ""


@attrs.frozen
class CaseStats:
    """The figures of :func:`case_stats`; see the module docstring for each definition.

    ``scope`` is the acting handler's code when the figures were limited to their cases.
    ``minutes_spent`` sums the time recorded on resolution; ``minutes_average`` is over
    the resolved cases that recorded a time (one decimal place).
    """

    period: Period
    area: AreaView
    scope: str | None
    received: int
    counted: int
    replied: int
    replied_on_time: int
    resolved: int
    resolved_on_time: int
    rated: int
    satisfied: int
    open: int
    overdue_open: int
    response_rate: Decimal | None
    resolution_rate: Decimal | None
    satisfaction_rate: Decimal | None
    reply_on_time_rate: Decimal | None
    resolve_on_time_rate: Decimal | None
    minutes_spent: int
    minutes_average: Decimal | None
    by_status: list[Count]
    by_service: list[Count]
    by_channel: list[Count]
    by_rating: list[Count]
    metrics: list[PluginMetric]

    def to_json(self) -> dict[str, Any]:
        """Plain dicts and lists; Decimals as strings ("0.8333"), dates as ISO strings."""
        return attrs.asdict(self, value_serializer=plain)


def plain(_inst: Any, _field: Any, value: Any) -> Any:
    """attrs.asdict's value_serializer for JSON output: Decimals and dates as strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _count(condition: ColumnElement[bool]) -> Any:
    return func.count(case((condition, 1)))


def case_stats(
    district: District,
    ctx: Context,
    period: Period,
    area_code: str | None = None,
    actor: Actor | None = None,
) -> CaseStats:
    """The statistics of the cases received in ``period`` in ``area_code``'s subtree
    (None: the whole district, reported under its root area), limited to what ``actor``
    sees when given (from ``acting_handler(conn, ctx.actor)``).

    ``period`` is half-open, ``[start, end)``, in local dates of ``ctx.tz`` (see
    :func:`inclusive_period`). Plugins' metrics are asked for the same period and area.
    Raises NotFound for an unknown area code.
    """
    conn = ctx.connection
    area = get_area(conn, area_code) if area_code is not None else _root_area(conn)
    start, end = period_bounds(period, ctx.tz)
    where: list[ColumnElement[bool]] = [cases.c.received_at >= start, cases.c.received_at < end]
    if area_code is not None:
        where.append(areas.c.code.startswith(area.code, autoescape=True))
    if actor is not None:
        where.append(actor.where())
    source = cases.join(areas, areas.c.id == cases.c.area_id)

    counted = cases.c.status.not_in(NOT_COUNTED)
    replied = and_(counted, cases.c.replied_at.is_not(None))
    resolved = and_(
        counted, cases.c.status.in_(RESOLVED_STATUSES), cases.c.resolved_at.is_not(None)
    )
    rated = and_(counted, cases.c.rating.is_not(None))
    is_open = cases.c.status.in_(OPEN_STATUSES)
    timed = and_(resolved, cases.c.minutes_spent.is_not(None))
    totals = (
        conn.execute(
            select(
                func.count().label("received"),
                _count(counted).label("counted"),
                _count(replied).label("replied"),
                _count(and_(replied, cases.c.replied_at <= cases.c.reply_by)).label(
                    "replied_on_time"
                ),
                _count(resolved).label("resolved"),
                _count(and_(resolved, cases.c.resolved_at <= cases.c.resolve_by)).label(
                    "resolved_on_time"
                ),
                _count(rated).label("rated"),
                _count(and_(rated, cases.c.rating.in_(SATISFIED))).label("satisfied"),
                _count(is_open).label("open"),
                _count(and_(is_open, past_deadline(ctx.now))).label("overdue_open"),
                _count(timed).label("timed"),
                func.coalesce(func.sum(case((timed, cases.c.minutes_spent))), 0).label("minutes"),
            )
            .select_from(source)
            .where(*where)
        )
        .mappings()
        .one()
    )

    def grouped(column: Any, *extra: ColumnElement[bool]) -> dict[str, int]:
        query = (
            select(column, func.count()).select_from(source).where(*where, *extra).group_by(column)
        )
        return {key: n for key, n in conn.execute(query)}

    # A service no longer in the catalogue (its plugin disabled) shows its code.
    service_labels = {s.code: (s.name_zh, s.name_en) for s in district.catalogue.specs}
    minutes = int(totals["minutes"])
    return CaseStats(
        period=period,
        area=area,
        scope=actor.code if actor is not None else None,
        received=totals["received"],
        counted=totals["counted"],
        replied=totals["replied"],
        replied_on_time=totals["replied_on_time"],
        resolved=totals["resolved"],
        resolved_on_time=totals["resolved_on_time"],
        rated=totals["rated"],
        satisfied=totals["satisfied"],
        open=totals["open"],
        overdue_open=totals["overdue_open"],
        response_rate=rate(totals["replied"], totals["counted"]),
        resolution_rate=rate(totals["resolved"], totals["counted"]),
        satisfaction_rate=rate(totals["satisfied"], totals["rated"]),
        reply_on_time_rate=rate(totals["replied_on_time"], totals["replied"]),
        resolve_on_time_rate=rate(totals["resolved_on_time"], totals["resolved"]),
        minutes_spent=minutes,
        minutes_average=(
            (Decimal(minutes) / totals["timed"]).quantize(AVERAGE_PLACES, ROUND_HALF_UP)
            if totals["timed"]
            else None
        ),
        by_status=_counts(grouped(cases.c.status), STATUS_LABELS, CASE_STATUSES),
        by_service=_counts(grouped(cases.c.service), service_labels, ()),
        by_channel=_counts(grouped(cases.c.channel), CHANNEL_LABELS, CHANNELS),
        by_rating=_counts(grouped(cases.c.rating, rated), RATING_LABELS, tuple(RATING_LABELS)),
        metrics=[
            PluginMetric(plugin, m.key, m.label_zh, m.label_en, m.value, m.unit)
            for plugin, m in district.host.metrics(period, area, ctx)
        ],
    )


def _counts(
    found: Mapping[str, int], labels: Mapping[str, tuple[str, str]], order: tuple[str, ...]
) -> list[Count]:
    """Non-zero counts: keys of ``order`` first in that order, then the rest by count
    (descending) and key."""
    rank = {key: i for i, key in enumerate(order)}
    keys = sorted(found, key=lambda k: (rank.get(k, len(rank)), -found[k], k))
    return [Count(k, *labels.get(k, (k, k)), found[k]) for k in keys if found[k]]


def _root_area(conn: Any) -> AreaView:
    """The district's root: the area without a parent (the lowest code if several)."""
    code = conn.execute(
        select(areas.c.code).where(areas.c.parent_id.is_(None)).order_by(areas.c.code).limit(1)
    ).scalar()
    if code is None:
        return AreaView(code="", name="", level="", parent_code=None)
    return get_area(conn, code)
