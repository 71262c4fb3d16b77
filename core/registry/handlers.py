"""Handlers: who can take a case, what they can do, when they work, where they answer.

A handler is a staff member (工作人员, 社工, 网格员), a volunteer (志愿者, linked to the
resident they are when known), a team (志愿服务队, 调解队) or an organisation (物业公司,
社会组织). A duty makes a handler answer for one area, for one service group or for all
of them (``''``), as A (primary, A角), B (backup, B角) or grid leader (网格长).

Imports write through :func:`upsert_handlers` and :func:`upsert_duties`: references are
resolved for the whole batch with one query each and rows are written with
``INSERT ... ON CONFLICT``, so a batch costs the same few statements whatever its size.
The single-record functions the CLI uses go through the same path where they can.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from sqlalchemy import ColumnElement, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

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
from community365.registry.areas import area_id
from community365.registry.contact import InvalidPhone, mask_id_number, parse_phone
from community365.registry.idcard import InvalidIdNumber, parse_id_number

# -- vocabulary ---------------------------------------------------------------------------

KIND_NAMES: dict[str, str] = {
    "staff": "工作人员",
    "volunteer": "志愿者",
    "team": "队伍",
    "organisation": "组织",
}
ROLE_NAMES: dict[str, str] = {"A": "A角", "B": "B角", "leader": "网格长"}
ROLE_ORDER: tuple[str, ...] = ("A", "B", "leader")
WEEKDAY_NAMES: tuple[str, ...] = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")

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
_WEEKDAY_ALIASES: dict[str, int] = {
    **{str(i): i for i in range(1, 8)},
    **{name: i for i, name in enumerate(WEEKDAY_NAMES, start=1)},
    **{"星期" + name[1]: i for i, name in enumerate(WEEKDAY_NAMES, start=1)},
    "周天": 7,
    "星期天": 7,
    **{name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), 1)},
    **{
        name: i
        for i, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"), 1
        )
    },
}
_SKILL_SEPARATORS = re.compile(r"[;；,，、|｜\s]+")
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.-]*")
# Every IN list is cut to this many keys, far below SQLite's and PostgreSQL's limits on
# bound parameters; a batch of imported rows rarely needs more than one chunk.
_CHUNK = 5000

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
class LeaveView:
    starts_on: dt.date
    ends_on: dt.date
    reason: str


@attrs.frozen
class ShiftView:
    """A weekly shift, ``weekday`` 1 (Monday) to 7; it covers ``[starts_at, ends_at)``."""

    weekday: int
    starts_at: dt.time
    ends_at: dt.time


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


def _text(fields: Mapping[str, str | None], key: str) -> str:
    return (fields.get(key) or "").strip()


def _required(fields: Mapping[str, str | None], key: str, max_length: int) -> str:
    value = _text(fields, key)
    if not value:
        raise FieldError(key, "missing")
    if len(value) > max_length:
        raise FieldError(key, f"longer than {max_length} characters")
    return value


def _code(fields: Mapping[str, str | None], key: str) -> str:
    value = _required(fields, key, 40)
    if not _CODE.fullmatch(value):
        raise FieldError(key, f"{value!r} is not a code (letters, digits, '-', '_', '.')")
    return value


def parse_kind(text: str) -> str:
    """``staff``, ``volunteer``, ``team`` or ``organisation`` from English or Chinese."""
    kind = _KIND_ALIASES.get(text.strip().lower())
    if kind is None:
        known = ", ".join(f"{key} ({name})" for key, name in KIND_NAMES.items())
        raise FieldError("kind", f"unknown kind {text.strip()!r} (kinds: {known})")
    return kind


def parse_role(text: str) -> str:
    """``A``, ``B`` or ``leader`` from those or from A角, B角, 网格长."""
    role = _ROLE_ALIASES.get(text.strip().lower())
    if role is None:
        raise FieldError(
            "role", f"unknown role {text.strip()!r} (A or A角, B or B角, leader or 网格长)"
        )
    return role


def parse_skills(text: str) -> tuple[str, ...]:
    """Skills split on ; ， , 、 | and spaces, in order, each once."""
    skills = tuple(dict.fromkeys(s for s in _SKILL_SEPARATORS.split(text) if s))
    for skill in skills:
        if len(skill) > 50:
            raise FieldError("skills", f"skill {skill[:20]!r}... is longer than 50 characters")
    return skills


def parse_weekday(text: str) -> int:
    """1 (Monday) to 7 from a digit, 周一..周日, 星期一..星期日, or mon..sun."""
    weekday = _WEEKDAY_ALIASES.get(text.strip().lower())
    if weekday is not None:
        return weekday
    raise FieldError("weekday", f"unknown weekday {text.strip()!r} (1-7, 周一..周日 or mon..sun)")


def parse_time(field: str, text: str) -> dt.time:
    """A clock time such as 8:30, 08:30 or 08:30:00."""
    found = _TIME.fullmatch(text.strip())
    try:
        if found is None:
            raise ValueError
        return dt.time(*(int(part) for part in found.groups(default="0")))
    except ValueError:
        raise FieldError(field, f"not a time: {text.strip()!r} (HH:MM)") from None


def parse_date(field: str, text: str) -> dt.date:
    """An ISO date, 2026-11-25."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise FieldError(field, f"not a date: {text.strip()!r} (YYYY-MM-DD)") from None


