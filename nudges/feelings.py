"""How people say they feel (``/feel``): the log entry, its small trend, and the support rule.

Scores are private to the person. Nothing here decides anything about a person beyond
offering them, and only them, the organisation's support resources.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_NOTE = 500
# Three logs in a row at 1–2 is the point where a quiet, private offer of support helps.
SUPPORT_STREAK = 3
SUPPORT_THRESHOLD = 2


class Weighed(StrEnum):
    """What weighed most, chosen in the /feel modal."""

    MEETINGS = "meetings"
    WORKLOAD = "workload"
    PEOPLE = "people"
    SLEEP = "sleep"
    OTHER = "other"


class FeelEntry(BaseModel):
    """One /feel log: a 1–5 score, optionally what weighed most and a private note."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    score: int = Field(ge=1, le=5)
    weighed: Weighed | None = None
    note: str | None = Field(default=None, max_length=MAX_NOTE)

    @field_validator("note")
    @classmethod
    def _blank_is_none(cls, note: str | None) -> str | None:
        return note.strip() or None if note is not None else None


class FeelTrend(BaseModel):
    """The person's own recent picture: averages this week and last, and the last few scores."""

    model_config = ConfigDict(frozen=True)

    this_week: float | None
    last_week: float | None
    recent: tuple[int, ...]

    @property
    def direction(self) -> str:
        if self.this_week is None or self.last_week is None:
            return "new"
        change = self.this_week - self.last_week
        if change >= 0.5:
            return "up"
        if change <= -0.5:
            return "down"
        return "steady"


def feel_trend(entries: Sequence[FeelEntry], *, now: datetime, recent: int = 7) -> FeelTrend:
    """Averages over the last 7 days and the 7 before, plus the last ``recent`` scores."""
    ordered = sorted(entries, key=lambda e: e.at)
    week_ago, two_weeks_ago = now - timedelta(days=7), now - timedelta(days=14)
    this = [e.score for e in ordered if week_ago < e.at <= now]
    last = [e.score for e in ordered if two_weeks_ago < e.at <= week_ago]
    return FeelTrend(
        this_week=round(sum(this) / len(this), 1) if this else None,
        last_week=round(sum(last) / len(last), 1) if last else None,
        recent=tuple(e.score for e in ordered if e.at <= now)[-recent:],
    )


def needs_support(entries: Sequence[FeelEntry]) -> bool:
    """Whether the last three logs were all 1 or 2 (the moment to offer support, privately)."""
    ordered = sorted(entries, key=lambda e: e.at)[-SUPPORT_STREAK:]
    return len(ordered) == SUPPORT_STREAK and all(e.score <= SUPPORT_THRESHOLD for e in ordered)
