"""The day planner, rule by rule, as tables (nudges.planner.plan_day).

Meetings and expected nudges are written as local wall-clock times in the person's zone;
``"11:00→11:30"`` is a nudge sent at 11:00 that expires at 11:30. The rules themselves are
in the module docstring of nudges.planner.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from config.catalog import load_catalog
from nudges.catalog import Catalog, PracticeHistory
from nudges.clock import (
    BusyInterval,
    ClockRange,
    Weekdays,
    local_instant,
    merge_intervals,
    parse_clock,
    parse_weekdays,
)
from nudges.planner import DayPlan, Nudge, NudgeKind, plan_day
from nudges.preferences import PlanningPolicy, Preferences, ReflectionTime

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
WEDNESDAY = date(2026, 6, 3)
FRIDAY = date(2026, 6, 5)
SATURDAY = date(2026, 6, 6)
MONDAY = date(2026, 6, 8)
SPRING_FORWARD = date(2026, 3, 29)  # Berlin: 02:00 → 03:00, a Sunday
FALL_BACK = date(2026, 10, 25)  # Berlin: 03:00 → 02:00, a Sunday
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)  # a "now" before every nudge
GRACE = timedelta(seconds=PlanningPolicy().connect_grace_seconds)


@cache
def catalog() -> Catalog:
    return load_catalog()


# --- Helpers ---------------------------------------------------------------------------------


def instant(zone: str, day: date, text: str) -> datetime:
    """Local ``"HH:MM"`` on ``day`` (``"HH:MM@+1"`` on the next day) as a UTC instant."""
    clock_text, _, shift = text.partition("@")
    return local_instant(
        day + timedelta(days=int(shift or 0)), parse_clock(clock_text), ZoneInfo(zone)
    )


def busy(zone: str, day: date, *texts: str) -> list[BusyInterval]:
    """Busy intervals from local ``"HH:MM-HH:MM"`` on ``day`` in ``zone``.

    An end at or before the start ends on the next day; ``"@-1"`` or ``"@+1"`` after a span
    moves it a day. Overlaps merge, touching meetings stay apart, as the calendar reader does.
    """
    tz = ZoneInfo(zone)
    spans = []
    for text in texts:
        clock_text, _, shift = text.partition("@")
        first = day + timedelta(days=int(shift or 0))
        a, b = (parse_clock(part) for part in clock_text.split("-"))
        last = first + timedelta(days=1) if b <= a else first
        spans.append((local_instant(first, a, tz), local_instant(last, b, tz)))
    return merge_intervals(spans)


def person(zone: str = BERLIN, **choices: Any) -> Preferences:
    """Preferences in ``zone``; clock ranges and weekdays may be given as text."""
    for name in ("working_hours", "quiet_hours"):
        if isinstance(choices.get(name), str):
            choices[name] = ClockRange.parse(choices[name])
    if isinstance(choices.get("working_days"), str):
        choices["working_days"] = Weekdays(days=parse_weekdays(choices["working_days"]))
    return Preferences(tz=ZoneInfo(zone), **choices)


def plan(
    day: date,
    meetings: list[BusyInterval],
    preferences: Preferences,
    *,
    now: datetime = LONG_AGO,
    policy: PlanningPolicy | None = None,
    history: PracticeHistory | None = None,
) -> DayPlan:
    return plan_day(
        day,
        meetings,
        preferences=preferences,
        policy=policy or PlanningPolicy(),
        catalog=catalog(),
        now=now,
        history=history,
    )


def hhmm(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%H:%M}" if local.second == 0 else f"{local:%H:%M:%S}"


def timeline(day_plan: DayPlan, kind: NudgeKind, zone: str) -> list[str]:
    """The plan's nudges of one kind as ``"at→expires"`` in local time."""
    return [
        f"{hhmm(n.at, zone)}→{hhmm(n.expires_at, zone)}" for n in day_plan.nudges if n.kind == kind
    ]


def of_kind(day_plan: DayPlan, kind: NudgeKind) -> list[Nudge]:
    return [n for n in day_plan.nudges if n.kind == kind]


def gap_after(nudge: Nudge, meetings: list[BusyInterval]) -> timedelta:
    """The gap a reset is sent into: until the next meeting, at most the reset expiry."""
    limit = timedelta(minutes=PlanningPolicy().reset_expiry_minutes)
    following = [m.start for m in meetings if m.start >= nudge.at]
    return min(following[0] - nudge.at, limit) if following else limit


def assert_never_inside_a_meeting(day_plan: DayPlan, meetings: list[BusyInterval]) -> None:
    for nudge in day_plan.nudges:
        assert not any(m.start < nudge.at < m.end for m in meetings), nudge


# --- A reset at the end of every chain -------------------------------------------------------


