"""Cron schedules: the deadlines of the `missing` rule (`expect_cron`) and of the daily report.

Written here rather than taken from a library so the domain stays pure and the DST rules below
are ours, stated and tested. Syntax: the five standard fields `minute hour day-of-month month
day-of-week`, each `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a list `a,b,c` of
those (a `*` must be the whole field); names JAN-DEC and SUN-SAT in any case; day-of-week 0-7
with 0 and 7 both Sunday; the nicknames @yearly (@annually), @monthly, @weekly, @daily
(@midnight) and @hourly. Anything else raises `ValueError` with a one-line message naming the
field, and so does a schedule that can never fire (`0 0 30 2 *`).

Day rule (Vixie cron): when both day fields are restricted, a day matches if EITHER matches
(`0 6 1 * 1` fires on the 1st and on every Monday). As in Vixie cron a field that starts with
`*` counts as unrestricted, so `0 6 */2 * 1` fires on odd days that are Mondays.

Time zones: deadlines are wall-clock times in the zone given to each call (a `ZoneInfo`), so a
daily `0 6 * * *` is 06:00 local on both sides of a DST change (23 or 25 h apart in UTC).
- A wall time that does not exist (spring-forward gap: 02:30 on the last Sunday of March in
  Paris) fires at the first instant after the gap (03:00 local), once, however many of the
  schedule's times fall in the gap.
- A wall time that happens twice (fall back) fires only at its first occurrence (fold=0): even
  an every-minute schedule is silent during the repeated hour, since its times already fired.
Mapped this way, instants never decrease as wall times increase; the searches rely on it.

Efficiency: searches walk matching days, then their hours and minutes, never minute by minute;
they stop after 400 years (one Gregorian cycle, in which every schedule that parses fires).
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_SEARCH_YEARS = 400
# Spelled out: calendar.month_abbr follows the locale.
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MAX_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class _Field:
    name: str
    lo: int
    hi: int  # values are lo..hi; `top` (day-of-week 7) is accepted and folded onto lo
    top: int
    names: tuple[str, ...] = ()  # names[i] is lo + i
    is_day: bool = False

    @property
    def full(self) -> tuple[int, ...]:
        return tuple(range(self.lo, self.hi + 1))

    def error(self, raw: str, why: str) -> ValueError:
        return ValueError(f"cron {self.name} field {_show(raw)}: {why}")


_FIELDS = (
    _Field("minute", 0, 59, 59),
    _Field("hour", 0, 23, 23),
    _Field("day-of-month", 1, 31, 31, is_day=True),
    _Field("month", 1, 12, 12, _MONTHS),
    _Field("day-of-week", 0, 6, 7, _DAYS, is_day=True),
)
_DOM, _DOW = _FIELDS[2], _FIELDS[4]


def _show(text: str) -> str:
    """User text quoted on one line (repr escapes newlines and control characters), capped."""
    return repr(text if len(text) <= 60 else text[:57] + "...")


@dataclass(frozen=True)
class CronSchedule:
    """A parsed, normalised schedule; equal schedules have the same `str`. Build with `parse`."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: tuple[int, ...]
    months: tuple[int, ...]
    days_of_week: tuple[int, ...]  # 0 = Sunday
    dom_star: bool  # the field started with `*` (Vixie: the day fields then AND, not OR)
    dow_star: bool

    @classmethod
    def parse(cls, text: str) -> CronSchedule:
        expr = text.strip()
        if expr.startswith("@"):
            if expr.lower() not in _NICKNAMES:
                raise ValueError(
                    f"unknown cron nickname {_show(expr)} (use {', '.join(_NICKNAMES)})"
                )
            expr = _NICKNAMES[expr.lower()]
        parts = expr.split()
        if len(parts) != 5:
            raise ValueError(
                f"cron expression {_show(text)} needs 5 fields (minute hour day-of-month month "
                f"day-of-week), found {len(parts)}"
            )
        (mi, _), (hr, _), (dom, dom_star), (mon, _), (dow, dow_star) = (
            _parse_field(raw, field) for raw, field in zip(parts, _FIELDS, strict=True)
        )
        if not (dom_star or dow_star):
            if dom == _DOM.full or dow == _DOW.full:  # OR with an every-day field: every day
                dom, dow, dom_star, dow_star = _DOM.full, _DOW.full, True, True
        else:
            dom_star, dow_star = dom_star or dom == _DOM.full, dow_star or dow == _DOW.full
            if min(dom) > max(_MAX_DAYS[m - 1] for m in mon):
                raise _DOM.error(
                    parts[2], f"never occurs in month {_render(mon, _FIELDS[3], False)}"
                )
        return cls(mi, hr, dom, mon, dow, dom_star, dow_star)

    def __str__(self) -> str:
        fields = (self.minutes, self.hours, self.days_of_month, self.months, self.days_of_week)
        stars = (False, False, self.dom_star, False, self.dow_star)
        return " ".join(_render(v, f, s) for v, f, s in zip(fields, _FIELDS, stars, strict=True))

    def __repr__(self) -> str:
        return f"CronSchedule({str(self)!r})"

    def next_after(self, t: float, tz: ZoneInfo) -> float:
        """The first deadline strictly after `t` (epoch seconds)."""
        wall = self._next_wall(t, tz)
        if wall is None:
            raise ValueError(f"cron {self} has no deadline in the {_SEARCH_YEARS} years after {t}")
        return _instant(wall, tz)

    def latest_at_or_before(self, t: float, tz: ZoneInfo) -> float | None:
        """The last deadline <= `t`, or None if there is none in the 400 years before it."""
        edge = self._next_wall(t, tz) or _wall(t, tz) + timedelta(minutes=1)
        for wall in self._walls(edge, forward=False):
            instant = _instant(wall, tz)
            if instant <= t:  # always true below `_next_wall` (instants grow with walls)
                return instant
        return None

    def _next_wall(self, t: float, tz: ZoneInfo) -> datetime | None:
        """The first matching wall time whose instant is > t. Wall times before t's own have
        instants <= t, so the search starts there; a few more (the first pass of a repeated
        hour, when t is in the second) are skipped by the comparison."""
        for wall in self._walls(_wall(t, tz), forward=True):
            if _instant(wall, tz) > t:
                return wall
        return None

    def _walls(self, edge: datetime, forward: bool) -> Iterator[datetime]:
        """Matching wall times (naive, whole minutes), nearest first: from `edge` on, inclusive,
        or before it, exclusive. Walks months, then matching days, then hours and minutes."""
        step = 1 if forward else -1
        last = min(max(edge.year + step * _SEARCH_YEARS, 1), 9999)

        def skipped(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
            return a < b if forward else a > b

        ymd = (edge.year, edge.month, edge.day)
        for year in range(edge.year, last + step, step):
            for month in self.months[::step]:
                if skipped((year, month), ymd[:2]):
                    continue
                for day in self._days(year, month)[::step]:
                    if skipped((year, month, day), ymd):
                        continue
                    today = (year, month, day) == ymd
                    for hour in self.hours[::step]:
                        if today and skipped((hour,), (edge.hour,)):
                            continue
                        for minute in self.minutes[::step]:
                            wall = datetime(year, month, day, hour, minute)
                            if (wall >= edge) if forward else (wall < edge):
                                yield wall

    def _days(self, year: int, month: int) -> tuple[int, ...]:
        first, count = calendar.monthrange(year, month)  # first: Monday = 0
        either = not (self.dom_star or self.dow_star)
        days = []
        for day in range(1, count + 1):
            in_dom = day in self.days_of_month
            in_dow = (first + day) % 7 in self.days_of_week  # cron: Sunday = 0
            if (in_dom or in_dow) if either else (in_dom and in_dow):
                days.append(day)
        return tuple(days)


def _wall(t: float, tz: ZoneInfo) -> datetime:
    """The local wall-clock minute holding `t` (naive)."""
    return datetime.fromtimestamp(t, tz).replace(tzinfo=None, second=0, microsecond=0)


def _instant(wall: datetime, tz: ZoneInfo) -> float:
    """When a wall time fires: its first occurrence, or the end of the gap it falls in."""
    first = wall.replace(tzinfo=tz).timestamp()  # fold=0: the earlier of two occurrences
    if datetime.fromtimestamp(first, tz).replace(tzinfo=None) == wall:
        return first
    # In a gap fold=0 and fold=1 land on either side of the transition: bisect for it.
    other = wall.replace(tzinfo=tz, fold=1).timestamp()
    lo, hi = math.floor(min(first, other)), math.ceil(max(first, other))
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return float(hi)


def _parse_field(raw: str, field: _Field) -> tuple[tuple[int, ...], bool]:
    """The field's sorted values, and whether it started with `*`."""
    items = raw.split(",")
    if len(items) > 1 and any(item.startswith("*") for item in items):
        raise field.error(raw, "'*' must be the whole field, not part of a list")
    values: set[int] = set()
    for item in items:
        body, slash, step_text = item.partition("/")
        span = field.hi - field.lo + 1
        step = int(step_text) if step_text.isascii() and step_text.isdigit() else 0
        step = step if slash else 1
        if slash and not 1 <= step <= span:
            raise field.error(raw, f"step {_show(step_text)} is not a number in 1-{span}")
        if body == "*":
            start, end = field.lo, field.hi
        elif "-" in body:
            first, _, second = body.partition("-")
            start, end = _value(first, field, raw), _value(second, field, raw)
            if start > end:
                raise field.error(raw, f"range {body} runs backwards")
        elif slash:
            raise field.error(raw, "a step needs '*' or a range before '/'")
        else:
            start = end = _value(body, field, raw)
        values.update(v if v <= field.hi else field.lo for v in range(start, end + 1, step))
    return tuple(sorted(values)), raw.startswith("*")


def _value(text: str, field: _Field, raw: str) -> int:
    if text.upper() in field.names:
        return field.lo + field.names.index(text.upper())
    if not (text.isascii() and text.isdigit()):
        names = f" or a name {field.names[0]}-{field.names[-1]}" if field.names else ""
        raise field.error(raw, f"{_show(text)} is not a number{names}")
    if not field.lo <= int(text) <= field.top:
        raise field.error(raw, f"{int(text)} is out of range {field.lo}-{field.top}")
    return int(text)


def _render(values: tuple[int, ...], field: _Field, starred: bool) -> str:
    """The shortest usual spelling that parses back to the same values (and star flag)."""
    if starred:  # only `*` or `*/n` start with `*`; a single value means n spans the field
        gap = values[1] - values[0] if len(values) > 1 else field.hi - field.lo + 1
        return "*" if values == field.full else f"*/{gap}"
    if values == field.full and not field.is_day:
        return "*"
    gap = values[1] - values[0] if len(values) > 2 else 1
    if gap > 1 and values == tuple(range(values[0], values[-1] + 1, gap)):
        if values[0] == field.lo and values[-1] + gap > field.hi and not field.is_day:
            return f"*/{gap}"
        return f"{values[0]}-{values[-1]}/{gap}"
    runs: list[list[int]] = []
    for v in values:
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)