def parse_handler(fields: Mapping[str, str]) -> HandlerRecord:
    """A handler from raw strings keyed code, name, kind, phone, id_number, skills.

    An absent ``skills`` key leaves a stored handler's skills alone; a present one, even
    empty, replaces them. Raises FieldError on the first bad field.
    """
    code = _code(fields, "code")
    name = _required(fields, "name", 100)
    kind = parse_kind(_required(fields, "kind", 40))
    phone = _text(fields, "phone")
    id_number = _text(fields, "id_number")
    try:
        phone = parse_phone(phone) if phone else ""
    except InvalidPhone as exc:
        raise FieldError("phone", str(exc)) from None
    try:
        id_number = parse_id_number(id_number).number if id_number else ""
    except InvalidIdNumber as exc:
        raise FieldError("id_number", str(exc)) from None
    if id_number and kind in ("team", "organisation"):
        raise FieldError("id_number", f"a {kind} is not a person; only staff and volunteers are")
    raw_skills = fields.get("skills")
    return HandlerRecord(
        code=code,
        name=name,
        kind=kind,
        phone=phone or None,
        id_number=id_number or None,
        skills=None if raw_skills is None else parse_skills(raw_skills),
    )


def parse_duty(fields: Mapping[str, str]) -> DutyRecord:
    """A duty from raw strings keyed handler, area, role, service_group (optional)."""
    handler = _code(fields, "handler")
    area = _required(fields, "area", 32)
    if not (area.isascii() and area.isdigit()):
        raise FieldError("area", f"area codes are digits only, got {area!r}")
    role = parse_role(_required(fields, "role", 10))
    group = _text(fields, "service_group")
    if len(group) > 40:
        raise FieldError("service_group", "longer than 40 characters")
    return DutyRecord(handler_code=handler, area_code=area, role=role, service_group=group)


# -- bulk writes ----------------------------------------------------------------------------


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _ids_by_key(conn: Connection, key: Any, id_column: Any, keys: Iterable[str]) -> dict[str, int]:
    """Map each of ``keys`` found in ``key`` to its ``id_column``: one query per chunk."""
    found: dict[str, int] = {}
    for chunk in _chunks(set(keys)):
        found.update(conn.execute(select(key, id_column).where(key.in_(chunk))).all())
    return found


