"""The planner's invariants on random days (hypothesis).

A random person (zone, working hours and days, quiet hours, pause, reflection time) has a
random day of 0–15 meetings (zero gaps, overlaps merged the way the calendar reader merges
them, meetings crossing midnight) and the plan is looked at from a random ``now``. Every
nudge of every plan must keep the rules of nudges.planner, checked here against the
wall clock (``ClockRange.contains``) rather than the planner's own spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from config.catalog import load_catalog
from nudges.catalog import Catalog, PracticeHistory
from nudges.clock import BusyInterval, ClockRange, Weekdays, day_bounds, merge_intervals
from nudges.planner import DayPlan, Nudge, NudgeKind, plan_day
from nudges.preferences import PlanningPolicy, Preferences, ReflectionTime

POLICY = PlanningPolicy()
SPACING = timedelta(minutes=POLICY.min_spacing_minutes)
EXPIRY = timedelta(minutes=POLICY.reset_expiry_minutes)
GRACE = timedelta(seconds=POLICY.connect_grace_seconds)
CHAIN_GAP = timedelta(minutes=POLICY.chain_gap_minutes)
LONG_MEETING = timedelta(minutes=POLICY.long_meeting_minutes)

ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kathmandu",  # +05:45
    "UTC",
    "Australia/Lord_Howe",  # a half-hour DST change
    "America/St_Johns",  # -03:30 / -02:30
)
# Clock-change days of the zones above, and a few ordinary ones.
SPECIAL_DAYS = (
    date(2026, 3, 29),  # Berlin spring forward
    date(2026, 10, 25),  # Berlin fall back
    date(2026, 3, 8),  # New York / St John's spring forward
    date(2026, 11, 1),  # New York / St John's fall back
    date(2026, 4, 5),  # Lord Howe: back by 30 minutes
    date(2026, 10, 4),  # Lord Howe: forward by 30 minutes
    date(2026, 6, 5),  # a Friday
    date(2026, 6, 3),
)
# Gaps between meetings (minutes): zero gaps and the chain-gap boundary are common in life.
GAPS = st.one_of(
    st.sampled_from([0, 0, 0, 1, 2, 5, 9, 10, 11, 30, 45, 60]),
    st.integers(-90, -1),  # overlapping: merged into one busy interval
    st.integers(0, 240),
)
LENGTHS = st.one_of(st.sampled_from([15, 25, 30, 45, 50, 60, 90, 120]), st.integers(1, 240))


@cache
def catalog() -> Catalog:
    return load_catalog()


@dataclass(frozen=True)
class Case:
    day: date
    busy: list[BusyInterval]
    preferences: Preferences
    history: PracticeHistory
    now: datetime
    later: datetime


clock_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 0, 15, 30, 45, 1, 59]))


@st.composite
def clock_ranges(draw: st.DrawFn) -> ClockRange:
    start = draw(clock_times)
    end = draw(clock_times.filter(lambda t: t != start))
    return ClockRange(start=start, end=end)


working_hours = st.one_of(
    st.sampled_from([ClockRange.parse(r) for r in ("09:00-18:00", "22:00-06:00", "06:00-23:00")]),
    clock_ranges(),
)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    zone = draw(st.sampled_from(ZONES))
    tz = ZoneInfo(zone)
    day = draw(
        st.one_of(st.sampled_from(SPECIAL_DAYS), st.dates(date(2026, 1, 1), date(2026, 12, 31)))
    )
    lo, hi = day_bounds(day, tz)
    cursor = lo - timedelta(minutes=draw(st.integers(-6 * 60, 8 * 60)))
    spans = []
    for _ in range(draw(st.integers(0, 15))):
        cursor += timedelta(minutes=draw(GAPS))
        end = cursor + timedelta(minutes=draw(LENGTHS))
        spans.append((cursor, end))
        cursor = max(cursor, end)
    busy = merge_intervals(spans)

    pause = draw(st.one_of(st.none(), st.integers(-24 * 60, 48 * 60)))
    reflection = draw(
        st.one_of(
            st.none(),
            st.builds(ReflectionTime, weekday=st.integers(0, 6), at=clock_times),
            st.just(ReflectionTime(weekday=day.weekday())),
        )
    )
    preferences = Preferences(
        tz=tz,
        working_hours=draw(working_hours),
        working_days=Weekdays(
            days=draw(
                st.one_of(
                    st.just(frozenset(range(5))), st.frozensets(st.integers(0, 6), min_size=1)
                )
            )
        ),
        quiet_hours=draw(st.one_of(st.none(), st.none(), clock_ranges())),
        paused_until=None if pause is None else lo + timedelta(minutes=pause),
        reflection=reflection,
        resets=draw(st.booleans() | st.just(True)),
        heavy_day_heads_up=draw(st.booleans() | st.just(True)),
    )
    history = PracticeHistory(seed=draw(st.integers(0, 2**32)))

    # "now": anywhere around the day, or just after a meeting ends (when resets are due).
    boundaries = [m.end for m in busy] or [lo]
    now = draw(
        st.one_of(
            st.integers(-24 * 60, 26 * 60).map(lambda m: lo + timedelta(minutes=m)),
            st.tuples(st.sampled_from(boundaries), st.integers(-5 * 60, 40 * 60)).map(
                lambda pair: pair[0] + timedelta(seconds=pair[1])
            ),
        )
    )
    later = now + timedelta(seconds=draw(st.integers(0, 12 * 3600)))
    return Case(day, busy, preferences, history, now, later)


def plan_at(case: Case, now: datetime) -> DayPlan:
    return plan_day(
        case.day,
        case.busy,
        preferences=case.preferences,
        policy=POLICY,
        catalog=catalog(),
        now=now,
        history=case.history,
    )


def unchanged_plan(case: Case) -> DayPlan:
    """The plan seen from long before the day: every nudge at its own time."""
    lo, _ = day_bounds(case.day, case.preferences.tz)
    return plan_at(case, lo - timedelta(days=2))


# --- Independent checks, from the wall clock ---------------------------------------------------


def is_allowed(at: datetime, case: Case) -> bool:
    """Working time (a night shift belongs to the day it starts on), not quiet, not paused."""
    prefs = case.preferences
    tz = prefs.tz
    lo, hi = day_bounds(case.day, tz)
    if not lo <= at < hi:
        return False
    if prefs.paused_until is not None and at < prefs.paused_until:
        return False
    if hi - lo != timedelta(days=1):
        # On a clock-change day the wall clock repeats or skips times; the spans of local
        # instants are the definition there (checked against ``contains`` in test_clock).
        working = [
            (s, e)
            for s, e in prefs.working_hours.spans_on(case.day, tz)
            if s.astimezone(tz).weekday() in prefs.working_days.days
        ]
        quiet = prefs.quiet_hours.spans_on(case.day, tz) if prefs.quiet_hours else []
        return any(s <= at < e for s, e in working) and not any(s <= at < e for s, e in quiet)
    hours = prefs.working_hours
    if not hours.contains(at, tz):
        return False
    local = at.astimezone(tz)
    shift_day = local.date()
    if hours.wraps_midnight and local.time() < hours.end:
        shift_day -= timedelta(days=1)  # the tail of last night's shift
    if shift_day.weekday() not in prefs.working_days.days:
        return False
    return prefs.quiet_hours is None or not prefs.quiet_hours.contains(at, tz)


def next_start(at: datetime, busy: list[BusyInterval]) -> datetime | None:
    return next((m.start for m in busy if m.start >= at), None)


def chains(busy: list[BusyInterval]) -> list[list[BusyInterval]]:
    groups: list[list[BusyInterval]] = []
    for meeting in busy:
        if groups and meeting.start - groups[-1][-1].end < CHAIN_GAP:
            groups[-1].append(meeting)
        else:
            groups.append([meeting])
    return groups


def resets(day_plan: DayPlan) -> list[Nudge]:
    return [n for n in day_plan.nudges if n.kind == NudgeKind.RESET]


# --- The properties ----------------------------------------------------------------------------


def check_plan(case: Case, day_plan: DayPlan, now: datetime, anchors: dict[str, datetime]) -> None:
    busy = case.busy
    assert len({n.key for n in day_plan.nudges}) == len(day_plan.nudges)
    assert list(day_plan.nudges) == sorted(day_plan.nudges, key=lambda n: (n.at, n.kind))
    for nudge in day_plan.nudges:
        assert not any(m.start < nudge.at < m.end for m in busy), nudge
        assert is_allowed(nudge.at, case), nudge
        assert nudge.at >= now
        assert nudge.at < nudge.expires_at
    for kind in (NudgeKind.HEAVY_DAY, NudgeKind.REFLECTION):
        assert len([n for n in day_plan.nudges if n.kind == kind]) <= 1
    if any(n.kind == NudgeKind.REFLECTION for n in day_plan.nudges):
        assert case.preferences.reflection is not None
        assert case.preferences.reflection.weekday == case.day.weekday()

    sent = resets(day_plan)
    assert len(sent) <= POLICY.max_resets_per_day
    for before, after in pairwise(sent):
        assert after.at - before.at >= SPACING, (before, after)
    for nudge in sent:
        anchor = anchors[nudge.key]  # a reset's key is the one it had when planned
        assert nudge.key == f"reset:{anchor.astimezone(UTC).isoformat()}"
        following = next_start(nudge.at, busy)
        assert following == next_start(anchor, busy)  # never after the next meeting started
        gap = EXPIRY if following is None else min(following - nudge.at, EXPIRY)
        practice = catalog().practice(nudge.practice or "")
        assert practice is not None
        assert nudge.text == practice.text
        assert practice.fits(gap), (nudge, gap)
        if gap == timedelta(0):
            assert practice.while_connecting
        if gap >= timedelta(minutes=2):
            assert not practice.while_connecting
        # Expires at the next meeting or after the reset expiry, but never inside the grace.
        deadline = anchor + EXPIRY if following is None else min(anchor + EXPIRY, following)
        assert nudge.expires_at == max(deadline, anchor + GRACE)
        if following is not None and nudge.expires_at > following:
            assert following - anchor < GRACE
    practices = [n.practice for n in sent]
    assert len(set(practices)) == len(practices)  # the bundled catalog always has another


@settings(max_examples=200, deadline=None)
@given(cases())
@example(  # a night shift whose last chain ends 15 minutes before tomorrow's first meeting
    Case(
        day=date(2026, 6, 3),
        busy=merge_intervals(
            [
                (datetime(2026, 6, 3, 21, 0, tzinfo=UTC), datetime(2026, 6, 3, 21, 30, tzinfo=UTC)),
                (
                    datetime(2026, 6, 3, 21, 30, tzinfo=UTC),
                    datetime(2026, 6, 3, 21, 50, tzinfo=UTC),
                ),
                (datetime(2026, 6, 3, 22, 5, tzinfo=UTC), datetime(2026, 6, 3, 22, 30, tzinfo=UTC)),
            ]
        ),
        preferences=Preferences(
            tz=ZoneInfo("Europe/Berlin"), working_hours=ClockRange.parse("22:00-06:00")
        ),
        history=PracticeHistory(),
        now=datetime(2026, 6, 3, 21, 55, tzinfo=UTC),
        later=datetime(2026, 6, 3, 22, 0, tzinfo=UTC),
    )
)
def test_every_nudge_keeps_the_rules(case: Case) -> None:
    planned = unchanged_plan(case)
    anchors = {n.key: n.at for n in resets(planned)}
    check_plan(
        case, planned, day_bounds(case.day, case.preferences.tz)[0] - timedelta(days=2), anchors
    )
    day_plan = plan_at(case, case.now)
    check_plan(case, day_plan, case.now, anchors)
    # Deterministic: the same inputs give the same plan.
    assert plan_at(case, case.now) == day_plan
    # Re-planning later never invents a reset the earlier plan did not have, and keeps
    # the deadlines of the ones it still has.
    later = plan_at(case, case.later)
    check_plan(case, later, case.later, anchors)
    earlier = {n.key: n for n in resets(day_plan)}
    for nudge in resets(later):
        assert nudge.key in earlier, (nudge, case.now, case.later)
        assert nudge.expires_at == earlier[nudge.key].expires_at


@settings(max_examples=200, deadline=None)
@given(cases())
def test_every_chain_end_gets_a_reset(case: Case) -> None:
    """Seen from before the day, each chain end in allowed time has its reset, unless another
    reset is too close or the day's cap is reached; a transition never wins over an end."""
    if not case.preferences.resets:
        return
    planned = resets(unchanged_plan(case))
    times = {n.at for n in planned}
    ends = [
        chain[-1].end
        for chain in chains(case.busy)
        if len(chain) >= 2 or chain[-1].end - chain[0].start >= LONG_MEETING
    ]
    allowed_ends = [end for end in ends if is_allowed(end, case)]
    kept_ends = [end for end in allowed_ends if end in times]
    for end in allowed_ends:
        if end not in times:
            assert len(kept_ends) == POLICY.max_resets_per_day or any(
                abs(end - other) < SPACING for other in kept_ends
            ), end
    for nudge in planned:
        assert not any(m.start < nudge.at < m.end for m in case.busy)
        assert nudge.at in ends or any(
            before.end == nudge.at and len(chain) >= 2
            for chain in chains(case.busy)
            for before in chain[:-1]
        )