@pytest.mark.parametrize(
    ("meetings", "resets"),
    [
        pytest.param(["10:00-10:30", "10:30-11:00"], ["11:00→11:30"], id="two-back-to-back"),
        pytest.param(
            ["10:00-10:30", "10:35-11:00", "11:15-11:45"], ["11:00→11:15"], id="next-in-15"
        ),
        pytest.param(
            ["10:00-10:30", "10:30-11:00", "11:10-11:40"], ["11:00→11:10"], id="next-in-10"
        ),
        pytest.param(["10:00-10:30", "10:39-11:00"], ["11:00→11:30"], id="gap-9-joins"),
        pytest.param(["10:00-10:30", "10:40-11:00"], [], id="gap-10-splits"),
        pytest.param(["10:00-10:30", "10:00-11:00"], [], id="overlap-is-one-meeting"),
        pytest.param(["10:00-11:30"], ["11:30→12:00"], id="one-90-minute-meeting"),
        pytest.param(["10:00-11:29"], [], id="one-89-minute-meeting"),
        pytest.param(["10:00-11:00"], [], id="one-hour"),
        pytest.param(["10:00-10:30", "10:30-11:00", "11:30-13:00"], ["11:00→11:30", "13:00→13:30"]),
        pytest.param(
            ["10:00-10:30", "10:30-11:00", "14:00-14:20", "14:25-15:00"],
            ["11:00→11:30", "15:00→15:30"],
            id="two-chains",
        ),
        pytest.param(["16:30-17:00", "17:00-17:59"], ["17:59→18:29"], id="ends-17:59"),
        pytest.param(["16:30-17:00", "17:00-18:00"], [], id="ends-with-the-working-day"),
        pytest.param(["18:00-18:30", "18:30-19:00"], [], id="evening"),
        pytest.param(["07:30-08:00", "08:00-08:45"], [], id="before-work"),
        pytest.param(["08:00-08:30", "08:30-09:00"], ["09:00→09:30"], id="ends-at-09:00"),
        pytest.param(["08:00-08:30", "08:30-09:00", "09:20-10:00"], ["09:00→09:20"]),
    ],
)
def test_reset_at_every_chain_end(meetings: list[str], resets: list[str]) -> None:
    calendar = busy(BERLIN, WEDNESDAY, *meetings)
    day_plan = plan(WEDNESDAY, calendar, person())
    assert timeline(day_plan, NudgeKind.RESET, BERLIN) == resets
    assert_never_inside_a_meeting(day_plan, calendar)


@pytest.mark.parametrize(
    ("meetings", "resets"),
    [
        pytest.param(
            ["09:00-09:30", "09:30-10:00", "10:00-10:30", "10:30-11:00"],
            ["10:00→10:02", "11:00→11:30"],  # 09:30 is too early, 10:30 too close to 11:00
            id="120-minutes",
        ),
        pytest.param(
            ["09:00-09:30", "09:30-10:00", "10:00-10:30", "10:30-10:59"],
            ["10:59→11:29"],
            id="119-minutes",
        ),
        pytest.param(
            ["09:00-10:00", "10:05-11:00", "11:05-12:00", "12:05-13:00"],
            ["10:00→10:05", "11:00→11:05", "12:00→12:05", "13:00→13:30"],
            id="four-hours-5-minute-gaps",
        ),
        pytest.param(
            ["09:00-09:45", "09:45-10:45", "10:45-11:15"],
            ["09:45→09:47", "11:15→11:45"],
            id="after-45-minutes",
        ),
        pytest.param(
            ["09:00-09:44", "09:44-10:45", "10:45-11:15"],
            ["11:15→11:45"],
            id="after-44-minutes",
        ),
        pytest.param(
            ["09:00-10:00", "10:01-11:00", "11:00-11:30"],
            ["10:00→10:02", "11:30→12:00"],  # a 1-minute gap still gets the grace
            id="one-minute-gap",
        ),
        pytest.param(
            ["09:00-10:00", "10:03-11:00", "11:00-11:30"],
            ["10:00→10:03", "11:30→12:00"],
            id="three-minute-gap",
        ),
        pytest.param(["09:00-12:00"], ["12:00→12:30"], id="one-long-meeting-has-no-transitions"),
    ],
)
def test_transitions_inside_long_chains(meetings: list[str], resets: list[str]) -> None:
    calendar = busy(BERLIN, WEDNESDAY, *meetings)
    day_plan = plan(WEDNESDAY, calendar, person())
    assert timeline(day_plan, NudgeKind.RESET, BERLIN) == resets
    assert_never_inside_a_meeting(day_plan, calendar)


def test_a_zero_gap_reset_lasts_the_connect_grace() -> None:
    calendar = busy(BERLIN, WEDNESDAY, "09:00-10:00", "10:00-11:00", "11:00-11:30")
    first = of_kind(plan(WEDNESDAY, calendar, person()), NudgeKind.RESET)[0]
    assert first.at == instant(BERLIN, WEDNESDAY, "10:00")
    assert first.expires_at - first.at == GRACE


# --- Spacing, the daily cap, and chain ends before transitions --------------------------------


def every_fifty_minutes(chains: int) -> list[str]:
    """``chains`` chains of two 20-minute meetings from 09:10, each ending 50 min after the last."""
    out = []
    start = datetime.combine(WEDNESDAY, time(9, 10))
    for _ in range(chains):
        middle, end = start + timedelta(minutes=20), start + timedelta(minutes=40)
        out += [f"{start:%H:%M}-{middle:%H:%M}", f"{middle:%H:%M}-{end:%H:%M}"]
        start = end + timedelta(minutes=10)
    return out


