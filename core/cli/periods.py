"""Days and periods on the command line, for the core's commands and plugins' alike.

``@period_options`` adds ``--from``, ``--to`` and ``--month`` to a command, and
:func:`resolve_period` turns them into the :class:`~community365.values.Period` the
figures and the plugins' ``c365_metrics`` take (half-open: ``--to`` is included).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import click

from community365.errors import UsageError
from community365.values import Period

FIRST_YEAR, LAST_YEAR = 2000, 2100
DAY = click.DateTime(["%Y-%m-%d"])


def check_day(day: dt.date | None, option: str) -> dt.date | None:
    """A date from the command line, refused outside the years a district can mean."""
    if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise UsageError(f"{option}: {day} is outside {FIRST_YEAR}-{LAST_YEAR}")
    return day


def parse_moment(text: str, tz: dt.tzinfo, option: str) -> dt.datetime:
    """A date and time as ISO (``2026-11-25 09:30``, ``2026-11-25T09:30``, with seconds or
    an offset); without an offset it is read in ``tz``. Refused outside the years
    :func:`check_day` allows."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option}: not a date and time (YYYY-MM-DD HH:MM): {text!r}") from None
    check_day(moment.date(), option)
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def period_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--from DATE --to DATE`` or ``--month YYYY-MM``, passed as ``start``, ``end``, ``month``."""
    for option in reversed(
        (
            click.option(
                "--from", "start", type=DAY, help="First day (default: the 1st of this month)."
            ),
            click.option("--to", "end", type=DAY, help="Last day, included (default: today)."),
            click.option(
                "--month", metavar="YYYY-MM", help="A whole month instead of --from/--to."
            ),
        )
    ):
        command = option(command)
    return command


def resolve_period(
    start: dt.datetime | None, end: dt.datetime | None, month: str | None, today: dt.date
) -> Period:
    """The period the options name; by default from the 1st of this month to today."""
    if month:
        if start or end:
            raise UsageError("give --month or --from/--to, not both")
        try:
            first = dt.date.fromisoformat(f"{month}-01")
        except ValueError:
            raise UsageError(f"--month: expected YYYY-MM, got {month!r}") from None
        check_day(first, "--month")
        following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return Period(first, following)
    first = check_day(start.date(), "--from") if start else today.replace(day=1)
    last = check_day(end.date(), "--to") if end else today
    assert first is not None and last is not None
    if last < first:
        raise UsageError(f"--to {last} is before --from {first}")
    return Period(first, last + dt.timedelta(days=1))
