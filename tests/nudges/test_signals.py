"""Live signals (nudges.signals): which Slack statuses mean a meeting, and the one reset a
long huddle or status-marked meeting earns when it ends, as tables and as properties.

Times are local wall-clock times in Berlin on Wednesday 3 June 2026 unless a case says
otherwise; ``"10:00-10:45"`` is a signal (or meeting) from 10:00 to 10:45.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from config.catalog import load_catalog
from nudges.catalog import Catalog, PracticeHistory
from nudges.clock import BusyInterval, ClockRange, Weekdays, day_bounds, merge_intervals
from nudges.planner import Nudge, NudgeKind, plan_day
from nudges.preferences import PlanningPolicy, Preferences
from nudges.signals import KEY_PREFIX, SignalKind, is_meeting_status, signal_reset

BERLIN = ZoneInfo("Europe/Berlin")
WEDNESDAY = date(2026, 6, 3)
SATURDAY = date(2026, 6, 6)
POLICY = PlanningPolicy()
SPACING = timedelta(minutes=POLICY.min_spacing_minutes)
EXPIRY = timedelta(minutes=POLICY.reset_expiry_minutes)
GRACE = timedelta(seconds=POLICY.connect_grace_seconds)


@cache
def catalog() -> Catalog:
    return load_catalog()


def at(text: str, day: date = WEDNESDAY) -> datetime:
    """Local ``"HH:MM"`` (or ``"HH:MM:SS"``) in Berlin as an aware UTC instant."""
    return datetime.combine(day, time.fromisoformat(text), tzinfo=BERLIN).astimezone(UTC)


def meetings(*spans: str, day: date = WEDNESDAY) -> list[BusyInterval]:
    return merge_intervals((at(a, day), at(b, day)) for a, b in (s.split("-") for s in spans))


def planned_reset(when: str, practice: str = "long-exhale") -> Nudge:
    moment = at(when)
    return Nudge(
        kind=NudgeKind.RESET,
        key=f"reset:{moment.isoformat()}",
        at=moment,
        expires_at=moment + EXPIRY,
        text="A planned reset.",
        practice=practice,
    )


@dataclass
class Signal:
    """A live signal's end as the bot sees it, with everything around it."""

    span: str
    busy: list[BusyInterval] = field(default_factory=list)
    preferences: Preferences = field(default_factory=lambda: Preferences(tz=BERLIN))
    policy: PlanningPolicy = POLICY
    pending: list[Nudge] = field(default_factory=list)
    sent: list[datetime] = field(default_factory=list)
    still_in: tuple[SignalKind, ...] = ()
    day: date = WEDNESDAY

    def reset(self) -> Nudge | None:
        start, end = self.span.split("-")
        return signal_reset(
            at(start, self.day),
            now=at(end, self.day),
            busy=self.busy,
            preferences=self.preferences,
            policy=self.policy,
            catalog=catalog(),
            history=PracticeHistory(seed=7),
            pending=self.pending,
            sent=self.sent,
            still_in=self.still_in,
        )


# --- which statuses say "in a meeting" -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "emoji", "meeting"),
    [
        ("In a meeting", ":spiral_calendar_pad:", True),  # Google Calendar
        ("In a meeting", "", True),
        ("in a meeting • Outlook Calendar", ":calendar:", True),
        ("", ":calendar:", True),  # Outlook's emoji alone
        ("", ":spiral_calendar_pad:", True),
        ("In a Zoom meeting", ":zoom:", True),
        ("MEETINGS all afternoon", "", True),
        ("On a call", ":telephone_receiver:", True),
        ("in a call", "", True),
        ("On a Teams call", "", True),
        ("on an external call", "", True),
        ("On call this week", ":pager:", False),  # a pager rota, not a meeting
        ("Out of office", ":calendar:", False),
        ("On vacation", ":spiral_calendar_pad:", False),
        ("OOO until Monday", ":date:", False),
        ("Commuting", ":bus:", False),
        ("Lunch", ":sandwich:", False),
        ("", "", False),
        ("Focusing", ":headphones:", False),
        ("Recall the meetup", "", False),  # "call" and "meet" inside other words
    ],
)
def test_meeting_statuses(text: str, emoji: str, meeting: bool) -> None:
    assert is_meeting_status(text, emoji) is meeting


