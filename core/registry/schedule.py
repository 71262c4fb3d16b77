"""When handlers work: leave (请假) and weekly shifts (班次).

A handler on leave on a date, or outside all of its shifts (when it has any), is not
available; :func:`community365.registry.handlers.is_available` applies the rule.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import attrs
from sqlalchemy import ColumnElement, Table, and_, delete, insert, select
from sqlalchemy.engine import Connection

from community365.db.schema import handler_leave, handler_shifts
from community365.errors import FieldError, NotFound
from community365.registry import fields
from community365.registry.handlers import handler_id

WEEKDAY_NAMES: tuple[str, ...] = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")

# Keys are lower-case: English words match in any case.
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
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")


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


def parse_weekday(text: str) -> int:
    """1 (Monday) to 7 from a digit, 周一..周日, 星期一..星期日, or mon..sun."""
    return fields.choice("weekday", _WEEKDAY_ALIASES, text, "1-7, 周一..周日 or mon..sun")


def parse_time(field: str, text: str) -> dt.time:
    """A clock time such as 8:30, 08:30 or 08:30:00."""
    found = _TIME.fullmatch(text.strip())
    try:
        if found is None:
            raise ValueError
        return dt.time(*(int(part) for part in found.groups(default="0")))
    except ValueError:
        raise FieldError(field, f"not a time: {text.strip()!r} (HH:MM)") from None


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
    """The handler's leave, earliest first."""
    found = _rows_of(conn, code, handler_leave, "starts_on", "ends_on", "reason")
    return [LeaveView(*row) for row in found]


def shifts_of(conn: Connection, code: str) -> list[ShiftView]:
    """The handler's weekly shifts, Monday's first."""
    found = _rows_of(conn, code, handler_shifts, "weekday", "starts_at", "ends_at")
    return [ShiftView(*row) for row in found]


def _rows_of(conn: Connection, code: str, table: Table, *names: str) -> Any:
    """These columns of the handler's rows in ``table``, ordered by them."""
    columns = [table.c[name] for name in names]
    where = table.c.handler_id == handler_id(conn, code)
    return conn.execute(select(*columns).where(where).order_by(*columns))
