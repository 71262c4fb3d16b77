"""Working days: the published Chinese calendar with 调休, the Monday–Friday fallback with its
warning, the district's overrides, and the arithmetic's properties."""

from __future__ import annotations

import datetime as dt
import re
import warnings

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from community365.workdays import CalendarWarning, WorkCalendar

D = dt.date
CALENDAR = WorkCalendar()  # one for the module: its cache is part of what is tested

# Dates the published calendar answers (chinese_calendar 1.11 has 2004–2026; counting on
# from late 2026 runs into 2027), and dates with fallback years on either side. Properties
# that can reach a fallback year ignore its warning; the tests of the warning do not.
covered_dates = st.dates(min_value=D(2004, 1, 1), max_value=D(2026, 12, 31))
any_dates = st.dates(min_value=D(1990, 1, 1), max_value=D(2110, 12, 31))
steps = st.integers(min_value=0, max_value=40)
QUIET = WorkCalendar()  # for properties over any_dates
ignore_fallback = pytest.mark.filterwarnings("ignore::community365.workdays.CalendarWarning")


# -- the published 2026 schedule --------------------------------------------------------------


def test_2026_is_covered_and_neighbours_are_not() -> None:
    assert WorkCalendar.covers(2004) and WorkCalendar.covers(2026)
    assert not WorkCalendar.covers(2003)
    assert not WorkCalendar.covers(2100)


@pytest.mark.parametrize(
    "day",
    [D(2026, 2, 15) + dt.timedelta(days=i) for i in range(9)],  # 春节: Sun 15 – Mon 23 Feb
    ids=str,
)
def test_spring_festival_2026_is_off(day: dt.date) -> None:
    assert not CALENDAR.is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [D(2026, 10, 1) + dt.timedelta(days=i) for i in range(7)],  # 国庆节: Thu 1 – Wed 7 Oct
    ids=str,
)
def test_national_day_2026_is_off(day: dt.date) -> None:
    assert not CALENDAR.is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [D(2026, 1, 4), D(2026, 2, 14), D(2026, 2, 28), D(2026, 5, 9), D(2026, 9, 20), D(2026, 10, 10)],
    ids=str,
)
def test_adjusted_weekend_days_2026_are_working_days(day: dt.date) -> None:
    assert day.weekday() >= 5  # a Saturday or Sunday…
    assert CALENDAR.is_working_day(day)  # …worked in exchange for a long holiday (调休)


def test_mid_autumn_2026_falls_on_a_friday_and_is_off() -> None:
    assert D(2026, 9, 25).weekday() == 4
    assert not CALENDAR.is_working_day(D(2026, 9, 25))


def test_ordinary_days() -> None:
    assert CALENDAR.is_working_day(D(2026, 11, 20))  # a Friday
    assert not CALENDAR.is_working_day(D(2026, 11, 21))  # a Saturday
    assert not CALENDAR.is_working_day(D(2026, 11, 22))  # a Sunday


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        (D(2026, 11, 20), 1, D(2026, 11, 23)),  # Friday + 1 → Monday
        (D(2026, 11, 20), 0, D(2026, 11, 20)),  # a working day is its own 0th
        (D(2026, 11, 21), 0, D(2026, 11, 23)),  # Saturday's 0th is Monday
        (D(2026, 9, 25), 3, D(2026, 9, 30)),  # 中秋 Fri: Mon 28, Tue 29, Wed 30
        (D(2026, 9, 30), 1, D(2026, 10, 8)),  # over the whole National Day week
        (D(2026, 9, 30), 3, D(2026, 10, 10)),  # Thu 8, Fri 9, Sat 10 (调休)
        (D(2026, 10, 3), 0, D(2026, 10, 8)),  # a holiday's 0th is the next working day
        (D(2026, 10, 3), 1, D(2026, 10, 8)),  # received on a holiday: counting after it
        (D(2026, 9, 18), 1, D(2026, 9, 20)),  # Friday + 1 → the working Sunday
        (D(2026, 2, 13), 1, D(2026, 2, 14)),  # Friday + 1 → the working Saturday
        (D(2026, 2, 13), 2, D(2026, 2, 24)),  # then the Spring Festival week
    ],
    ids=str,
)
def test_add_working_days_known(day: dt.date, n: int, expected: dt.date) -> None:
    assert CALENDAR.add_working_days(day, n) == expected


def test_agrees_with_chinese_calendar_over_its_whole_range() -> None:
    calendar = WorkCalendar()
    day = D(2004, 1, 1)
    while day.year <= 2026:
        assert calendar.is_working_day(day) == chinese_calendar.is_workday(day), day
        assert calendar.is_working_day(day) == chinese_calendar.is_workday(day), day  # cached
        day += dt.timedelta(days=1)
    assert not calendar.fallback_years


# -- the fallback -------------------------------------------------------------------------------


def test_uncovered_year_falls_back_to_monday_to_friday_and_warns_once() -> None:
    calendar = WorkCalendar()
    week = [D(2100, 3, 1) + dt.timedelta(days=i) for i in range(7)]  # Mon 1 – Sun 7 Mar
    assert week[0].weekday() == 0
    with pytest.warns(CalendarWarning) as caught:
        warnings.simplefilter("always")  # so a second warning could not hide in a registry
        answers = [calendar.is_working_day(day) for day in week]
        assert calendar.add_working_days(D(2100, 3, 5), 1) == D(2100, 3, 8)  # Fri → Mon
        for day in (D(2100, 1, 1), D(2100, 12, 31)):
            calendar.is_working_day(day)
    assert answers == [True] * 5 + [False] * 2
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "2100" in message and "Monday–Friday" in message and "\n" not in message
    assert calendar.fallback_years == {2100}


