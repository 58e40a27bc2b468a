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
LONG_CHAIN = timedelta(minutes=POLICY.transition_chain_minutes)
TRANSITION_AFTER = timedelta(minutes=45)  # a long chain's transitions, once it has run this

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


ALL_DAYS = frozenset(range(7))
WEEKDAYS = frozenset(range(5))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    zone = draw(st.sampled_from(ZONES))
    tz = ZoneInfo(zone)
    day = draw(
        st.one_of(st.sampled_from(SPECIAL_DAYS), st.dates(date(2026, 1, 1), date(2026, 12, 31)))
    )
    lo, _ = day_bounds(day, tz)
    hours = draw(working_hours)
    # Meetings start around the start of working hours (where resets happen), or anywhere
    # from the evening before (chains over midnight).
    first = draw(
        st.one_of(
            st.integers(-90, 60).map(
                lambda m: (
                    datetime.combine(day, hours.start, tzinfo=tz).astimezone(UTC)
                    + timedelta(minutes=m)
                )
            ),
            st.integers(-6 * 60, 24 * 60).map(lambda m: lo + timedelta(minutes=m)),
        )
    )
    cursor, spans = first, []
    for _ in range(draw(st.integers(0, 15))):
        cursor += timedelta(minutes=draw(GAPS))
        end = cursor + timedelta(minutes=draw(LENGTHS))
        spans.append((cursor, end))
        cursor = max(cursor, end)
    busy = merge_intervals(spans)

    pause = draw(st.one_of(st.none(), st.none(), st.integers(-24 * 60, 48 * 60)))
    reflection = draw(
        st.one_of(
            st.none(),
            st.builds(ReflectionTime, weekday=st.integers(0, 6), at=clock_times),
            st.builds(ReflectionTime, weekday=st.just(day.weekday()), at=clock_times),
            st.just(ReflectionTime(weekday=day.weekday())),
        )
    )
    days = st.one_of(
        st.just(ALL_DAYS), st.just(WEEKDAYS), st.frozensets(st.integers(0, 6), min_size=1)
    )
    preferences = Preferences(
        tz=tz,
        working_hours=hours,
        working_days=Weekdays(days=draw(days)),
        quiet_hours=draw(st.one_of(st.none(), st.none(), clock_ranges())),
        paused_until=None if pause is None else lo + timedelta(minutes=pause),
        reflection=reflection,
        resets=draw(st.sampled_from([True, True, True, False])),
        heavy_day_heads_up=draw(st.sampled_from([True, True, False])),
    )
    history = PracticeHistory(seed=draw(st.integers(0, 2**32)))

    # "now": anywhere around the day, or shortly after a meeting ends (when resets are due).
    boundaries = [m.end for m in busy] or [lo]
    now = draw(
        st.one_of(
            st.integers(-24 * 60, 26 * 60).map(lambda m: lo + timedelta(minutes=m)),
            st.tuples(st.sampled_from(boundaries), st.integers(-5 * 60, 40 * 60)).map(
                lambda pair: pair[0] + timedelta(seconds=pair[1])
            ),
            st.tuples(st.sampled_from(boundaries), st.integers(0, 30)).map(
                lambda pair: pair[0] + timedelta(minutes=pair[1])
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


# --- Cases that once failed, written in local time ---------------------------------------------


def local_case(
    zone: str,
    day: date,
    meetings: list[str],
    *,
    now: str,
    later: str,
    **choices: ClockRange | Weekdays,
) -> Case:
    """Meetings as ``"HH:MM-HH:MM"`` (``"@-1"``/``"@+1"`` for the day before/after)."""
    tz = ZoneInfo(zone)

    def instant(text: str) -> datetime:
        clock, _, shift = text.partition("@")
        return datetime.combine(
            day + timedelta(days=int(shift or 0)), time.fromisoformat(clock), tzinfo=tz
        ).astimezone(UTC)

    spans = []
    for text in meetings:
        span, _, shift = text.partition("@")
        a, b = span.split("-")
        start = instant(f"{a}@{shift or 0}")
        end = instant(f"{b}@{int(shift or 0) + (1 if b <= a else 0)}")
        spans.append((start, end))
    return Case(
        day=day,
        busy=merge_intervals(spans),
        preferences=Preferences(tz=tz, **choices),
        history=PracticeHistory(),
        now=instant(now),
        later=instant(later),
    )


def night_shift_before_tomorrows_meeting() -> Case:
    """The chain ends at 23:50, tomorrow's first meeting starts at 00:05."""
    return local_case(
        "Europe/Berlin",
        date(2026, 6, 3),
        ["23:00-23:30", "23:30-23:50", "00:05-00:30@+1"],
        now="23:55",
        later="23:59",
        working_hours=ClockRange.parse("22:00-06:00"),
    )


def chain_from_last_night() -> Case:
    """A 90-minute meeting from 23:00 to 00:30 ends inside the night shift."""
    return local_case(
        "Europe/Berlin",
        date(2026, 6, 3),
        ["23:00-00:30@-1"],
        now="00:00",
        later="00:40",
        working_hours=ClockRange.parse("22:00-06:00"),
    )


def late_reset_before_the_next_one() -> Case:
    """Sent at 09:47 instead of 09:45, the first reset would be 44 min before the next."""
    return local_case(
        "Europe/Berlin",
        date(2026, 3, 29),
        ["09:00-09:15", "09:15-09:30", "09:30-09:45", "10:15-10:30", "10:30-10:31"],
        now="09:46",
        later="09:47",
        working_days=Weekdays(days=ALL_DAYS),
    )


def late_reset_with_little_time_left() -> Case:
    """A chain end with 30 minutes to the next meeting, seen 25 minutes late."""
    return local_case(
        "Europe/Berlin",
        date(2026, 6, 3),
        ["09:00-09:30", "09:30-10:00", "10:30-11:00"],
        now="10:25",
        later="10:29",
    )


def quiet_spell_inside_a_reset() -> Case:
    """Quiet 12:05–12:10 inside a reset valid until 12:30: dropped at 12:07, gone at 12:12."""
    return local_case(
        "Europe/Berlin",
        date(2026, 6, 3),
        ["11:00-11:30", "11:30-12:00", "12:30-13:00"],
        now="12:07",
        later="12:12",
        quiet_hours=ClockRange.parse("12:05-12:10"),
    )


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
    for nudge in day_plan.nudges:
        if nudge.kind == NudgeKind.HEAVY_DAY:
            assert case.preferences.heavy_day_heads_up
            shape = day_plan.shape
            assert (
                shape.meeting_minutes >= POLICY.heavy_day_meeting_minutes
                or shape.longest_chain_minutes >= POLICY.heavy_day_chain_minutes
            )
            assert nudge.key == f"heavy_day:{case.day.isoformat()}"
            following = next_start(nudge.at, busy)
            if following is not None and nudge.expires_at > following:
                assert nudge.expires_at - following <= GRACE
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
@example(night_shift_before_tomorrows_meeting())
@example(late_reset_before_the_next_one())
@example(late_reset_with_little_time_left())
@example(quiet_spell_inside_a_reset())
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
@example(night_shift_before_tomorrows_meeting())
@example(chain_from_last_night())
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
    # Every other reset is a transition inside a long chain that has run long enough.
    transitions = {
        before.end
        for chain in chains(case.busy)
        if len(chain) >= 2 and chain[-1].end - chain[0].start >= LONG_CHAIN
        for before in chain[:-1]
        if before.end - chain[0].start >= TRANSITION_AFTER
    }
    for nudge in planned:
        assert nudge.at in ends or nudge.at in transitions, nudge
