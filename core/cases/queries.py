"""Finding cases: lists with filters, and one case with its whole history (民情日记)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs
from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection

from community365.cases import store
from community365.cases.scope import Actor
from community365.db.schema import areas, cases, handlers
from community365.errors import NotFound
from community365.values import OPEN_STATUSES, CaseView


@attrs.frozen
class CaseQuery:
    """Filters of a case list; each applies when given. ``received_from``/``received_to``
    are instants (the CLI turns local dates into them); ``overdue_at`` keeps the open
    cases past a deadline at that instant."""

    statuses: Sequence[str] = ()
    area: str | None = None
    handler: str | None = None
    service: str | None = None
    channel: str | None = None
    received_from: dt.datetime | None = None
    received_to: dt.datetime | None = None
    overdue_at: dt.datetime | None = None
    limit: int | None = None


@attrs.frozen
class EventView:
    """One line of a case's history."""

    at: dt.datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str
    note: str
    changes: dict[str, Any]


def past_deadline(at: dt.datetime) -> Any:
    """Past the resolve deadline at ``at``, or unanswered past the reply deadline (the SQL
    twin of :meth:`CaseView.is_overdue`)."""
    return or_(cases.c.resolve_by < at, and_(cases.c.replied_at.is_(None), cases.c.reply_by < at))


def overdue(at: dt.datetime) -> Any:
    """Open cases past a deadline at ``at`` (超期)."""
    return and_(cases.c.status.in_(OPEN_STATUSES), past_deadline(at))


def list_cases(conn: Connection, query: CaseQuery, actor: Actor | None = None) -> list[CaseView]:
    """Cases matching ``query`` (newest first) that ``actor`` may see."""
    stmt = store.view_query()
    if query.statuses:
        stmt = stmt.where(cases.c.status.in_(query.statuses))
    if query.area is not None:
        if conn.execute(select(areas.c.id).where(areas.c.code == query.area)).first() is None:
            raise NotFound(f"no area with code {query.area!r}")
        stmt = stmt.where(areas.c.code.startswith(query.area, autoescape=True))
    if query.handler is not None:
        hid = conn.execute(select(handlers.c.id).where(handlers.c.code == query.handler)).scalar()
        if hid is None:
            raise NotFound(f"no handler with code {query.handler!r}")
        stmt = stmt.where(cases.c.handler_id == hid)
    if query.service is not None:
        stmt = stmt.where(cases.c.service == query.service)
    if query.channel is not None:
        stmt = stmt.where(cases.c.channel == query.channel)
    if query.received_from is not None:
        stmt = stmt.where(cases.c.received_at >= query.received_from)
    if query.received_to is not None:
        stmt = stmt.where(cases.c.received_at < query.received_to)
    if query.overdue_at is not None:
        stmt = stmt.where(overdue(query.overdue_at))
    if actor is not None:
        stmt = stmt.where(actor.where())
    stmt = stmt.order_by(cases.c.received_at.desc(), cases.c.id.desc())
    if query.limit is not None:
        stmt = stmt.limit(query.limit)
    return [store.to_view(row) for row in conn.execute(stmt).mappings()]


def case_history(
    conn: Connection, ref: str, actor: Actor | None = None
) -> tuple[CaseView, list[EventView]]:
    """The case and its events, oldest first; NotFound also when ``actor`` may not see it."""
    stmt = store.view_query().where(cases.c.ref == ref)
    if actor is not None:
        stmt = stmt.where(actor.where())
    row = conn.execute(stmt).mappings().first()
    if row is None:
        raise NotFound(f"no case {ref!r}" + (f" in {actor.code}'s areas" if actor else ""))
    events = [
        EventView(
            at=e["at"],
            actor=e["actor"],
            action=e["action"],
            from_status=e["from_status"],
            to_status=e["to_status"],
            note=e["note"],
            changes=store.decode(e["changes"]),
        )
        for e in store.events_of(conn, row["id"])
    ]
    return store.to_view(row), events