@pytest.mark.parametrize(
    ("meetings", "policy", "resets"),
    [
        pytest.param(
            ["09:00-09:30", "09:30-10:00", "10:20-10:30", "10:30-10:44"],
            PlanningPolicy(),
            ["10:00→10:20"],
            id="ends-44-minutes-apart",
        ),
        pytest.param(
            ["09:00-09:30", "09:30-10:00", "10:20-10:30", "10:30-10:45"],
            PlanningPolicy(),
            ["10:00→10:20", "10:45→11:15"],
            id="ends-45-minutes-apart",
        ),
        pytest.param(
            every_fifty_minutes(8),
            PlanningPolicy(),
            [
                *["09:50→10:00", "10:40→10:50", "11:30→11:40"],
                *["12:20→12:30", "13:10→13:20", "14:00→14:10"],
            ],
            id="at-most-six",
        ),
        pytest.param(
            every_fifty_minutes(8),
            PlanningPolicy(max_resets_per_day=2),
            ["09:50→10:00", "10:40→10:50"],
            id="at-most-two",
        ),
        pytest.param(
            every_fifty_minutes(8),
            PlanningPolicy(max_resets_per_day=0),
            [],
            id="none",
        ),
        pytest.param(
            # Transitions at 10:00 and 11:00 come first, but both chain ends win the cap.
            ["09:00-10:00", "10:00-11:00", "11:00-12:00", "15:00-15:30", "15:30-16:00"],
            PlanningPolicy(max_resets_per_day=2),
            ["12:00→12:30", "16:00→16:30"],
            id="ends-win-the-cap",
        ),
        pytest.param(
            # The 11:00 transition would crowd the 11:40 chain end: the end stays.
            ["09:00-10:00", "10:00-11:00", "11:00-11:40"],
            PlanningPolicy(),
            ["10:00→10:02", "11:40→12:10"],
            id="ends-win-the-spacing",
        ),
        pytest.param(
            # A transition of one chain against the end of the chain before it.
            # A chain's run counts from its own start: 10:30 is only 40 minutes in.
            ["09:00-09:20", "09:20-09:40", "09:50-10:30", "10:30-11:00", "11:00-12:00"],
            PlanningPolicy(),
            ["09:40→09:50", "11:00→11:02", "12:00→12:30"],
            id="run-counts-from-the-chain-start",
        ),
    ],
)
def test_spacing_and_cap(meetings: list[str], policy: PlanningPolicy, resets: list[str]) -> None:
    day_plan = plan(WEDNESDAY, busy(BERLIN, WEDNESDAY, *meetings), person(), policy=policy)
    assert timeline(day_plan, NudgeKind.RESET, BERLIN) == resets
    times = [n.at for n in of_kind(day_plan, NudgeKind.RESET)]
    spacing = timedelta(minutes=policy.min_spacing_minutes)
    assert all(b - a >= spacing for a, b in pairwise(times))


# --- The practice fits its gap -----------------------------------------------------------------


def transition_with_gap(minutes: int) -> list[str]:
    """A long chain whose 10:00 transition has a gap of ``minutes`` (< 10)."""
    resume = datetime.combine(WEDNESDAY, time(10)) + timedelta(minutes=minutes)
    return ["09:00-10:00", f"{resume:%H:%M}-11:00", "11:00-11:30"]


def chain_end_with_gap(minutes: int) -> list[str]:
    """A chain ending at 10:00 and the next meeting ``minutes`` (≥ 10) later."""
    resume = datetime.combine(WEDNESDAY, time(10)) + timedelta(minutes=minutes)
    return ["09:00-09:30", "09:30-10:00", f"{resume:%H:%M}-{resume + timedelta(minutes=15):%H:%M}"]


@pytest.mark.parametrize(
    ("meetings", "gap_minutes"),
    [
        *[pytest.param(transition_with_gap(g), g, id=f"transition-{g}") for g in range(10)],
        *[
            pytest.param(chain_end_with_gap(g), min(g, 30), id=f"end-{g}")
            for g in (10, 11, 12, 15, 19, 20, 25, 29, 30, 31, 45, 120)
        ],
        pytest.param(["09:00-09:30", "09:30-10:00"], 30, id="end-nothing-after"),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 7, 12345])
def test_practice_fits_the_gap(meetings: list[str], gap_minutes: int, seed: int) -> None:
    calendar = busy(BERLIN, WEDNESDAY, *meetings)
    day_plan = plan(WEDNESDAY, calendar, person(), history=PracticeHistory(seed=seed))
    reset = next(
        n for n in of_kind(day_plan, NudgeKind.RESET) if n.at == instant(BERLIN, WEDNESDAY, "10:00")
    )
    gap = gap_after(reset, calendar)
    assert gap == timedelta(minutes=gap_minutes)
    assert reset.practice is not None
    practice = catalog().practice(reset.practice)
    assert practice is not None
    assert practice.fits(gap)
    assert reset.text == practice.text
    if gap_minutes == 0:
        assert practice.while_connecting
        assert practice.seconds <= 30
    if gap_minutes >= 2:
        assert not practice.while_connecting


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("day", [WEDNESDAY, FRIDAY, MONDAY + timedelta(days=1)])
def test_no_practice_repeats_in_a_day(seed: int, day: date) -> None:
    # Six zero-gap transitions and chain ends with roomy gaps, mixed.
    calendar = busy(
        BERLIN,
        day,
        *["09:00-10:00", "10:00-11:00", "11:00-12:00", "12:00-13:00"],
        *["13:30-14:00", "14:00-14:15", "15:00-15:20", "15:20-15:40", "16:30-17:00"],
        "17:00-17:30",
    )
    day_plan = plan(day, calendar, person(), history=PracticeHistory(seed=seed))
    resets = of_kind(day_plan, NudgeKind.RESET)
    assert len(resets) == 6
    practices = [n.practice for n in resets]
    assert len(set(practices)) == len(practices)


