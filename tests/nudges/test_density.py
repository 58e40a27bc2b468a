"""The shape of a day and the recovery-load curve (nudges.density), as tables."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from nudges.clock import (
    BusyInterval,
    ClockRange,
    Weekdays,
    local_instant,
    merge_intervals,
    parse_clock,
    parse_weekdays,
)
from nudges.density import LoadModel, describe_day, group_blocks, recovery_load

CHAIN_GAP = timedelta(minutes=10)
OFFICE = "09:00-18:00"


def busy(zone: str, day: date, *texts: str) -> list[BusyInterval]:
    """Busy intervals from local ``"HH:MM-HH:MM"`` on ``day`` in ``zone``.

    An end at or before the start ends the next day; ``"@-1"`` after a span moves it to the
    previous day. Overlaps merge, touching meetings stay apart (``merge_intervals``).
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


def hhmm(moment: datetime, zone: str) -> str:
    return f"{moment.astimezone(ZoneInfo(zone)):%H:%M}"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- describe_day ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "meetings", "hours", "days", "blocks", "minutes", "longest", "after_hours"),
    [
        pytest.param("UTC", date(2026, 6, 1), [], OFFICE, "mon-fri", [], 0.0, 0.0, 0.0, id="empty"),
        pytest.param(
            "UTC",
            date(2026, 6, 1),
            ["09:00-10:00", "10:00-10:30", "10:35-11:00", "12:00-13:00", "17:30-19:00"],
            OFFICE,
            "mon-fri",
            ["09:00-11:00 x3", "12:00-13:00 x1", "17:30-19:00 x1"],
            265.0,
            120.0,
            60.0,
            id="chain-single-evening",
        ),
        pytest.param(
            "UTC",
            date(2026, 6, 1),
            ["09:00-10:00", "10:10-11:00", "11:09-11:30"],
            OFFICE,
            "mon-fri",
            ["09:00-10:00 x1", "10:10-11:30 x2"],  # a 10-minute gap splits, 9 minutes joins
            131.0,
            80.0,
            0.0,
            id="chain-gap-boundary",
        ),
        pytest.param(
            "UTC",
            date(2026, 6, 1),
            ["09:00-10:30", "10:00-11:00"],  # overlapping: one meeting after merging
            OFFICE,
            "mon-fri",
            ["09:00-11:00 x1"],
            120.0,
            120.0,
            0.0,
            id="overlap-merged",
        ),
        pytest.param(
            "UTC",
            date(2026, 6, 1),
            ["23:00-01:00@-1", "08:00-09:30", "23:30-00:30"],  # cut to the day at both ends
            OFFICE,
            "mon-fri",
            ["00:00-01:00 x1", "08:00-09:30 x1", "23:30-00:00 x1"],
            180.0,
            90.0,
            150.0,  # all but 09:00-09:30
            id="clipped-to-day",
        ),
        pytest.param(
            "UTC",
            date(2026, 6, 6),  # a Saturday
            ["10:00-11:00", "11:00-11:30"],
            OFFICE,
            "mon-fri",
            ["10:00-11:30 x2"],
            90.0,
            90.0,
            90.0,
            id="weekend-all-after-hours",
        ),
        pytest.param(
            "Europe/Berlin",
            date(2026, 3, 29),  # spring forward: 02:00 → 03:00
            ["01:30-03:30", "03:30-04:00"],
            "01:00-05:00",
            "daily",
            ["01:30-04:00 x2"],
            90.0,  # 60 real minutes + 30, not 150
            90.0,
            0.0,
            id="berlin-spring-forward",
        ),
        pytest.param(
            "Europe/Berlin",
            date(2026, 10, 25),  # fall back: 03:00 → 02:00
            ["01:30-03:30"],
            "09:00-18:00",
            "daily",
            ["01:30-03:30 x1"],
            180.0,  # 120 wall-clock minutes, 180 real ones
            180.0,
            180.0,
            id="berlin-fall-back",
        ),
        pytest.param(
            "Europe/Berlin",
            date(2026, 10, 25),
            ["23:00-00:00"],  # the 25-hour day still ends at local midnight
            "09:00-18:00",
            "daily",
            ["23:00-00:00 x1"],
            60.0,
            60.0,
            60.0,
            id="berlin-fall-back-late",
        ),
        pytest.param(
            "America/New_York",
            date(2026, 3, 9),
            ["08:30-09:30", "09:35-10:00", "17:45-18:15"],
            OFFICE,
            "mon-fri",
            ["08:30-10:00 x2", "17:45-18:15 x1"],
            115.0,
            90.0,
            45.0,
            id="new-york",
        ),
        pytest.param(
            "Asia/Kathmandu",
            date(2026, 6, 1),
            ["08:45-09:15", "17:50-18:05"],
            OFFICE,
            "mon-fri",
            ["08:45-09:15 x1", "17:50-18:05 x1"],
            45.0,
            30.0,
            20.0,
            id="kathmandu",
        ),
        pytest.param(
            "Europe/Berlin",
            date(2026, 6, 3),  # a Wednesday: last night's and tonight's shifts both count
            ["05:30-06:30", "21:30-22:30"],
            "22:00-06:00",
            "mon-fri",
            ["05:30-06:30 x1", "21:30-22:30 x1"],
            120.0,
            60.0,
            60.0,
            id="night-shift-midweek",
        ),
        pytest.param(
            "Europe/Berlin",
            date(2026, 6, 6),  # a Saturday morning: still Friday's shift
            ["02:00-03:00", "22:30-23:00"],
            "22:00-06:00",
            "mon-fri",
            ["02:00-03:00 x1", "22:30-23:00 x1"],
            90.0,
            60.0,
            30.0,  # Saturday night is no shift, Friday's shift runs into Saturday morning
            id="night-shift-saturday",
        ),
        pytest.param(
            "Europe/Berlin",
            date(2026, 6, 8),  # a Monday morning: Sunday night was no shift
            ["02:00-03:00", "22:30-23:00"],
            "22:00-06:00",
            "mon-fri",
            ["02:00-03:00 x1", "22:30-23:00 x1"],
            90.0,
            60.0,
            60.0,
            id="night-shift-monday",
        ),
    ],
)
def test_describe_day(
    *,
    zone: str,
    day: date,
    meetings: list[str],
    hours: str,
    days: str,
    blocks: list[str],
    minutes: float,
    longest: float,
    after_hours: float,
) -> None:
    shape = describe_day(
        busy(zone, day, *meetings),
        day=day,
        tz=ZoneInfo(zone),
        working_hours=ClockRange.parse(hours),
        working_days=Weekdays(days=parse_weekdays(days)),
        chain_gap=CHAIN_GAP,
    )
    assert shape.day == day
    got = [f"{hhmm(b.start, zone)}-{hhmm(b.end, zone)} x{len(b.meetings)}" for b in shape.blocks]
    assert got == blocks
    assert shape.meeting_minutes == minutes
    assert shape.longest_chain_minutes == longest
    assert shape.after_hours_minutes == after_hours
    assert [b for b in shape.blocks if len(b.meetings) >= 2] == list(shape.chains)
    assert shape.meetings == tuple(m for b in shape.blocks for m in b.meetings)


