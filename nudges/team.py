"""The team view's figures, from many people's own data, aggregated so no one stands out.

Pure. Every figure comes with the number of people who contributed to it; the caller shows
it only when that number reaches the minimum group (and the differencing guard agrees).
Outputs are coarse on purpose: quartiles to the half hour, shares to ten percent.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from nudges.clock import BusyInterval, clip
from nudges.density import chain_groups
from nudges.feelings import FeelEntry
from nudges.insights import Outcome, OutcomeRecord

MIN_GROUP = 5  # never below this, whatever the setting says
WEEK = timedelta(days=7)
LONG_CHAIN = timedelta(hours=2)
_SKIPPED = frozenset({Outcome.NOT_NOW, Outcome.FEWER, Outcome.EXPIRED})


class MeetingLoad(BaseModel):
    """Meeting hours per working day over the last 7 days: quartiles across people."""

    model_config = ConfigDict(frozen=True)

    people: int
    q1: float
    median: float
    q3: float


class ChainShare(BaseModel):
    model_config = ConfigDict(frozen=True)

    people: int
    percent: int  # share with a back-to-back chain over 2 h, to the nearest 10 %


class ResetCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    people: int
    taken: int
    skipped: int


class FeelAverage(BaseModel):
    model_config = ConfigDict(frozen=True)

    people: int
    this_week: float
    last_week: float


def half_hour(hours: float) -> float:
    return round(hours * 2) / 2


def meeting_load(calendars: Sequence[Sequence[BusyInterval]], *, now: datetime) -> MeetingLoad:
    """Each person's meeting hours over the last 7 days, per weekday (5 of them), then the
    quartiles across people, each rounded to the half hour."""
    per_day = [sum(b.minutes for b in clip(busy, now - WEEK, now)) / 60 / 5 for busy in calendars]
    if len(per_day) < 2:
        value = half_hour(per_day[0]) if per_day else 0.0
        return MeetingLoad(people=len(per_day), q1=value, median=value, q3=value)
    q1, median, q3 = statistics.quantiles(per_day, n=4, method="inclusive")
    return MeetingLoad(
        people=len(per_day), q1=half_hour(q1), median=half_hour(median), q3=half_hour(q3)
    )


def chain_share(
    calendars: Sequence[Sequence[BusyInterval]], *, now: datetime, chain_gap: timedelta
) -> ChainShare:
    with_chain = sum(
        1
        for busy in calendars
        if any(
            group[-1].end - group[0].start > LONG_CHAIN
            for group in chain_groups(
                sorted(clip(busy, now - WEEK, now), key=lambda b: b.start), chain_gap
            )
        )
    )
    people = len(calendars)
    percent = round(100 * with_chain / people / 10) * 10 if people else 0
    return ChainShare(people=people, percent=percent)


def reset_counts(outcomes: Sequence[Sequence[OutcomeRecord]]) -> ResetCounts:
    """Over the people who had resets at all: how many were done and how many skipped."""
    having = [records for records in outcomes if records]
    return ResetCounts(
        people=len(having),
        taken=sum(1 for rs in having for r in rs if r.outcome is Outcome.DONE),
        skipped=sum(1 for rs in having for r in rs if r.outcome in _SKIPPED),
    )


def feel_average(feelings: Sequence[Sequence[FeelEntry]], *, now: datetime) -> FeelAverage:
    """Over the people who logged in both of the last two weeks: the mean of each person's
    weekly mean (everyone counts once, however often they log), to one decimal."""
    this, last = [], []
    for entries in feelings:
        recent = [e.score for e in entries if now - WEEK <= e.at <= now]
        before = [e.score for e in entries if now - 2 * WEEK <= e.at < now - WEEK]
        if recent and before:
            this.append(statistics.fmean(recent))
            last.append(statistics.fmean(before))
    if not this:
        return FeelAverage(people=0, this_week=0.0, last_week=0.0)
    return FeelAverage(
        people=len(this),
        this_week=round(statistics.fmean(this), 1),
        last_week=round(statistics.fmean(last), 1),
    )


def far_enough(members: frozenset[str], answered: Sequence[frozenset[str]], *, k: int) -> bool:
    """The differencing rule: a group may be answered about when it is one already answered
    about, or differs from every such group by at least ``k`` people (so the difference of
    two answers is itself a group of ``k`` or more)."""
    return all(members == seen or len(members ^ seen) >= k for seen in answered)