@pytest.mark.parametrize("gap_minutes", [0, 1])
def test_zero_gaps_all_day_still_do_not_repeat(gap_minutes: int) -> None:
    """Only the while_connecting practices fit: there are enough of them for a full day."""
    meetings = []
    start = datetime.combine(WEDNESDAY, time(9))
    for _ in range(8):
        end = start + timedelta(minutes=60)
        meetings.append(f"{start:%H:%M}-{end:%H:%M}")
        start = end + timedelta(minutes=gap_minutes)
    day_plan = plan(WEDNESDAY, busy(BERLIN, WEDNESDAY, *meetings), person())
    resets = of_kind(day_plan, NudgeKind.RESET)
    practices = [catalog().practice(n.practice or "") for n in resets]
    assert len(resets) == 6
    assert len({p.id for p in practices if p is not None}) == 6
    if gap_minutes == 0:
        # Five transitions into the next call, then the chain's end with room to spare.
        assert [p is not None and p.while_connecting for p in practices] == [True] * 5 + [False]


# --- Heavy-day heads-up ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "meetings", "choices", "heads_up", "says"),
    [
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["09:30-10:30", "11:00-12:00", "12:30-13:30", "14:00-15:00", "15:30-16:30"],
            {},
            ["09:00→09:30"],
            ["5 h of meetings", "from 09:30 to 10:30", "16:30–18:00"],
            id="300-minutes",
        ),
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["09:30-10:30", "11:00-12:00", "12:30-13:30", "14:00-15:00", "15:30-16:29"],
            {},
            [],
            [],
            id="299-minutes",
        ),
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["10:00-11:00", "11:00-12:00", "12:00-13:00"],
            {},
            ["09:00→10:00"],
            ["3 h of meetings", "from 10:00 to 13:00", "13:00–18:00"],
            id="chain-180",
        ),
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["10:00-11:00", "11:00-12:00", "12:00-12:59"],
            {},
            [],
            [],
            id="chain-179",
        ),
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["10:00-13:00"],  # one long meeting counts as a chain
            {},
            ["09:00→10:00"],
            ["from 10:00 to 13:00", "13:00–18:00"],
            id="one-180-minute-meeting",
        ),
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["08:30-09:40", "09:45-10:30", "10:30-11:30"],
            {},
            ["09:40→09:45"],  # moved out of the meeting, gone when the next one starts
            ["from 08:30 to 11:30", "11:30–18:00"],
            id="starts-inside-a-meeting",
        ),
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["08:30-09:30", "09:30-10:30", "10:30-11:30"],
            {},
            ["09:30→09:32"],
            ["11:30–18:00"],
            id="first-free-instant-is-a-zero-gap",
        ),
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["08:00-12:00", "12:05-17:55"],
            {},
            ["12:00→12:05"],
            ["no real gap"],
            id="no-slot-of-10-minutes",
        ),
        pytest.param(BERLIN, WEDNESDAY, ["08:00-18:30"], {}, [], [], id="no-free-instant-at-all"),
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["10:00-11:00", "11:00-12:00", "12:00-13:00"],
            {"paused_until": instant(BERLIN, WEDNESDAY, "10:30")},
            ["11:00→11:02"],
            ["13:00–18:00"],
            id="after-a-pause",
        ),
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["10:00-11:00", "11:00-12:00", "12:00-13:00"],
            {"quiet_hours": "20:00-09:30"},
            ["09:30→10:00"],
            ["13:00–18:00"],
            id="after-quiet-hours",
        ),
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["10:00-11:00", "11:00-12:00", "12:00-13:00"],
            {"heavy_day_heads_up": False},
            [],
            [],
            id="turned-off",
        ),
        pytest.param(
            BERLIN,
            SATURDAY,
            ["10:00-11:00", "11:00-12:00", "12:00-13:00"],
            {},
            [],
            [],
            id="weekend",
        ),
        pytest.param(
            NEW_YORK,
            date(2026, 3, 9),  # the Monday after the US clock change
            ["10:00-11:00", "11:00-12:00", "12:00-14:00"],
            {},
            ["09:00→10:00"],
            ["4 h of meetings", "from 10:00 to 14:00", "14:00–18:00"],
            id="new-york",
        ),
        pytest.param(
            BERLIN,
            SPRING_FORWARD,
            ["01:30-03:30", "03:30-05:30"],  # 60 + 120 real minutes, 240 on the wall clock
            {"working_hours": "01:00-12:00", "working_days": "daily"},
            ["01:00→01:30"],
            ["3 h of meetings", "from 01:30 to 05:30", "05:30–12:00"],
            id="spring-forward-heavy",
        ),
        pytest.param(
            BERLIN,
            SPRING_FORWARD,
            ["01:30-03:30", "03:30-05:29"],  # 179 real minutes
            {"working_hours": "01:00-12:00", "working_days": "daily"},
            [],
            [],
            id="spring-forward-light",
        ),
        pytest.param(
            BERLIN,
            FALL_BACK,
            ["01:30-03:00", "03:00-03:30"],  # 150 + 30 real minutes, 120 on the wall clock
            {"working_hours": "01:00-12:00", "working_days": "daily"},
            ["01:00→01:30"],
            ["3 h of meetings", "from 01:30 to 03:30", "03:30–12:00"],
            id="fall-back-heavy",
        ),
    ],
)
def test_heavy_day_heads_up(
    *,
    zone: str,
    day: date,
    meetings: list[str],
    choices: dict[str, Any],
    heads_up: list[str],
    says: list[str],
) -> None:
    calendar = busy(zone, day, *meetings)
    day_plan = plan(day, calendar, person(zone, **choices))
    assert timeline(day_plan, NudgeKind.HEAVY_DAY, zone) == heads_up
    for nudge in of_kind(day_plan, NudgeKind.HEAVY_DAY):
        assert nudge.key == f"heavy_day:{day.isoformat()}"
        for words in says:
            assert words in nudge.text
    assert_never_inside_a_meeting(day_plan, calendar)


