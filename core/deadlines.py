"""The deadlines of a case, computed once at intake from its service's SLA.

Rules (docs/deadlines.md has them with examples):

- **reply_by** is ``received_at`` plus ``sla.reply_minutes`` of wall-clock time: the 365
  hotline answers every day, holidays included.
- **resolve_by** counts ``sla.resolve`` in ``sla.resolve_unit``:

  - ``"hours"``: ``received_at`` plus that many hours of elapsed time (across a daylight
    saving change the local clock time moves by the hour the clocks moved);
  - ``"calendar_days"``: the end (23:59:59 local time in ``tz``) of the local day that
    many days after the local day of receipt;
  - ``"working_days"``: the end (23:59:59 local time) of the ``resolve``-th working day
    after the local day of receipt (:meth:`WorkCalendar.add_working_days`). The day of
    receipt never counts: a case received on Friday evening with 1 working day is due at
    the end of Monday; one received on a holiday starts counting after it. ``0`` means
    the end of the day of receipt if it is a working day, else of the next working day.

- The *local* day is the day in the district's timezone ``tz``, not in UTC: in Beijing a
  case received at 01:00 on Wednesday (17:00 UTC on Tuesday) counts from Wednesday.
- Inputs must be timezone-aware; results are aware UTC datetimes.
- No deadline is ever before ``received_at`` (and no extended deadline before the one it
  extends).

:func:`extend_deadline` (延期) applies the same rules counted from the current
``resolve_by`` and its local day.

``tz`` must be a PEP 495 tzinfo (``zoneinfo.ZoneInfo`` or ``datetime.timezone``). Where
23:59:59 happens twice (clocks turned back at midnight) the later one is the end of the
day; where a clock change skips it, the last second before the change is.
"""

from __future__ import annotations

import datetime as dt

from community365.values import SLA, Deadlines, ResolveUnit
from community365.workdays import WorkCalendar

__all__ = ["compute_deadlines", "end_of_day", "extend_deadline"]

_LAST_SECOND = dt.time(23, 59, 59, fold=1)
_UNITS: tuple[ResolveUnit, ...] = ("hours", "working_days", "calendar_days")


def compute_deadlines(
    sla: SLA, received_at: dt.datetime, tz: dt.tzinfo, calendar: WorkCalendar
) -> Deadlines:
    """The reply and resolve deadlines of a case received at ``received_at`` (aware)."""
    received = _utc(received_at, "received_at")
    if sla.reply_minutes < 0:
        raise ValueError(f"reply_minutes must be 0 or more, got {sla.reply_minutes}")
    reply_by = received + dt.timedelta(minutes=sla.reply_minutes)
    resolve_by = _advance(received, sla.resolve, sla.resolve_unit, tz, calendar)
    return Deadlines(reply_by=reply_by, resolve_by=resolve_by)


def extend_deadline(
    resolve_by: dt.datetime,
    amount: int,
    unit: ResolveUnit,
    tz: dt.tzinfo,
    calendar: WorkCalendar,
) -> dt.datetime:
    """``resolve_by`` extended (延期) by ``amount`` ``unit``, counted from its local day."""
    return _advance(_utc(resolve_by, "resolve_by"), amount, unit, tz, calendar)


def end_of_day(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The last second (23:59:59 local) of ``day`` in ``tz``, as an aware UTC datetime."""
    return dt.datetime.combine(day, _LAST_SECOND, tzinfo=tz).astimezone(dt.UTC)


def _advance(
    start: dt.datetime, amount: int, unit: ResolveUnit, tz: dt.tzinfo, calendar: WorkCalendar
) -> dt.datetime:
    if unit not in _UNITS:
        raise ValueError(f"unknown resolve unit {unit!r}; expected one of {', '.join(_UNITS)}")
    if amount < 0:
        raise ValueError(f"the number of {unit} must be 0 or more, got {amount}")
    if unit == "hours":
        due = start + dt.timedelta(hours=amount)
    else:
        local_day = start.astimezone(tz).date()
        if unit == "calendar_days":
            due_day = local_day + dt.timedelta(days=amount)
        else:
            due_day = calendar.add_working_days(local_day, amount)
        due = end_of_day(due_day, tz)
    return max(due, start)


def _utc(moment: dt.datetime, name: str) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    return moment.astimezone(dt.UTC)
