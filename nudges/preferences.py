"""What a person has chosen (their zone, hours, quiet time, pause, reflection) and the
organisation's planning policy, with the defaults a new person starts from."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nudges.clock import ClockRange, Weekdays


class ReflectionTime(BaseModel):
    """When the weekly reflection arrives: an ISO weekday (0 = Monday) and a local time."""

    model_config = ConfigDict(frozen=True)

    weekday: int = Field(default=4, ge=0, le=6)
    at: time = time(16, 0)


class Preferences(BaseModel):
    """One person's choices. Every watching feature is opt-in; these are the defaults."""

    model_config = ConfigDict(frozen=True)

    tz: ZoneInfo = ZoneInfo("UTC")
    working_hours: ClockRange = ClockRange(start=time(9, 0), end=time(18, 0))
    working_days: Weekdays = Weekdays()
    quiet_hours: ClockRange | None = None
    paused_until: datetime | None = None
    reflection: ReflectionTime | None = ReflectionTime()
    resets: bool = True
    heavy_day_heads_up: bool = True
    # A short DM when a recovery window of one of the person's channels starts.
    window_start_dm: bool = False

    @model_validator(mode="after")
    def _aware_pause(self) -> Preferences:
        if self.paused_until is not None and self.paused_until.tzinfo is None:
            raise ValueError("paused_until needs a time zone")
        return self


class PlanningPolicy(BaseModel):
    """The organisation-wide rules of the planner. Defaults are documented in docs/science.md."""

    model_config = ConfigDict(frozen=True)

    chain_gap_minutes: int = Field(default=10, ge=0, le=60)
    long_meeting_minutes: int = Field(default=90, ge=15)
    reset_expiry_minutes: int = Field(default=30, ge=1, le=240)
    transition_chain_minutes: int = Field(default=120, ge=30)
    min_spacing_minutes: int = Field(default=45, ge=0)
    max_resets_per_day: int = Field(default=6, ge=0, le=50)
    heavy_day_meeting_minutes: int = Field(default=300, ge=30)
    heavy_day_chain_minutes: int = Field(default=180, ge=30)
    heads_up_expiry_minutes: int = Field(default=60, ge=1)
    connect_grace_seconds: int = Field(default=120, ge=0, le=600)
    recovery_slot_minutes: int = Field(default=10, ge=1)
    # A huddle or a status-marked meeting (Slack live signals) this long earns a reset when
    # it ends; shorter ones are quick syncs (docs/science.md, "Live signals").
    live_signal_minutes: int = Field(default=30, ge=5, le=240)
