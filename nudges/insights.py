"""A person's week, from their own data only: meeting load, resets taken, how they felt,
and, when the data supports one, the overload-vs-mismatch signal. Never a diagnosis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from nudges.density import DayShape
from nudges.feelings import FeelEntry

# A day with at least this much meeting time counts as heavy, under this as light.
HEAVY_DAY_MINUTES = 240
LIGHT_DAY_MINUTES = 120
# Scores at or under this read as "low energy" for the signal.
LOW_SCORE = 2.5
# The signal needs this many logged days on each side before it says anything.
MIN_DAYS_PER_SIDE = 3


class Outcome(StrEnum):
    """What the person did with a reset (snoozes are not skips)."""

    DONE = "done"
    SNOOZED = "snoozed"
    NOT_NOW = "not_now"
    FEWER = "fewer"
    EXPIRED = "expired"


class OutcomeRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    at: datetime
    outcome: Outcome
    practice: str | None = None
    helped: bool | None = None


class Signal(StrEnum):
    OVERLOAD = "overload"  # low energy tracks meeting load: rest and lighter days help
    MISMATCH = "mismatch"  # low energy persists on light days too: rest alone may not


class WeekSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    first_day: date
    meeting_minutes_by_day: tuple[tuple[date, float], ...]
    meeting_minutes: float
    chains: int
    longest_chain_minutes: float
    resets_done: int
    resets_snoozed: int
    resets_skipped: int
    helped: int
    feel_by_day: tuple[tuple[date, float], ...]
    feel_average: float | None
    signal: Signal | None


def summarize_week(
    *,
    first_day: date,
    shapes: Sequence[DayShape],
    feelings: Sequence[FeelEntry],
    outcomes: Sequence[OutcomeRecord],
    tz: ZoneInfo,
    history_shapes: Sequence[DayShape] = (),
    history_feelings: Sequence[FeelEntry] = (),
) -> WeekSummary:
    """The week starting ``first_day``; ``history_*`` (earlier weeks) feed only the signal."""
    by_day = {s.day: s.meeting_minutes for s in shapes}
    feel = _daily_feel(feelings, tz)
    counts = dict.fromkeys(Outcome, 0)
    helped = 0
    # A nudge's latest record is its outcome: snoozed and then done counts as done.
    latest: dict[str, OutcomeRecord] = {}
    for record in sorted(outcomes, key=lambda r: r.at):
        latest[record.key] = record
    for record in latest.values():
        counts[record.outcome] += 1
        helped += record.helped is True
    all_minutes = {s.day: s.meeting_minutes for s in (*history_shapes, *shapes)}
    all_feel = _daily_feel((*history_feelings, *feelings), tz)
    return WeekSummary(
        first_day=first_day,
        meeting_minutes_by_day=tuple(sorted(by_day.items())),
        meeting_minutes=round(sum(by_day.values()), 1),
        chains=sum(len(s.chains) for s in shapes),
        longest_chain_minutes=max((s.longest_chain_minutes for s in shapes), default=0.0),
        resets_done=counts[Outcome.DONE],
        resets_snoozed=counts[Outcome.SNOOZED],
        resets_skipped=counts[Outcome.NOT_NOW] + counts[Outcome.FEWER],
        helped=helped,
        feel_by_day=tuple(sorted(feel.items())),
        feel_average=round(sum(feel.values()) / len(feel), 1) if feel else None,
        signal=load_signal(all_minutes, all_feel),
    )


def load_signal(minutes: Mapping[date, float], feel: Mapping[date, float]) -> Signal | None:
    """Overload or mismatch, only when enough logged heavy and light days say so.

    Overload: energy is low on heavy days and fine on light ones. Mismatch: energy is low on
    light days too. Anything else, or too little data: no signal.
    """
    heavy = [feel[d] for d in feel if minutes.get(d, 0.0) >= HEAVY_DAY_MINUTES]
    light = [feel[d] for d in feel if minutes.get(d, 0.0) < LIGHT_DAY_MINUTES]
    if len(heavy) < MIN_DAYS_PER_SIDE or len(light) < MIN_DAYS_PER_SIDE:
        return None
    heavy_avg, light_avg = sum(heavy) / len(heavy), sum(light) / len(light)
    if light_avg <= LOW_SCORE:
        return Signal.MISMATCH
    if heavy_avg <= LOW_SCORE and light_avg - heavy_avg >= 1.0:
        return Signal.OVERLOAD
    return None


def _daily_feel(entries: Sequence[FeelEntry], tz: ZoneInfo) -> dict[date, float]:
    days: dict[date, list[int]] = {}
    for entry in entries:
        days.setdefault(entry.at.astimezone(tz).date(), []).append(entry.score)
    return {day: round(sum(s) / len(s), 2) for day, s in days.items()}
