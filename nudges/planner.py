"""The day planner: from a day's meetings, a person's preferences and the catalog, the
nudges to send that day and exactly when.

Rules (defaults in nudges.preferences.PlanningPolicy; tests/nudges/test_planner*.py):

- a reset at the end of every chain (two meetings or more, or one long meeting) that ends
  inside the person's allowed time, sent at the chain's end, expiring at the next meeting's
  start or ``reset_expiry`` later, whichever comes first;
- inside long chains, short resets at the transitions between meetings, sized to that gap
  (a zero-minute gap gets a practice done while the next call connects);
- resets at least ``min_spacing`` apart and at most ``max_resets_per_day``; chain ends win
  over transitions;
- a heavy-day heads-up at the start of working hours, naming the best recovery slot;
- the weekly reflection at the chosen time, moved to the next gap if that time is taken;
- nothing strictly inside a meeting, outside working hours, in quiet hours or while paused;
  nothing whose deadline has passed at ``now``;
- a nudge whose time has passed at ``now`` is sent at ``now`` if it is still useful: before
  its deadline and the next meeting, with allowed time all along; a late reset gets a practice
  that fits the time left, and is dropped if it would come too soon before the next reset.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import NamedTuple
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from nudges import texts
from nudges.catalog import (
    Catalog,
    PracticeHistory,
    ReflectionPrompt,
    choose_practice,
    choose_prompts,
)
from nudges.clock import BusyInterval, day_bounds, local_instant
from nudges.density import DayShape, chain_groups, describe_day
from nudges.preferences import PlanningPolicy, Preferences


class NudgeKind(StrEnum):
    RESET = "reset"
    HEAVY_DAY = "heavy_day"
    REFLECTION = "reflection"


class Nudge(BaseModel):
    """One message to send: at ``at``, and not at all once ``expires_at`` has passed."""

    model_config = ConfigDict(frozen=True)

    kind: NudgeKind
    key: str  # stable across re-plans of the same day: the idempotency key of the send
    at: datetime
    expires_at: datetime
    text: str
    practice: str | None = None
    prompts: tuple[str, ...] = ()


class DayPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    day: date
    shape: DayShape
    nudges: tuple[Nudge, ...]


class _Candidate(NamedTuple):
    anchor: datetime  # when the reset belongs (the end of the meeting before it)
    next_start: datetime | None


def plan_day(
    day: date,
    busy: Sequence[BusyInterval],
    *,
    preferences: Preferences,
    policy: PlanningPolicy,
    catalog: Catalog,
    now: datetime,
    history: PracticeHistory | None = None,
    blocked: Sequence[tuple[datetime, datetime]] = (),
) -> DayPlan:
    """Plan local ``day`` for one person. ``busy`` is sorted and may extend past the day.
    ``blocked`` (UTC spans, e.g. the team's recovery windows) gets no resets."""
    tz = preferences.tz
    history = history or PracticeHistory()
    shape = describe_day(
        busy,
        day=day,
        tz=tz,
        working_hours=preferences.working_hours,
        working_days=preferences.working_days,
        chain_gap=timedelta(minutes=policy.chain_gap_minutes),
    )
    allowed = _allowed_spans(day, preferences)
    if not allowed:
        return DayPlan(day=day, shape=shape, nudges=())
    meetings = list(busy)
    # Heads-up and reflection are timed here, then brought up to ``now`` below; resets are
    # brought up to ``now`` inside _resets, because their practice depends on the time left.
    timed: list[Nudge] = []
    nudges: list[Nudge] = []
    if preferences.heavy_day_heads_up:
        heads_up = _heavy_day(shape, tz, meetings, allowed, policy, now=now)
        if heads_up is not None:
            timed.append(heads_up)
    if preferences.resets:
        nudges.extend(
            _resets(
                day,
                meetings=meetings,
                allowed=_without(allowed, blocked),
                policy=policy,
                catalog=catalog,
                history=history,
                now=now,
            )
        )
    if preferences.reflection is not None and preferences.reflection.weekday == day.weekday():
        reflection = _reflection(
            day,
            meetings=meetings,
            allowed=allowed,
            preferences=preferences,
            catalog=catalog,
            history=history,
        )
        if reflection is not None:
            timed.append(reflection)
    nudges.extend(n for n in (_as_of(n, now, meetings, allowed) for n in timed) if n is not None)
    nudges.sort(key=lambda n: (n.at, n.kind))
    return DayPlan(day=day, shape=shape, nudges=tuple(nudges))


def held_back(preferences: Preferences, at: datetime) -> str | None:
    """Why nothing may be sent at ``at`` under ``preferences`` ("paused", "quiet_hours",
    "outside_hours"), or None: delivery's last look before a nudge goes out, since the
    person may have changed their mind after it was planned."""
    if preferences.paused_until is not None and at < preferences.paused_until:
        return "paused"
    if preferences.quiet_hours is not None and preferences.quiet_hours.contains(at, preferences.tz):
        return "quiet_hours"
    day = at.astimezone(preferences.tz).date()
    # Yesterday too: a shift that wraps midnight belongs to the day it starts on.
    if any(_is_allowed(at, _allowed_spans(d, preferences)) for d in (day, day - timedelta(1))):
        return None
    return "outside_hours"


def _allowed_spans(day: date, preferences: Preferences) -> list[tuple[datetime, datetime]]:
    """UTC spans of ``day`` in which a nudge may be sent: working time, minus quiet and pause."""
    tz = preferences.tz
    lo, hi = day_bounds(day, tz)
    spans = []
    for start, end in preferences.working_hours.spans_on(day, tz):
        # A shift that wraps midnight belongs to the day it starts on.
        if start.astimezone(tz).date().weekday() in preferences.working_days.days:
            spans.append((max(start, lo), min(end, hi)))
    spans = [(s, e) for s, e in spans if s < e]
    if preferences.quiet_hours is not None:
        for q_start, q_end in preferences.quiet_hours.spans_on(day, tz):
            spans = _subtract(spans, q_start, q_end)
    if preferences.paused_until is not None:
        spans = _subtract(spans, lo - timedelta(days=1), preferences.paused_until.astimezone(UTC))
    return spans


def _subtract(
    spans: list[tuple[datetime, datetime]], cut_start: datetime, cut_end: datetime
) -> list[tuple[datetime, datetime]]:
    out = []
    for start, end in spans:
        if cut_end <= start or cut_start >= end:
            out.append((start, end))
            continue
        if start < cut_start:
            out.append((start, cut_start))
        if cut_end < end:
            out.append((cut_end, end))
    return out


def _without(
    spans: list[tuple[datetime, datetime]], blocked: Sequence[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    for cut_start, cut_end in blocked:
        spans = _subtract(spans, cut_start, cut_end)
    return spans


def _is_allowed(at: datetime, allowed: Sequence[tuple[datetime, datetime]]) -> bool:
    return any(start <= at < end for start, end in allowed)


def _inside_meeting(at: datetime, meetings: Sequence[BusyInterval]) -> BusyInterval | None:
    for meeting in meetings:
        if meeting.start < at < meeting.end:
            return meeting
        if meeting.start >= at:
            break
    return None


def _next_start(at: datetime, meetings: Sequence[BusyInterval]) -> datetime | None:
    return next((m.start for m in meetings if m.start >= at), None)


def _first_free(
    after: datetime,
    meetings: Sequence[BusyInterval],
    allowed: Sequence[tuple[datetime, datetime]],
) -> datetime | None:
    """The first instant at or after ``after`` that is allowed and not inside a meeting."""
    at = after
    for _ in range(len(meetings) + len(allowed) + 2):
        meeting = _inside_meeting(at, meetings)
        if meeting is not None:
            at = meeting.end
            continue
        if _is_allowed(at, allowed):
            return at
        later = [start for start, _ in allowed if start > at]
        if not later:
            return None
        at = min(later)
    return None


def _deadline(
    at: datetime, limit: timedelta, next_start: datetime | None, grace: timedelta
) -> datetime:
    """When a nudge sent at ``at`` stops being useful: the next meeting, or ``limit`` later.

    A nudge is always given ``grace`` (the next call connecting), so a zero-minute gap
    still gets its 20-second reset.
    """
    end = at + limit
    if next_start is not None and next_start < end:
        end = next_start
    return max(end, at + grace)


def _resets(
    day: date,
    *,
    meetings: Sequence[BusyInterval],
    allowed: list[tuple[datetime, datetime]],
    policy: PlanningPolicy,
    catalog: Catalog,
    history: PracticeHistory,
    now: datetime,
) -> list[Nudge]:
    long_meeting = timedelta(minutes=policy.long_meeting_minutes)
    long_chain = timedelta(minutes=policy.transition_chain_minutes)
    spacing = timedelta(minutes=policy.min_spacing_minutes)
    ends: list[_Candidate] = []
    transitions: list[_Candidate] = []
    # Chains come from the whole calendar, not the day's clipped copy: a chain crossing
    # midnight is measured from its real start, and the meeting after the day's last chain
    # may be tomorrow's. Anchors outside the day fail the allowed-time check below.
    groups = chain_groups(meetings, timedelta(minutes=policy.chain_gap_minutes))
    for index, chain in enumerate(groups):
        start, end = chain[0].start, chain[-1].end
        if len(chain) >= 2 or end - start >= long_meeting:
            following = groups[index + 1][0].start if index + 1 < len(groups) else None
            ends.append(_Candidate(anchor=end, next_start=following))
        if len(chain) >= 2 and end - start >= long_chain:
            transitions.extend(_transitions(chain, spacing))
    chosen: list[_Candidate] = []
    for candidate in [*ends, *transitions]:
        if len(chosen) >= policy.max_resets_per_day:
            break
        if not _is_allowed(candidate.anchor, allowed):
            continue
        if any(abs(candidate.anchor - c.anchor) < spacing for c in chosen):
            continue
        chosen.append(candidate)
    chosen.sort(key=lambda c: c.anchor)
    expiry = timedelta(minutes=policy.reset_expiry_minutes)
    grace = timedelta(seconds=policy.connect_grace_seconds)
    used: list[str] = []
    nudges = []
    for slot, candidate in enumerate(chosen):
        expires = _deadline(candidate.anchor, expiry, candidate.next_start, grace)
        at = _send_time(candidate.anchor, expires, now, meetings, allowed)
        if (
            at is not None
            and at > candidate.anchor
            and slot + 1 < len(chosen)
            and chosen[slot + 1].anchor - at < spacing
        ):
            at = None  # sent late, it would crowd the next reset, which is on time
        # The practice must fit the gap it is sent into, which shrinks when sent late.
        sent = candidate.anchor if at is None else at
        gap = (
            min(candidate.next_start - sent, expiry) if candidate.next_start is not None else expiry
        )
        practice = choose_practice(
            catalog,
            gap=gap,
            used_today=used,
            history=history,
            slot=day.toordinal() * 64 + slot,
        )
        used.append(practice.id)  # also when gone: it may have gone out earlier today
        if at is None:
            continue
        nudges.append(
            Nudge(
                kind=NudgeKind.RESET,
                key=f"reset:{candidate.anchor.astimezone(UTC).isoformat()}",
                at=at,
                expires_at=expires,
                text=practice.text,
                practice=practice.id,
            )
        )
    return nudges


def _transitions(chain: Sequence[BusyInterval], spacing: timedelta) -> list[_Candidate]:
    """Boundaries inside a long chain, once the chain has run for at least ``spacing``."""
    out = []
    for before, after in pairwise(chain):
        if before.end - chain[0].start >= spacing:
            out.append(_Candidate(anchor=before.end, next_start=after.start))
    return out


def _heavy_day(
    shape: DayShape,
    tz: ZoneInfo,
    meetings: list[BusyInterval],
    allowed: list[tuple[datetime, datetime]],
    policy: PlanningPolicy,
    *,
    now: datetime,
) -> Nudge | None:
    if not shape.blocks or (
        shape.meeting_minutes < policy.heavy_day_meeting_minutes
        and shape.longest_chain_minutes < policy.heavy_day_chain_minutes
    ):
        return None
    at = _first_free(allowed[0][0], meetings, allowed)
    if at is None:
        return None
    longest = max(shape.blocks, key=lambda b: b.end - b.start)
    # Sent late (moved to ``now`` by _as_of), it names a slot that is still ahead.
    slot = _best_slot(
        max(at, now), meetings, allowed, timedelta(minutes=policy.recovery_slot_minutes)
    )
    return Nudge(
        kind=NudgeKind.HEAVY_DAY,
        key=f"heavy_day:{shape.day.isoformat()}",
        at=at,
        expires_at=_deadline(
            at,
            timedelta(minutes=policy.heads_up_expiry_minutes),
            _next_start(at, meetings),
            timedelta(seconds=policy.connect_grace_seconds),
        ),
        text=texts.heavy_day(
            meeting_minutes=shape.meeting_minutes,
            longest_start=longest.start.astimezone(tz),
            longest_end=longest.end.astimezone(tz),
            slot=None if slot is None else (slot[0].astimezone(tz), slot[1].astimezone(tz)),
        ),
    )


def _best_slot(
    after: datetime,
    meetings: Sequence[BusyInterval],
    allowed: Sequence[tuple[datetime, datetime]],
    shortest: timedelta,
) -> tuple[datetime, datetime] | None:
    """The longest free stretch in the allowed time after ``after``, if any is ``shortest``."""
    best: tuple[datetime, datetime] | None = None
    for span_start, span_end in allowed:
        cursor = max(span_start, after)
        for meeting in [*meetings, None]:
            gap_end = span_end if meeting is None else min(meeting.start, span_end)
            if gap_end > cursor and (best is None or gap_end - cursor > best[1] - best[0]):
                best = (cursor, gap_end)
            if meeting is None or meeting.start >= span_end:
                break
            cursor = max(cursor, meeting.end)
    if best is None or best[1] - best[0] < shortest:
        return None
    return best


def _reflection(
    day: date,
    *,
    meetings: list[BusyInterval],
    allowed: list[tuple[datetime, datetime]],
    preferences: Preferences,
    catalog: Catalog,
    history: PracticeHistory,
) -> Nudge | None:
    assert preferences.reflection is not None  # noqa: S101 - checked by the caller
    wanted = local_instant(day, preferences.reflection.at, preferences.tz)
    at = _first_free(wanted, meetings, allowed)
    if at is None:
        return None
    span_end = next(end for start, end in allowed if start <= at < end)
    week = reflection_week(day)
    prompts = reflection_prompts(catalog, week=week, seed=history.seed)
    return Nudge(
        kind=NudgeKind.REFLECTION,
        key=f"reflection:{week}",
        at=at,
        expires_at=span_end,
        text=texts.reflection([p.text for p in prompts]),
        prompts=tuple(p.id for p in prompts),
    )


def reflection_week(day: date) -> str:
    """The ISO week a reflection belongs to, as in its key: ``2026-W48``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def reflection_prompts(catalog: Catalog, *, week: str, seed: int) -> list[ReflectionPrompt]:
    """The prompts of reflection ``week`` (``2026-W48``) for the person with ``seed``: the
    same for the DM and for the modal behind its Reflect button."""
    year, _, number = week.partition("-W")
    index = int(year) * 53 + int(number) if year.isdigit() and number.isdigit() else 0
    return choose_prompts(catalog, week=index, seed=seed)


def _as_of(
    nudge: Nudge,
    now: datetime,
    meetings: Sequence[BusyInterval],
    allowed: Sequence[tuple[datetime, datetime]],
) -> Nudge | None:
    """The nudge as it stands at ``now``: gone if expired, sent now if its time has passed."""
    at = _send_time(nudge.at, nudge.expires_at, now, meetings, allowed)
    if at is None:
        return None
    return nudge if at == nudge.at else nudge.model_copy(update={"at": at})


def _send_time(
    at: datetime,
    expires_at: datetime,
    now: datetime,
    meetings: Sequence[BusyInterval],
    allowed: Sequence[tuple[datetime, datetime]],
) -> datetime | None:
    """When a nudge planned for ``at`` goes out as of ``now``, or None if it is gone."""
    if expires_at <= now:
        return None
    if at >= now:
        return at
    next_start = _next_start(at, meetings)
    if next_start is not None and next_start < now:
        return None  # never after the next meeting has already started
    if _inside_meeting(now, meetings) is not None or not _allowed_throughout(at, now, allowed):
        # Allowed time must not have lapsed since ``at`` either: a nudge dropped for quiet
        # hours does not come back after them, so a later re-plan never invents one.
        return None
    return now


def _allowed_throughout(
    start: datetime, end: datetime, allowed: Sequence[tuple[datetime, datetime]]
) -> bool:
    """Whether every instant from ``start`` to ``end`` (both included) is allowed."""
    cursor = start
    for span_start, span_end in sorted(allowed):
        if span_start <= cursor < span_end:
            if end < span_end:
                return True
            cursor = span_end
    return False


# --- for nudges made outside a day's plan (live signals: nudges/signals.py) ---------------


def reset_deadline(at: datetime, next_start: datetime | None, policy: PlanningPolicy) -> datetime:
    """When a reset sent at ``at`` stops being useful: the same rule as the planned resets."""
    return _deadline(
        at,
        timedelta(minutes=policy.reset_expiry_minutes),
        next_start,
        timedelta(seconds=policy.connect_grace_seconds),
    )