# --- the reset, rule by rule -----------------------------------------------------------------


def test_a_long_huddle_without_a_calendar_earns_one_reset_at_its_end() -> None:
    nudge = Signal("10:00-10:45").reset()
    assert nudge is not None
    assert nudge.kind is NudgeKind.RESET
    assert nudge.at == at("10:45")
    assert nudge.expires_at == at("10:45") + EXPIRY
    assert nudge.key == f"{KEY_PREFIX}{at('10:45').isoformat()}"
    practice = catalog().practice(nudge.practice or "")
    assert practice is not None
    assert nudge.text == practice.text
    assert practice.fits(EXPIRY)
    assert not practice.while_connecting  # a 30-minute gap deserves a real practice


def test_the_key_names_the_minute_so_two_signals_ending_together_share_it() -> None:
    first = Signal("10:00-10:45:07").reset()
    second = Signal("09:58-10:45:52").reset()
    assert first is not None
    assert second is not None
    assert first.key == second.key == f"{KEY_PREFIX}{at('10:45').isoformat()}"
    assert first.at == at("10:45:07")


@pytest.mark.parametrize(
    ("span", "minimum", "earns"),
    [
        ("10:00-10:29", 30, False),
        ("10:00-10:29:59", 30, False),
        ("10:00-10:30", 30, True),
        ("10:00-12:00", 30, True),
        ("10:00-10:05", 30, False),
        ("10:00-10:50", 60, False),
        ("10:00-11:00", 60, True),
        ("10:00-10:10", 5, True),
    ],
)
def test_only_signals_that_lasted_the_threshold_earn_a_reset(
    span: str, minimum: int, earns: bool
) -> None:
    policy = PlanningPolicy(live_signal_minutes=minimum)
    assert (Signal(span, policy=policy).reset() is not None) is earns


def test_the_default_threshold_is_half_an_hour() -> None:
    assert PlanningPolicy().live_signal_minutes == 30


@pytest.mark.parametrize(
    ("span", "choices", "day"),
    [
        ("10:00-10:45", {"resets": False}, WEDNESDAY),
        ("18:00-18:45", {}, WEDNESDAY),  # after working hours (09:00-18:00)
        ("08:00-08:45", {}, WEDNESDAY),  # before them
        ("10:00-10:45", {}, SATURDAY),  # not a working day
        ("10:00-10:45", {"working_days": Weekdays(days=frozenset({0, 1}))}, WEDNESDAY),
        ("10:00-10:45", {"quiet_hours": ClockRange.parse("10:30-11:00")}, WEDNESDAY),
        ("10:00-10:45", {"paused_until": at("12:00")}, WEDNESDAY),
    ],
)
def test_no_reset_outside_allowed_time(span: str, choices: dict[str, Any], day: date) -> None:
    preferences = Preferences(tz=BERLIN, **choices)
    assert Signal(span, preferences=preferences, day=day).reset() is None


def test_a_pause_that_is_over_does_not_hold_it_back() -> None:
    preferences = Preferences(tz=BERLIN, paused_until=at("10:00"))
    assert Signal("10:00-10:45", preferences=preferences).reset() is not None


def test_a_night_shift_allows_a_reset_after_midnight() -> None:
    preferences = Preferences(tz=BERLIN, working_hours=ClockRange.parse("22:00-06:00"))
    late = signal_reset(
        at("23:50", WEDNESDAY),
        now=at("00:30", date(2026, 6, 4)),
        busy=[],
        preferences=preferences,
        policy=POLICY,
        catalog=catalog(),
        history=PracticeHistory(),
    )
    assert late is not None
    assert late.at == at("00:30", date(2026, 6, 4))


def test_no_reset_while_another_signal_is_still_running() -> None:
    assert Signal("10:00-10:45", still_in=(SignalKind.STATUS,)).reset() is None
    assert Signal("10:00-10:45", still_in=(SignalKind.HUDDLE,)).reset() is None


