"""``baseline preview``: a person's day from an ICS file, as text for a terminal or as JSON."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from nudges import texts
from nudges.clock import ClockRange, local_instant
from nudges.density import LoadPoint
from nudges.planner import DayPlan

_SPARKS = " ▁▂▃▄▅▆▇█"


def plan_as_json(plan: DayPlan, *, tz: ZoneInfo, load: list[LoadPoint]) -> dict[str, Any]:
    """The ``--json`` object: times are ISO 8601 with the person's UTC offset."""

    def iso(moment: datetime) -> str:
        return moment.astimezone(tz).isoformat()

    shape = plan.shape
    peak = max(load, key=lambda p: p.load, default=None)
    return {
        "date": plan.day.isoformat(),
        "tz": tz.key,
        "busy": [[iso(m.start), iso(m.end)] for m in shape.meetings],
        "chains": [
            {"start": iso(c.start), "end": iso(c.end), "meetings": len(c.meetings)}
            for c in shape.chains
        ],
        "summary": {
            "meeting_minutes": round(shape.meeting_minutes),
            "longest_chain_minutes": round(shape.longest_chain_minutes),
            "after_hours_minutes": round(shape.after_hours_minutes),
            "meetings": len(shape.meetings),
            "peak_load": None if peak is None else peak.load,
        },
        "load": [[iso(p.at), p.load] for p in load],
        "nudges": [
            {
                "kind": n.kind.value,
                "at": iso(n.at),
                "expires_at": iso(n.expires_at),
                "practice": n.practice,
                "text": n.text,
            }
            for n in plan.nudges
        ],
    }


def plan_as_text(
    plan: DayPlan,
    *,
    tz: ZoneInfo,
    load: list[LoadPoint],
    hours: str,
    practice_seconds: dict[str, int],
) -> str:
    """A readable day: the meetings, their chains, the load curve and the planned nudges."""
    shape = plan.shape
    lines = [f"{plan.day:%A %d %B %Y} · {tz.key} · working hours {hours}"]
    if not shape.meetings:
        lines.append("  No meetings. Nothing to recover from, so Baseline stays quiet.")
    else:
        lines.append(
            f"  {len(shape.meetings)} meetings, {texts.duration(shape.meeting_minutes)} in all; "
            f"longest stretch {texts.duration(shape.longest_chain_minutes)}"
            + (
                f"; {texts.duration(shape.after_hours_minutes)} outside working hours"
                if shape.after_hours_minutes >= 1
                else ""
            )
        )
        for block in shape.blocks:
            span = f"{_clock(block.start, tz)}–{_clock(block.end, tz)}"
            if block.is_back_to_back:
                what = (
                    f"back-to-back: {len(block.meetings)} meetings, {texts.duration(block.minutes)}"
                )
            else:
                what = f"meeting, {texts.duration(block.minutes)}"
            lines.append(f"    {span}  {what}")
    if load:
        spark = "".join(_SPARKS[min(8, round(p.load * 8))] for p in load)
        peak = max(load, key=lambda p: p.load)
        lines.append(
            f"  Load {_clock(load[0].at, tz)} {spark} {_clock(load[-1].at, tz)}"
            f"  (peak {peak.load:.2f} at {_clock(peak.at, tz)})"
        )
    if not plan.nudges:
        lines.append("  Plan: no nudges today.")
    else:
        lines.append("  Plan:")
        for nudge in plan.nudges:
            label = nudge.kind.value.replace("_", " ")
            if nudge.practice is not None:
                label += f" · {nudge.practice} ({practice_seconds.get(nudge.practice, 0)} s)"
            lines.append(
                f"    {_clock(nudge.at, tz)} (until {_clock(nudge.expires_at, tz)})  {label}"
            )
            for text_line in nudge.text.splitlines():
                lines.append(f"        {text_line}")
    return "\n".join(lines)


def working_window(day: date, tz: ZoneInfo, hours: ClockRange) -> tuple[datetime, datetime]:
    """The UTC span of the working hours that start on ``day`` (a night shift ends next day)."""
    lo = local_instant(day, hours.start, tz)
    hi = local_instant(day + timedelta(days=1) if hours.wraps_midnight else day, hours.end, tz)
    return lo, hi


def _clock(moment: datetime, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%H:%M}"
