"""Routing (派单): who takes a case, and why.

Duty candidates come from the nearest area, at or above the case's area, that has a duty
for the case's service group (a duty without a group covers every group). There the
available A (primary) is chosen, else B (backup, AB角), else the grid leader (网格长); if
nobody there is available, the next area up is tried. Plugins propose candidates of
their own with a score on the same scale as the roles (A 3, B 2, leader 1): a proposal
scoring above 3 wins over the A of the area. On equal scores a duty for the case's own
group comes first, then a duty for every group, then a proposal; then the least loaded
(fewest open cases), then the lower code. Every choice carries the reason it was made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from sqlalchemy import bindparam, func, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from community365.db.schema import areas, cases, duties, handlers
from community365.registry.handlers import AVAILABLE, availability_params
from community365.values import OPEN_STATUSES, Candidate

ROLE_SCORES = {"A": 3.0, "B": 2.0, "leader": 1.0}
ROLE_NAMES = {"A": "A角", "B": "B角", "leader": "网格长 leader"}


@attrs.frozen
class Choice:
    """The routing decision: the handler (None when nobody could be found) and why."""

    handler_id: int | None
    handler_code: str | None
    reason: str


@attrs.frozen
class _Option:
    handler_id: int
    code: str
    score: float
    load: int
    reason: str
    # On equal scores: a duty for the case's own group (0), then one for every group (1),
    # then a plugin's proposal (2).
    tier: int = 2

    def rank(self) -> tuple[float, int, int, str]:
        return (-self.score, self.tier, self.load, self.code)


def _ancestors_query() -> Any:
    up = aliased(areas, name="up")
    chain = (
        select(areas.c.id, areas.c.code, areas.c.parent_id, literal(0).label("depth"))
        .where(areas.c.id == bindparam("area_id"))
        .cte("chain", recursive=True)
    )
    chain = chain.union_all(
        select(up.c.id, up.c.code, up.c.parent_id, chain.c.depth + 1).where(
            up.c.id == chain.c.parent_id
        )
    )
    return select(chain.c.id, chain.c.code).order_by(chain.c.depth)


def _load() -> Any:
    return (
        select(func.count())
        .where(cases.c.handler_id == handlers.c.id, cases.c.status.in_(OPEN_STATUSES))
        .correlate(handlers)
        .scalar_subquery()
    )


# Built once, executed with parameters: routing runs for every case.
ANCESTORS = _ancestors_query()
DUTY_ROWS = (
    select(
        duties.c.area_id,
        duties.c.role,
        duties.c.service_group,
        handlers.c.id,
        handlers.c.code,
        AVAILABLE.label("available"),
        _load().label("load"),
    )
    .select_from(duties.join(handlers, handlers.c.id == duties.c.handler_id))
    .where(
        duties.c.area_id.in_(bindparam("area_ids", expanding=True)),
        duties.c.service_group.in_([bindparam("group"), ""]),
    )
)
PROPOSED = select(
    handlers.c.id, handlers.c.code, AVAILABLE.label("available"), _load().label("load")
).where(handlers.c.code.in_(bindparam("codes", expanding=True)))


def ancestors(conn: Connection, area_id: int) -> list[tuple[int, str]]:
    """The area and those above it, nearest first, as (id, code)."""
    return [(row.id, row.code) for row in conn.execute(ANCESTORS, {"area_id": area_id})]


def _plugin_options(
    conn: Connection,
    proposals: Iterable[tuple[str, Candidate]],
    at: dt.datetime,
    tz: ZoneInfo,
    exclude: set[int],
) -> tuple[list[_Option], list[str]]:
    """Plugins' proposals that name an available handler; and why others were dropped."""
    proposals = list(proposals)
    if not proposals:
        return [], []
    params = {"codes": sorted({c.handler_code for _, c in proposals})}
    rows = {r.code: r for r in conn.execute(PROPOSED, params | availability_params(at, tz))}
    options, dropped = [], []
    for plugin, c in proposals:
        row = rows.get(c.handler_code)
        if row is None or not row.available or row.id in exclude:
            why = "unknown" if row is None else "unavailable" if not row.available else "excluded"
            dropped.append(f"{plugin} proposed {c.handler_code} ({why})")
            continue
        options.append(_Option(row.id, row.code, c.score, row.load, f"{plugin}: {c.reason}"))
    return options, dropped


def choose(
    conn: Connection,
    area_id: int,
    group: str,
    proposals: Iterable[tuple[str, Candidate]],
    at: dt.datetime,
    tz: ZoneInfo,
    exclude: Iterable[int] = (),
) -> Choice:
    """Choose the handler for a case in ``area_id`` of service ``group`` at ``at``.

    ``exclude`` are handlers who must not get it again (they refused or passed it on).
    """
    excluded = set(exclude)
    chain = ancestors(conn, area_id)
    params = {"area_ids": [aid for aid, _ in chain], "group": group}
    rows = conn.execute(DUTY_ROWS, params | availability_params(at, tz)).all()
    passed_over: list[str] = []
    duty_options: list[_Option] = []
    for aid, code in chain:
        here = sorted(
            (r for r in rows if r.area_id == aid),
            key=lambda r: (-ROLE_SCORES[r.role], r.service_group == "", r.load, r.code),
        )
        for row in here:
            if row.available and row.id not in excluded:
                duty_options.append(
                    _Option(
                        row.id,
                        row.code,
                        ROLE_SCORES[row.role],
                        row.load,
                        f"{ROLE_NAMES[row.role]} of {code}, {row.load} open",
                        1 if row.service_group == "" else 0,
                    )
                )
            else:
                why = "passed it on" if row.id in excluded else "unavailable"
                passed_over.append(f"{row.code} ({row.role}, {why})")
        if duty_options:
            break
    plugin_options, dropped = _plugin_options(conn, proposals, at, tz, excluded)
    options = sorted([*duty_options, *plugin_options], key=_Option.rank)
    notes = passed_over + dropped
    if not options:
        where = chain[0][1]
        return Choice(
            None, None, f"nobody available for {group} at {where} or above" + _also(notes)
        )
    best = options[0]
    return Choice(best.handler_id, best.code, best.reason + _also(notes))


def _also(notes: list[str]) -> str:
    return f"; passed over: {', '.join(notes)}" if notes else ""