def test_each_uncovered_year_warns_once() -> None:
    calendar = WorkCalendar()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        calendar.add_working_days(D(2099, 12, 1), 60)  # runs into 2100
        calendar.add_working_days(D(2099, 12, 1), 60)
        calendar.is_working_day(D(2003, 5, 1))
        calendar.is_working_day(D(2026, 5, 1))  # covered: no warning
    years = sorted(re.search(r"\d{4}", str(w.message))[0] for w in caught)
    assert all(issubclass(w.category, CalendarWarning) for w in caught)
    assert years == ["2003", "2099", "2100"]
    assert calendar.fallback_years == {2003, 2099, 2100}


def test_fallback_is_used_if_the_library_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(day: dt.date) -> bool:
        raise NotImplementedError(f"no available data for year {day.year}")

    monkeypatch.setattr(chinese_calendar, "is_workday", refuse)
    calendar = WorkCalendar()
    with pytest.warns(CalendarWarning, match="2026"):
        assert not calendar.is_working_day(D(2026, 10, 10))  # a Saturday, by the fallback
    assert calendar.fallback_years == {2026}


# -- overrides ----------------------------------------------------------------------------------


def test_extra_holidays_and_working_days_win() -> None:
    calendar = WorkCalendar(
        extra_holidays={D(2026, 11, 20), D(2100, 3, 1)},
        extra_working_days=[D(2026, 10, 5), D(2026, 11, 21)],
    )
    assert not calendar.is_working_day(D(2026, 11, 20))  # a Friday, off in this district
    assert calendar.is_working_day(D(2026, 11, 21))  # a Saturday, worked
    assert calendar.is_working_day(D(2026, 10, 5))  # inside National Day, worked
    assert calendar.add_working_days(D(2026, 11, 19), 1) == D(2026, 11, 21)
    assert calendar.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 5)
    assert not calendar.is_working_day(D(2100, 3, 1))  # wins over the fallback, no warning
    assert not calendar.fallback_years
    assert not CALENDAR.is_working_day(D(2026, 10, 5))  # other calendars are unchanged


def test_a_date_cannot_be_both_holiday_and_working_day() -> None:
    with pytest.raises(ValueError, match="2026-10-05"):
        WorkCalendar(extra_holidays={D(2026, 10, 5)}, extra_working_days={D(2026, 10, 5)})


def test_wrong_arguments() -> None:
    with pytest.raises(TypeError):
        WorkCalendar(extra_holidays={dt.datetime(2026, 10, 5, 12)})
    with pytest.raises(TypeError, match="local date"):
        CALENDAR.is_working_day(dt.datetime(2026, 10, 5, 12))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CALENDAR.add_working_days(dt.datetime(2026, 10, 5, 12), 1)
    with pytest.raises(ValueError, match="0 or more"):
        CALENDAR.add_working_days(D(2026, 10, 5), -1)


# -- properties ---------------------------------------------------------------------------------


@ignore_fallback
@settings(max_examples=300, deadline=None)
@given(day=any_dates, n=steps)
def test_lands_on_a_working_day_and_counts_exactly_n(day: dt.date, n: int) -> None:
    result = QUIET.add_working_days(day, n)
    assert QUIET.is_working_day(result)
    assert result >= day
    between = [day + dt.timedelta(days=i) for i in range(1, (result - day).days + 1)]
    if n == 0:
        assert all(not QUIET.is_working_day(d) for d in [day, *between][:-1])
    else:
        assert result > day
        assert sum(QUIET.is_working_day(d) for d in between) == n


@ignore_fallback
@settings(max_examples=300, deadline=None)
@given(day=covered_dates, n=steps)
def test_increasing_in_n(day: dt.date, n: int) -> None:
    later, earlier = CALENDAR.add_working_days(day, n + 1), CALENDAR.add_working_days(day, n)
    if n >= 1 or CALENDAR.is_working_day(day):
        assert later > earlier
    else:
        # A day off: its 0th working day is the next working day, and so is its 1st
        # (counting starts after it). No n == 0 rule can be strict here and still land
        # on a working day.
        assert later == earlier


@ignore_fallback
@settings(max_examples=200, deadline=None)
@given(day=any_dates, later=st.integers(min_value=0, max_value=30), n=steps)
def test_monotonic_in_the_start_day(day: dt.date, later: int, n: int) -> None:
    other = day + dt.timedelta(days=later)
    assert QUIET.add_working_days(other, n) >= QUIET.add_working_days(day, n)


@ignore_fallback
@settings(max_examples=200, deadline=None)
@given(day=covered_dates, m=st.integers(min_value=1, max_value=40), n=steps)
def test_steps_add_up(day: dt.date, m: int, n: int) -> None:
    first = CALENDAR.add_working_days(day, m)
    assert CALENDAR.add_working_days(first, n) == CALENDAR.add_working_days(day, m + n)