def test_no_reset_inside_a_calendar_meeting() -> None:
    assert Signal("10:00-10:45", busy=meetings("10:30-11:30")).reset() is None


def test_the_practice_fits_the_gap_to_the_next_calendar_meeting() -> None:
    nudge = Signal("10:00-10:55", busy=meetings("11:00-11:30")).reset()
    assert nudge is not None
    assert nudge.expires_at == at("11:00")  # the next meeting's start
    practice = catalog().practice(nudge.practice or "")
    assert practice is not None
    assert practice.fits(timedelta(minutes=5))


def test_a_zero_minute_gap_gets_a_practice_for_while_the_call_connects() -> None:
    nudge = Signal("10:00-11:00", busy=meetings("11:00-11:30")).reset()
    assert nudge is not None
    assert nudge.expires_at == at("11:00") + GRACE
    practice = catalog().practice(nudge.practice or "")
    assert practice is not None
    assert practice.while_connecting


@pytest.mark.parametrize(
    ("planned", "earns"),
    [
        ("10:45", False),  # the calendar's own reset for the same moment
        ("10:01", False),  # 44 minutes before
        ("11:29", False),  # 44 minutes after
        ("10:00", True),  # exactly the spacing: allowed, as between planned resets
        ("11:30", True),
        ("09:00", True),
        ("15:00", True),
    ],
)
def test_no_reset_within_spacing_of_a_pending_reset(planned: str, earns: bool) -> None:
    signal = Signal("09:30-10:45", pending=[planned_reset(planned)])
    assert (signal.reset() is not None) is earns


def test_pending_nudges_that_are_not_resets_do_not_count() -> None:
    heads_up = planned_reset("10:45").model_copy(
        update={"kind": NudgeKind.HEAVY_DAY, "key": "heavy_day:2026-06-03", "practice": None}
    )
    assert Signal("10:00-10:45", pending=[heads_up]).reset() is not None


@pytest.mark.parametrize(("sent", "earns"), [("10:30", False), ("10:00", True), ("11:00", False)])
def test_no_reset_within_spacing_of_one_already_sent(sent: str, earns: bool) -> None:
    assert (Signal("10:00-10:45", sent=[at(sent)]).reset() is not None) is earns


def test_the_daily_cap_counts_planned_and_sent_resets() -> None:
    policy = PlanningPolicy(max_resets_per_day=3)
    pending = [planned_reset("15:00"), planned_reset("16:00")]
    assert Signal("10:00-10:45", policy=policy, pending=pending).reset() is not None
    full = Signal("10:00-10:45", policy=policy, pending=pending, sent=[at("09:00")])
    assert full.reset() is None
    yesterday = at("09:00", date(2026, 6, 2))
    assert Signal("10:00-10:45", policy=policy, pending=pending, sent=[yesterday]).reset()


def test_the_practice_is_not_one_already_planned_today() -> None:
    first = Signal("10:00-10:45").reset()
    assert first is not None
    again = Signal("10:00-10:45", pending=[planned_reset("16:00", first.practice or "")]).reset()
    assert again is not None
    assert again.practice != first.practice


def test_a_status_mirroring_a_single_short_calendar_meeting_earns_nothing() -> None:
    # The calendar knew this meeting; one 45-minute meeting is not a chain, so the planner
    # chose no reset here, and the status must not add one.
    busy = meetings("10:00-10:45")
    assert Signal("10:00-10:45", busy=busy).reset() is None
    assert Signal("10:00-10:47", busy=busy).reset() is None  # the status cleared late


