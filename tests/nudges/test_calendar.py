"""Calendar feeds → busy intervals: exact answers for hand-written exports and small feeds.

Times in the tables are UTC ("2026-03-03 15:00" means 15:00Z); the comments give the local
wall-clock time that produced them. Every table runs on both the pruned and the full path.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nudges.calendar import CalendarError, CalendarLimits, busy_intervals
from nudges.clock import BusyInterval

FIXTURES = Path(__file__).parent.parent / "fixtures"
SAM = "sam@example.com"

Spans = list[tuple[str, str]]
# (test id, fixture file, the person's zone, day, the person's email, busy spans in UTC)
FixtureCase = tuple[str, str, str, date, str | None, Spans]
# (test id, feed, the person's zone, day, the person's email, busy spans in UTC)
InlineCase = tuple[str, bytes, str, date, str | None, Spans]
# (test id, feed, day in Berlin, busy spans in UTC)
RegressionCase = tuple[str, bytes, date, Spans]
# (test id, feed, limits, the message as a regular expression)
ErrorCase = tuple[str, bytes, CalendarLimits | None, str]


def utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def intervals(spans: Spans) -> list[BusyInterval]:
    return [BusyInterval(start=utc(start), end=utc(end)) for start, end in spans]


def busy(
    ics: bytes,
    day: date,
    tz: str,
    email: str | None = None,
    *,
    last_day: date | None = None,
    prune: bool = True,
) -> list[BusyInterval]:
    return busy_intervals(
        ics,
        first_day=day,
        last_day=last_day or day,
        tz=ZoneInfo(tz),
        email=email,
        prune=prune,
    )


def feed(*events: str, head: str = "", newline: str = "\r\n") -> bytes:
    """A minimal calendar around ``events``: each the lines inside one VEVENT, or a whole
    other component (``BEGIN:VTIMEZONE`` ...) that stands between the events as it is."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Baseline tests//EN"]
    lines.extend(head.split("\n") if head else [])
    for event in events:
        if event.startswith("BEGIN:"):
            lines.extend(event.split("\n"))
        else:
            lines.extend(["BEGIN:VEVENT", *event.strip().split("\n"), "END:VEVENT"])
    lines.append("END:VCALENDAR")
    return (newline.join(lines) + newline).encode()


both_paths = pytest.mark.parametrize("prune", [True, False], ids=["pruned", "full"])


# --- Hand-written exports ---------------------------------------------------------------

