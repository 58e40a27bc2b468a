"""Every sentence the planner writes around the catalog's practices and prompts.

Kept in one place so wording can be reviewed (and translated) as a whole. Practice and
prompt texts themselves live in the catalog (config/catalog.toml).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime


def clock(moment: datetime) -> str:
    return f"{moment:%H:%M}"


def duration(minutes: float) -> str:
    whole = round(minutes)
    hours, rest = divmod(whole, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    if hours:
        return f"{hours} h"
    return f"{rest} min"


def heavy_day(
    *,
    meeting_minutes: float,
    longest_start: datetime,
    longest_end: datetime,
    slot: tuple[datetime, datetime] | None,
) -> str:
    opening = (
        f"Heads-up: today holds {duration(meeting_minutes)} of meetings, with the longest "
        f"stretch from {clock(longest_start)} to {clock(longest_end)}."
    )
    if slot is None:
        return (
            f"{opening} There is no real gap in it, so the short resets between calls are "
            "your recovery today. Even 20 seconds counts."
        )
    start, end = slot
    return (
        f"{opening} Your best window to come back to baseline is {clock(start)}–{clock(end)}. "
        "Worth guarding it: no catch-up email, just a real break."
    )


def reflection(prompts: Sequence[str]) -> str:
    questions = "\n".join(f"• {prompt}" for prompt in prompts)
    return (
        "Your week is nearly done. A few minutes to look back, just for you: "
        "nobody else sees your answers.\n" + questions
    )