def test_a_status_mirroring_a_chain_replaces_the_planned_reset_if_it_did_not_go_out() -> None:
    busy = meetings("09:30-10:00", "10:00-10:45")
    plan = plan_day(
        WEDNESDAY,
        busy,
        preferences=Preferences(tz=BERLIN),
        policy=POLICY,
        catalog=catalog(),
        now=at("08:00"),
    )
    assert [n.at for n in plan.nudges if n.kind is NudgeKind.RESET] == [at("10:45")]
    pending = [n for n in plan.nudges if n.kind is NudgeKind.RESET]
    # Still pending (or sent): the person gets that one, not a second.
    assert Signal("09:30-10:46", busy=busy, pending=pending).reset() is None
    assert Signal("09:30-10:46", busy=busy, sent=[at("10:45")]).reset() is None
    # Dropped at 10:45 because the status still said "in a meeting": the live one comes.
    assert Signal("09:30-10:46", busy=busy).reset() is not None
    # However short the signal: the calendar, not the signal, says this was a chain's end.
    assert Signal("10:00-10:46", busy=busy).reset() is not None
    assert Signal("10:40-10:50", busy=busy).reset() is not None
    # Long after the chain's end the calendar has nothing to say, and the signal is short.
    assert Signal("10:40-11:00", busy=busy).reset() is None


def test_a_huddle_that_overran_a_calendar_meeting_by_more_than_the_chain_gap_counts() -> None:
    busy = meetings("09:00-10:00")
    assert Signal("09:30-10:05", busy=busy).reset() is None  # the calendar's meeting, roughly
    assert Signal("09:30-10:20", busy=busy).reset() is not None


def test_an_ad_hoc_huddle_beside_a_calendar_gets_its_reset() -> None:
    busy = meetings("09:00-09:30", "14:00-15:00")
    nudge = Signal("10:00-10:45", busy=busy).reset()
    assert nudge is not None
    assert nudge.expires_at == at("10:45") + EXPIRY


def test_a_signal_that_ends_before_it_starts_earns_nothing() -> None:
    assert Signal("10:45-10:00").reset() is None


# --- properties ------------------------------------------------------------------------------

ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kathmandu", "UTC", "America/St_Johns")
clock_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 0, 15, 30, 45, 59]))


@st.composite
def clock_ranges(draw: st.DrawFn) -> ClockRange:
    start = draw(clock_times)
    return ClockRange(start=start, end=draw(clock_times.filter(lambda t: t != start)))


@dataclass(frozen=True)
class Case:
    since: datetime
    now: datetime
    busy: list[BusyInterval]
    preferences: Preferences
    pending: list[Nudge]
    sent: list[datetime]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    tz = ZoneInfo(draw(st.sampled_from(ZONES)))
    day = draw(st.dates(date(2026, 1, 1), date(2026, 12, 31)))
    lo, hi = day_bounds(day, tz)
    assume(hi - lo == timedelta(days=1))  # wall-clock checks below; DST days: planner tests
    office = ClockRange.parse("09:00-18:00")
    hours = draw(st.one_of(st.just(office), st.just(office), clock_ranges()))
    # Mostly inside working hours, where resets happen; anywhere in the day otherwise.
    opening = datetime.combine(day, hours.start, tzinfo=tz).astimezone(UTC)
    at_work = st.integers(0, 9 * 60).map(lambda m: opening + timedelta(minutes=m))
    anytime = st.integers(0, 24 * 60 - 1).map(lambda m: lo + timedelta(minutes=m))
    now = draw(st.one_of(at_work, at_work, anytime))
    lasted = draw(st.one_of(st.integers(POLICY.live_signal_minutes, 240), st.integers(0, 240)))
    since = now - timedelta(minutes=lasted)
    spans = []
    for _ in range(draw(st.integers(0, 5))):
        start = now + timedelta(minutes=draw(st.integers(-600, 600)))
        spans.append((start, start + timedelta(minutes=draw(st.integers(1, 120)))))
    pause = draw(st.one_of(st.none(), st.none(), st.none(), st.integers(-600, 600)))
    every_day = st.just(frozenset(range(7)))
    days = st.one_of(every_day, every_day, st.frozensets(st.integers(0, 6), min_size=1))
    preferences = Preferences(
        tz=tz,
        working_hours=hours,
        working_days=Weekdays(days=draw(days)),
        quiet_hours=draw(st.one_of(st.none(), st.none(), st.none(), clock_ranges())),
        paused_until=None if pause is None else now + timedelta(minutes=pause),
    )
    pending = [
        planned_reset_at(now + timedelta(minutes=m))
        for m in draw(st.lists(st.integers(-120, 600), max_size=3))
    ]
    sent = [now - timedelta(minutes=m) for m in draw(st.lists(st.integers(0, 600), max_size=3))]
    return Case(since, now, merge_intervals(spans), preferences, pending, sent)