def test_describe_day_meetings_are_clipped_instants() -> None:
    day = date(2026, 6, 1)
    shape = describe_day(
        busy("Europe/Berlin", day, "23:00-01:00@-1", "23:00-01:00"),
        day=day,
        tz=ZoneInfo("Europe/Berlin"),
        working_hours=ClockRange.parse(OFFICE),
        working_days=Weekdays(),
        chain_gap=CHAIN_GAP,
    )
    assert shape.meetings == (
        BusyInterval(start=utc("2026-05-31 22:00"), end=utc("2026-05-31 23:00")),
        BusyInterval(start=utc("2026-06-01 21:00"), end=utc("2026-06-01 22:00")),
    )


@pytest.mark.parametrize(
    ("gap_minutes", "blocks"),
    [(0, [2]), (5, [2]), (9, [2]), (10, [1, 1]), (30, [1, 1])],
)
def test_group_blocks_chain_gap(gap_minutes: int, blocks: list[int]) -> None:
    first = BusyInterval(start=utc("2026-06-01 09:00"), end=utc("2026-06-01 10:00"))
    start = first.end + timedelta(minutes=gap_minutes)
    second = BusyInterval(start=start, end=start + timedelta(minutes=30))
    grouped = group_blocks([first, second], CHAIN_GAP)
    assert [len(b.meetings) for b in grouped] == blocks
    assert [b.is_back_to_back for b in grouped] == [n >= 2 for n in blocks]


