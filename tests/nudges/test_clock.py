"""Clock ranges, clock and weekday parsing, and merging busy intervals (nudges.clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from nudges.clock import (
    BusyInterval,
    ClockRange,
    day_bounds,
    local_instant,
    merge_intervals,
    parse_clock,
    parse_weekdays,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KATHMANDU = ZoneInfo("Asia/Kathmandu")


def utc(text: str) -> datetime:
    """``"2026-03-29 01:30"`` as a UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(zone: ZoneInfo, text: str) -> datetime:
    """A local wall time (``"2026-03-29 09:00"``) as a UTC instant, via ``local_instant``."""
    moment = datetime.fromisoformat(text)
    return local_instant(moment.date(), moment.time(), zone)


# --- parse_clock -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00", time(9, 0)),
        ("9:30", time(9, 30)),
        ("9", time(9, 0)),
        ("17", time(17, 0)),
        ("0930", time(9, 30)),
        ("1745", time(17, 45)),
        (" 08:05 ", time(8, 5)),
        ("00:00", time(0, 0)),
        ("23:59", time(23, 59)),
        ("24:00", time(23, 59)),  # "until midnight"
    ],
)
def test_parse_clock(text: str, expected: time) -> None:
    assert parse_clock(text) == expected


@pytest.mark.parametrize(
    "text", ["", "noon", "25:00", "24:30", "12:60", "9:5", "12:00:00", "-1", "9am", "12.30"]
)
def test_parse_clock_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a time"):
        parse_clock(text)


# --- ClockRange.parse ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end", "wraps"),
    [
        ("09:00-18:00", time(9), time(18), False),
        ("9-17:30", time(9), time(17, 30), False),
        ("09:00 – 17:30", time(9), time(17, 30), False),  # en dash and spaces
        ("0900—1730", time(9), time(17, 30), False),  # em dash, no colons
        ("22:00-06:00", time(22), time(6), True),
        ("22:00-07:00", time(22), time(7), True),
        ("23:30-00:15", time(23, 30), time(0, 15), True),
        ("00:00-24:00", time(0), time(23, 59), False),
    ],
)
def test_clock_range_parse(text: str, start: time, end: time, wraps: bool) -> None:
    parsed = ClockRange.parse(text)
    assert (parsed.start, parsed.end, parsed.wraps_midnight) == (start, end, wraps)


@pytest.mark.parametrize("text", ["09:00", "9 to 5", "09:00-", "-17:00", "25-26", "9-9", "a-b"])
def test_clock_range_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"time range|time of day|same minute"):
        ClockRange.parse(text)


@pytest.mark.parametrize("text", ["09:00-18:00", "22:00-06:00", "00:15-23:45"])
def test_clock_range_round_trips_through_str(text: str) -> None:
    assert str(ClockRange.parse(text)) == text
    assert ClockRange.parse(str(ClockRange.parse(text))) == ClockRange.parse(text)


# --- ClockRange.contains ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("range_text", "zone", "instant", "inside"),
    [
        # Plain range: start inclusive, end exclusive.
        ("09:00-18:00", "Europe/Berlin", "2026-06-01 07:00", True),  # 09:00 CEST
        ("09:00-18:00", "Europe/Berlin", "2026-06-01 06:59", False),  # 08:59 CEST
        ("09:00-18:00", "Europe/Berlin", "2026-06-01 15:59", True),  # 17:59 CEST
        ("09:00-18:00", "Europe/Berlin", "2026-06-01 16:00", False),  # 18:00 CEST
        ("09:00-18:00", "Europe/Berlin", "2026-01-05 08:00", True),  # 09:00 CET
        ("09:00-18:00", "Europe/Berlin", "2026-01-05 07:59", False),  # 08:59 CET
        ("09:00-18:00", "America/New_York", "2026-03-09 13:00", True),  # 09:00 EDT
        ("09:00-18:00", "America/New_York", "2026-03-06 13:00", False),  # 08:00 EST
        ("09:00-18:00", "Asia/Kathmandu", "2026-06-01 03:15", True),  # 09:00 +05:45
        ("09:00-18:00", "Asia/Kathmandu", "2026-06-01 03:14", False),  # 08:59 +05:45
        # Wrapping range: late evening and early morning are inside, the day is not.
        ("22:00-06:00", "Europe/Berlin", "2026-06-01 20:00", True),  # 22:00
        ("22:00-06:00", "Europe/Berlin", "2026-06-01 19:59", False),  # 21:59
        ("22:00-06:00", "Europe/Berlin", "2026-06-01 22:00", True),  # 00:00
        ("22:00-06:00", "Europe/Berlin", "2026-06-02 03:59", True),  # 05:59
        ("22:00-06:00", "Europe/Berlin", "2026-06-02 04:00", False),  # 06:00
        ("22:00-06:00", "Europe/Berlin", "2026-06-02 10:00", False),  # 12:00
        ("23:30-00:15", "UTC", "2026-06-02 00:14", True),
        ("23:30-00:15", "UTC", "2026-06-02 00:15", False),
        ("23:30-00:15", "UTC", "2026-06-01 23:29", False),
    ],
)
def test_clock_range_contains(range_text: str, zone: str, instant: str, inside: bool) -> None:
    assert ClockRange.parse(range_text).contains(utc(instant), ZoneInfo(zone)) is inside


