"""Cron schedules: parsing, next and previous deadlines, the Vixie day rule, DST in real zones."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ingestflow.domain.cron import CronSchedule

UTC = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600.0


def at(
    tz: ZoneInfo, y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, fold: int = 0
) -> float:
    """Epoch seconds of a wall-clock time in `tz`."""
    return datetime(y, mo, d, h, mi, s, tzinfo=tz, fold=fold).timestamp()


def local(t: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(t, tz).isoformat()


def deadlines(expr: str, start: float, tz: ZoneInfo, count: int) -> list[str]:
    """The next `count` deadlines after `start`, as local ISO times."""
    schedule, found = CronSchedule.parse(expr), []
    for _ in range(count):
        start = schedule.next_after(start, tz)
        found.append(local(start, tz))
    return found


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("0 6 * * 1-5", "0 6 * * 1-5"),
        ("  0   6 * *\t* ", "0 6 * * *"),
        ("07 06 * * *", "7 6 * * *"),
        ("*/15 9-17 * * mon-FRI", "*/15 9-17 * * 1-5"),
        ("0 0 1 jan,Jul *", "0 0 1 1,7 *"),
        ("0 0 1 JAN-mar *", "0 0 1 1-3 *"),
        ("0-59/20 * * * *", "*/20 * * * *"),
        ("5-59/20 * * * *", "5-45/20 * * * *"),
        ("1,3-5,10,11 * * * *", "1,3-5,10,11 * * * *"),
        ("0 8-18/5 * * *", "0 8-18/5 * * *"),
        ("0 0 * * 7", "0 0 * * 0"),
        ("0 0 * * 5-7", "0 0 * * 0,5,6"),
        ("0 0 * * 0-7", "0 0 * * *"),
        ("0 0 13 * fri", "0 0 13 * 5"),
        ("0 6 1-31 * 1", "0 6 * * *"),  # either day field matching every day: every day
        ("0 0 */2 * 1", "0 0 */2 * 1"),
        ("0 0 */31 * */7", "0 0 */31 * */7"),
        ("0 0 29 2 *", "0 0 29 2 *"),
        ("0 0 30 2 1", "0 0 30 2 1"),  # never the 30th, but Mondays in February
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@HOURLY", "0 * * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
    ],
)
def test_a_valid_expression_parses_to_its_normalised_form(text: str, normal: str) -> None:
    schedule = CronSchedule.parse(text)
    assert str(schedule) == normal
    assert CronSchedule.parse(normal) == schedule
    assert repr(schedule) == f"CronSchedule({normal!r})"


def test_schedules_that_normalise_alike_are_equal_and_hash_alike() -> None:
    sundays = [CronSchedule.parse(t) for t in ("0 0 * * 7", "0 0 * * sun", "0 0 * * 0", "@weekly")]
    assert all(s == sundays[0] and hash(s) == hash(sundays[0]) for s in sundays)
    assert CronSchedule.parse("0 6 * * *") != CronSchedule.parse("0 6 * * 1")
    assert CronSchedule.parse("0 0 */2 * 1") != CronSchedule.parse("0 0 1-31/2 * 1")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "5 fields"),
        ("* * * *", "5 fields"),
        ("* * * * * *", "5 fields"),
        ("* * * * *\n*", "5 fields"),
        ("60 * * * *", "minute"),
        ("-1 * * * *", "minute"),
        ("x * * * *", "minute"),
        ("1,,2 * * * *", "minute"),
        ("1-2-3 * * * *", "minute"),
        ("5-1 * * * *", "minute"),
        ("5/10 * * * *", "minute"),
        ("*,5 * * * *", "minute"),
        ("*/0 * * * *", "minute"),
        ("*/61 * * * *", "minute"),
        ("*/x * * * *", "minute"),
        ("* 24 * * *", "hour"),
        ("* \u0661 * * *", "hour"),  # an Arabic-Indic digit is not a cron number
        ("* * 0 * *", "day-of-month"),
        ("* * 32 * *", "day-of-month"),
        ("* * * 0 *", "month"),
        ("* * * 13 *", "month"),
        ("* * * FOO *", "month"),
        ("* * * JAN-FOO *", "month"),
        ("* * * * 8", "day-of-week"),
        ("* * * * JAN", "day-of-week"),
        ("* * * * 1/2", "day-of-week"),
        ("0 0 30 2 *", "day-of-month"),  # never fires
        ("0 0 31 4,6,9,11 *", "day-of-month"),
        ("@reboot", "nickname"),
        ("@fortnightly", "nickname"),
    ],
)
def test_an_invalid_expression_raises_a_one_line_error_naming_the_field(
    text: str, named: str
) -> None:
    with pytest.raises(ValueError, match=named) as raised:
        CronSchedule.parse(text)
    assert "\n" not in str(raised.value)


def test_control_characters_in_a_bad_expression_are_escaped_in_the_error() -> None:
    with pytest.raises(ValueError) as raised:
        CronSchedule.parse("* * * * \x1b[31mMON\r\nBcc: x")
    assert "\x1b" not in str(raised.value)
    assert "\r" not in str(raised.value)


# --- next and previous deadlines -------------------------------------------------------------


def test_every_minute_fires_on_the_next_whole_minute_strictly_after_t() -> None:
    schedule, t = CronSchedule.parse("* * * * *"), at(UTC, 2024, 5, 1, 12, 0)
    assert schedule.next_after(t, UTC) == t + 60
    assert schedule.next_after(t + 0.5, UTC) == t + 60
    assert schedule.latest_at_or_before(t, UTC) == t
    assert schedule.latest_at_or_before(t + 59.9, UTC) == t
    assert schedule.latest_at_or_before(t - 0.1, UTC) == t - 60


def test_a_daily_utc_schedule_fires_at_the_same_time_every_day() -> None:
    start = at(UTC, 2024, 3, 30, 6, 0)
    assert deadlines("0 6 * * *", start, UTC, 3) == [
        "2024-03-31T06:00:00+00:00",
        "2024-04-01T06:00:00+00:00",
        "2024-04-02T06:00:00+00:00",
    ]
    assert deadlines("30 2 * * *", at(UTC, 2024, 3, 31), UTC, 1) == ["2024-03-31T02:30:00+00:00"]


def test_a_weekday_schedule_skips_the_weekend() -> None:
    friday = at(PARIS, 2024, 9, 6, 6, 0)
    assert deadlines("0 6 * * 1-5", friday, PARIS, 2) == [
        "2024-09-09T06:00:00+02:00",
        "2024-09-10T06:00:00+02:00",
    ]


def test_the_31st_skips_the_months_that_have_no_31st() -> None:
    assert deadlines("0 0 31 * *", at(UTC, 2024, 1, 31), UTC, 4) == [
        "2024-03-31T00:00:00+00:00",
        "2024-05-31T00:00:00+00:00",
        "2024-07-31T00:00:00+00:00",
        "2024-08-31T00:00:00+00:00",
    ]
    schedule = CronSchedule.parse("0 0 31 * *")
    assert schedule.latest_at_or_before(at(UTC, 2024, 5, 30), UTC) == at(UTC, 2024, 3, 31)


def test_deadlines_cross_month_and_year_ends() -> None:
    assert deadlines("59 23 * * *", at(UTC, 2024, 12, 31, 23, 59), UTC, 1) == [
        "2025-01-01T23:59:00+00:00"
    ]
    first = CronSchedule.parse("0 0 1 * *")
    assert first.latest_at_or_before(at(UTC, 2025, 1, 1), UTC) == at(UTC, 2025, 1, 1)
    assert first.latest_at_or_before(at(UTC, 2025, 1, 1) - 1, UTC) == at(UTC, 2024, 12, 1)
    assert first.next_after(at(UTC, 2024, 12, 31, 23, 59, 59), UTC) == at(UTC, 2025, 1, 1)


def test_february_29th_is_found_in_leap_years_only_and_quickly() -> None:
    schedule = CronSchedule.parse("0 6 29 2 *")
    assert deadlines("0 6 29 2 *", at(UTC, 2023, 3, 1), UTC, 2) == [
        "2024-02-29T06:00:00+00:00",
        "2028-02-29T06:00:00+00:00",
    ]
    began = time.perf_counter()
    assert schedule.next_after(at(PARIS, 2096, 3, 1), PARIS) == at(PARIS, 2104, 2, 29, 6, 0)
    assert schedule.latest_at_or_before(at(PARIS, 2103, 3, 1), PARIS) == at(
        PARIS, 2096, 2, 29, 6, 0
    )
    assert time.perf_counter() - began < 0.05  # no minute-by-minute walk across 8 years


def test_when_both_day_fields_are_restricted_either_one_matching_is_enough() -> None:
    # September 2024: Fridays are the 6th, 13th, 20th, 27th; October 13th is a Sunday.
    assert [d[:10] for d in deadlines("0 0 13 * 5", at(UTC, 2024, 9, 1), UTC, 8)] == [
        "2024-09-06",
        "2024-09-13",
        "2024-09-20",
        "2024-09-27",
        "2024-10-04",
        "2024-10-11",
        "2024-10-13",
        "2024-10-18",
    ]


def test_a_day_field_starting_with_a_star_makes_both_day_fields_required() -> None:
    # Vixie cron: `*/2` counts as unrestricted, so the fields AND: odd days that are Mondays.
    assert [d[:10] for d in deadlines("0 0 */2 * 1", at(UTC, 2024, 9, 1), UTC, 4)] == [
        "2024-09-09",
        "2024-09-23",
        "2024-10-07",
        "2024-10-21",
    ]
    # February 29th on a Sunday: 2088, then 2128 (2100 is no leap year); OR would be weekly.
    assert deadlines("0 0 29 2 */7", at(UTC, 2089, 1, 1), UTC, 1) == ["2128-02-29T00:00:00+00:00"]
    assert deadlines("0 0 29 2 0", at(UTC, 2089, 1, 1), UTC, 1) == ["2089-02-06T00:00:00+00:00"]


def test_steps_fire_on_every_nth_value_of_their_range() -> None:
    assert deadlines("*/15 * * * *", at(UTC, 2024, 5, 1, 12, 7), UTC, 4) == [
        "2024-05-01T12:15:00+00:00",
        "2024-05-01T12:30:00+00:00",
        "2024-05-01T12:45:00+00:00",
        "2024-05-01T13:00:00+00:00",
    ]
    assert [d[11:16] for d in deadlines("0 8-18/5 * * *", at(UTC, 2024, 5, 1), UTC, 4)] == [
        "08:00",
        "13:00",
        "18:00",
        "08:00",
    ]


# --- daylight saving time --------------------------------------------------------------------

# (zone, the day clocks go forward, the day they go back), 2024.
CHANGES = [(PARIS, (2024, 3, 31), (2024, 10, 27)), (NEW_YORK, (2024, 3, 10), (2024, 11, 3))]


@pytest.mark.parametrize(("tz", "spring", "autumn"), CHANGES, ids=["Paris", "New_York"])
def test_a_daily_deadline_stays_at_six_local_across_both_changes(
    tz: ZoneInfo, spring: tuple[int, int, int], autumn: tuple[int, int, int]
) -> None:
    schedule = CronSchedule.parse("0 6 * * *")
    for day, hours in ((spring, 23), (autumn, 25)):
        before = datetime(*day, 6, tzinfo=tz) - timedelta(days=1)
        first = schedule.next_after(before.timestamp(), tz)
        second = schedule.next_after(first, tz)
        assert local(first, tz)[:16] == f"{day[0]}-{day[1]:02}-{day[2]:02}T06:00"
        assert local(second, tz)[11:16] == "06:00"
        assert (first - before.timestamp(), second - first) == (hours * HOUR, 24 * HOUR)
        assert schedule.latest_at_or_before(second - 1, tz) == first


def test_a_time_in_the_spring_gap_fires_once_at_the_end_of_the_gap() -> None:
    assert deadlines("30 2 * * *", at(PARIS, 2024, 3, 30, 12), PARIS, 2) == [
        "2024-03-31T03:00:00+02:00",
        "2024-04-01T02:30:00+02:00",
    ]
    assert deadlines("30 2 * * *", at(NEW_YORK, 2024, 3, 9, 12), NEW_YORK, 2) == [
        "2024-03-10T03:00:00-04:00",
        "2024-03-11T02:30:00-04:00",
    ]
    schedule, gap_end = CronSchedule.parse("30 2 * * *"), at(PARIS, 2024, 3, 31, 3)
    assert schedule.latest_at_or_before(gap_end, PARIS) == gap_end
    assert schedule.latest_at_or_before(gap_end - 1, PARIS) == at(PARIS, 2024, 3, 30, 2, 30)


def test_several_times_in_the_gap_and_the_time_after_it_fire_once_together() -> None:
    assert deadlines("0,30 2,3 * * *", at(PARIS, 2024, 3, 31), PARIS, 3) == [
        "2024-03-31T03:00:00+02:00",
        "2024-03-31T03:30:00+02:00",
        "2024-04-01T02:00:00+02:00",
    ]


def test_a_repeated_time_fires_only_at_its_first_occurrence() -> None:
    assert deadlines("30 2 * * *", at(PARIS, 2024, 10, 26, 12), PARIS, 2) == [
        "2024-10-27T02:30:00+02:00",
        "2024-10-28T02:30:00+01:00",
    ]
    schedule = CronSchedule.parse("30 1 * * *")
    first, second_pass = at(NEW_YORK, 2024, 11, 3, 1, 30), at(NEW_YORK, 2024, 11, 3, 1, 40, fold=1)
    assert schedule.next_after(first - 60, NEW_YORK) == first
    assert local(schedule.next_after(first, NEW_YORK), NEW_YORK) == "2024-11-04T01:30:00-05:00"
    assert local(schedule.next_after(second_pass, NEW_YORK), NEW_YORK)[:10] == "2024-11-04"
    assert schedule.latest_at_or_before(second_pass, NEW_YORK) == first


def test_an_hourly_schedule_is_silent_in_the_repeated_hour_and_once_for_the_gap() -> None:
    assert deadlines("0 * * * *", at(NEW_YORK, 2024, 11, 3, 0, 30), NEW_YORK, 3) == [
        "2024-11-03T01:00:00-04:00",
        "2024-11-03T02:00:00-05:00",  # 01:00 EST already fired, as EDT
        "2024-11-03T03:00:00-05:00",
    ]
    assert deadlines("0 * * * *", at(NEW_YORK, 2024, 3, 10, 1, 30), NEW_YORK, 2) == [
        "2024-03-10T03:00:00-04:00",  # 02:00 does not exist: it and 03:00 fire once
        "2024-03-10T04:00:00-04:00",
    ]


# --- properties ------------------------------------------------------------------------------

# Schedules that fire at least every few days, each with an independent matcher of wall times.
ORACLES: dict[str, Callable[[datetime], bool]] = {
    "* * * * *": lambda w: True,
    "*/7 * * * *": lambda w: w.minute % 7 == 0,
    "30 2 * * *": lambda w: (w.hour, w.minute) == (2, 30),
    "15,45 1-3 * * *": lambda w: w.minute in (15, 45) and 1 <= w.hour <= 3,
    "0 */2 * * 1-5": lambda w: w.minute == 0 and w.hour % 2 == 0 and w.isoweekday() <= 5,
    "30 1 13 * 1-5": lambda w: (w.hour, w.minute) == (1, 30) and (w.day == 13 or w.weekday() < 5),
}
TRANSITIONS = [at(UTC, 2024, 3, 31, 1), at(UTC, 2024, 10, 27, 1)]  # Paris (and Europe)
TRANSITIONS += [at(UTC, 2024, 3, 10, 7), at(UTC, 2024, 11, 3, 6)]  # New York
TIMES = st.one_of(
    st.floats(at(UTC, 1971, 1, 1), at(UTC, 2100, 1, 1)),
    st.sampled_from(TRANSITIONS).flatmap(lambda c: st.floats(c - 2 * 86400, c + 2 * 86400)),
)


def is_deadline(x: float, tz: ZoneInfo, matches: Callable[[datetime], bool]) -> bool:
    """By the DST rules, from first principles: a matching wall time at its first occurrence,
    or the first instant after a gap that swallowed a matching wall time."""
    here = datetime.fromtimestamp(x, tz)
    if here.fold == 0 and matches(here.replace(tzinfo=None)):
        return True
    before = datetime.fromtimestamp(x - 1, tz).replace(tzinfo=None)
    wall = before.replace(second=0) + timedelta(minutes=1)
    while wall < here.replace(tzinfo=None) - timedelta(seconds=1):  # walls skipped by a gap
        if matches(wall):
            return True
        wall += timedelta(minutes=1)
    return False


@settings(max_examples=150, deadline=None)
@given(
    expr=st.sampled_from(sorted(ORACLES)),
    tz=st.sampled_from([UTC, PARIS, NEW_YORK]),
    t=TIMES,
)
def test_nothing_fires_between_t_and_the_next_deadline_and_it_is_its_own_latest(
    expr: str, tz: ZoneInfo, t: float
) -> None:
    schedule, matches = CronSchedule.parse(expr), ORACLES[expr]
    nxt = schedule.next_after(t, tz)
    assert nxt > t and is_deadline(nxt, tz, matches)
    assert schedule.latest_at_or_before(nxt, tz) == nxt
    x = (math.floor(t / 60) + 1) * 60.0
    while x < nxt:
        assert not is_deadline(x, tz, matches), local(x, tz)
        x += 60
    latest = schedule.latest_at_or_before(t, tz)
    assert latest is not None and latest <= t and is_deadline(latest, tz, matches)
    assert schedule.next_after(latest, tz) == nxt


def _field(lo: int, hi: int) -> st.SearchStrategy[str]:
    n = st.integers(lo, hi)
    span = st.integers(1, hi - lo + 1)
    item = st.one_of(
        n.map(str),
        st.tuples(n, n).map(lambda ab: f"{min(ab)}-{max(ab)}"),
        st.tuples(n, n, span).map(lambda abn: f"{min(abn[:2])}-{max(abn[:2])}/{abn[2]}"),
    )
    listed = st.lists(item, min_size=1, max_size=4).map(",".join)
    return st.one_of(st.just("*"), span.map(lambda s: f"*/{s}"), listed)


EXPRESSIONS = st.tuples(
    _field(0, 59), _field(0, 23), _field(1, 31), _field(1, 12), _field(0, 7)
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(text=EXPRESSIONS)
def test_the_normalised_form_parses_back_to_an_equal_schedule(text: str) -> None:
    try:
        schedule = CronSchedule.parse(text)
    except ValueError:
        assume(False)  # a day that never occurs in the chosen months
        raise
    again = CronSchedule.parse(str(schedule))
    assert again == schedule and str(again) == str(schedule)