def test_heavy_day_heads_up_names_a_slot_that_is_still_ahead() -> None:
    """Sent late, the heads-up names the best slot from the moment it is sent."""
    calendar = busy(BERLIN, WEDNESDAY, "11:00-12:00", "12:00-13:00", "13:00-14:00", "15:00-18:00")
    on_time = of_kind(plan(WEDNESDAY, calendar, person()), NudgeKind.HEAVY_DAY)
    assert "09:00–11:00" in on_time[0].text
    late = of_kind(
        plan(WEDNESDAY, calendar, person(), now=instant(BERLIN, WEDNESDAY, "09:50")),
        NudgeKind.HEAVY_DAY,
    )
    assert timeline(
        plan(WEDNESDAY, calendar, person(), now=instant(BERLIN, WEDNESDAY, "09:50")),
        NudgeKind.HEAVY_DAY,
        BERLIN,
    ) == ["09:50→10:00"]
    assert "09:50–11:00" in late[0].text
    assert late[0].key == on_time[0].key


# --- Weekly reflection -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "meetings", "choices", "reflection"),
    [
        pytest.param(BERLIN, FRIDAY, [], {}, ["16:00→18:00"], id="friday-16:00"),
        pytest.param(BERLIN, WEDNESDAY, [], {}, [], id="not-on-wednesday"),
        pytest.param(BERLIN, FRIDAY, [], {"reflection": None}, [], id="turned-off"),
        pytest.param(BERLIN, FRIDAY, ["15:30-16:30"], {}, ["16:30→18:00"], id="moved-after"),
        pytest.param(
            BERLIN, FRIDAY, ["15:30-16:30", "16:35-17:00"], {}, ["16:30→18:00"], id="into-a-gap"
        ),
        pytest.param(BERLIN, FRIDAY, ["16:00-17:00"], {}, ["16:00→18:00"], id="meeting-at-16"),
        pytest.param(BERLIN, FRIDAY, ["15:00-18:00"], {}, [], id="no-time-left"),
        pytest.param(BERLIN, FRIDAY, ["15:00-19:00"], {}, [], id="no-time-left-evening"),
        pytest.param(
            BERLIN,
            FRIDAY,
            ["15:00-16:30"],
            {"quiet_hours": "16:45-17:15"},
            ["16:30→16:45"],
            id="until-quiet-hours",
        ),
        pytest.param(
            BERLIN,
            FRIDAY,
            [],
            {"quiet_hours": "15:00-17:00"},
            ["17:00→18:00"],
            id="after-quiet-hours",
        ),
        pytest.param(
            BERLIN,
            FRIDAY,
            [],
            {"paused_until": instant(BERLIN, SATURDAY, "09:00")},
            [],
            id="paused",
        ),
        pytest.param(
            BERLIN,
            MONDAY,
            ["09:00-09:45"],
            {"reflection": ReflectionTime(weekday=0, at=time(9, 30))},
            ["09:45→18:00"],
            id="monday-09:30",
        ),
        pytest.param(
            BERLIN,
            FRIDAY,
            [],
            {"reflection": ReflectionTime(at=time(7, 0))},
            ["09:00→18:00"],
            id="before-work-moves-to-the-start",
        ),
        pytest.param(
            BERLIN,
            FRIDAY,
            [],
            {"reflection": ReflectionTime(at=time(19, 0))},
            [],
            id="after-work",
        ),
        pytest.param(
            BERLIN,
            SATURDAY,
            [],
            {"reflection": ReflectionTime(weekday=5)},
            [],
            id="saturday-is-not-a-working-day",
        ),
        pytest.param(
            NEW_YORK, date(2026, 3, 13), ["15:45-16:15"], {}, ["16:15→18:00"], id="new-york"
        ),
        pytest.param(
            BERLIN,
            SPRING_FORWARD,
            [],
            {
                "reflection": ReflectionTime(weekday=6, at=time(2, 30)),
                "working_hours": "01:00-12:00",
                "working_days": "daily",
            },
            ["03:30→12:00"],  # 02:30 does not exist that night
            id="spring-forward",
        ),
        pytest.param(
            BERLIN,
            FALL_BACK,
            ["02:00-03:00"],  # 02:00 CEST to 03:00 CET: two real hours
            {
                "reflection": ReflectionTime(weekday=6, at=time(2, 30)),
                "working_hours": "01:00-12:00",
                "working_days": "daily",
            },
            ["03:00→12:00"],
            id="fall-back",
        ),
        pytest.param(
            BERLIN,
            date(2026, 6, 4),  # Thursday night shift, reflection at 23:00
            [],
            {
                "reflection": ReflectionTime(weekday=3, at=time(23, 0)),
                "working_hours": "22:00-06:00",
            },
            ["23:00→00:00"],  # the plan of a day ends at its midnight
            id="night-shift",
        ),
    ],
)
def test_weekly_reflection(
    zone: str, day: date, meetings: list[str], choices: dict[str, Any], reflection: list[str]
) -> None:
    calendar = busy(zone, day, *meetings)
    day_plan = plan(day, calendar, person(zone, **choices))
    assert timeline(day_plan, NudgeKind.REFLECTION, zone) == reflection
    for nudge in of_kind(day_plan, NudgeKind.REFLECTION):
        year, week, _ = day.isocalendar()
        assert nudge.key == f"reflection:{year}-W{week:02d}"
        assert len(nudge.prompts) == 3
        assert all(p.id in nudge.prompts for p in catalog().prompts if p.text in nudge.text)
    assert_never_inside_a_meeting(day_plan, calendar)


