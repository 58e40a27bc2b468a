"""A day's shape: meetings, gaps, back-to-back chains, and the recovery-load curve.

The load model (explained with its constants in docs/science.md): load rises towards 1
while a person is in meetings and drains towards 0 in the gaps between them. It is a
picture of "stress that never returns to baseline", not a measurement of anyone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from nudges.clock import BusyInterval, ClockRange, Weekdays, clip, day_bounds


class MeetingBlock(BaseModel):
    """Meetings joined by gaps shorter than the chain gap (a single meeting is a block of one)."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    meetings: tuple[BusyInterval, ...]

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60

    @property
    def is_back_to_back(self) -> bool:
        return len(self.meetings) >= 2


class LoadPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    load: float


class LoadModel(BaseModel):
    """Time constants of the recovery-load curve (see docs/science.md)."""

    model_config = ConfigDict(frozen=True)

    rise_minutes: float = 60.0  # in meetings, load closes 63% of its distance to 1 per hour
    recovery_minutes: float = 15.0  # in a gap, load sheds 63% of itself per quarter hour


class DayShape(BaseModel):
    """Everything the planner and the person see about one local day's meetings."""

    model_config = ConfigDict(frozen=True)

    day: date
    meetings: tuple[BusyInterval, ...]
    blocks: tuple[MeetingBlock, ...]
    meeting_minutes: float
    longest_chain_minutes: float
    after_hours_minutes: float

    @property
    def chains(self) -> tuple[MeetingBlock, ...]:
        """Back-to-back chains: blocks of two meetings or more."""
        return tuple(b for b in self.blocks if b.is_back_to_back)


def chain_groups(busy: Sequence[BusyInterval], chain_gap: timedelta) -> list[list[BusyInterval]]:
    """Sorted busy intervals grouped: a gap shorter than ``chain_gap`` joins two meetings.

    Plain lists, no models: the planner groups every person's calendar with this.
    """
    groups: list[list[BusyInterval]] = []
    for meeting in busy:
        if groups and meeting.start - groups[-1][-1].end < chain_gap:
            groups[-1].append(meeting)
        else:
            groups.append([meeting])
    return groups


def group_blocks(busy: Sequence[BusyInterval], chain_gap: timedelta) -> list[MeetingBlock]:
    """:func:`chain_groups` as MeetingBlock models (the day shape people see)."""
    return [
        MeetingBlock(start=group[0].start, end=group[-1].end, meetings=tuple(group))
        for group in chain_groups(busy, chain_gap)
    ]


def describe_day(
    busy: Sequence[BusyInterval],
    *,
    day: date,
    tz: ZoneInfo,
    working_hours: ClockRange,
    working_days: Weekdays,
    chain_gap: timedelta,
) -> DayShape:
    """The shape of local ``day`` from the person's busy intervals (any range; cut to the day)."""
    lo, hi = day_bounds(day, tz)
    meetings = clip(busy, lo, hi)
    blocks = group_blocks(meetings, chain_gap)
    minutes = sum(m.minutes for m in meetings)
    # As in the planner, a shift that wraps midnight belongs to the day it starts on.
    working = [
        (max(s, lo), min(e, hi))
        for s, e in working_hours.spans_on(day, tz)
        if s.astimezone(tz).weekday() in working_days.days
    ]
    inside = sum(
        (min(m.end, e) - max(m.start, s)).total_seconds() / 60
        for m in meetings
        for s, e in working
        if min(m.end, e) > max(m.start, s)
    )
    return DayShape(
        day=day,
        meetings=tuple(meetings),
        blocks=tuple(blocks),
        meeting_minutes=round(minutes, 2),
        longest_chain_minutes=round(max((b.minutes for b in blocks), default=0.0), 2),
        after_hours_minutes=round(minutes - inside, 2),
    )


def recovery_load(
    busy: Sequence[BusyInterval],
    *,
    start: datetime,
    end: datetime,
    step: timedelta = timedelta(minutes=15),
    model: LoadModel | None = None,
) -> list[LoadPoint]:
    """The load curve sampled every ``step`` from ``start`` to ``end`` (both included).

    Load starts at 0 (rested) and follows dL/dt = (1 - L) / rise in meetings and
    dL/dt = -L / recovery in gaps, solved exactly between events, so the curve does not
    depend on the sampling step.
    """
    model = model or LoadModel()
    # Step in UTC: adding a timedelta to a local aware datetime is wall-clock maths, which
    # skips or repeats an hour across a DST change. Points keep the zone of ``start``.
    zone = start.tzinfo
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    meetings = clip(busy, start, end)
    points: list[LoadPoint] = []
    load, cursor, index = 0.0, start, 0
    sample = start
    while sample <= end:
        while cursor < sample:
            while index < len(meetings) and meetings[index].end <= cursor:
                index += 1
            in_meeting = index < len(meetings) and meetings[index].start <= cursor
            if in_meeting:
                until = min(meetings[index].end, sample)
            else:
                until = min(meetings[index].start, sample) if index < len(meetings) else sample
            minutes = (until - cursor).total_seconds() / 60
            if in_meeting:
                load = 1 - (1 - load) * math.exp(-minutes / model.rise_minutes)
            else:
                load *= math.exp(-minutes / model.recovery_minutes)
            cursor = until
        points.append(LoadPoint(at=sample.astimezone(zone), load=round(load, 3)))
        sample += step
    return points