def _upsert_insert(conn: Connection, table: Any) -> Any:
    """An INSERT that takes ON CONFLICT clauses, in the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def upsert_handlers(
    conn: Connection, records: Sequence[HandlerRecord]
) -> list[tuple[int, FieldError]]:
    """Insert or update handlers by code; replace skills where a record gives them.

    Returns ``(index, FieldError)`` for each record whose ID number matches no person;
    those are not written. Of records sharing a code, the last one written wins. Never
    commits.
    """
    person_ids = _ids_by_key(
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
    if latest:
        _write_handlers(conn, list(latest.values()), person_ids)
        _replace_skills(conn, [r for r in latest.values() if r.skills is not None])
    return problems


def _write_handlers(
    conn: Connection, records: Sequence[HandlerRecord], person_ids: Mapping[str, int]
) -> None:
    stmt = _upsert_insert(conn, handlers)
    # An import without a phone or ID number column must not wipe the stored ones.
    stmt = stmt.on_conflict_do_update(
        index_elements=[handlers.c.code],
        set_={
            "name": stmt.excluded.name,
            "kind": stmt.excluded.kind,
            "phone": func.coalesce(stmt.excluded.phone, handlers.c.phone),
            "person_id": func.coalesce(stmt.excluded.person_id, handlers.c.person_id),
        },
    )
    rows = [
        {
            "code": r.code,
            "name": r.name,
            "kind": r.kind,
            "phone": r.phone,
            "person_id": person_ids.get(r.id_number) if r.id_number else None,
        }
        for r in records
    ]
    conn.execute(stmt, rows)


def _replace_skills(conn: Connection, records: Sequence[HandlerRecord]) -> None:
    if not records:
        return
    ids = _ids_by_key(conn, handlers.c.code, handlers.c.id, (r.code for r in records))
    for chunk in _chunks(ids.values()):
        conn.execute(delete(handler_skills).where(handler_skills.c.handler_id.in_(chunk)))
    rows = [{"handler_id": ids[r.code], "skill": s} for r in records for s in r.skills or ()]
    if rows:
        conn.execute(insert(handler_skills), rows)


def upsert_duties(conn: Connection, records: Sequence[DutyRecord]) -> list[tuple[int, FieldError]]:
    """Insert duties that are not there yet; a duty already there is left as it is.

    Returns ``(index, FieldError)`` for each record whose handler or area code matches
    nothing; those are not written. Never commits.
    """
    handler_ids = _ids_by_key(
        conn, handlers.c.code, handlers.c.id, (r.handler_code for r in records)
    )
    area_ids = _ids_by_key(conn, areas.c.code, areas.c.id, (r.area_code for r in records))
    problems: list[tuple[int, FieldError]] = []
    rows: dict[tuple[int, int, str, str], dict[str, Any]] = {}
    for index, r in enumerate(records):
        if r.handler_code not in handler_ids:
            problems.append((index, FieldError("handler", f"no handler {r.handler_code!r}")))
        elif r.area_code not in area_ids:
            problems.append((index, FieldError("area", f"no area {r.area_code!r}")))
        else:
            key = (handler_ids[r.handler_code], area_ids[r.area_code], r.service_group, r.role)
            rows[key] = dict(
                zip(("handler_id", "area_id", "service_group", "role"), key, strict=True)
            )
    if rows:
        stmt = _upsert_insert(conn, duties).on_conflict_do_nothing(
            index_elements=["handler_id", "area_id", "service_group", "role"]
        )
        conn.execute(stmt, list(rows.values()))
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


def _views(conn: Connection, query: Any) -> list[HandlerView]:
    """Handlers selected by ``query`` (over the handlers table), each with its skills."""
    rows = conn.execute(query.order_by(handlers.c.code)).mappings().all()
    skills: dict[int, list[str]] = {row["id"]: [] for row in rows}
    for chunk in _chunks(skills):
        listed = select(handler_skills).where(handler_skills.c.handler_id.in_(chunk))
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
    if conn.execute(select(handlers.c.id).where(handlers.c.code == record.code)).first():
        raise FieldError("code", f"handler {record.code} already exists")
    problems = upsert_handlers(conn, [record])
    if problems:
        raise problems[0][1]
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


def add_leave(
    conn: Connection, code: str, starts_on: dt.date, ends_on: dt.date, reason: str = ""
) -> LeaveView:
    """Record leave from ``starts_on`` to ``ends_on``, both days included."""
    if ends_on < starts_on:
        raise FieldError("to", f"{ends_on} is before {starts_on}")
    if len(reason) > 200:
        raise FieldError("reason", "longer than 200 characters")
    conn.execute(
        insert(handler_leave).values(
            handler_id=handler_id(conn, code), starts_on=starts_on, ends_on=ends_on, reason=reason
        )
    )
    return LeaveView(starts_on, ends_on, reason)


def remove_leave(conn: Connection, code: str, starts_on: dt.date, ends_on: dt.date) -> None:
    """Cancel the leave with exactly these dates; NotFound when there is none."""
    done = conn.execute(
        delete(handler_leave).where(
            handler_leave.c.handler_id == handler_id(conn, code),
            handler_leave.c.starts_on == starts_on,
            handler_leave.c.ends_on == ends_on,
        )
    )
    if not done.rowcount:
        raise NotFound(f"{code} has no leave from {starts_on} to {ends_on}")


def _check_shift(shift: ShiftView) -> None:
    if not 1 <= shift.weekday <= 7:
        raise FieldError("weekday", f"{shift.weekday} is not 1-7")
    if shift.ends_at <= shift.starts_at:
        raise FieldError("end", f"{shift.ends_at:%H:%M} is not after {shift.starts_at:%H:%M}")


def _shift_where(hid: int, shift: ShiftView) -> ColumnElement[bool]:
    return and_(
        handler_shifts.c.handler_id == hid,
        handler_shifts.c.weekday == shift.weekday,
        handler_shifts.c.starts_at == shift.starts_at,
        handler_shifts.c.ends_at == shift.ends_at,
    )


def add_shift(conn: Connection, code: str, shift: ShiftView) -> None:
    """Add a weekly shift; the same shift twice is an error."""
    _check_shift(shift)
    hid = handler_id(conn, code)
    if conn.execute(select(handler_shifts.c.id).where(_shift_where(hid, shift))).first():
        raise FieldError("shift", f"{code} already has this shift")
    conn.execute(insert(handler_shifts).values(handler_id=hid, **attrs.asdict(shift)))


def remove_shift(conn: Connection, code: str, shift: ShiftView) -> None:
    """Remove exactly this weekly shift; NotFound when there is none."""
    if not conn.execute(
        delete(handler_shifts).where(_shift_where(handler_id(conn, code), shift))
    ).rowcount:
        raise NotFound(f"{code} has no such shift")


def leave_of(conn: Connection, code: str) -> list[LeaveView]:
    query = (
        select(handler_leave.c.starts_on, handler_leave.c.ends_on, handler_leave.c.reason)
        .where(handler_leave.c.handler_id == handler_id(conn, code))
        .order_by(handler_leave.c.starts_on, handler_leave.c.ends_on)
    )
    return [LeaveView(*row) for row in conn.execute(query)]


def shifts_of(conn: Connection, code: str) -> list[ShiftView]:
    query = (
        select(handler_shifts.c.weekday, handler_shifts.c.starts_at, handler_shifts.c.ends_at)
        .where(handler_shifts.c.handler_id == handler_id(conn, code))
        .order_by(handler_shifts.c.weekday, handler_shifts.c.starts_at)
    )
    return [ShiftView(*row) for row in conn.execute(query)]


# -- lists and availability -------------------------------------------------------------------


def _available(at: dt.datetime, tz: ZoneInfo) -> ColumnElement[bool]:
    """True for handlers (rows of ``handlers``) available at ``at``; see is_available."""
    if at.tzinfo is None:
        raise ValueError("is_available needs an aware datetime")
    local = at.astimezone(tz)
    day, clock = local.date(), local.time()
    on_leave = exists().where(
        handler_leave.c.handler_id == handlers.c.id,
        handler_leave.c.starts_on <= day,
        handler_leave.c.ends_on >= day,
    )
    has_shifts = exists().where(handler_shifts.c.handler_id == handlers.c.id)
    in_shift = exists().where(
        handler_shifts.c.handler_id == handlers.c.id,
        handler_shifts.c.weekday == local.isoweekday(),
        handler_shifts.c.starts_at <= clock,
        handler_shifts.c.ends_at > clock,
    )
    return and_(handlers.c.active.is_(True), ~on_leave, or_(~has_shifts, in_shift))


def is_available(conn: Connection, handler: int | str, at: dt.datetime, tz: ZoneInfo) -> bool:
    """Whether a handler (by id or code) can take work at ``at``, an aware datetime.

    Available means: active; not on leave on ``at``'s date in ``tz`` (the district's
    timezone); and, if the handler has weekly shifts, ``at`` falls inside one of them
    (start included, end excluded). A handler without shifts is available at any time.
    """
    hid = handler if isinstance(handler, int) else handler_id(conn, handler)
    row = conn.execute(select(_available(at, tz)).where(handlers.c.id == hid)).first()
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
    if available_at is not None:
        query = query.where(_available(*available_at))
    return _views(conn, query)


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