# --- Allowed time: working hours, quiet hours, pause, zones, night shifts ---------------------


@pytest.mark.parametrize(
    ("zone", "day", "meetings", "choices", "resets"),
    [
        # Quiet hours that wrap midnight, inside long working hours.
        *[
            pytest.param(
                BERLIN,
                WEDNESDAY,
                meetings,
                {"working_hours": "06:00-23:00", "quiet_hours": "22:00-07:00"},
                resets,
                id=f"quiet-wrap-{name}",
            )
            for name, meetings, resets in [
                ("06:30", ["06:00-06:15", "06:15-06:30"], []),
                ("07:00", ["06:00-06:30", "06:30-07:00"], ["07:00→07:30"]),
                ("21:59", ["21:00-21:30", "21:30-21:59"], ["21:59→22:29"]),
                ("22:00", ["21:00-21:30", "21:30-22:00"], []),
            ]
        ],
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["11:00-11:30", "11:30-12:30", "12:40-13:00", "13:00-13:15"],
            {"quiet_hours": "12:00-13:00"},
            ["13:15→13:45"],  # 12:30 is quiet
            id="quiet-lunch",
        ),
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["10:00-10:30", "10:30-10:59", "11:30-11:45", "11:45-12:00"],
            {"paused_until": instant(BERLIN, WEDNESDAY, "11:00")},
            ["12:00→12:30"],
            id="paused-until-11",
        ),
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["10:00-10:30", "10:30-11:00"],
            {"paused_until": instant(BERLIN, WEDNESDAY, "11:00")},
            ["11:00→11:30"],  # the pause is over at 11:00
            id="paused-until-the-end",
        ),
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["10:00-10:30", "10:30-11:00"],
            {"paused_until": instant(BERLIN, MONDAY, "00:00")},
            [],
            id="paused-for-days",
        ),
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["10:00-10:30", "10:30-11:00"],
            {"paused_until": instant(BERLIN, WEDNESDAY, "08:00@-7")},
            ["11:00→11:30"],
            id="pause-long-over",
        ),
        pytest.param(BERLIN, SATURDAY, ["10:00-10:30", "10:30-11:00"], {}, [], id="saturday"),
        pytest.param(
            BERLIN,
            SATURDAY,
            ["10:00-10:30", "10:30-11:00"],
            {"working_days": "daily"},
            ["11:00→11:30"],
            id="saturday-for-someone-who-works-it",
        ),
        pytest.param(
            BERLIN,
            WEDNESDAY,
            ["10:00-10:30", "10:30-11:00"],
            {"resets": False},
            [],
            id="resets-off",
        ),
        # A night shift, 22:00–06:00 from Monday to Friday night.
        *[
            pytest.param(
                BERLIN, day, meetings, {"working_hours": "22:00-06:00"}, resets, id=f"night-{name}"
            )
            for name, day, meetings, resets in [
                ("23:00", WEDNESDAY, ["22:00-22:30", "22:30-23:00"], ["23:00→23:30"]),
                ("05:00", WEDNESDAY, ["04:00-04:30", "04:30-05:00"], ["05:00→05:30"]),
                ("06:00", WEDNESDAY, ["05:00-05:30", "05:30-06:00"], []),
                ("21:00", WEDNESDAY, ["20:00-20:30", "20:30-21:00"], []),
                ("noon", WEDNESDAY, ["11:00-11:30", "11:30-12:00"], []),
                ("saturday-02:00", SATURDAY, ["01:00-01:30", "01:30-02:00"], ["02:00→02:30"]),
                ("saturday-23:00", SATURDAY, ["22:00-22:30", "22:30-23:00"], []),
                ("monday-02:00", MONDAY, ["01:00-01:30", "01:30-02:00"], []),
                ("monday-23:00", MONDAY, ["22:00-22:30", "22:30-23:00"], ["23:00→23:30"]),
                (
                    "next-meeting-after-midnight",
                    WEDNESDAY,
                    ["23:00-23:30", "23:30-23:50", "00:05-00:30@+1"],
                    ["23:50→00:05"],
                ),
                (
                    "long-meeting-from-yesterday",
                    WEDNESDAY,
                    ["23:00-00:30@-1"],  # 90 minutes, 30 of them today
                    ["00:30→01:00"],
                ),
                (
                    "chain-from-yesterday",
                    WEDNESDAY,
                    ["23:30-00:00@-1", "00:00-00:20"],
                    ["00:20→00:50"],
                ),
                (
                    "chain-into-tomorrow",
                    WEDNESDAY,
                    ["23:30-00:00", "00:00-00:20@+1"],
                    [],  # its end belongs to tomorrow
                ),
                (
                    "long-chain-over-midnight",
                    WEDNESDAY,
                    ["23:00-00:00@-1", "00:00-01:00", "01:00-02:00"],
                    # The chain has run an hour at midnight.
                    ["00:00→00:02", "01:00→01:02", "02:00→02:30"],
                ),
            ]
        ],
        # Clock changes: durations are real minutes, times are local.
        pytest.param(
            BERLIN,
            SPRING_FORWARD,
            ["01:00-03:30"],  # 90 real minutes
            {"working_hours": "01:00-12:00", "working_days": "daily"},
            ["03:30→04:00"],
            id="spring-forward-90",
        ),
        pytest.param(
            BERLIN,
            SPRING_FORWARD,
            ["01:01-03:30"],  # 89 real minutes, 149 on the wall clock
            {"working_hours": "01:00-12:00", "working_days": "daily"},
            [],
            id="spring-forward-89",
        ),
        pytest.param(
            BERLIN,
            SPRING_FORWARD,
            ["01:00-01:45", "01:45-03:30", "03:40-04:00"],
            {"working_hours": "01:00-12:00", "working_days": "daily"},
            ["03:30→03:40"],
            id="spring-forward-chain",
        ),
        pytest.param(
            BERLIN,
            FALL_BACK,
            ["02:30-03:00"],  # 02:30 CEST to 03:00 CET: 90 real minutes
            {"working_hours": "01:00-12:00", "working_days": "daily"},
            ["03:00→03:30"],
            id="fall-back-90",
        ),
        pytest.param(
            BERLIN,
            FALL_BACK,
            ["01:00-01:45", "01:45-02:30", "02:30-03:00", "03:00-03:30"],  # 45+45+90+30
            {"working_hours": "00:00-12:00", "working_days": "daily"},
            # 210 real minutes; 02:30 (CEST) is 45 after 01:45, 03:00 (CET) too close to 03:30
            ["01:45→01:47", "02:30→02:32", "03:30→04:00"],
            id="fall-back-long-chain",
        ),
        pytest.param(
            NEW_YORK,
            date(2026, 3, 8),  # US spring forward, a Sunday
            ["01:00-03:30", "09:00-09:30", "09:30-10:00"],
            {"working_hours": "01:00-12:00", "working_days": "daily"},
            ["03:30→04:00", "10:00→10:30"],
            id="new-york-spring-forward",
        ),
        pytest.param(
            NEW_YORK,
            date(2026, 11, 2),  # the Monday after the US fall back
            ["08:30-09:00", "09:00-09:30", "17:00-17:30", "17:30-18:00"],
            {},
            ["09:30→10:00"],
            id="new-york-office",
        ),
        pytest.param(
            "Asia/Kathmandu",
            WEDNESDAY,
            ["10:15-10:45", "10:45-11:15"],
            {},
            ["11:15→11:45"],
            id="kathmandu",
        ),
    ],
)
def test_allowed_time(
    zone: str, day: date, meetings: list[str], choices: dict[str, Any], resets: list[str]
) -> None:
    calendar = busy(zone, day, *meetings)
    day_plan = plan(day, calendar, person(zone, **choices))
    assert timeline(day_plan, NudgeKind.RESET, zone) == resets
    assert_never_inside_a_meeting(day_plan, calendar)
    for nudge in of_kind(day_plan, NudgeKind.RESET):
        assert nudge.at.astimezone(ZoneInfo(zone)).date() == day
        assert nudge.key == f"reset:{nudge.at.astimezone(UTC).isoformat()}"


