"""Cases and their events in the database: the one place a case row is written.

Every change goes through :func:`apply`, which updates the case row and appends the
event that carries the same changes, in the caller's transaction. Replaying a case's
events (:func:`replay`) therefore rebuilds its row, which the tests check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.orm import aliased

from community365.db.schema import areas, case_counters, case_events, cases, handlers, households
from community365.errors import NotFound
from community365.values import CaseView, Context

DATETIME_COLUMNS = frozenset(
    (
        "received_at",
        "reply_by",
        "resolve_by",
        "accepted_at",
        "replied_at",
        "resolved_at",
        "closed_at",
    )
)
DATE_COLUMNS = frozenset(("escalated_on",))
# The columns an event may change, and the ones the submit event records in full.
CASE_COLUMNS = tuple(c.name for c in cases.columns if c.name != "id")

_receiver = aliased(handlers, name="receiver")
_duplicate_of = aliased(cases, name="original")


def _view_query() -> Any:
    return select(
        cases,
        areas.c.code.label("area_code"),
        handlers.c.code.label("handler_code"),
        _receiver.c.code.label("receiver_code"),
        households.c.code.label("household_code"),
        _duplicate_of.c.ref.label("duplicate_ref"),
    ).select_from(
        cases.join(areas, areas.c.id == cases.c.area_id)
        .outerjoin(handlers, handlers.c.id == cases.c.handler_id)
        .outerjoin(_receiver, _receiver.c.id == cases.c.receiver_id)
        .outerjoin(households, households.c.id == cases.c.household_id)
        .outerjoin(_duplicate_of, _duplicate_of.c.id == cases.c.duplicate_of)
    )


def to_view(row: RowMapping) -> CaseView:
    return CaseView(
        ref=row["ref"],
        service=row["service"],
        status=row["status"],
        channel=row["channel"],
        area_code=row["area_code"],
        text=row["text"],
        received_at=row["received_at"],
        reply_by=row["reply_by"],
        resolve_by=row["resolve_by"],
        handler_code=row["handler_code"],
        reporter_id=row["reporter_id"],
        fields=row["fields"] or {},
        service_group=row["service_group"],
        household_code=row["household_code"],
        contact=row["contact"],
        receiver_code=row["receiver_code"],
        accepted_at=row["accepted_at"],
        replied_at=row["replied_at"],
        resolved_at=row["resolved_at"],
        closed_at=row["closed_at"],
        outcome=row["outcome"],
        minutes_spent=row["minutes_spent"],
        rating=row["rating"],
        rating_comment=row["rating_comment"],
        extensions=row["extensions"],
        reworks=row["reworks"],
        repeats=row["repeats"],
        escalation=row["escalation"],
        escalated_on=row["escalated_on"],
        duplicate_of=row["duplicate_ref"],
    )


def view_query() -> Any:
    """The select every case list starts from: case columns plus the codes it refers to."""
    return _view_query()


# The statements every step runs, built once and executed with parameters.
_VIEW_BY_REF = _view_query().where(cases.c.ref == bindparam("ref"))
_VIEW_BY_REF_LOCKED = _VIEW_BY_REF.with_for_update(of=cases)
_ROW_BY_REF = select(cases).where(cases.c.ref == bindparam("ref"))
_INSERT_EVENT = insert(case_events)
_INSERT_CASE = insert(cases).returning(*cases.c)
_UPDATES: dict[tuple[str, ...], Any] = {}


def get_case(conn: Connection, ref: str) -> CaseView:
    row = conn.execute(_VIEW_BY_REF, {"ref": ref}).mappings().first()
    if row is None:
        raise NotFound(f"no case {ref!r}")
    return to_view(row)


def view_row(conn: Connection, ref: str) -> RowMapping:
    """The case's row with the codes it refers to (what :func:`to_view` reads), locked
    for update on PostgreSQL: what a step reads before it changes the case."""
    found = conn.execute(_VIEW_BY_REF_LOCKED, {"ref": ref}).mappings().first()
    if found is None:
        raise NotFound(f"no case {ref!r}")
    return found


def case_row(conn: Connection, ref: str) -> RowMapping:
    """The case's own row (columns of ``cases`` only)."""
    row = conn.execute(_ROW_BY_REF, {"ref": ref})
    found = row.mappings().first()
    if found is None:
        raise NotFound(f"no case {ref!r}")
    return found


