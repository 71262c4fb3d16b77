"""Deadlines at intake and on extension (延期): the rules on known 2026 dates, in Beijing, in
UTC and in a timezone with daylight saving time, and their properties."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from community365.deadlines import compute_deadlines, end_of_day, extend_deadline
from community365.values import SLA, ResolveUnit
from community365.workdays import WorkCalendar

UTC = dt.UTC
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
CALENDAR = WorkCalendar()
UNITS: tuple[ResolveUnit, ...] = ("hours", "working_days", "calendar_days")
LAST_SECOND = dt.time(23, 59, 59)
# Deadlines late in the last published year run into the next one, which falls back.
ignore_fallback = pytest.mark.filterwarnings("ignore::community365.workdays.CalendarWarning")


def beijing(*args: int) -> dt.datetime:
    """A Beijing wall-clock time as the aware UTC instant intake stores."""
    return dt.datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)


def deadlines(sla: SLA, received_at: dt.datetime, tz: dt.tzinfo = SHANGHAI) -> tuple:
    result = compute_deadlines(sla, received_at, tz, CALENDAR)
    return result.reply_by, result.resolve_by


# -- reply -----------------------------------------------------------------------------------


def test_a_consultation_at_ten_is_answered_by_five_past() -> None:
    reply_by, _ = deadlines(SLA(reply_minutes=5, resolve=1), beijing(2026, 11, 20, 10, 0))
    assert reply_by == beijing(2026, 11, 20, 10, 5)
    assert reply_by.tzinfo is UTC


def test_reply_ignores_holidays() -> None:
    reply_by, _ = deadlines(SLA(reply_minutes=120, resolve=1), beijing(2026, 10, 1, 23, 0))
    assert reply_by == beijing(2026, 10, 2, 1, 0)  # National Day, at night


# -- resolve ---------------------------------------------------------------------------------


def test_hours_are_elapsed_time() -> None:
    sla = SLA(reply_minutes=30, resolve=48, resolve_unit="hours")
    _, resolve_by = deadlines(sla, beijing(2026, 9, 30, 16, 0))
    assert resolve_by == beijing(2026, 10, 2, 16, 0)  # holidays or not


def test_calendar_days_end_at_the_end_of_the_local_day() -> None:
    sla = SLA(reply_minutes=30, resolve=3, resolve_unit="calendar_days")
    _, resolve_by = deadlines(sla, beijing(2026, 9, 30, 10, 0))
    assert resolve_by == beijing(2026, 10, 3, 23, 59, 59)
    assert resolve_by == dt.datetime(2026, 10, 3, 15, 59, 59, tzinfo=UTC)


def test_friday_evening_with_one_working_day_is_due_monday() -> None:
    _, resolve_by = deadlines(SLA(reply_minutes=30, resolve=1), beijing(2026, 11, 20, 19, 30))
    assert resolve_by == beijing(2026, 11, 23, 23, 59, 59)


def test_received_on_a_holiday_counting_starts_after_it() -> None:
    _, resolve_by = deadlines(SLA(reply_minutes=30, resolve=1), beijing(2026, 10, 3, 9, 0))
    assert resolve_by == beijing(2026, 10, 8, 23, 59, 59)


def test_repair_on_mid_autumn_friday_with_three_working_days() -> None:
    _, resolve_by = deadlines(SLA(reply_minutes=30, resolve=3), beijing(2026, 9, 25, 9, 0))
    assert resolve_by == beijing(2026, 9, 30, 23, 59, 59)  # Mon 28, Tue 29, Wed 30


def test_across_national_day_onto_the_working_saturday() -> None:
    _, resolve_by = deadlines(SLA(reply_minutes=30, resolve=3), beijing(2026, 9, 30, 10, 0))
    assert resolve_by == beijing(2026, 10, 10, 23, 59, 59)  # Thu 8, Fri 9, Sat 10 (调休)


def test_zero_working_days_is_the_same_working_day_or_the_next() -> None:
    sla = SLA(reply_minutes=30, resolve=0)
    assert deadlines(sla, beijing(2026, 11, 20, 9, 0))[1] == beijing(2026, 11, 20, 23, 59, 59)
    assert deadlines(sla, beijing(2026, 11, 21, 9, 0))[1] == beijing(2026, 11, 23, 23, 59, 59)


def test_the_local_day_counts_not_the_utc_day() -> None:
    received = beijing(2026, 9, 30, 1, 0)  # Wednesday in Beijing, still Tuesday in UTC
    assert received.date() == dt.date(2026, 9, 29)
    _, resolve_by = deadlines(SLA(reply_minutes=5, resolve=1), received)
    assert resolve_by == beijing(2026, 10, 8, 23, 59, 59)  # not Wednesday 30 September
    _, in_utc = deadlines(SLA(reply_minutes=5, resolve=1), received, UTC)
    assert in_utc == dt.datetime(2026, 9, 30, 23, 59, 59, tzinfo=UTC)


def test_received_at_in_another_offset_is_accepted_and_results_are_utc() -> None:
    received = dt.datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
    result = compute_deadlines(SLA(5, 1), received, SHANGHAI, CALENDAR)
    assert result.reply_by == beijing(2026, 11, 20, 10, 5)
    assert result.reply_by.tzinfo is UTC and result.resolve_by.tzinfo is UTC


# -- daylight saving time ----------------------------------------------------------------------


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def test_berlin_spring_forward() -> None:  # clocks go 02:00 → 03:00 on Sunday 29 March 2026
    received = berlin(2026, 3, 28, 12, 0)
    days = compute_deadlines(SLA(5, 1, "calendar_days"), received, BERLIN, CALENDAR)
    assert days.resolve_by == dt.datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC)  # CEST, +2
    hours = compute_deadlines(SLA(5, 24, "hours"), received, BERLIN, CALENDAR)
    assert hours.resolve_by.astimezone(BERLIN).time() == dt.time(13, 0)  # 24 h elapsed


def test_berlin_fall_back() -> None:  # clocks go 03:00 → 02:00 on Sunday 25 October 2026
    received = berlin(2026, 10, 24, 12, 0)
    days = compute_deadlines(SLA(5, 1, "calendar_days"), received, BERLIN, CALENDAR)
    assert days.resolve_by == dt.datetime(2026, 10, 25, 22, 59, 59, tzinfo=UTC)  # CET, +1
    hours = compute_deadlines(SLA(5, 24, "hours"), received, BERLIN, CALENDAR)
    assert hours.resolve_by.astimezone(BERLIN).time() == dt.time(11, 0)


def test_end_of_a_day_whose_midnight_is_skipped() -> None:
    nuuk = ZoneInfo("America/Nuuk")  # 30 March 2024: 23:00 → 00:00, so 23:59:59 never came
    end = end_of_day(dt.date(2024, 3, 30), nuuk)
    assert end.astimezone(nuuk).date() == dt.date(2024, 3, 30)
    assert (end + dt.timedelta(seconds=1)).astimezone(nuuk).date() == dt.date(2024, 3, 31)


def test_end_of_a_day_whose_last_hour_happens_twice() -> None:
    cairo = ZoneInfo("Africa/Cairo")  # 30 October 2025: 24:00 → 23:00
    end = end_of_day(dt.date(2025, 10, 30), cairo)
    assert end.astimezone(cairo).time() == LAST_SECOND
    assert (end + dt.timedelta(seconds=1)).astimezone(cairo).date() == dt.date(2025, 10, 31)


# -- extension (延期) ---------------------------------------------------------------------------


def test_extend_by_working_days_from_the_current_deadline() -> None:
    current = beijing(2026, 9, 30, 23, 59, 59)
    extended = extend_deadline(current, 2, "working_days", SHANGHAI, CALENDAR)
    assert extended == beijing(2026, 10, 9, 23, 59, 59)


def test_extend_by_calendar_days_and_hours() -> None:
    current = beijing(2026, 9, 30, 23, 59, 59)
    assert extend_deadline(current, 5, "calendar_days", SHANGHAI, CALENDAR) == beijing(
        2026, 10, 5, 23, 59, 59
    )
    assert extend_deadline(current, 12, "hours", SHANGHAI, CALENDAR) == beijing(
        2026, 10, 1, 11, 59, 59
    )


# -- wrong input -------------------------------------------------------------------------------


def test_naive_times_and_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_deadlines(SLA(5, 1), dt.datetime(2026, 11, 20, 10), SHANGHAI, CALENDAR)
    with pytest.raises(ValueError, match="timezone-aware"):
        extend_deadline(dt.datetime(2026, 11, 20, 10), 1, "hours", SHANGHAI, CALENDAR)
    with pytest.raises(ValueError, match="0 or more"):
        compute_deadlines(SLA(-1, 1), beijing(2026, 11, 20, 10), SHANGHAI, CALENDAR)
    with pytest.raises(ValueError, match="0 or more"):
        compute_deadlines(SLA(5, -1), beijing(2026, 11, 20, 10), SHANGHAI, CALENDAR)
    with pytest.raises(ValueError, match="unknown resolve unit"):
        extend_deadline(beijing(2026, 11, 20, 10), 1, "weeks", SHANGHAI, CALENDAR)  # type: ignore[arg-type]


# -- properties ---------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=dt.datetime(2004, 1, 1), max_value=dt.datetime(2026, 11, 30), timezones=st.just(UTC)
)
zones = st.sampled_from([SHANGHAI, UTC, BERLIN])
slas = st.builds(
    SLA,
    reply_minutes=st.integers(min_value=0, max_value=10_000),
    resolve=st.integers(min_value=0, max_value=30),
    resolve_unit=st.sampled_from(UNITS),
)


@ignore_fallback
@settings(max_examples=300, deadline=None)
@given(sla=slas, received_at=instants, tz=zones)
def test_deadlines_are_utc_and_never_before_receipt(
    sla: SLA, received_at: dt.datetime, tz: dt.tzinfo
) -> None:
    result = compute_deadlines(sla, received_at, tz, CALENDAR)
    for moment in (result.reply_by, result.resolve_by):
        assert moment.utcoffset() == dt.timedelta(0)
        assert moment >= received_at
    assert result.reply_by - received_at == dt.timedelta(minutes=sla.reply_minutes)
    local_receipt = received_at.astimezone(tz).date()
    local_due = result.resolve_by.astimezone(tz)
    if sla.resolve_unit == "hours":
        assert result.resolve_by - received_at == dt.timedelta(hours=sla.resolve)
    else:
        assert local_due.time() == LAST_SECOND
    if sla.resolve_unit == "calendar_days":
        assert local_due.date() - local_receipt == dt.timedelta(days=sla.resolve)
    if sla.resolve_unit == "working_days":
        assert CALENDAR.is_working_day(local_due.date())
        assert local_due.date() > local_receipt or sla.resolve == 0


@ignore_fallback
@settings(max_examples=200, deadline=None)
@given(
    sla=slas,
    received_at=instants,
    tz=zones,
    amount=st.integers(min_value=0, max_value=20),
    unit=st.sampled_from(UNITS),
)
def test_extension_never_moves_a_deadline_earlier(
    sla: SLA, received_at: dt.datetime, tz: dt.tzinfo, amount: int, unit: ResolveUnit
) -> None:
    current = compute_deadlines(sla, received_at, tz, CALENDAR).resolve_by
    extended = extend_deadline(current, amount, unit, tz, CALENDAR)
    assert extended.utcoffset() == dt.timedelta(0)
    assert extended >= current
    if unit != "hours":
        assert extended.astimezone(tz).time() == LAST_SECOND
    if amount and unit == "working_days":
        assert extended.astimezone(tz).date() > current.astimezone(tz).date()


@ignore_fallback
@settings(max_examples=200, deadline=None)
@given(received_at=instants, tz=zones, n=st.integers(min_value=0, max_value=20))
def test_more_working_days_never_an_earlier_deadline(
    received_at: dt.datetime, tz: dt.tzinfo, n: int
) -> None:
    shorter = compute_deadlines(SLA(5, n), received_at, tz, CALENDAR).resolve_by
    longer = compute_deadlines(SLA(5, n + 1), received_at, tz, CALENDAR).resolve_by
    assert longer >= shorter