# fmt: off
FIXTURE_CASES: list[FixtureCase] = [
    # Google: weekly standup Mon/Wed/Fri 09:30-09:45 with an EXDATE, a moved and a cancelled
    # occurrence; X-WR-TIMEZONE; declined, all-day and transparent events; Z times.
    ("google: EXDATE removes Monday's standup", "google.ics", "Europe/Berlin",
     date(2026, 3, 2), SAM, []),
    ("google: declined dropped, 1:1 and release sync merged", "google.ics", "Europe/Berlin",
     date(2026, 3, 3), SAM, [("2026-03-03 15:00", "2026-03-03 16:00")]),
    ("google: declined matched case-insensitively", "google.ics", "Europe/Berlin",
     date(2026, 3, 3), " Sam@Example.COM ", [("2026-03-03 15:00", "2026-03-03 16:00")]),
    ("google: someone else's feed keeps the review", "google.ics", "Europe/Berlin",
     date(2026, 3, 3), "alex@example.com",
     [("2026-03-03 11:00", "2026-03-03 12:00"), ("2026-03-03 15:00", "2026-03-03 16:00")]),
    ("google: no email keeps the review", "google.ics", "Europe/Berlin",
     date(2026, 3, 3), None,
     [("2026-03-03 11:00", "2026-03-03 12:00"), ("2026-03-03 15:00", "2026-03-03 16:00")]),
    ("google: Wednesday's standup moved away", "google.ics", "Europe/Berlin",
     date(2026, 3, 4), SAM, []),
    # Moved standup 14:00-14:15 CET and the customer call 15:00Z; all-day and free dropped.
    ("google: moved in, all-day and transparent dropped", "google.ics", "Europe/Berlin",
     date(2026, 3, 5), SAM,
     [("2026-03-05 13:00", "2026-03-05 13:15"), ("2026-03-05 15:00", "2026-03-05 16:00")]),
    ("google: cancelled occurrence", "google.ics", "Europe/Berlin", date(2026, 3, 6), SAM, []),
    ("google: standup in winter time", "google.ics", "Europe/Berlin",
     date(2026, 3, 9), SAM, [("2026-03-09 08:30", "2026-03-09 08:45")]),
    # The conference runs Mon 09:00 to Thu 17:00: Wednesday is busy from midnight to midnight.
    ("google: multi-day event fills the day", "google.ics", "Europe/Berlin",
     date(2026, 3, 25), SAM, [("2026-03-24 23:00", "2026-03-25 23:00")]),
    ("google: multi-day event ends on its last day", "google.ics", "Europe/Berlin",
     date(2026, 3, 26), SAM, [("2026-03-25 23:00", "2026-03-26 16:00")]),
    # 01:30 CET to 04:00 CEST on the spring-forward night: one and a half hours.
    ("google: DST day", "google.ics", "Europe/Berlin",
     date(2026, 3, 29), SAM, [("2026-03-29 00:30", "2026-03-29 02:00")]),
    ("google: standup in summer time", "google.ics", "Europe/Berlin",
     date(2026, 3, 30), SAM, [("2026-03-30 07:30", "2026-03-30 07:45")]),
    ("google: biweekly 1:1 in summer time", "google.ics", "Europe/Berlin",
     date(2026, 3, 31), SAM, [("2026-03-31 14:00", "2026-03-31 14:30")]),
    ("google: read from New York", "google.ics", "America/New_York",
     date(2026, 3, 5), SAM,
     [("2026-03-05 13:00", "2026-03-05 13:15"), ("2026-03-05 15:00", "2026-03-05 16:00")]),
    # Outlook: Windows zone ids, a Customized Time Zone (+05:30), a TZID nobody defines,
    # DURATION, an event crossing midnight, CRLF.
    ("outlook: weekly series", "outlook.ics", "Europe/Berlin",
     date(2026, 3, 3), None, [("2026-03-03 13:00", "2026-03-03 14:00")]),
    ("outlook: EXDATE", "outlook.ics", "Europe/Berlin", date(2026, 3, 10), None, []),
    ("outlook: exception moved away", "outlook.ics", "Europe/Berlin",
     date(2026, 3, 17), None, []),
    ("outlook: exception moved in", "outlook.ics", "Europe/Berlin",
     date(2026, 3, 18), None, [("2026-03-18 09:00", "2026-03-18 10:00")]),
    ("outlook: series after the DST change", "outlook.ics", "Europe/Berlin",
     date(2026, 3, 31), None, [("2026-03-31 12:00", "2026-03-31 13:00")]),
    # 15:00 +05:30 merged with planning 11:00-12:00 CET; 09:00 New York (already summer time
    # there); the undefined TZID read as Berlin time.
    ("outlook: custom, Windows and undefined zones", "outlook.ics", "Europe/Berlin",
     date(2026, 3, 9), None,
     [("2026-03-09 09:30", "2026-03-09 11:00"), ("2026-03-09 13:00", "2026-03-09 13:30"),
      ("2026-03-09 15:00", "2026-03-09 16:00")]),
    ("outlook: undefined zone read in New York", "outlook.ics", "America/New_York",
     date(2026, 3, 9), None,
     [("2026-03-09 09:30", "2026-03-09 11:00"), ("2026-03-09 13:00", "2026-03-09 13:30"),
      ("2026-03-09 20:00", "2026-03-09 21:00")]),
    ("outlook: DURATION, and the evening before midnight", "outlook.ics", "Europe/Berlin",
     date(2026, 3, 11), None,
     [("2026-03-11 15:00", "2026-03-11 15:45"), ("2026-03-11 22:00", "2026-03-11 23:00")]),
    ("outlook: after midnight; all-day, free, cancelled dropped", "outlook.ics",
     "Europe/Berlin", date(2026, 3, 12), None, [("2026-03-11 23:00", "2026-03-12 00:30")]),
    # 01:30 CEST to 04:00 CET on the fall-back night: three and a half hours.
    ("outlook: DST day", "outlook.ics", "Europe/Berlin",
     date(2026, 10, 25), None, [("2026-10-24 23:30", "2026-10-25 03:00")]),
    # Apple: New York, floating time, RDATE, THISANDFUTURE, VALARMs, lower-case names, LF.
    ("apple: workshop from Monday 09:00, gym", "apple.ics", "America/New_York",
     date(2026, 3, 2), SAM,
     [("2026-03-02 12:00", "2026-03-02 13:00"), ("2026-03-02 14:00", "2026-03-03 05:00")]),
    ("apple: workshop fills Tuesday", "apple.ics", "America/New_York",
     date(2026, 3, 3), SAM, [("2026-03-03 05:00", "2026-03-04 05:00")]),
    ("apple: workshop until noon swallows the gym", "apple.ics", "America/New_York",
     date(2026, 3, 4), SAM, [("2026-03-04 05:00", "2026-03-04 17:00")]),
    ("apple: book club 18:00 EST", "apple.ics", "America/New_York",
     date(2026, 3, 5), SAM, [("2026-03-05 23:00", "2026-03-06 00:00")]),
    # 01:30 EST to 03:30 EDT: one hour.
    ("apple: DST day (spring)", "apple.ics", "America/New_York",
     date(2026, 3, 8), SAM, [("2026-03-08 06:30", "2026-03-08 07:30")]),
    ("apple: THISANDFUTURE moves the gym to 07:30", "apple.ics", "America/New_York",
     date(2026, 3, 9), SAM, [("2026-03-09 11:30", "2026-03-09 12:30")]),
    ("apple: floating lunch and the RDATE", "apple.ics", "America/New_York",
     date(2026, 3, 10), SAM,
     [("2026-03-10 16:00", "2026-03-10 17:00"), ("2026-03-10 20:00", "2026-03-10 21:00")]),
    ("apple: floating lunch read in Berlin", "apple.ics", "Europe/Berlin",
     date(2026, 3, 10), SAM,
     [("2026-03-10 11:00", "2026-03-10 12:00"), ("2026-03-10 20:00", "2026-03-10 21:00")]),
    ("apple: gym, dentist; lower-case cancelled dropped", "apple.ics", "America/New_York",
     date(2026, 3, 11), SAM,
     [("2026-03-11 11:30", "2026-03-11 12:30"), ("2026-03-11 18:00", "2026-03-11 19:00")]),
    ("apple: book club 18:00 EDT", "apple.ics", "America/New_York",
     date(2026, 3, 12), SAM, [("2026-03-12 22:00", "2026-03-12 23:00")]),
    # 01:30 EDT (the first of the two) to 02:30 EST: two hours.
    ("apple: DST day (autumn)", "apple.ics", "America/New_York",
     date(2026, 11, 1), SAM, [("2026-11-01 05:30", "2026-11-01 07:30")]),
    ("apple: gym 07:30 EST", "apple.ics", "America/New_York",
     date(2026, 11, 2), SAM, [("2026-11-02 12:30", "2026-11-02 13:30")]),
]
# fmt: on


