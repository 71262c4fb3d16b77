"""Working days in China: the public-holiday calendar with its adjusted working days (调休).

:class:`WorkCalendar` answers "is this date a working day?" from the ``chinesecalendar``
package, which carries the State Council's published schedule for every year since 2004:
the holidays *and* the weekend days that become working days to make a long holiday (a
Sunday before National Day, a Saturday after the Spring Festival).

Coverage is the package's own rule: it has data for the years from the first to the last
year in ``chinese_calendar.holidays`` and raises ``NotImplementedError`` outside them. A
year it does not cover (the coming year before its schedule is published, or 2100) falls
back to Monday–Friday: the calendar never fails, it warns once per year with a
:class:`CalendarWarning` and records the year in :attr:`WorkCalendar.fallback_years`.

A district can override the package with ``extra_holidays`` (a local holiday, a day the
office is closed) and ``extra_working_days``; both win over the package and the fallback.

Answers are cached per date, so one calendar should live as long as the district is open:
deadline computation and the daily tasks ask about the same few hundred dates again and
again.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable

import attrs
import chinese_calendar

__all__ = ["CalendarWarning", "WorkCalendar"]

_ONE_DAY = dt.timedelta(days=1)
# The same bounds chinese_calendar checks before every answer (utils._validate_date).
_FIRST_YEAR = min(chinese_calendar.holidays).year
_LAST_YEAR = max(chinese_calendar.holidays).year


class CalendarWarning(UserWarning):
    """A year is outside chinesecalendar's data: Monday–Friday is used instead."""


def _dates(values: Iterable[dt.date]) -> frozenset[dt.date]:
    days = frozenset(values)
    for day in days:
        if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
            raise TypeError(f"expected a date, got {day!r}")
    return days


def _plain_date(day: dt.date) -> dt.date:
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise TypeError(
            f"expected a date, got {day!r}; convert an instant to the district's local date first"
        )
    return day


@attrs.define(eq=False)
class WorkCalendar:
    """Which dates are working days (工作日), Chinese public holidays and 调休 included.

    ``extra_holidays`` and ``extra_working_days`` are the district's own overrides; a date
    may not be in both.
    """

    extra_holidays: frozenset[dt.date] = attrs.field(default=frozenset(), converter=_dates)
    extra_working_days: frozenset[dt.date] = attrs.field(default=frozenset(), converter=_dates)
    #: Years answered by the Monday–Friday fallback so far, for a CLI to report.
    fallback_years: set[int] = attrs.field(factory=set, init=False)
    _cache: dict[dt.date, bool] = attrs.field(factory=dict, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        both = self.extra_holidays & self.extra_working_days
        if both:
            listed = ", ".join(day.isoformat() for day in sorted(both))
            raise ValueError(f"dates both extra holidays and extra working days: {listed}")

    @staticmethod
    def covers(year: int) -> bool:
        """True when chinesecalendar has the published schedule for ``year``."""
        return _FIRST_YEAR <= year <= _LAST_YEAR

    def is_working_day(self, day: dt.date) -> bool:
        """True when ``day`` is a working day: the overrides, else the published schedule
        (holidays off, adjusted weekend days on), else Monday–Friday with a warning."""
        try:
            return self._cache[day]
        except KeyError:
            pass
        day = _plain_date(day)
        if day in self.extra_holidays:
            working = False
        elif day in self.extra_working_days:
            working = True
        else:
            working = self._published(day)
        self._cache[day] = working
        return working

    def add_working_days(self, day: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``day``.

        ``day`` itself never counts for ``n >= 1``, whether or not it is a working day;
        ``n == 0`` is ``day`` when it is a working day, else the next working day (so for
        a day off, ``n == 0`` and ``n == 1`` give the same date). Raises ``TypeError`` for
        a datetime: turn an instant into the district's local date first.
        """
        day = _plain_date(day)
        if n < 0:
            raise ValueError(f"n must be 0 or more, got {n}")
        if n == 0:
            while not self.is_working_day(day):
                day += _ONE_DAY
            return day
        while n:
            day += _ONE_DAY
            if self.is_working_day(day):
                n -= 1
        return day

    def _published(self, day: dt.date) -> bool:
        if self.covers(day.year):
            try:
                return bool(chinese_calendar.is_workday(day))
            except NotImplementedError:  # a package whose bounds differ from ours
                pass
        if day.year not in self.fallback_years:
            self.fallback_years.add(day.year)
            warnings.warn(
                f"no public-holiday schedule for {day.year} in chinesecalendar "
                f"(it has {_FIRST_YEAR}–{_LAST_YEAR}); counting Monday–Friday as working days",
                CalendarWarning,
                stacklevel=3,
            )
        return day.weekday() < 5
