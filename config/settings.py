"""Baseline's one Settings object, read from the environment (prefix ``BASELINE_``).

Nested values use ``__``: ``BASELINE_PLANNING__MAX_RESETS_PER_DAY=4``. Nothing reads the
environment at import time; call :func:`load_settings` (or build ``Settings(...)`` in tests).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from nudges.calendar import CalendarLimits
from nudges.density import LoadModel
from nudges.preferences import PlanningPolicy


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it in one line."""


class Settings(BaseSettings):
    """Every knob of Baseline, with the defaults it ships with."""

    model_config = SettingsConfigDict(
        env_prefix="BASELINE_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    planning: PlanningPolicy = Field(
        default_factory=PlanningPolicy,
        description="The planner's rules: chain gap, spacing, daily cap, heavy-day thresholds.",
    )
    calendar: CalendarLimits = Field(
        default_factory=CalendarLimits,
        description="Bounds on one calendar feed: bytes (default 5 MB) and events (25,000).",
    )
    load_model: LoadModel = Field(
        default_factory=LoadModel,
        description="Time constants of the recovery-load curve (docs/science.md).",
    )
    catalog_path: Path | None = Field(
        default=None,
        description="An organisation's own catalog TOML; the bundled config/catalog.toml if unset.",
    )


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and keyword overrides), or a one-line SettingsError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # pydantic-settings takes field kwargs
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "BASELINE_" + "__".join(str(part) for part in first["loc"]).upper()
        raise SettingsError(f"setting {name} is invalid: {first['msg']}") from exc
