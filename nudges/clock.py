"""Local-time building blocks: busy intervals, clock ranges (working and quiet hours), weekdays.

All arithmetic happens on UTC instants; local wall-clock times are only used to build
boundaries, because adding a timedelta to an aware datetime in Python is wall-clock maths
and goes wrong across a DST change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class BusyInterval(BaseModel):
    """A stretch of time the person is in a meeting, as UTC instants, ``start < end``."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered_and_aware(self) -> BusyInterval:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("busy intervals need time-zone-aware datetimes")
        if not self.start < self.end:
            raise ValueError("a busy interval must end after it starts")
        return self

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


class ClockRange(BaseModel):
    """A daily stretch of local clock time, e.g. 09:00–18:00 or 22:00–07:00 (wraps midnight)."""

    model_config = ConfigDict(frozen=True)

    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> ClockRange:
        if self.start == self.end:
            raise ValueError("a time range must not start and end at the same minute")
        return self

    @property
    def wraps_midnight(self) -> bool:
        return self.end < self.start

    @classmethod
    def parse(cls, text: str) -> ClockRange:
        """Parse ``HH:MM-HH:MM`` (also ``9-17:30`` and en dashes)."""
        match = _RANGE_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a time range like 09:00-17:30")
        return cls(start=parse_clock(match["a"]), end=parse_clock(match["b"]))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def spans_on(self, day: date, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
        """The UTC spans this range covers that touch local ``day``.

        A range that wraps midnight contributes its tail from the previous evening and its
        head into the next morning, so both halves on ``day`` are returned.
        """
        if not self.wraps_midnight:
            return [(local_instant(day, self.start, tz), local_instant(day, self.end, tz))]
        prev, nxt = day - timedelta(days=1), day + timedelta(days=1)
        return [
            (local_instant(prev, self.start, tz), local_instant(day, self.end, tz)),
            (local_instant(day, self.start, tz), local_instant(nxt, self.end, tz)),
        ]

    def contains(self, instant: datetime, tz: ZoneInfo) -> bool:
        """Whether ``instant`` falls inside this range (start inclusive, end exclusive)."""
        local = instant.astimezone(tz).time().replace(tzinfo=None)
        if self.wraps_midnight:
            return local >= self.start or local < self.end
        return self.start <= local < self.end


_CLOCK_RE = re.compile(r"(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?")
_RANGE_RE = re.compile(r"(?P<a>\d{1,2}(?::?\d{2})?)\s*[-–—]\s*(?P<b>\d{1,2}(?::?\d{2})?)")


def parse_clock(text: str) -> time:
    """Parse ``HH:MM``, ``HHMM`` or ``H`` into a time; ``24:00`` means end of day (23:59)."""
    match = _CLOCK_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a time like 09:30")
    hour, minute = int(match["h"]), int(match["m"] or 0)
    if (hour, minute) == (24, 0):
        return time(23, 59)
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r} is not a time of day")
    return time(hour, minute)


def parse_weekdays(text: str) -> frozenset[int]:
    """Parse ``mon-fri``, ``mon,wed,fri``, ``daily`` or ``weekdays`` into weekdays 0 (Mon)–6."""
    words = text.strip().lower()
    if words in ("daily", "every day", "all"):
        return frozenset(range(7))
    if words in ("weekdays", "workdays"):
        return frozenset(range(5))
    if words == "weekends":
        return frozenset({5, 6})
    days: set[int] = set()
    for part in re.split(r"\s*,\s*", words):
        bounds = re.split(r"\s*[-–]\s*", part)
        if len(bounds) > 2 or not all(b[:3] in WEEKDAY_NAMES for b in bounds):
            raise ValueError(f"{text!r} is not a list of days like mon-fri or mon,wed")
        first = WEEKDAY_NAMES.index(bounds[0][:3])
        last = WEEKDAY_NAMES.index(bounds[-1][:3])
        span = (last - first) % 7
        days.update((first + i) % 7 for i in range(span + 1))
    return frozenset(days)


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local wall-clock ``at`` on ``day``.

    A wall time skipped by a spring-forward change resolves with ``fold=0`` to the offset
    before the change, which lands just after the gap, as people expect ("09:00" still
    means the first minute of work).
    """
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC start and end of local ``day`` (23 or 25 hours long on DST-change days)."""
    return local_instant(day, time(0), tz), local_instant(day + timedelta(days=1), time(0), tz)


def merge_intervals(intervals: Iterable[tuple[datetime, datetime]]) -> list[BusyInterval]:
    """Sort and merge overlapping spans into busy intervals.

    Meetings that only touch (one ends as the next starts) stay apart: that boundary is a
    zero-minute gap, and it still gets a reset.
    """
    merged: list[list[datetime]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [BusyInterval(start=s, end=e) for s, e in merged]


def clip(intervals: Sequence[BusyInterval], lo: datetime, hi: datetime) -> list[BusyInterval]:
    """Intervals cut to ``[lo, hi)``; those outside vanish."""
    out: list[BusyInterval] = []
    for iv in intervals:
        start, end = max(iv.start, lo), min(iv.end, hi)
        if start < end:
            out.append(
                iv if (start, end) == (iv.start, iv.end) else BusyInterval(start=start, end=end)
            )
    return out


class Weekdays(BaseModel):
    """A set of ISO weekdays (0 = Monday), printable as ``mon-fri``."""

    model_config = ConfigDict(frozen=True)

    days: frozenset[int] = Field(default=frozenset(range(5)))

    @field_validator("days")
    @classmethod
    def _in_range(cls, days: frozenset[int]) -> frozenset[int]:
        if not days or any(d < 0 or d > 6 for d in days):
            raise ValueError("weekdays are numbers 0 (Monday) to 6 (Sunday), at least one")
        return days

    def __str__(self) -> str:
        ordered = sorted(self.days)
        if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
            return f"{WEEKDAY_NAMES[ordered[0]]}-{WEEKDAY_NAMES[ordered[-1]]}"
        return ",".join(WEEKDAY_NAMES[d] for d in ordered)
