"""What the bot stores about a person, as pydantic models (JSON in Redis)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from nudges.planner import Nudge
from nudges.preferences import Preferences


class Profile(BaseModel):
    """A person's standing with Baseline. Everything that watches is off until ``opted_in``."""

    model_config = ConfigDict(frozen=True)

    opted_in: bool = False
    preferences: Preferences = Preferences()
    tz_from_slack: bool = False  # the zone came from users.info (not a default)


class SentNudge(BaseModel):
    """A nudge that went out as a DM, so its buttons can update it in place."""

    model_config = ConfigDict(frozen=True)

    nudge: Nudge
    channel: str
    ts: str
    sent_at: datetime

    @property
    def key(self) -> str:
        return self.nudge.key

    @property
    def practice(self) -> str | None:
        return self.nudge.practice