@both_paths
@pytest.mark.parametrize("case", FIXTURE_CASES, ids=[case[0] for case in FIXTURE_CASES])
def test_fixture_days(case: FixtureCase, prune: bool) -> None:
    _, fixture, tz, day, email, expected = case
    ics = (FIXTURES / fixture).read_bytes()
    assert busy(ics, day, tz, email, prune=prune) == intervals(expected)


@both_paths
def test_google_week_in_one_call(prune: bool) -> None:
    ics = (FIXTURES / "google.ics").read_bytes()
    week = busy(ics, date(2026, 3, 2), "Europe/Berlin", SAM, last_day=date(2026, 3, 6), prune=prune)
    assert week == intervals(
        [
            ("2026-03-03 15:00", "2026-03-03 16:00"),
            ("2026-03-05 13:00", "2026-03-05 13:15"),
            ("2026-03-05 15:00", "2026-03-05 16:00"),
        ]
    )
    assert all(iv.start.tzinfo is UTC and iv.end.tzinfo is UTC for iv in week)


def test_fixture_line_endings_are_what_the_exporters_write() -> None:
    outlook = (FIXTURES / "outlook.ics").read_bytes()
    apple = (FIXTURES / "apple.ics").read_bytes()
    assert outlook.count(b"\r\n") == outlook.count(b"\n") > 100
    assert b"\r" not in apple
    assert b"\r\n " in (FIXTURES / "google.ics").read_bytes()  # folded lines


# --- Small inline feeds -----------------------------------------------------------------

