"""Synthetic ICS feeds shaped like real exports, for the benchmarks.

``typical_feed`` is about 35 KB: a few months of a working calendar. ``heavy_feed`` is about
1.3 MB: five years of history (5,000 past single events) and 40 weekly series with
exceptions, the shape of a long-lived Google or Outlook calendar.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

_VTIMEZONE = """BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
TZNAME:CEST\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
TZNAME:CET\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
END:STANDARD\r
END:VTIMEZONE\r
"""


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def _event(
    rng: random.Random,
    uid: str,
    start: datetime,
    minutes: int,
    extra: str = "",
) -> str:
    end = start + timedelta(minutes=minutes)
    attendees = "".join(
        f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:p{i}@example.com\r\n" for i in range(rng.randint(0, 2))
    )
    return (
        "BEGIN:VEVENT\r\n"
        f"DTSTART;TZID=Europe/Berlin:{_stamp(start)}\r\n"
        f"DTEND;TZID=Europe/Berlin:{_stamp(end)}\r\n"
        f"DTSTAMP:20261101T000000Z\r\nUID:{uid}@bench.example.com\r\n"
        f"{extra}"
        f"{attendees}"
        f"SUMMARY:Meeting {uid}\r\nSTATUS:CONFIRMED\r\nTRANSP:OPAQUE\r\n"
        "END:VEVENT\r\n"
    )


def synthetic_feed(*, singles: int, series: int, years: float, today: date, seed: int = 7) -> bytes:
    """A feed with ``singles`` one-off meetings spread over the past ``years`` (and the next
    two weeks) and ``series`` weekly meetings, each with exceptions and a moved occurrence."""
    rng = random.Random(seed)
    first = today - timedelta(days=int(365 * years))
    span_days = (today - first).days + 14
    parts = ["BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Baseline bench//EN\r\n", _VTIMEZONE]
    for i in range(singles):
        day = first + timedelta(days=rng.randrange(span_days))
        start = datetime.combine(day, datetime.min.time()).replace(
            hour=rng.randint(8, 17), minute=rng.choice((0, 15, 30, 45))
        )
        parts.append(_event(rng, f"single-{i}", start, rng.choice((15, 30, 45, 60, 90))))
    for i in range(series):
        day = first + timedelta(days=rng.randrange(min(span_days, 365)))
        start = datetime.combine(day, datetime.min.time()).replace(
            hour=rng.randint(8, 17), minute=rng.choice((0, 30))
        )
        skipped = [start + timedelta(weeks=rng.randrange(1, 200)) for _ in range(3)]
        exdates = "".join(f"EXDATE;TZID=Europe/Berlin:{_stamp(s)}\r\n" for s in skipped)
        parts.append(_event(rng, f"series-{i}", start, 30, f"RRULE:FREQ=WEEKLY\r\n{exdates}"))
        moved = start + timedelta(weeks=rng.randrange(1, 200))
        parts.append(
            _event(
                rng,
                f"series-{i}",
                moved + timedelta(hours=1),
                30,
                f"RECURRENCE-ID;TZID=Europe/Berlin:{_stamp(moved)}\r\n",
            )
        )
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts).encode()


def typical_feed(today: date) -> bytes:
    return synthetic_feed(singles=90, series=14, years=0.5, today=today)


def heavy_feed(today: date) -> bytes:
    return synthetic_feed(singles=5000, series=40, years=5, today=today)