def planned_reset_at(moment: datetime) -> Nudge:
    return Nudge(
        kind=NudgeKind.RESET,
        key=f"reset:{moment.astimezone(UTC).isoformat()}",
        at=moment,
        expires_at=moment + EXPIRY,
        text="A planned reset.",
        practice="long-exhale",
    )


def allowed_by_the_wall_clock(moment: datetime, preferences: Preferences) -> bool:
    """Working time (a night shift belongs to the day it starts on), not quiet, not paused."""
    tz = preferences.tz
    if preferences.paused_until is not None and moment < preferences.paused_until:
        return False
    if preferences.quiet_hours is not None and preferences.quiet_hours.contains(moment, tz):
        return False
    hours = preferences.working_hours
    if not hours.contains(moment, tz):
        return False
    local = moment.astimezone(tz)
    shift_day = local.date()
    if hours.wraps_midnight and local.time() < hours.end:
        shift_day -= timedelta(days=1)
    return shift_day.weekday() in preferences.working_days.days


def quiet_evening_case() -> Case:
    now = at("21:30")
    return Case(
        since=at("20:00"),
        now=now,
        busy=[],
        preferences=Preferences(
            tz=BERLIN,
            working_hours=ClockRange.parse("18:00-23:00"),
            quiet_hours=ClockRange.parse("21:00-22:00"),
        ),
        pending=[],
        sent=[],
    )


@settings(max_examples=300, deadline=None)
@given(cases())
@example(quiet_evening_case())
def test_a_live_reset_keeps_the_planner_rules(case: Case) -> None:
    nudge = signal_reset(
        case.since,
        now=case.now,
        busy=case.busy,
        preferences=case.preferences,
        policy=POLICY,
        catalog=catalog(),
        history=PracticeHistory(),
        pending=case.pending,
        sent=case.sent,
    )
    if nudge is None:
        return
    assert nudge.at == case.now
    # Long enough, or the calendar shows a meeting ending about now (its plan decides).
    chain_gap = timedelta(minutes=POLICY.chain_gap_minutes)
    assert case.now - case.since >= timedelta(minutes=POLICY.live_signal_minutes) or any(
        abs(m.end - case.now) <= chain_gap for m in case.busy
    )
    # Never inside a meeting, never outside allowed time.
    assert not any(m.start < nudge.at < m.end for m in case.busy)
    assert allowed_by_the_wall_clock(nudge.at, case.preferences)
    # Never within the spacing of a pending or sent reset.
    assert all(abs(p.at - nudge.at) >= SPACING for p in case.pending)
    assert all(abs(s - nudge.at) >= SPACING for s in case.sent)
    # Its deadline: the next meeting or the expiry, never inside the grace; the practice fits.
    following = next((m.start for m in case.busy if m.start >= nudge.at), None)
    deadline = nudge.at + EXPIRY if following is None else min(nudge.at + EXPIRY, following)
    assert nudge.expires_at == max(deadline, nudge.at + GRACE)
    gap = EXPIRY if following is None else min(following - nudge.at, EXPIRY)
    practice = catalog().practice(nudge.practice or "")
    assert practice is not None
    assert practice.fits(gap)
    assert nudge.key.startswith(KEY_PREFIX)


@settings(max_examples=100, deadline=None)
@given(cases())
def test_a_live_reset_never_crowds_the_one_it_would_add_to(case: Case) -> None:
    """Fed back as pending, a live reset leaves no room for another at the same moment."""
    kwargs: dict[str, Any] = {
        "now": case.now,
        "busy": case.busy,
        "preferences": case.preferences,
        "policy": POLICY,
        "catalog": catalog(),
        "history": PracticeHistory(),
        "sent": case.sent,
    }
    first = signal_reset(case.since, pending=case.pending, **kwargs)
    assume(first is not None)
    assert first is not None
    assert signal_reset(case.since, pending=[*case.pending, first], **kwargs) is None