# --- recovery_load ---------------------------------------------------------------------------

# Values by hand from the closed forms: in a meeting L(t) = 1 - (1 - L0)·e^(-t/60), in a gap
# L(t) = L0·e^(-t/15) (t in minutes).
E = math.e
AFTER_HOUR = 1 - 1 / E  # 0.632121: one hour of meetings from rested


@pytest.mark.parametrize(
    ("meetings", "start", "end", "expected"),
    [
        pytest.param(
            ["09:00-10:00"],
            "09:00",
            "11:00",
            {
                "09:00": 0.0,
                "09:15": 0.221,  # 1 - e^(-1/4) = 0.22120
                "09:30": 0.393,  # 1 - e^(-1/2) = 0.39347
                "10:00": 0.632,  # 1 - e^(-1)   = 0.63212
                "10:15": 0.233,  # 0.63212·e^(-1) = 0.23254
                "10:30": 0.086,  # 0.63212·e^(-2) = 0.08555
                "11:00": 0.012,  # 0.63212·e^(-4) = 0.01158
            },
            id="one-hour",
        ),
        pytest.param(
            ["09:00-10:00", "10:15-11:15"],
            "09:00",
            "11:30",
            {
                "10:15": 0.233,
                "11:15": 0.718,  # 1 - (1 - 0.23254)·e^(-1) = 0.71767
                "11:30": 0.264,  # 0.71767·e^(-1) = 0.26402
            },
            id="second-meeting-starts-loaded",
        ),
        pytest.param(
            ["09:00-10:00", "10:00-11:00"],  # touching: no drain at the boundary
            "09:00",
            "11:00",
            {"10:00": 0.632, "11:00": 0.865},  # 1 - e^(-2) = 0.86466
            id="back-to-back",
        ),
        pytest.param(
            ["09:10-09:40"],  # between samples
            "09:00",
            "10:00",
            {
                "09:15": 0.080,  # 1 - e^(-5/60) = 0.07996
                "09:30": 0.283,  # 1 - e^(-20/60) = 0.28347
                "09:45": 0.282,  # (1 - e^(-1/2))·e^(-5/15) = 0.28193
                "10:00": 0.104,  # 0.39347·e^(-20/15) = 0.10372
            },
            id="off-grid",
        ),
        pytest.param(
            ["08:00-09:30"],  # started before the window: only the part inside counts
            "09:00",
            "09:30",
            {"09:00": 0.0, "09:30": 0.393},
            id="clipped-at-start",
        ),
        pytest.param(
            ["08:00-12:00"],
            "08:00",
            "12:00",
            {"12:00": 0.982},  # 1 - e^(-4) = 0.98168
            id="four-hours",
        ),
    ],
)
def test_recovery_load_values(
    meetings: list[str], start: str, end: str, expected: dict[str, float]
) -> None:
    day = date(2026, 6, 1)
    points = recovery_load(
        busy("UTC", day, *meetings),
        start=utc(f"2026-06-01 {start}"),
        end=utc(f"2026-06-01 {end}"),
        step=timedelta(minutes=15),
    )
    by_clock = {hhmm(p.at, "UTC"): p.load for p in points}
    for clock_text, load in expected.items():
        assert by_clock[clock_text] == pytest.approx(load, abs=1e-9), clock_text


def test_recovery_load_constants_are_the_documented_ones() -> None:
    model = LoadModel()
    assert (model.rise_minutes, model.recovery_minutes) == (60.0, 15.0)
    assert math.isclose(AFTER_HOUR, 0.632121, abs_tol=1e-6)


def test_recovery_load_custom_model() -> None:
    points = recovery_load(
        busy("UTC", date(2026, 6, 1), "09:00-09:30"),
        start=utc("2026-06-01 09:00"),
        end=utc("2026-06-01 10:00"),
        step=timedelta(minutes=30),
        model=LoadModel(rise_minutes=30.0, recovery_minutes=30.0),
    )
    assert [p.load for p in points] == [0.0, 0.632, 0.233]