# --- ClockRange.spans_on ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("range_text", "zone", "day", "expected"),
    [
        ("09:00-18:00", "UTC", date(2026, 6, 1), [("2026-06-01 09:00", "2026-06-01 18:00")]),
        (
            "09:00-18:00",
            "Europe/Berlin",
            date(2026, 6, 1),
            [("2026-06-01 07:00", "2026-06-01 16:00")],
        ),
        # Spring forward in Berlin: 02:00 → 03:00, the day is 23 hours long.
        (
            "01:00-04:00",
            "Europe/Berlin",
            date(2026, 3, 29),
            [("2026-03-29 00:00", "2026-03-29 02:00")],  # two real hours, not three
        ),
        (
            "02:30-09:00",  # 02:30 does not exist: read with the winter offset, it is 03:30
            "Europe/Berlin",
            date(2026, 3, 29),
            [("2026-03-29 01:30", "2026-03-29 07:00")],
        ),
        # Fall back in Berlin: 03:00 → 02:00, the day is 25 hours long.
        (
            "01:00-04:00",
            "Europe/Berlin",
            date(2026, 10, 25),
            [("2026-10-24 23:00", "2026-10-25 03:00")],  # four real hours
        ),
        (
            "09:00-18:00",
            "America/New_York",
            date(2026, 3, 8),
            [("2026-03-08 13:00", "2026-03-08 22:00")],
        ),
        (
            "09:00-18:00",
            "Asia/Kathmandu",
            date(2026, 6, 1),
            [("2026-06-01 03:15", "2026-06-01 12:15")],
        ),
        # A wrapping range: last night's tail and tonight's head.
        (
            "22:00-06:00",
            "UTC",
            date(2026, 6, 1),
            [("2026-05-31 22:00", "2026-06-01 06:00"), ("2026-06-01 22:00", "2026-06-02 06:00")],
        ),
        (
            "22:00-06:00",
            "Europe/Berlin",
            date(2026, 10, 25),
            # 22:00 CEST the night before, 06:00 CET, 22:00 CET, 06:00 CET next morning
            [("2026-10-24 20:00", "2026-10-25 05:00"), ("2026-10-25 21:00", "2026-10-26 05:00")],
        ),
        (
            "22:00-06:00",
            "Europe/Berlin",
            date(2026, 3, 29),
            [("2026-03-28 21:00", "2026-03-29 04:00"), ("2026-03-29 20:00", "2026-03-30 04:00")],
        ),
    ],
)
def test_clock_range_spans_on(
    range_text: str, zone: str, day: date, expected: list[tuple[str, str]]
) -> None:
    spans = ClockRange.parse(range_text).spans_on(day, ZoneInfo(zone))
    assert spans == [(utc(a), utc(b)) for a, b in expected]
    assert all(start.utcoffset() == timedelta(0) for start, _ in spans)


def test_spans_on_agrees_with_contains_minute_by_minute() -> None:
    """Every minute of a DST day is inside a span exactly when ``contains`` says so."""
    for range_text in ("09:00-18:00", "22:00-06:00", "01:30-03:30"):
        clock_range = ClockRange.parse(range_text)
        for day in (date(2026, 3, 29), date(2026, 10, 25)):
            lo, hi = day_bounds(day, BERLIN)
            spans = clock_range.spans_on(day, BERLIN)
            minute = lo
            while minute < hi:
                in_span = any(start <= minute < end for start, end in spans)
                assert in_span is clock_range.contains(minute, BERLIN), (range_text, minute)
                minute += timedelta(minutes=1)


