"""Team recovery windows: a channel's recurring stretch of protected time, as local wall-clock
time in the lead's zone, and the maths around it (occurrences, edges, overlap with meetings).

Pure: no clock reads; every instant is UTC and built from local wall time with
:func:`nudges.clock.local_instant`, so a weekly window stays at 14:00 local across a DST change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nudges.clock import BusyInterval, ClockRange, Weekdays, local_instant

MAX_NAME = 60
# The weekly overlap digest reaches the lead on Monday morning, in the window's zone.
DIGEST_WEEKDAY = 0
DIGEST_AT = time(8, 0)


class Edge(StrEnum):
    START = "start"
    END = "end"
    DIGEST = "digest"


class RecoveryWindow(BaseModel):
    """``days`` at ``hours`` (local to ``tz``, the lead's zone), in one channel."""

    model_config = ConfigDict(frozen=True)

    id: str
    channel: str
    days: Weekdays
    hours: ClockRange
    tz: ZoneInfo
    lead: str
    name: str | None = Field(default=None, max_length=MAX_NAME)

    @model_validator(mode="after")
    def _same_day(self) -> RecoveryWindow:
        if self.hours.wraps_midnight:
            raise ValueError("a recovery window must end on the day it starts")
        return self

    def on(self, day: date) -> tuple[datetime, datetime] | None:
        """The UTC span of the occurrence on local ``day`` (None if the window skips it)."""
        if day.weekday() not in self.days.days:
            return None
        return local_instant(day, self.hours.start, self.tz), local_instant(
            day, self.hours.end, self.tz
        )


class WindowEdge(NamedTuple):
    at: datetime
    edge: Edge
    day: date  # the occurrence's local date in the window's zone


def occurrences(
    window: RecoveryWindow, lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime]]:
    """Every occurrence (UTC spans) that overlaps ``[lo, hi)``, in time order."""
    spans = []
    day = lo.astimezone(window.tz).date() - timedelta(days=1)
    last = hi.astimezone(window.tz).date() + timedelta(days=1)
    while day <= last:
        span = window.on(day)
        if span is not None and span[0] < hi and span[1] > lo:
            spans.append(span)
        day += timedelta(days=1)
    return spans


def blocked_spans(
    windows: Iterable[RecoveryWindow], lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime]]:
    """The occurrences of all ``windows`` over ``[lo, hi)``, sorted (they may overlap)."""
    return sorted(span for w in windows for span in occurrences(w, lo, hi))


def inside(windows: Iterable[RecoveryWindow], at: datetime) -> bool:
    """Whether ``at`` falls in an occurrence of any window (start inclusive, end exclusive)."""
    return any(
        start <= at < end for w in windows for start, end in occurrences(w, at, at + _SECOND)
    )


def next_edge(window: RecoveryWindow, after: datetime) -> WindowEdge:
    """The first start, end or weekly digest strictly after ``after``."""
    day = after.astimezone(window.tz).date() - timedelta(days=1)
    for _ in range(16):  # a weekly window has an edge at most 8 local days on
        candidates = []
        span = window.on(day)
        if span is not None:
            candidates += [WindowEdge(span[0], Edge.START, day), WindowEdge(span[1], Edge.END, day)]
        if day.weekday() == DIGEST_WEEKDAY:
            candidates.append(
                WindowEdge(local_instant(day, DIGEST_AT, window.tz), Edge.DIGEST, day)
            )
        for candidate in sorted(candidates):
            if candidate.at > after:
                return candidate
        day += timedelta(days=1)
    raise AssertionError("unreachable: every week has a digest")  # pragma: no cover


def edge_at(window: RecoveryWindow, at: datetime) -> WindowEdge | None:
    """The edge that falls exactly at ``at`` (a scheduled edge, read back), if any."""
    found = next_edge(window, at - _SECOND)
    return found if found.at == at else None


def in_zone(window: RecoveryWindow, tz: ZoneInfo, *, now: datetime) -> tuple[datetime, datetime]:
    """The next occurrence (or the current one) for showing in someone's own ``tz``."""
    spans = occurrences(window, now, now + timedelta(days=8))
    start, end = spans[0]
    return start.astimezone(tz), end.astimezone(tz)


class Overlap(NamedTuple):
    with_calendar: int  # members with a connected calendar
    booked: int  # of those, how many have a meeting over an occurrence in the next 7 days


def overlap(
    calendars: Sequence[Sequence[BusyInterval]], window: RecoveryWindow, *, now: datetime
) -> Overlap:
    """How many of the people whose busy time is given have a meeting over the window's
    occurrences in the next 7 days (never who)."""
    spans = occurrences(window, now, now + timedelta(days=7))
    booked = sum(
        1
        for busy in calendars
        if any(b.start < end and b.end > start for b in busy for start, end in spans)
    )
    return Overlap(with_calendar=len(calendars), booked=booked)


_SECOND = timedelta(seconds=1)