def test_the_same_calendar_in_two_zones_is_planned_in_local_time() -> None:
    """09:00–18:00 means the person's own office hours, wherever they are."""
    berlin = plan(WEDNESDAY, busy(BERLIN, WEDNESDAY, "17:00-17:30", "17:30-18:30"), person())
    # 17:00–18:30 in Berlin is 11:00–12:30 in New York: inside the working day there.
    new_york = plan(
        WEDNESDAY, busy(BERLIN, WEDNESDAY, "17:00-17:30", "17:30-18:30"), person(NEW_YORK)
    )
    assert timeline(berlin, NudgeKind.RESET, BERLIN) == []
    assert timeline(new_york, NudgeKind.RESET, NEW_YORK) == ["12:30→13:00"]


# --- "now": expired nudges go, late ones are sent now, keys stay -------------------------------

NOW_DAY = busy(
    BERLIN,
    FRIDAY,
    *["10:00-10:30", "10:30-11:00", "11:20-11:40"],  # chain end 11:00, next meeting 11:20
    *["14:00-14:30", "14:30-15:00"],  # chain end 15:00, nothing after
    *["17:00-17:20", "17:20-17:50"],  # chain end 17:50, 10 minutes before the day ends
)


@pytest.mark.parametrize(
    ("now", "resets", "reflection"),
    [
        pytest.param(
            "00:00", ["11:00→11:20", "15:00→15:30", "17:50→18:20"], ["16:00→18:00"], id="early"
        ),
        pytest.param(
            "11:00", ["11:00→11:20", "15:00→15:30", "17:50→18:20"], ["16:00→18:00"], id="at"
        ),
        pytest.param(
            "11:05", ["11:05→11:20", "15:00→15:30", "17:50→18:20"], ["16:00→18:00"], id="late"
        ),
        pytest.param(
            "11:19", ["11:19→11:20", "15:00→15:30", "17:50→18:20"], ["16:00→18:00"], id="later"
        ),
        pytest.param(
            "11:20", ["15:00→15:30", "17:50→18:20"], ["16:00→18:00"], id="next-meeting-started"
        ),
        pytest.param("15:29", ["15:29→15:30", "17:50→18:20"], ["16:00→18:00"], id="just-in-time"),
        pytest.param("16:30", ["17:50→18:20"], ["16:30→18:00"], id="reflection-late"),
        pytest.param("17:10", ["17:50→18:20"], [], id="reflection-missed"),
        pytest.param("17:55", ["17:55→18:20"], [], id="before-the-day-ends"),
        pytest.param("18:05", [], [], id="after-hours"),
        pytest.param("23:00", [], [], id="night"),
    ],
)
def test_now(now: str, resets: list[str], reflection: list[str]) -> None:
    day_plan = plan(FRIDAY, NOW_DAY, person(), now=instant(BERLIN, FRIDAY, now))
    assert timeline(day_plan, NudgeKind.RESET, BERLIN) == resets
    assert timeline(day_plan, NudgeKind.REFLECTION, BERLIN) == reflection
    early = plan(FRIDAY, NOW_DAY, person())
    early_keys = {n.key: n for n in early.nudges}
    for nudge in day_plan.nudges:
        assert nudge.at >= instant(BERLIN, FRIDAY, now)
        assert nudge.at < nudge.expires_at
        assert nudge.key in early_keys
        assert nudge.expires_at == early_keys[nudge.key].expires_at
        if nudge.kind == NudgeKind.RESET:
            practice = catalog().practice(nudge.practice or "")
            assert practice is not None
            assert practice.fits(gap_after(nudge, NOW_DAY))
    assert_never_inside_a_meeting(day_plan, NOW_DAY)