# --- day_bounds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        (BERLIN, date(2026, 3, 29), 23),
        (BERLIN, date(2026, 10, 25), 25),
        (BERLIN, date(2026, 6, 1), 24),
        (NEW_YORK, date(2026, 3, 8), 23),
        (NEW_YORK, date(2026, 11, 1), 25),
        (KATHMANDU, date(2026, 3, 29), 24),
    ],
)
def test_day_bounds_length(zone: ZoneInfo, day: date, hours: int) -> None:
    lo, hi = day_bounds(day, zone)
    assert hi - lo == timedelta(hours=hours)
    assert lo.astimezone(zone).time() == time(0)
    assert lo.astimezone(zone).date() == day


# --- parse_weekdays --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("Mon-Fri", {0, 1, 2, 3, 4}),
        ("monday-friday", {0, 1, 2, 3, 4}),
        ("mon,wed,fri", {0, 2, 4}),
        ("mon , wed", {0, 2}),
        ("tue-thu", {1, 2, 3}),
        ("fri-mon", {4, 5, 6, 0}),  # wraps over the weekend
        ("sun-tue", {6, 0, 1}),
        ("sat", {5}),
        ("mon-wed,fri", {0, 1, 2, 4}),
        ("mon–fri", {0, 1, 2, 3, 4}),  # en dash
        ("daily", set(range(7))),
        ("every day", set(range(7))),
        ("weekdays", {0, 1, 2, 3, 4}),
        ("workdays", {0, 1, 2, 3, 4}),
        ("weekends", {5, 6}),
        ("  Weekends ", {5, 6}),
    ],
)
def test_parse_weekdays(text: str, expected: set[int]) -> None:
    assert parse_weekdays(text) == frozenset(expected)


@pytest.mark.parametrize("text", ["", "someday", "mon-", "mon,,fri", "mon-wed-fri", "1-5"])
def test_parse_weekdays_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="list of days"):
        parse_weekdays(text)


# --- merge_intervals -------------------------------------------------------------------------


def spans(*texts: str) -> list[tuple[datetime, datetime]]:
    """``"09:00-10:00"`` spans on 2026-06-01 UTC."""
    out = []
    for text in texts:
        a, b = text.split("-")
        out.append((utc(f"2026-06-01 {a}"), utc(f"2026-06-01 {b}")))
    return out


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], []),
        (["09:00-10:00"], ["09:00-10:00"]),
        # Touching meetings stay apart: the boundary is a zero-minute gap.
        (["09:00-10:00", "10:00-11:00"], ["09:00-10:00", "10:00-11:00"]),
        (["10:00-11:00", "09:00-10:00"], ["09:00-10:00", "10:00-11:00"]),  # unsorted input
        # Overlaps merge.
        (["09:00-10:30", "10:00-11:00"], ["09:00-11:00"]),
        (["09:00-12:00", "10:00-11:00"], ["09:00-12:00"]),  # contained
        (["09:00-10:00", "09:00-10:00"], ["09:00-10:00"]),  # duplicate
        (["09:00-10:00", "09:00-09:30"], ["09:00-10:00"]),  # same start
        (["09:00-10:30", "10:00-11:00", "11:00-12:00"], ["09:00-11:00", "11:00-12:00"]),
        (["09:00-10:00", "09:30-11:00", "10:45-11:15"], ["09:00-11:15"]),  # chained overlaps
        (["09:00-10:00", "10:05-11:00"], ["09:00-10:00", "10:05-11:00"]),
        # Empty and inverted spans vanish.
        (["09:00-09:00", "10:00-11:00"], ["10:00-11:00"]),
        (["11:00-10:00"], []),
    ],
)
def test_merge_intervals(given: list[str], expected: list[str]) -> None:
    merged = merge_intervals(spans(*given))
    assert merged == [BusyInterval(start=s, end=e) for s, e in spans(*expected)]


def test_merge_intervals_accepts_other_zones_and_compares_instants() -> None:
    # 11:00 Berlin (CEST) is 09:00 UTC: these two overlap as instants.
    berlin = datetime(2026, 6, 1, 11, 0, tzinfo=BERLIN)
    merged = merge_intervals(
        [(utc("2026-06-01 08:00"), utc("2026-06-01 09:30")), (berlin, berlin + timedelta(hours=1))]
    )
    assert len(merged) == 1
    assert merged[0].start == utc("2026-06-01 08:00")
    assert merged[0].end == utc("2026-06-01 10:00")


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (utc("2026-06-01 10:00"), utc("2026-06-01 10:00")),
        (utc("2026-06-01 10:00"), utc("2026-06-01 09:00")),
        (datetime(2026, 6, 1, 9), datetime(2026, 6, 1, 10)),  # naive
    ],
)
def test_busy_interval_rejects(start: datetime, end: datetime) -> None:
    with pytest.raises(ValueError, match="busy interval"):
        BusyInterval(start=start, end=end)
