"""Handlers: who can take a case, what they can do, whether they are available, where
they answer.

A handler is a staff member (工作人员, 社工, 网格员), a volunteer (志愿者, linked to the
resident they are when known), a team (志愿服务队, 调解队) or an organisation (物业公司,
社会组织). A duty makes a handler answer for one area, for one service group or for all
of them (``''``), as A (primary, A角), B (backup, B角) or grid leader (网格长). When a
handler works (leave, weekly shifts) is kept by :mod:`community365.registry.schedule`.

Imports write through :func:`upsert_handlers` and :func:`upsert_duties`: references are
resolved for the whole batch with one query each and rows are written with
``INSERT ... ON CONFLICT`` (:mod:`community365.db.bulk`), so a batch costs the same few
statements whatever its size. The single-record functions the CLI uses go through the
same path where they can.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from sqlalchemy import (
    ColumnElement,
    Time,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from community365.db import bulk
from community365.db.schema import (
    areas,
    duties,
    handler_leave,
    handler_shifts,
    handler_skills,
    handlers,
    persons,
)
from community365.errors import FieldError, NotFound
from community365.registry import fields
from community365.registry.areas import area_id
from community365.registry.contact import mask_id_number

# -- vocabulary ---------------------------------------------------------------------------

KIND_NAMES: dict[str, str] = {
    "staff": "工作人员",
    "volunteer": "志愿者",
    "team": "队伍",
    "organisation": "组织",
}
ROLE_NAMES: dict[str, str] = {"A": "A角", "B": "B角", "leader": "网格长"}
ROLE_ORDER: tuple[str, ...] = ("A", "B", "leader")


# Keys are lower-case: English words match in any case.
_KIND_ALIASES: dict[str, str] = {
    **{kind: kind for kind in KIND_NAMES},
    "organization": "organisation",
    "工作人员": "staff",
    "社工": "staff",
    "网格员": "staff",
    "志愿者": "volunteer",
    "队伍": "team",
    "志愿服务队": "team",
    "调解队": "team",
    "组织": "organisation",
    "单位": "organisation",
    "物业公司": "organisation",
    "社会组织": "organisation",
}
_ROLE_ALIASES: dict[str, str] = {
    "a": "A",
    "a角": "A",
    "b": "B",
    "b角": "B",
    "leader": "leader",
    "网格长": "leader",
}

# -- records and views ----------------------------------------------------------------------


@attrs.frozen
class HandlerRecord:
    """One handler as an import or the CLI gives it.

    ``phone`` and ``id_number`` None leave a stored value alone; ``skills`` None leaves the
    stored skills alone, a tuple (even empty) replaces them.
    """

    code: str
    name: str
    kind: str
    phone: str | None = None
    id_number: str | None = None
    skills: tuple[str, ...] | None = None


@attrs.frozen
class DutyRecord:
    """One duty: ``service_group`` '' means every service group."""

    handler_code: str
    area_code: str
    role: str
    service_group: str = ""


@attrs.frozen
class HandlerView:
    id: int
    code: str
    name: str
    kind: str
    phone: str | None
    active: bool
    person_id: int | None
    skills: tuple[str, ...] = ()


@attrs.frozen
class DutyView:
    handler_code: str
    handler_name: str
    handler_active: bool
    area_code: str
    area_name: str
    role: str
    service_group: str


# -- parsing --------------------------------------------------------------------------------


def parse_kind(text: str) -> str:
    """``staff``, ``volunteer``, ``team`` or ``organisation`` from English or Chinese."""
    known = ", ".join(f"{key} ({name})" for key, name in KIND_NAMES.items())
    return fields.choice("kind", _KIND_ALIASES, text, f"kinds: {known}")


def parse_role(text: str) -> str:
    """``A``, ``B`` or ``leader`` from those or from A角, B角, 网格长."""
    return fields.choice("role", _ROLE_ALIASES, text, "A or A角, B or B角, leader or 网格长")


def parse_skills(text: str) -> tuple[str, ...]:
    """Skills split on ; ， , 、 | and spaces, in order, each once."""
    return fields.words("skills", text)


def parse_handler(raw: Mapping[str, str]) -> HandlerRecord:
    """A handler from raw strings keyed code, name, kind, phone, id_number, skills.

    An absent ``skills`` key leaves a stored handler's skills alone; a present one, even
    empty, replaces them. Raises FieldError on the first bad field.
    """
    code = fields.code(raw, "code")
    name = fields.required(raw, "name", 100)
    kind = parse_kind(fields.required(raw, "kind", 40))
    phone = fields.phone(raw.get("phone"))
    id_text = fields.text(raw, "id_number")
    id_number = fields.id_number(id_text).number if id_text else None
    if id_number and kind in ("team", "organisation"):
        raise FieldError("id_number", f"a {kind} is not a person; only staff and volunteers are")
    skills = raw.get("skills")
    return HandlerRecord(
        code, name, kind, phone, id_number, None if skills is None else parse_skills(skills)
    )


def parse_duty(raw: Mapping[str, str]) -> DutyRecord:
    """A duty from raw strings keyed handler, area, role, service_group (optional)."""
    handler = fields.code(raw, "handler")
    area = fields.required(raw, "area", 32)
    if not (area.isascii() and area.isdigit()):
        raise FieldError("area", f"area codes are digits only, got {area!r}")
    role = parse_role(fields.required(raw, "role", 10))
    group = fields.bounded("service_group", fields.text(raw, "service_group"), 40)
    return DutyRecord(handler_code=handler, area_code=area, role=role, service_group=group)


# -- bulk writes ----------------------------------------------------------------------------

_HANDLER_COLUMNS = ("code", "name", "kind", "phone", "person_id")
# An import without a phone or ID number column must not wipe the stored ones.
_HANDLER_UPDATE = {
    "name": "excluded.name",
    "kind": "excluded.kind",
    "phone": bulk.kept(handlers, "phone"),
    "person_id": bulk.kept(handlers, "person_id"),
}
_DUTY_COLUMNS = ("handler_id", "area_id", "service_group", "role")


def upsert_handlers(
    conn: Connection, records: Sequence[HandlerRecord]
) -> list[tuple[int, FieldError]]:
    """Insert or update handlers by code; replace skills where a record gives them.

    Returns ``(index, FieldError)`` for each record whose ID number matches no person;
    those are not written. Of records sharing a code, the last one written wins. Never
    commits.
    """
    person_ids = bulk.lookup(
        conn, persons.c.id_number, persons.c.id, (r.id_number for r in records if r.id_number)
    )
    problems: list[tuple[int, FieldError]] = []
    latest: dict[str, HandlerRecord] = {}
    for index, record in enumerate(records):
        if record.id_number and record.id_number not in person_ids:
            shown = mask_id_number(record.id_number)
            problems.append((index, FieldError("id_number", f"no person with ID number {shown}")))
        else:
            latest[record.code] = record
    rows = [
        (r.code, r.name, r.kind, r.phone, person_ids.get(r.id_number) if r.id_number else None)
        for r in latest.values()
    ]
    bulk.upsert_rows(conn, handlers, _HANDLER_COLUMNS, rows, key=["code"], update=_HANDLER_UPDATE)
    _replace_skills(conn, [r for r in latest.values() if r.skills is not None])
    return problems


def _replace_skills(conn: Connection, records: Sequence[HandlerRecord]) -> None:
    if not records:
        return
    ids = bulk.lookup(conn, handlers.c.code, handlers.c.id, (r.code for r in records))
    for batch in bulk.batches(conn, ids.values()):
        conn.execute(
            delete(handler_skills).where(bulk.among(conn, handler_skills.c.handler_id, batch))
        )
    rows = [{"handler_id": ids[r.code], "skill": s} for r in records for s in r.skills or ()]
    if rows:
        conn.execute(insert(handler_skills), rows)


def upsert_duties(conn: Connection, records: Sequence[DutyRecord]) -> list[tuple[int, FieldError]]:
    """Insert duties that are not there yet; a duty already there is left as it is.

    Returns ``(index, FieldError)`` for each record whose handler or area code matches
    nothing; those are not written. Never commits.
    """
    handler_ids = bulk.lookup(
        conn, handlers.c.code, handlers.c.id, (r.handler_code for r in records)
    )
    area_ids = bulk.lookup(conn, areas.c.code, areas.c.id, (r.area_code for r in records))
    problems: list[tuple[int, FieldError]] = []
    rows: dict[tuple[int, int, str, str], None] = {}
    for index, r in enumerate(records):
        if r.handler_code not in handler_ids:
            problems.append((index, FieldError("handler", f"no handler {r.handler_code!r}")))
        elif r.area_code not in area_ids:
            problems.append((index, FieldError("area", f"no area {r.area_code!r}")))
        else:
            rows[(handler_ids[r.handler_code], area_ids[r.area_code], r.service_group, r.role)] = (
                None
            )
    bulk.upsert_rows(conn, duties, _DUTY_COLUMNS, list(rows), key=_DUTY_COLUMNS)
    return problems


# -- one handler ----------------------------------------------------------------------------


def handler_id(conn: Connection, code: str) -> int:
    found = conn.execute(select(handlers.c.id).where(handlers.c.code == code)).scalar()
    if found is None:
        raise NotFound(f"no handler with code {code!r}")
    return found


def get_handler(conn: Connection, code: str) -> HandlerView:
    """The handler with ``code`` and its skills; NotFound when there is none."""
    found = _views(conn, select(handlers).where(handlers.c.code == code))
    if not found:
        raise NotFound(f"no handler with code {code!r}")
    return found[0]


def _views(conn: Connection, query: Any, params: dict[str, Any] | None = None) -> list[HandlerView]:
    """Handlers selected by ``query`` (over the handlers table), each with its skills."""
    rows = conn.execute(query.order_by(handlers.c.code), params or {}).mappings().all()
    skills: dict[int, list[str]] = {row["id"]: [] for row in rows}
    for batch in bulk.batches(conn, skills):
        listed = select(handler_skills).where(bulk.among(conn, handler_skills.c.handler_id, batch))
        for handler, skill in conn.execute(listed.order_by(handler_skills.c.skill)):
            skills[handler].append(skill)
    return [
        HandlerView(
            id=row["id"],
            code=row["code"],
            name=row["name"],
            kind=row["kind"],
            phone=row["phone"],
            active=bool(row["active"]),
            person_id=row["person_id"],
            skills=tuple(skills[row["id"]]),
        )
        for row in rows
    ]


def person_of(conn: Connection, person_id: int) -> tuple[str, str | None]:
    """The name and ID number of the resident a handler is."""
    row = conn.execute(
        select(persons.c.name, persons.c.id_number).where(persons.c.id == person_id)
    ).one()
    return row.name, row.id_number


def add_handler(conn: Connection, record: HandlerRecord) -> HandlerView:
    """Add a new handler; FieldError if the code is taken or the ID number unknown."""
    if bulk.exists(conn, handlers.c.code, record.code):
        raise FieldError("code", f"handler {record.code} already exists")
    bulk.write_one(conn, upsert_handlers, record)
    return get_handler(conn, record.code)


def change_skills(
    conn: Connection, code: str, add: Sequence[str], remove: Sequence[str]
) -> HandlerView:
    """Add and remove skills; removing a skill the handler does not have is an error."""
    view = get_handler(conn, code)
    missing = [s for s in remove if s not in view.skills]
    if missing:
        raise FieldError("skill", f"{code} has no skill {missing[0]!r}")
    if remove:
        conn.execute(
            delete(handler_skills).where(
                handler_skills.c.handler_id == view.id, handler_skills.c.skill.in_(remove)
            )
        )
    new = [s for s in dict.fromkeys(add) if s not in view.skills or s in remove]
    if new:
        conn.execute(insert(handler_skills), [{"handler_id": view.id, "skill": s} for s in new])
    return get_handler(conn, code)


def set_active(conn: Connection, code: str, active: bool) -> bool:
    """Activate or deactivate; True when that changed anything."""
    view = get_handler(conn, code)
    if view.active == active:
        return False
    conn.execute(update(handlers).where(handlers.c.id == view.id).values(active=active))
    return True


# -- lists and availability -------------------------------------------------------------------


def _available_clause() -> ColumnElement[bool]:
    on_leave = exists().where(
        handler_leave.c.handler_id == handlers.c.id,
        handler_leave.c.starts_on <= bindparam("avail_day"),
        handler_leave.c.ends_on >= bindparam("avail_day"),
    )
    has_shifts = exists().where(handler_shifts.c.handler_id == handlers.c.id)
    in_shift = exists().where(
        handler_shifts.c.handler_id == handlers.c.id,
        handler_shifts.c.weekday == bindparam("avail_weekday"),
        handler_shifts.c.starts_at <= bindparam("avail_clock", type_=Time),
        handler_shifts.c.ends_at > bindparam("avail_clock", type_=Time),
    )
    return and_(handlers.c.active.is_(True), ~on_leave, or_(~has_shifts, in_shift))


#: True for handlers (rows of ``handlers``) available at a moment given by the
#: parameters of :func:`availability_params`; see is_available. Built once: routing
#: asks it for every case.
AVAILABLE = _available_clause()


def availability_params(at: dt.datetime, tz: ZoneInfo) -> dict[str, Any]:
    """The parameters of :data:`AVAILABLE` for the moment ``at`` in the timezone ``tz``."""
    if at.tzinfo is None:
        raise ValueError("is_available needs an aware datetime")
    local = at.astimezone(tz)
    return {
        "avail_day": local.date(),
        "avail_weekday": local.isoweekday(),
        "avail_clock": local.time().replace(tzinfo=None),
    }


def is_available(conn: Connection, handler: int | str, at: dt.datetime, tz: ZoneInfo) -> bool:
    """Whether a handler (by id or code) can take work at ``at``, an aware datetime.

    Available means: active; not on leave on ``at``'s date in ``tz`` (the district's
    timezone); and, if the handler has weekly shifts, ``at`` falls inside one of them
    (start included, end excluded). A handler without shifts is available at any time.
    """
    hid = handler if isinstance(handler, int) else handler_id(conn, handler)
    query = select(AVAILABLE).where(handlers.c.id == hid)
    row = conn.execute(query, availability_params(at, tz)).first()
    if row is None:
        raise NotFound(f"no handler with id {hid}")
    return bool(row[0])


def list_handlers(
    conn: Connection,
    *,
    kind: str | None = None,
    skill: str | None = None,
    area: str | None = None,
    available_at: tuple[dt.datetime, ZoneInfo] | None = None,
) -> list[HandlerView]:
    """Handlers in code order: of a kind, with a skill, with a duty in the subtree of
    ``area``, and available at a moment in a timezone — each filter when given."""
    query = select(handlers)
    if kind is not None:
        query = query.where(handlers.c.kind == kind)
    if skill is not None:
        query = query.where(
            exists().where(
                handler_skills.c.handler_id == handlers.c.id, handler_skills.c.skill == skill
            )
        )
    if area is not None:
        area_id(conn, area)
        query = query.where(
            exists().where(
                duties.c.handler_id == handlers.c.id,
                duties.c.area_id == areas.c.id,
                areas.c.code.startswith(area, autoescape=True),
            )
        )
    params = None
    if available_at is not None:
        query = query.where(AVAILABLE)
        params = availability_params(*available_at)
    return _views(conn, query, params)


# -- duties -------------------------------------------------------------------------------------


def _duty_query() -> Any:
    return select(
        handlers.c.code.label("handler_code"),
        handlers.c.name.label("handler_name"),
        handlers.c.active.label("handler_active"),
        areas.c.code.label("area_code"),
        areas.c.name.label("area_name"),
        duties.c.role,
        duties.c.service_group,
    ).select_from(duties.join(handlers).join(areas))


def _duty_views(conn: Connection, query: Any) -> list[DutyView]:
    return [
        DutyView(**{**row, "handler_active": bool(row["handler_active"])})
        for row in conn.execute(query).mappings()
    ]


def _duty_order(duty: DutyView) -> tuple[Any, ...]:
    return (ROLE_ORDER.index(duty.role), duty.service_group == "", duty.service_group)


def duties_for_area(
    conn: Connection, area_code: str, service_group: str | None = None
) -> list[DutyView]:
    """The duties on exactly this area, ordered A, B, leader.

    With ``service_group``, only the duties for that group and those for every group
    (``''``), the group's own first within a role; without it, all the area's duties.
    Inactive handlers are included (``handler_active``): callers decide.
    """
    query = _duty_query().where(duties.c.area_id == area_id(conn, area_code))
    if service_group is not None:
        query = query.where(duties.c.service_group.in_([service_group, ""]))
    found = _duty_views(conn, query)
    return sorted(found, key=lambda d: (*_duty_order(d), d.handler_code))


def list_duties(
    conn: Connection, *, area: str | None = None, handler: str | None = None
) -> list[DutyView]:
    """Duties in the subtree of ``area`` and/or of one handler, by area then role."""
    query = _duty_query()
    if area is not None:
        area_id(conn, area)
        query = query.where(areas.c.code.startswith(area, autoescape=True))
    if handler is not None:
        query = query.where(duties.c.handler_id == handler_id(conn, handler))
    found = _duty_views(conn, query)
    return sorted(found, key=lambda d: (d.area_code, *_duty_order(d), d.handler_code))


def _duty_where(conn: Connection, record: DutyRecord) -> ColumnElement[bool]:
    """The row of this duty; NotFound for an unknown handler or area."""
    return and_(
        duties.c.handler_id == handler_id(conn, record.handler_code),
        duties.c.area_id == area_id(conn, record.area_code),
        duties.c.service_group == record.service_group,
        duties.c.role == record.role,
    )


def _describe(record: DutyRecord) -> str:
    group = f" for {record.service_group}" if record.service_group else ""
    return f"{record.handler_code} as {record.role} of {record.area_code}{group}"


def add_duty(conn: Connection, record: DutyRecord) -> None:
    """Give a handler a duty; the same duty twice is an error."""
    where = _duty_where(conn, record)
    if conn.execute(select(duties.c.id).where(where)).first():
        raise FieldError("duty", f"already there: {_describe(record)}")
    upsert_duties(conn, [record])


def remove_duty(conn: Connection, record: DutyRecord) -> None:
    """Take a duty away; NotFound when the handler does not have it."""
    if not conn.execute(delete(duties).where(_duty_where(conn, record))).rowcount:
        raise NotFound(f"no duty {_describe(record)}")