def _update(columns: tuple[str, ...]) -> Any:
    """The UPDATE of these columns of one case (by ``case_id``), built once per set."""
    statement = _UPDATES.get(columns)
    if statement is None:
        statement = (
            update(cases)
            .where(cases.c.id == bindparam("case_id"))
            .values({name: bindparam(f"new_{name}") for name in columns})
        )
        _UPDATES[columns] = statement
    return statement


def next_ref(conn: Connection, year: int) -> str:
    """The next reference of ``year``, e.g. 2026-000123; safe under concurrent writers.

    One upsert: the first case of a year inserts the counter row, later ones bump it. A
    writer that meets a counter row another transaction has just inserted or bumped waits
    for it (the row lock, or SQLite's write lock) and then bumps it in turn; an UPDATE
    followed by an INSERT when it found nothing would fail on the primary key instead.
    """
    bumped = conn.execute(_BUMP[conn.dialect.name], {"year": year}).scalar_one()
    return f"{year}-{bumped:06d}"


def _bump(dialect: Any) -> Any:
    return (
        dialect.insert(case_counters)
        .values(year=bindparam("year"), last=1)
        .on_conflict_do_update(
            index_elements=[case_counters.c.year], set_={"last": case_counters.c.last + 1}
        )
        .returning(case_counters.c.last)
    )


_BUMP = {"postgresql": _bump(postgresql), "sqlite": _bump(sqlite)}


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _decode(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key in DATETIME_COLUMNS:
        return dt.datetime.fromisoformat(value)
    if key in DATE_COLUMNS:
        return dt.date.fromisoformat(value)
    return value


def encode(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Changes as JSON values: datetimes as ISO strings in UTC, dates as ISO dates."""
    return {k: _encode(v) for k, v in changes.items()}


def decode(changes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _decode(k, v) for k, v in changes.items()}


def insert_case(ctx: Context, values: Mapping[str, Any], note: str = "") -> RowMapping:
    """Store a new case and its submit event; return its row."""
    row = ctx.connection.execute(_INSERT_CASE, dict(values)).mappings().one()
    _event(ctx, row["id"], "submit", None, values["status"], dict(values), note)
    return row


def apply(
    ctx: Context,
    row: Mapping[str, Any],
    action: str,
    changes: Mapping[str, Any],
    note: str = "",
) -> None:
    """Write ``changes`` to the case and append the event that records them."""
    if changes:
        columns = tuple(sorted(changes))
        params = {f"new_{name}": value for name, value in changes.items()}
        ctx.connection.execute(_update(columns), {**params, "case_id": row["id"]})
    to_status = changes.get("status", row["status"])
    _event(ctx, row["id"], action, row["status"], to_status, dict(changes), note)


def _event(
    ctx: Context,
    case_id: int,
    action: str,
    from_status: str | None,
    to_status: str,
    changes: dict[str, Any],
    note: str,
) -> None:
    ctx.connection.execute(
        _INSERT_EVENT,
        {
            "case_id": case_id,
            "at": ctx.now,
            "actor": ctx.actor,
            "action": action,
            "from_status": from_status,
            "to_status": to_status,
            "note": note,
            "changes": encode(changes),
        },
    )


def events_of(conn: Connection, case_id: int) -> list[RowMapping]:
    query = select(case_events).where(case_events.c.case_id == case_id).order_by(case_events.c.id)
    return list(conn.execute(query).mappings())


def replay(conn: Connection, case_id: int) -> dict[str, Any]:
    """The case row rebuilt from its events alone."""
    state: dict[str, Any] = {}
    for event in events_of(conn, case_id):
        state.update(decode(event["changes"]))
    return state