@pytest.mark.parametrize(
    ("start", "end", "step", "count"),
    [
        ("2026-06-01 09:00", "2026-06-01 11:00", 15, 9),  # both ends included
        ("2026-06-01 09:00", "2026-06-01 11:05", 15, 9),  # the end is not forced in
        ("2026-06-01 09:00", "2026-06-01 09:00", 15, 1),
        ("2026-06-01 09:00", "2026-06-01 08:00", 15, 0),
        ("2026-06-01 09:00", "2026-06-01 10:00", 1, 61),
    ],
)
def test_recovery_load_samples(start: str, end: str, step: int, count: int) -> None:
    points = recovery_load([], start=utc(start), end=utc(end), step=timedelta(minutes=step))
    assert len(points) == count
    assert [p.at for p in points] == [
        utc(start) + i * timedelta(minutes=step) for i in range(count)
    ]
    assert all(p.load == 0.0 for p in points)


DAY_OF_MEETINGS = [
    "08:50-09:20",
    "09:20-10:05",
    "10:05-10:47",
    "11:03-11:30",
    "13:00-15:00",
    "15:02-15:13",
    "16:41-17:59",
]


@pytest.mark.parametrize(("coarse", "fine"), [(30, 15), (15, 5), (10, 5), (2, 1), (60, 1)])
def test_recovery_load_does_not_depend_on_the_step(coarse: int, fine: int) -> None:
    meetings = busy("UTC", date(2026, 6, 1), *DAY_OF_MEETINGS)
    start, end = utc("2026-06-01 08:00"), utc("2026-06-01 19:00")
    rough = recovery_load(meetings, start=start, end=end, step=timedelta(minutes=coarse))
    smooth = recovery_load(meetings, start=start, end=end, step=timedelta(minutes=fine))
    by_time = {p.at: p.load for p in smooth}
    assert len(rough) == 11 * 60 // coarse + 1
    for point in rough:
        assert by_time[point.at] == point.load
    assert max(p.load for p in rough) > 0.5  # the day is not trivially flat


@pytest.mark.parametrize(
    ("zone", "day", "start", "end"),
    [
        ("Europe/Berlin", date(2026, 3, 29), "01:00", "05:00"),  # 3 real hours
        ("Europe/Berlin", date(2026, 10, 25), "01:00", "05:00"),  # 5 real hours
        ("America/New_York", date(2026, 3, 8), "00:30", "04:00"),
        ("America/New_York", date(2026, 11, 1), "00:30", "04:00"),
    ],
)
def test_recovery_load_over_a_clock_change_with_local_bounds(
    zone: str, day: date, start: str, end: str
) -> None:
    """Bounds given as local times: samples are ``step`` apart in real time, not wall time."""
    tz = ZoneInfo(zone)
    meetings = busy(zone, day, "01:30-03:30")
    lo = datetime.combine(day, parse_clock(start), tzinfo=tz)
    hi = datetime.combine(day, parse_clock(end), tzinfo=tz)
    step = timedelta(minutes=15)
    rough = recovery_load(meetings, start=lo, end=hi, step=step)
    fine = recovery_load(meetings, start=lo, end=hi, step=step / 3)
    real = hi.astimezone(UTC) - lo.astimezone(UTC)
    assert len(rough) == real // step + 1
    instants = [p.at.astimezone(UTC) for p in rough]
    assert instants == [lo.astimezone(UTC) + i * step for i in range(len(rough))]
    by_instant = {p.at.astimezone(UTC): p.load for p in fine}
    assert [by_instant[t] for t in instants] == [p.load for p in rough]
    # The load only rises while in the meeting and only falls outside it.
    meeting = meetings[0]
    for before, after in pairwise(rough):
        if meeting.start <= before.at and after.at <= meeting.end:
            assert after.load >= before.load
        elif after.at <= meeting.start or before.at >= meeting.end:
            assert after.load <= before.load
    assert max(p.load for p in rough) == pytest.approx(
        round(1 - math.exp(-meeting.minutes / 60), 3), abs=1e-9
    )
