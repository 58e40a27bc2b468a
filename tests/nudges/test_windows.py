"""Recovery windows as pure maths: occurrences across DST in the lead's zone and in a
member's, edges, the planner skipping windows, and the team figures' rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from config.catalog import load_catalog
from nudges.clock import BusyInterval, ClockRange, Weekdays, parse_weekdays
from nudges.feelings import FeelEntry
from nudges.insights import Outcome, OutcomeRecord
from nudges.planner import NudgeKind, plan_day
from nudges.preferences import PlanningPolicy, Preferences
from nudges.team import chain_share, far_enough, feel_average, meeting_load, reset_counts
from nudges.windows import (
    Edge,
    RecoveryWindow,
    blocked_spans,
    edge_at,
    in_zone,
    inside,
    next_edge,
    occurrences,
    overlap,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def window(days: str = "wed", hours: str = "14:00-14:30", tz: ZoneInfo = BERLIN) -> RecoveryWindow:
    return RecoveryWindow(
        id="w1",
        channel="C1",
        days=Weekdays(days=parse_weekdays(days)),
        hours=ClockRange.parse(hours),
        tz=tz,
        lead="U1",
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_weekly_window_stays_at_local_time_across_the_leads_dst_change() -> None:
    # Berlin leaves summer time on Sunday 25 Oct 2026: 14:00 is 12:00 UTC before, 13:00 after.
    spans = occurrences(window(), utc(2026, 10, 19), utc(2026, 11, 5))
    assert spans == [
        (utc(2026, 10, 21, 12, 0), utc(2026, 10, 21, 12, 30)),
        (utc(2026, 10, 28, 13, 0), utc(2026, 10, 28, 13, 30)),
        (utc(2026, 11, 4, 13, 0), utc(2026, 11, 4, 13, 30)),
    ]


@pytest.mark.parametrize(
    ("now", "local_start"),
    [
        # Both zones on summer time: 14:00 Berlin is 08:00 New York.
        (utc(2026, 10, 20), datetime(2026, 10, 21, 8, 0, tzinfo=NEW_YORK)),
        # Berlin moved back, New York not yet (it changes on 1 Nov): 09:00 for one week.
        (utc(2026, 10, 27), datetime(2026, 10, 28, 9, 0, tzinfo=NEW_YORK)),
        # Both on winter time: 08:00 again.
        (utc(2026, 11, 3), datetime(2026, 11, 4, 8, 0, tzinfo=NEW_YORK)),
    ],
)
def test_a_member_in_another_zone_sees_it_move_with_both_dst_changes(
    now: datetime, local_start: datetime
) -> None:
    start, end = in_zone(window(), NEW_YORK, now=now)
    assert start == local_start
    assert start.tzinfo == NEW_YORK
    assert end - start == timedelta(minutes=30)


def test_a_window_in_the_members_own_spring_forward_week() -> None:
    # New York springs forward on 8 Mar 2026, Berlin on 29 Mar: 14:00 Berlin is 09:00 NY
    # for those three weeks, 08:00 before and after.
    assert in_zone(window(), NEW_YORK, now=utc(2026, 3, 2))[0].hour == 8
    assert in_zone(window(), NEW_YORK, now=utc(2026, 3, 9))[0].hour == 9
    assert in_zone(window(), NEW_YORK, now=utc(2026, 3, 30))[0].hour == 8


def test_edges_come_in_order_and_can_be_read_back() -> None:
    w = window()
    first = next_edge(w, utc(2026, 11, 23, 6, 59))  # Monday 08:00 Berlin: the weekly digest
    assert (first.edge, first.at) == (Edge.DIGEST, utc(2026, 11, 23, 7, 0))
    start = next_edge(w, first.at)
    assert (start.edge, start.at, start.day) == (
        Edge.START,
        utc(2026, 11, 25, 13, 0),
        date(2026, 11, 25),
    )
    end = next_edge(w, start.at)
    assert (end.edge, end.at) == (Edge.END, utc(2026, 11, 25, 13, 30))
    assert edge_at(w, start.at) == start
    assert edge_at(w, start.at + timedelta(minutes=1)) is None


def test_inside_and_blocked() -> None:
    w = window("mon-fri", "12:30-13:00")
    assert inside([w], utc(2026, 11, 23, 11, 30))
    assert not inside([w], utc(2026, 11, 23, 12, 0))  # the end is not inside
    assert not inside([w], utc(2026, 11, 28, 11, 45))  # a Saturday
    assert len(blocked_spans([w], utc(2026, 11, 23), utc(2026, 11, 30))) == 5


def test_a_window_must_end_on_its_day() -> None:
    with pytest.raises(ValueError, match="end on the day"):
        window(hours="23:00-01:00")


def test_the_planner_sends_no_reset_inside_a_blocked_span() -> None:
    day = date(2026, 11, 25)
    tz = BERLIN
    # Two meetings ending at 14:00 Berlin: a reset would come at 14:00.
    busy = [
        BusyInterval(start=utc(2026, 11, 25, 11, 0), end=utc(2026, 11, 25, 12, 0)),
        BusyInterval(start=utc(2026, 11, 25, 12, 0), end=utc(2026, 11, 25, 13, 0)),
    ]
    preferences = Preferences(tz=tz, heavy_day_heads_up=False, reflection=None)
    common = {
        "preferences": preferences,
        "policy": PlanningPolicy(),
        "catalog": load_catalog(None),
        "now": utc(2026, 11, 25, 6, 0),
    }
    free = plan_day(day, busy, **common)  # type: ignore[arg-type]
    assert [n.at for n in free.nudges if n.kind is NudgeKind.RESET][-1] == utc(2026, 11, 25, 13)
    blocked = plan_day(
        day,
        busy,
        blocked=occurrences(window(), utc(2026, 11, 25), utc(2026, 11, 26)),
        **common,  # type: ignore[arg-type]
    )
    resets = [n.at for n in blocked.nudges if n.kind is NudgeKind.RESET]
    assert all(not inside([window()], at) for at in resets)
    assert utc(2026, 11, 25, 13) not in resets


def test_overlap_counts_people_never_names() -> None:
    w = window()
    meeting = [BusyInterval(start=utc(2026, 11, 25, 13, 15), end=utc(2026, 11, 25, 14))]
    free = [BusyInterval(start=utc(2026, 11, 25, 9), end=utc(2026, 11, 25, 10))]
    report = overlap([meeting, free, free, meeting, []], w, now=utc(2026, 11, 23))
    assert report == (5, 2)


def test_team_figures_are_coarse() -> None:
    now = utc(2026, 11, 27, 18)
    day = [
        BusyInterval(
            start=now - timedelta(days=1, hours=h + 1), end=now - timedelta(days=1, hours=h)
        )
        for h in range(3)
    ]
    load = meeting_load([day, day[:1], [], day, day[:2]], now=now)
    assert load.people == 5
    assert (load.q1, load.median, load.q3) == (0.0, 0.5, 0.5)
    share = chain_share([day, day[:1], [], day, day[:2]], now=now, chain_gap=timedelta(minutes=10))
    assert (share.people, share.percent) == (5, 40)
    record = OutcomeRecord(key="k", at=now, outcome=Outcome.DONE)
    skipped = OutcomeRecord(key="k", at=now, outcome=Outcome.NOT_NOW)
    counts = reset_counts([[record], [skipped, record], []])
    assert (counts.people, counts.taken, counts.skipped) == (2, 2, 1)
    logs = [
        FeelEntry(at=now - timedelta(days=1), score=4),
        FeelEntry(at=now - timedelta(days=8), score=2),
    ]
    feel = feel_average([logs, logs[:1]], now=now)
    assert (feel.people, feel.this_week, feel.last_week) == (1, 4.0, 2.0)


@pytest.mark.parametrize(
    ("members", "answered", "allowed"),
    [
        ({"a", "b", "c", "d", "e"}, [], True),
        ({"a", "b", "c", "d", "e"}, [{"a", "b", "c", "d", "e"}], True),  # the same group
        ({"a", "b", "c", "d", "e", "f"}, [{"a", "b", "c", "d", "e"}], False),  # one more
        ({"a", "b", "c", "d"} | {"x"}, [{"a", "b", "c", "d", "e"}], False),  # one swapped
        (set("abcdefghij"), [set("abcde")], True),  # the difference is a group of 5
        (set("fghij"), [set("abcde")], True),
    ],
)
def test_the_differencing_rule(members: set[str], answered: list[set[str]], allowed: bool) -> None:
    seen = [frozenset(a) for a in answered]
    assert far_enough(frozenset(members), seen, k=5) is allowed


def test_windows_hold_any_time_of_the_week() -> None:
    w = window("daily", "00:00-00:30", tz=ZoneInfo("Pacific/Apia"))
    assert len(occurrences(w, utc(2026, 1, 1), utc(2026, 1, 8))) == 7
    assert w.on(date(2026, 1, 1)) is not None
    assert time(0, 0) == w.hours.start
