"""Live signals from Slack (a huddle, a status that says "In a meeting"): when one that lasted
long enough ends, the one reset it earns, by the planner's rules. Pure: ``now`` comes in.

Slack tells Baseline when someone joins or leaves a huddle and when their status changes
(calendar apps set "In a meeting"). For a person without a shareable calendar, that is the
only way to see a meeting end; for one with a calendar it must never mean a second reset.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from nudges.catalog import Catalog, PracticeHistory, choose_practice
from nudges.clock import BusyInterval, day_bounds
from nudges.planner import Nudge, NudgeKind, held_back, plan_day, reset_deadline
from nudges.preferences import PlanningPolicy, Preferences

KEY_PREFIX = "live:"
"""A live reset's key starts so: ``live:<UTC minute it ended>``. The due queue keeps such
nudges through re-plans (the calendar did not plan them, so a re-plan must not drop them),
and two signals ending in the same minute share one key, so the queue takes only one."""


class SignalKind(StrEnum):
    HUDDLE = "huddle"
    STATUS = "status"  # a Slack status that says the person is in a meeting


# Calendar apps' statuses: Google Calendar ("In a meeting", :spiral_calendar_pad:), Outlook
# (:calendar:), Zoom ("In a Zoom meeting"), "On a call". "On call" (a pager rota) is not one.
_MEETING_TEXT = re.compile(r"\bmeeting|\b(?:in|on) an? (?:\w+ )?call\b", re.IGNORECASE)
_CALENDAR_EMOJI = frozenset({":spiral_calendar_pad:", ":calendar:", ":date:"})
# A calendar emoji also marks "Out of office" and holidays, which are not meetings.
_AWAY_TEXT = re.compile(
    r"\b(?:out of (?:the )?office|ooo|vacation|holiday|leave|sick|off)\b", re.IGNORECASE
)


def is_meeting_status(text: str, emoji: str) -> bool:
    """Whether a Slack status says its owner is in a meeting right now (generously)."""
    if _MEETING_TEXT.search(text):
        return True
    return emoji in _CALENDAR_EMOJI and not _AWAY_TEXT.search(text)


def signal_reset(
    since: datetime,
    *,
    now: datetime,
    busy: Sequence[BusyInterval],
    preferences: Preferences,
    policy: PlanningPolicy,
    catalog: Catalog,
    history: PracticeHistory,
    pending: Sequence[Nudge] = (),
    sent: Sequence[datetime] = (),
    still_in: Collection[SignalKind] = (),
) -> Nudge | None:
    """The reset for a live signal that began at ``since`` and ended at ``now``, or None.

    ``busy`` is the person's calendar (empty without one), ``pending`` their queued nudges,
    ``sent`` when their recent resets went out, ``still_in`` the live signals still running.

    When the calendar shows a meeting ending about now, the signal is that meeting and the
    planner's verdict stands: no reset where the plan has none, and where it has one that
    neither is pending nor went out (delivery dropped it because the person was still in
    the huddle, or their status still said "meeting"), this one takes its place, however
    short the signal. Otherwise the signal must have lasted ``policy.live_signal_minutes``.

    Never while another signal or a calendar meeting is still going on, outside allowed
    time (hours, quiet hours, pause), within ``min_spacing_minutes`` of a pending or sent
    reset, or past the day's cap; nothing when the person turned resets off.
    """
    if not preferences.resets or still_in or since > now:
        return None
    if held_back(preferences, now) is not None:
        return None
    if any(m.start < now < m.end for m in busy):
        return None
    planned_here = _calendar_verdict(
        now=now, busy=busy, preferences=preferences, policy=policy, catalog=catalog
    )
    if planned_here is False:
        return None
    if planned_here is None and now - since < timedelta(minutes=policy.live_signal_minutes):
        return None
    spacing = timedelta(minutes=policy.min_spacing_minutes)
    resets = [n for n in pending if n.kind is NudgeKind.RESET]
    if any(abs(n.at - now) < spacing for n in resets):
        return None
    if any(abs(at - now) < spacing for at in sent):
        return None
    tz = preferences.tz
    today = now.astimezone(tz).date()
    todays = [n for n in resets if n.at.astimezone(tz).date() == today]
    sent_today = [at for at in sent if at.astimezone(tz).date() == today]
    if len(todays) + len(sent_today) >= policy.max_resets_per_day:
        return None
    next_start = next((m.start for m in busy if m.start >= now), None)
    expires = reset_deadline(now, next_start, policy)
    if expires <= now:
        return None
    expiry = timedelta(minutes=policy.reset_expiry_minutes)
    gap = expiry if next_start is None else min(next_start - now, expiry)
    practice = choose_practice(
        catalog,
        gap=gap,
        used_today=[n.practice for n in todays if n.practice is not None],
        history=history,
        slot=int(now.timestamp()) // 60,  # a fresh draw for each minute a signal may end
    )
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    return Nudge(
        kind=NudgeKind.RESET,
        key=f"{KEY_PREFIX}{minute.isoformat()}",
        at=now,
        expires_at=expires,
        text=practice.text,
        practice=practice.id,
    )


def _calendar_verdict(
    *,
    now: datetime,
    busy: Sequence[BusyInterval],
    preferences: Preferences,
    policy: PlanningPolicy,
    catalog: Catalog,
) -> bool | None:
    """Whether the day's plan has a reset about ``now``, when the calendar shows a meeting
    ending then (within the chain gap: a status is cleared a little late, a huddle overruns
    a little); None when it shows none, and the signal is all there is to go by."""
    tolerance = timedelta(minutes=policy.chain_gap_minutes)
    if not any(abs(m.end - now) <= tolerance for m in busy):
        return None
    spacing = timedelta(minutes=policy.min_spacing_minutes)
    day = now.astimezone(preferences.tz).date()
    plan = plan_day(
        day,
        busy,
        preferences=preferences,
        policy=policy,
        catalog=catalog,
        now=day_bounds(day, preferences.tz)[0],  # the whole day's plan, each at its own time
    )
    return any(n.kind is NudgeKind.RESET and abs(n.at - now) < spacing for n in plan.nudges)