def test_now_a_zero_gap_reset_lasts_only_while_the_call_connects() -> None:
    calendar = busy(BERLIN, WEDNESDAY, "09:00-10:00", "10:00-11:00", "11:00-11:30")
    ten = instant(BERLIN, WEDNESDAY, "10:00")
    for seconds, expected in [(-60, ["10:00→10:02"]), (0, ["10:00→10:02"]), (1, []), (119, [])]:
        day_plan = plan(WEDNESDAY, calendar, person(), now=ten + timedelta(seconds=seconds))
        # Once the next meeting has started, the late reset is not sent into it.
        early = [r for r in timeline(day_plan, NudgeKind.RESET, BERLIN) if r < "11:00"]
        assert early == expected, seconds


def test_now_a_late_reset_does_not_crowd_the_next_one() -> None:
    """Sent late, a reset would come too soon before the next: the on-time one is kept."""
    calendar = busy(BERLIN, WEDNESDAY, "09:00-09:30", "09:30-10:00", "10:21-10:30", "10:31-10:45")
    assert timeline(plan(WEDNESDAY, calendar, person()), NudgeKind.RESET, BERLIN) == [
        "10:00→10:21",
        "10:45→11:15",
    ]
    late = plan(WEDNESDAY, calendar, person(), now=instant(BERLIN, WEDNESDAY, "10:05"))
    assert timeline(late, NudgeKind.RESET, BERLIN) == ["10:45→11:15"]


def test_now_a_late_reset_gets_a_practice_for_the_time_left() -> None:
    calendar = busy(BERLIN, WEDNESDAY, "09:00-09:30", "09:30-10:00", "10:30-11:00")
    for minute in range(30):
        now = instant(BERLIN, WEDNESDAY, "10:00") + timedelta(minutes=minute)
        resets = of_kind(plan(WEDNESDAY, calendar, person(), now=now), NudgeKind.RESET)
        assert [n.at for n in resets] == [now]
        practice = catalog().practice(resets[0].practice or "")
        assert practice is not None
        assert practice.fits(timedelta(minutes=30 - minute)), minute


def test_keys_are_stable_across_replans_and_calendar_edits() -> None:
    calendar = busy(BERLIN, FRIDAY, "10:00-10:30", "10:30-11:00", "14:00-14:30", "14:30-15:00")
    first = plan(FRIDAY, calendar, person())
    again = plan(FRIDAY, list(calendar), person())
    assert first == again
    # A meeting added later in the day leaves the earlier nudges' keys alone.
    edited = plan(FRIDAY, [*calendar, *busy(BERLIN, FRIDAY, "16:30-17:00")], person())
    keys = {n.key for n in edited.nudges}
    assert {n.key for n in first.nudges if n.kind != NudgeKind.HEAVY_DAY} <= keys
    assert {n.key for n in first.nudges} == {
        f"reset:{instant(BERLIN, FRIDAY, '11:00').isoformat()}",
        f"reset:{instant(BERLIN, FRIDAY, '15:00').isoformat()}",
        "reflection:2026-W23",
    }


@pytest.mark.parametrize(
    ("now", "resets"),
    [
        ("11:00", ["12:00→12:30"]),
        ("12:03", ["12:03→12:30"]),
        ("12:07", []),  # quiet: not sent
        ("12:12", []),  # and not brought back after the quiet spell: it was already dropped
    ],
)
def test_now_a_reset_dropped_for_quiet_hours_stays_dropped(now: str, resets: list[str]) -> None:
    calendar = busy(BERLIN, WEDNESDAY, "11:00-11:30", "11:30-12:00", "12:30-13:00")
    day_plan = plan(
        WEDNESDAY, calendar, person(quiet_hours="12:05-12:10"), now=instant(BERLIN, WEDNESDAY, now)
    )
    assert timeline(day_plan, NudgeKind.RESET, BERLIN) == resets