WEEKLY_BERLIN = """
UID:weekly@example.com
DTSTART;TZID=Europe/Berlin:20260105T090000
DTEND;TZID=Europe/Berlin:20260105T100000
RRULE:FREQ=WEEKLY;BYDAY=MO,TU
EXDATE;TZID=Europe/Berlin:20260310T090000
"""
MOVED = """
UID:weekly@example.com
RECURRENCE-ID;TZID=Europe/Berlin:20260316T090000
DTSTART;TZID=Europe/Berlin:20260318T150000
DTEND;TZID=Europe/Berlin:20260318T153000
"""
CANCELLED = """
UID:weekly@example.com
RECURRENCE-ID;TZID=Europe/Berlin:20260317T090000
DTSTART;TZID=Europe/Berlin:20260317T090000
DTEND;TZID=Europe/Berlin:20260317T100000
STATUS:CANCELLED
"""
BERLIN_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Custom Berlin
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE"""
KOLKATA_CUSTOM = """BEGIN:VTIMEZONE
TZID:Customized Time Zone
BEGIN:STANDARD
DTSTART:16010101T000000
TZOFFSETFROM:+0530
TZOFFSETTO:+0530
END:STANDARD
END:VTIMEZONE"""


def one(start: str, end: str, extra: str = "", uid: str = "one@example.com") -> str:
    """A single event; ``start``/``end``/``extra`` are whole property lines (or nothing)."""
    return "\n".join(line for line in (f"UID:{uid}", start, end, extra) if line)


# fmt: off
INLINE_CASES: list[InlineCase] = [
    ("RRULE: Monday", feed(WEEKLY_BERLIN), "Europe/Berlin", date(2026, 3, 9), None,
     [("2026-03-09 08:00", "2026-03-09 09:00")]),
    ("RRULE+EXDATE: Tuesday excluded", feed(WEEKLY_BERLIN), "Europe/Berlin",
     date(2026, 3, 10), None, []),
    ("RRULE: Wednesday is not in BYDAY", feed(WEEKLY_BERLIN), "Europe/Berlin",
     date(2026, 3, 11), None, []),
    ("moved occurrence leaves its day", feed(WEEKLY_BERLIN, MOVED), "Europe/Berlin",
     date(2026, 3, 16), None, []),
    ("moved occurrence lands on Wednesday", feed(WEEKLY_BERLIN, MOVED), "Europe/Berlin",
     date(2026, 3, 18), None, [("2026-03-18 14:00", "2026-03-18 14:30")]),
    ("cancelled occurrence", feed(WEEKLY_BERLIN, CANCELLED), "Europe/Berlin",
     date(2026, 3, 17), None, []),
    ("weekly series keeps its wall-clock time after the change", feed(WEEKLY_BERLIN),
     "Europe/Berlin", date(2026, 3, 30), None, [("2026-03-30 07:00", "2026-03-30 08:00")]),
    # X-WR-TIMEZONE: floating times are the calendar's zone, not the reader's; Z stays Z.
    ("X-WR-TIMEZONE: floating time in the calendar's zone",
     feed(one("DTSTART:20260310T090000", "DTEND:20260310T100000"),
          head="X-WR-TIMEZONE:America/New_York"),
     "Europe/Berlin", date(2026, 3, 10), None, [("2026-03-10 13:00", "2026-03-10 14:00")]),
    ("X-WR-TIMEZONE: UTC stays UTC",
     feed(one("DTSTART:20260310T090000Z", "DTEND:20260310T100000Z"),
          head="X-WR-TIMEZONE:America/New_York"),
     "Europe/Berlin", date(2026, 3, 10), None, [("2026-03-10 09:00", "2026-03-10 10:00")]),
    ("Windows zone id without VTIMEZONE",
     feed(one("DTSTART;TZID=Tokyo Standard Time:20260310T090000",
              "DTEND;TZID=Tokyo Standard Time:20260310T100000")),
     "Europe/Berlin", date(2026, 3, 10), None, [("2026-03-10 00:00", "2026-03-10 01:00")]),
    ("Windows zone id, DST differs from the reader's",
     feed(one("DTSTART;TZID=Eastern Standard Time:20260309T090000",
              "DTEND;TZID=Eastern Standard Time:20260309T100000")),
     "Europe/Berlin", date(2026, 3, 9), None, [("2026-03-09 13:00", "2026-03-09 14:00")]),
    ("TZID defined by the feed's VTIMEZONE",
     feed(one("DTSTART;TZID=Custom Berlin:20260710T090000",
              "DTEND;TZID=Custom Berlin:20260710T100000"), head=BERLIN_VTIMEZONE),
     "America/New_York", date(2026, 7, 10), None, [("2026-07-10 07:00", "2026-07-10 08:00")]),
    ("TZID without VTIMEZONE is the reader's zone",
     feed(one("DTSTART;TZID=Customized Time Zone:20260310T090000",
              "DTEND;TZID=Customized Time Zone:20260310T100000")),
     "America/New_York", date(2026, 3, 10), None, [("2026-03-10 13:00", "2026-03-10 14:00")]),
    ("floating time in Berlin",
     feed(one("DTSTART:20260310T090000", "DTEND:20260310T100000")),
     "Europe/Berlin", date(2026, 3, 10), None, [("2026-03-10 08:00", "2026-03-10 09:00")]),
    ("floating time in Auckland",
     feed(one("DTSTART:20260310T090000", "DTEND:20260310T100000")),
     "Pacific/Auckland", date(2026, 3, 10), None, [("2026-03-09 20:00", "2026-03-09 21:00")]),
    ("DURATION",
     feed(one("DTSTART;TZID=Europe/Berlin:20260310T090000", "DURATION:PT1H30M")),
     "Europe/Berlin", date(2026, 3, 10), None, [("2026-03-10 08:00", "2026-03-10 09:30")]),
    ("DURATION of days, seen on its last day",
     feed(one("DTSTART;TZID=Europe/Berlin:20260308T090000", "DURATION:P2DT3H")),
     "Europe/Berlin", date(2026, 3, 10), None, [("2026-03-09 23:00", "2026-03-10 11:00")]),
    ("DURATION on a date is an all-day event",
     feed(one("DTSTART;VALUE=DATE:20260310", "DURATION:P1D")),
     "Europe/Berlin", date(2026, 3, 10), None, []),
    ("crossing midnight: the evening",
     feed(one("DTSTART;TZID=Europe/Berlin:20260310T220000",
              "DTEND;TZID=Europe/Berlin:20260311T020000")),
     "Europe/Berlin", date(2026, 3, 10), None, [("2026-03-10 21:00", "2026-03-10 23:00")]),
    ("crossing midnight: the morning",
     feed(one("DTSTART;TZID=Europe/Berlin:20260310T220000",
              "DTEND;TZID=Europe/Berlin:20260311T020000")),
     "Europe/Berlin", date(2026, 3, 11), None, [("2026-03-10 23:00", "2026-03-11 01:00")]),
    ("multi-day event that started three days earlier",
     feed(one("DTSTART;TZID=Europe/Berlin:20260307T140000",
              "DTEND;TZID=Europe/Berlin:20260310T103000")),
     "Europe/Berlin", date(2026, 3, 10), None, [("2026-03-09 23:00", "2026-03-10 09:30")]),
    ("a whole 23-hour day (Berlin, spring)",
     feed(one("DTSTART;TZID=Europe/Berlin:20260328T120000",
              "DTEND;TZID=Europe/Berlin:20260330T120000")),
     "Europe/Berlin", date(2026, 3, 29), None, [("2026-03-28 23:00", "2026-03-29 22:00")]),
    ("a whole 25-hour day (Berlin, autumn)",
     feed(one("DTSTART;TZID=Europe/Berlin:20261024T120000",
              "DTEND;TZID=Europe/Berlin:20261026T120000")),
     "Europe/Berlin", date(2026, 10, 25), None, [("2026-10-24 22:00", "2026-10-25 23:00")]),
    ("a whole 23-hour day (New York, spring)",
     feed(one("DTSTART:20260307T120000Z", "DTEND:20260309T120000Z")),
     "America/New_York", date(2026, 3, 8), None, [("2026-03-08 05:00", "2026-03-09 04:00")]),
    ("a whole 25-hour day (New York, autumn)",
     feed(one("DTSTART:20261031T120000Z", "DTEND:20261102T120000Z")),
     "America/New_York", date(2026, 11, 1), None, [("2026-11-01 04:00", "2026-11-02 05:00")]),
    ("cancelled dropped",
     feed(one("DTSTART:20260310T090000Z", "DTEND:20260310T100000Z", "STATUS:CANCELLED")),
     "Europe/Berlin", date(2026, 3, 10), None, []),
    ("tentative kept",
     feed(one("DTSTART:20260310T090000Z", "DTEND:20260310T100000Z", "STATUS:TENTATIVE")),
     "Europe/Berlin", date(2026, 3, 10), None, [("2026-03-10 09:00", "2026-03-10 10:00")]),
    ("transparent dropped",
     feed(one("DTSTART:20260310T090000Z", "DTEND:20260310T100000Z", "TRANSP:TRANSPARENT")),
     "Europe/Berlin", date(2026, 3, 10), None, []),
    ("all-day dropped",
     feed(one("DTSTART;VALUE=DATE:20260310", "DTEND;VALUE=DATE:20260311")),
     "Europe/Berlin", date(2026, 3, 10), None, []),
    ("a timed event without an end lasts no time",
     feed(one("DTSTART:20260310T090000Z", "")),
     "Europe/Berlin", date(2026, 3, 10), None, []),
    ("declined by the person dropped",
     feed(one("DTSTART:20260310T090000Z", "DTEND:20260310T100000Z",
              "ATTENDEE;PARTSTAT=DECLINED:mailto:Sam@Example.com")),
     "Europe/Berlin", date(2026, 3, 10), "SAM@example.COM", []),
    ("declined by someone else kept",
     feed(one("DTSTART:20260310T090000Z", "DTEND:20260310T100000Z",
              "ATTENDEE;PARTSTAT=DECLINED:mailto:alex@example.com\n"
              "ATTENDEE;PARTSTAT=ACCEPTED:mailto:sam@example.com")),
     "Europe/Berlin", date(2026, 3, 10), SAM, [("2026-03-10 09:00", "2026-03-10 10:00")]),
    ("declined but no email given kept",
     feed(one("DTSTART:20260310T090000Z", "DTEND:20260310T100000Z",
              "ATTENDEE;PARTSTAT=DECLINED:mailto:sam@example.com")),
     "Europe/Berlin", date(2026, 3, 10), None, [("2026-03-10 09:00", "2026-03-10 10:00")]),
    ("a look-alike address is not the person",
     feed(one("DTSTART:20260310T090000Z", "DTEND:20260310T100000Z",
              "ATTENDEE;PARTSTAT=DECLINED:mailto:sam@example.com.evil")),
     "Europe/Berlin", date(2026, 3, 10), SAM, [("2026-03-10 09:00", "2026-03-10 10:00")]),
    # Overlaps merge; meetings that only touch stay apart (merge_intervals: a 0-minute gap).
    ("overlapping meetings merge, touching ones do not",
     feed(one("DTSTART:20260310T090000Z", "DTEND:20260310T100000Z", uid="a@example.com"),
          one("DTSTART:20260310T093000Z", "DTEND:20260310T110000Z", uid="b@example.com"),
          one("DTSTART:20260310T110000Z", "DTEND:20260310T113000Z", uid="c@example.com"),
          one("DTSTART:20260310T130000Z", "DTEND:20260310T140000Z", uid="d@example.com"),
          one("DTSTART:20260310T131500Z", "DTEND:20260310T133000Z", uid="e@example.com")),
     "Europe/Berlin", date(2026, 3, 10), None,
     [("2026-03-10 09:00", "2026-03-10 11:00"), ("2026-03-10 11:00", "2026-03-10 11:30"),
      ("2026-03-10 13:00", "2026-03-10 14:00")]),
    ("LF line endings and folded lines",
     feed(one("DTSTART;TZID=Europe/\n Berlin:20260310T090000",
              "DTEND;TZID=Europe/Berlin:2026031\n 0T100000"), newline="\n"),
     "Europe/Berlin", date(2026, 3, 10), None, [("2026-03-10 08:00", "2026-03-10 09:00")]),
    ("a title that mentions FREQ=MINUTELY is just text",
     feed(one("DTSTART:20260310T090000Z", "DTEND:20260310T100000Z",
              "SUMMARY:Why RRULE:FREQ=MINUTELY is refused")),
     "Europe/Berlin", date(2026, 3, 10), None, [("2026-03-10 09:00", "2026-03-10 10:00")]),
    ("a description that quotes BEGIN:VEVENT is just text",
     feed(one("DTSTART:20260310T090000Z",
              "DESCRIPTION:pasted: BEGIN:VEVENT DTSTART:20260310T120000Z END:VEVENT",
              "DTEND:20260310T100000Z")),
     "Europe/Berlin", date(2026, 3, 10), None, [("2026-03-10 09:00", "2026-03-10 10:00")]),
]
# fmt: on


@both_paths
@pytest.mark.parametrize("case", INLINE_CASES, ids=[case[0] for case in INLINE_CASES])
def test_inline_feeds(case: InlineCase, prune: bool) -> None:
    _, ics, tz, day, email, expected = case
    assert busy(ics, day, tz, email, prune=prune) == intervals(expected)


# --- Cases where pruning once changed the answer ------------------------------------------
# Each of these gave a different result with prune=True before the fix in nudges/calendar.py.

SERIES_WITH_MOVED_OCCURRENCE = """
UID:s@example.com
DTSTART;TZID=Europe/Berlin:20260105T090000
DTEND;TZID=Europe/Berlin:20260105T093000
RRULE:FREQ=WEEKLY
EXDATE;TZID=Europe/Berlin:20260112T090000
"""
OVERRIDE_OF_EXCLUDED = """
UID:s@example.com
RECURRENCE-ID;TZID=Europe/Berlin:20260112T090000
DTSTART;TZID=Europe/Berlin:20260310T140000
DTEND;TZID=Europe/Berlin:20260310T150000
"""
DAILY = """
UID:f@example.com
DTSTART;TZID=Europe/Berlin:20260105T090000
DTEND;TZID=Europe/Berlin:20260105T093000
RRULE:FREQ=DAILY
"""
# From 1 February on, every occurrence is a week and an hour later.
THIS_AND_FUTURE = """
UID:f@example.com
RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20260201T090000
DTSTART;TZID=Europe/Berlin:20260208T100000
DTEND;TZID=Europe/Berlin:20260208T103000
"""

# fmt: off
REGRESSION_CASES: list[RegressionCase] = [
    # The VTIMEZONE stood between two events and pruning dropped it with the first.
    ("VTIMEZONE between events",
     feed(one("DTSTART;TZID=Customized Time Zone:20260310T150000",
              "DTEND;TZID=Customized Time Zone:20260310T160000"),
          KOLKATA_CUSTOM,
          one("DTSTART:20200101T100000Z", "DTEND:20200101T110000Z", uid="old@example.com")),
     date(2026, 3, 10), [("2026-03-10 09:30", "2026-03-10 10:30")]),
    # An EXDATE far from the window hides an override of that occurrence moved into it.
    ("EXDATE hides the override of the same occurrence",
     feed(SERIES_WITH_MOVED_OCCURRENCE, OVERRIDE_OF_EXCLUDED), date(2026, 3, 10), []),
    # Same UID twice: the first component wins in the full parse; pruning moved it last.
    ("first of two components with one UID wins",
     feed(one("DTSTART:20240105T090000Z", "DTEND:20240105T093000Z", uid="d@example.com"),
          "UID:d@example.com\nDTSTART:20260105T090000Z\nDTEND:20260105T093000Z\n"
          "RRULE:FREQ=WEEKLY;BYDAY=TU"),
     date(2026, 3, 10), []),
    ("a far copy of a single event with the same UID",
     feed(one("DTSTART:20240105T090000Z", "DTEND:20240105T093000Z", uid="d@example.com"),
          one("DTSTART:20260310T090000Z", "DTEND:20260310T093000Z", uid="d@example.com")),
     date(2026, 3, 10), []),
    # THISANDFUTURE moves earlier occurrences into the window: no rebasing past them.
    ("THISANDFUTURE shift of a long-running daily series",
     feed(DAILY, THIS_AND_FUTURE), date(2026, 3, 11), [("2026-03-11 09:00", "2026-03-11 09:30")]),
    ("THISANDFUTURE shift of an excluded occurrence",
     feed(DAILY.replace("FREQ=DAILY", "FREQ=DAILY;COUNT=100")
          + "EXDATE;TZID=Europe/Berlin:20260303T090000", THIS_AND_FUTURE),
     date(2026, 3, 10), []),
]
# fmt: on


@both_paths
@pytest.mark.parametrize("case", REGRESSION_CASES, ids=[case[0] for case in REGRESSION_CASES])
def test_pruning_regressions(case: RegressionCase, prune: bool) -> None:
    _, ics, day, expected = case
    assert busy(ics, day, "Europe/Berlin", prune=prune) == intervals(expected)


def _zone_feeds() -> list[tuple[bytes, Spans]]:
    """Feeds that give one TZID different meanings, and what each means (read from UTC)."""
    custom = one(
        "DTSTART;TZID=Customized Time Zone:20260310T090000",
        "DTEND;TZID=Customized Time Zone:20260310T100000",
    )
    windows = one(
        "DTSTART;TZID=W. Europe Standard Time:20260310T090000",
        "DTEND;TZID=W. Europe Standard Time:20260310T100000",
    )
    as_berlin = BERLIN_VTIMEZONE.replace("Custom Berlin", "Customized Time Zone")
    odd_windows = KOLKATA_CUSTOM.replace("Customized Time Zone", "W. Europe Standard Time")
    return [
        (feed(custom, head=KOLKATA_CUSTOM), [("2026-03-10 03:30", "2026-03-10 04:30")]),
        (feed(custom, head=as_berlin), [("2026-03-10 08:00", "2026-03-10 09:00")]),
        (feed(custom), [("2026-03-10 09:00", "2026-03-10 10:00")]),  # undefined: the reader's
        (feed(windows), [("2026-03-10 08:00", "2026-03-10 09:00")]),  # by name: Berlin
        (feed(windows, head=odd_windows), [("2026-03-10 03:30", "2026-03-10 04:30")]),
    ]


@pytest.mark.parametrize("order", ["forward", "backward"])
def test_time_zones_do_not_leak_between_feeds(order: str) -> None:
    """icalendar caches VTIMEZONEs by TZID for the whole process; each feed stands alone."""
    feeds = _zone_feeds()
    if order == "backward":
        feeds.reverse()
    for _ in range(2):
        for ics, expected in feeds:
            for prune in (True, False):
                assert busy(ics, date(2026, 3, 10), "UTC", prune=prune) == intervals(expected)


def test_encodings_and_byte_order_mark() -> None:
    event = one("DTSTART:20260310T090000Z", "DTEND:20260310T100000Z", "SUMMARY:Caf\u00e9")
    utf8 = b"\xef\xbb\xbf" + feed(event)
    latin1 = feed(event).decode().encode("latin-1")
    expected = intervals([("2026-03-10 09:00", "2026-03-10 10:00")])
    assert busy(utf8, date(2026, 3, 10), "UTC") == expected
    assert busy(latin1, date(2026, 3, 10), "UTC") == expected


def test_an_empty_calendar_has_no_busy_time() -> None:
    assert (
        busy(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", date(2026, 3, 10), "UTC") == []
    )


# --- Feeds Baseline refuses ---------------------------------------------------------------

NOT_A_CALENDAR = re.escape(
    "this is not an iCalendar (.ics) feed: it does not start with BEGIN:VCALENDAR"
)
TOO_FREQUENT = re.escape(
    "the calendar has an event repeating every second or minute, which is not a meeting"
)
SMALL = CalendarLimits(max_bytes=200_000, max_events=3)
FINE = one("DTSTART:20260310T090000Z", "DTEND:20260310T100000Z")

# fmt: off
ERROR_CASES: list[ErrorCase] = [
    ("empty", b"", None, f"^{NOT_A_CALENDAR}$"),
    ("plain text", b"Meeting at 10 with Alex\nbring coffee\n", None, f"^{NOT_A_CALENDAR}$"),
    ("HTML login page",
     b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>BEGIN:VCALENDAR"
     b"</body></html>", None, f"^{NOT_A_CALENDAR}$"),
    ("JSON", b'{"error": "not found"}', None, f"^{NOT_A_CALENDAR}$"),
    ("truncated", feed(FINE)[:-len(b"END:VCALENDAR\r\n")], None,
     "^the calendar is cut off: it does not end with END:VCALENDAR$"),
    ("cut mid-event", feed(FINE)[:60], None,
     "^the calendar is cut off: it does not end with END:VCALENDAR$"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", None,
     r"^this is a binary file, not an iCalendar \(\.ics\) feed$"),
    ("binary that starts like a calendar", b"BEGIN:VCALENDAR\r\n\x00\x01\x02END:VCALENDAR",
     None, r"^this is a binary file, not an iCalendar \(\.ics\) feed$"),
    ("over max_bytes", feed(FINE, head="X-PADDING:" + "x" * 250_000), SMALL,
     r"^the calendar is too big \(0\.3 MB; the limit is 0\.2 MB\)$"),
    ("too many events", feed(*[FINE.replace("one@", f"n{i}@") for i in range(4)]), SMALL,
     r"^the calendar has too many events \(4; the limit is 3\)$"),
    ("FREQ=SECONDLY",
     feed(FINE + "\nRRULE:FREQ=SECONDLY"), None, f"^{TOO_FREQUENT}$"),
    ("FREQ=MINUTELY",
     feed(FINE + "\nRRULE:INTERVAL=5;FREQ=MINUTELY"), None, f"^{TOO_FREQUENT}$"),
    ("FREQ=minutely in an old series",
     feed(one("DTSTART:20100310T090000Z", "DTEND:20100310T100000Z", "RRULE:freq=minutely")),
     None, f"^{TOO_FREQUENT}$"),
    ("DTSTART:notadate",
     feed(one("DTSTART:notadate", "DTEND:20260310T100000Z")), None,
     r"^the calendar could not be read \(.*notadate.*\)$"),
    ("DTEND:notadate",
     feed(one("DTSTART:20260310T090000Z", "DTEND:notadate")), None,
     r"^the calendar could not be read \(.*notadate.*\)$"),
    ("DURATION:soon",
     feed(one("DTSTART:20260310T090000Z", "DURATION:soon")), None,
     r"^the calendar could not be read \(.*soon.*\)$"),
    ("RRULE:FREQ=FORTNIGHTLY",
     feed(FINE + "\nRRULE:FREQ=FORTNIGHTLY"), None,
     r"^the calendar could not be read \(.*FORTNIGHTLY.*\)$"),
    ("EXDATE:tomorrow",
     feed(FINE + "\nRRULE:FREQ=DAILY\nEXDATE:tomorrow"), None,
     r"^the calendar could not be read \(.*tomorrow.*\)$"),
    ("RECURRENCE-ID:later",
     feed(FINE, FINE + "\nRECURRENCE-ID:later"), None,
     r"^the calendar could not be read \(.*'RECURRENCE-ID'.*\)$"),
]
# fmt: on


@both_paths
@pytest.mark.parametrize("case", ERROR_CASES, ids=[case[0] for case in ERROR_CASES])
def test_unusable_feeds_raise_calendar_error(case: ErrorCase, prune: bool) -> None:
    _, ics, limits, message = case
    with pytest.raises(CalendarError, match=message) as caught:
        busy_intervals(
            ics,
            first_day=date(2026, 3, 10),
            last_day=date(2026, 3, 10),
            tz=ZoneInfo("Europe/Berlin"),
            limits=limits,
            prune=prune,
        )
    assert isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value)


def test_a_real_50_megabyte_feed_is_refused_before_reading_it() -> None:
    head = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
    tail = b"END:VCALENDAR\r\n"
    ics = head + b"X-PADDING:" + b"x" * (50_000_000 - len(head) - len(tail) - 12) + b"\r\n" + tail
    assert len(ics) == 50_000_000
    with pytest.raises(
        CalendarError, match=r"^the calendar is too big \(50\.0 MB; the limit is 5\.0 MB\)$"
    ):
        busy_intervals(
            ics, first_day=date(2026, 3, 10), last_day=date(2026, 3, 10), tz=ZoneInfo("UTC")
        )


def test_last_day_before_first_day() -> None:
    with pytest.raises(CalendarError, match=r"^the last day comes before the first day$"):
        busy_intervals(
            feed(FINE), first_day=date(2026, 3, 10), last_day=date(2026, 3, 9), tz=ZoneInfo("UTC")
        )
