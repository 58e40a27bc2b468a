"""Pruning must never change the answer: ``prune=True`` and ``prune=False`` agree exactly.

The property test draws whole calendars shaped like real exports (years of single events,
daily and weekly series with exclusions and overrides, several ways of writing times, time
zone definitions in odd places) and compares both paths on random windows, zones and emails.
The fixture test does the same for every hand-written feed in tests/fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nudges.calendar import CalendarError, busy_intervals
from nudges.clock import BusyInterval

FIXTURES = Path(__file__).parent.parent / "fixtures"

PERSON = "sam@example.com"
PERSON_SPELLINGS = ("sam@example.com", "Sam@Example.com", "SAM@EXAMPLE.COM")
PERSON_ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "UTC",
    "Asia/Kolkata",
    "Pacific/Auckland",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Australia/Lord_Howe",
)
# Days on which some of the zones above change their clocks, and a few plain ones.
WINDOW_DAYS = (
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 4, 5),
    date(2026, 9, 27),
    date(2026, 10, 25),
    date(2026, 11, 1),
    date(2025, 12, 31),
    date(2027, 2, 28),
)
CUSTOM_ZONE = "Customized Time Zone"
# The TZIDs events use: IANA names, Windows names, one defined only by a VTIMEZONE in the
# feed (Australian-style rules, so no person's zone matches it) and one nobody defines.
TZIDS = (
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "W. Europe Standard Time",
    "Pacific Standard Time",
    CUSTOM_ZONE,
    "Unknown/Nowhere",
)
CUSTOM_VTIMEZONE = (
    "BEGIN:VTIMEZONE",
    f"TZID:{CUSTOM_ZONE}",
    "BEGIN:STANDARD",
    "DTSTART:16010101T030000",
    "TZOFFSETFROM:+1100",
    "TZOFFSETTO:+1000",
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=4",
    "END:STANDARD",
    "BEGIN:DAYLIGHT",
    "DTSTART:16010101T020000",
    "TZOFFSETFROM:+1000",
    "TZOFFSETTO:+1100",
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=10",
    "END:DAYLIGHT",
    "END:VTIMEZONE",
)
BERLIN_VTIMEZONE = (
    "BEGIN:VTIMEZONE",
    "TZID:Europe/Berlin",
    "X-LIC-LOCATION:Europe/Berlin",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "TZNAME:CEST",
    "DTSTART:19700329T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "TZNAME:CET",
    "DTSTART:19701025T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
)
# Free text that looks like iCalendar syntax: it must stay text on both paths.
TRICKY_TEXT = (
    "Agenda",
    "Paste: BEGIN:VEVENT DTSTART:20260101T000000Z END:VEVENT",
    "Do not use RRULE:FREQ=MINUTELY here",
    "Notes\\nBEGIN:VALARM\\nline two; with: colons",
)
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
STEP = {"DAILY": timedelta(days=1), "WEEKLY": timedelta(weeks=1), "MONTHLY": timedelta(days=30)}


@dataclass(frozen=True)
class Case:
    """One drawn feed and the question asked of it."""

    ics: bytes
    first_day: date
    last_day: date
    tz: str
    email: str | None


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y%m%dT%H%M%S}"


def _prop(name: str, moment: datetime, kind: str) -> str:
    """``name`` with a DATE, UTC, floating or ``tz:<TZID>`` value."""
    if kind == "date":
        return f"{name};VALUE=DATE:{moment:%Y%m%d}"
    if kind == "utc":
        return f"{name}:{_stamp(moment)}Z"
    if kind == "floating":
        return f"{name}:{_stamp(moment)}"
    return f"{name};TZID={kind[3:]}:{_stamp(moment)}"


def _list_prop(name: str, moments: list[datetime], kind: str) -> str:
    if kind == "date":
        return f"{name};VALUE=DATE:" + ",".join(f"{m:%Y%m%d}" for m in moments)
    if kind == "utc":
        return f"{name}:" + ",".join(f"{_stamp(m)}Z" for m in moments)
    if kind == "floating":
        return f"{name}:" + ",".join(_stamp(m) for m in moments)
    return f"{name};TZID={kind[3:]}:" + ",".join(_stamp(m) for m in moments)


def _duration(length: timedelta) -> str:
    if length and length % timedelta(weeks=1) == timedelta(0):
        return f"P{length // timedelta(weeks=1)}W"
    days, rest = length.days, length.seconds
    text = f"P{days}D" if days else "P"
    if rest or not days:
        hours, minutes = divmod(rest // 60, 60)
        text += (
            "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes or not hours else "")
        )
    return text


def _fold(line: str) -> str:
    """Fold at 75 characters the way exporters do (RFC 5545 §3.1)."""
    if len(line) <= 75:
        return line
    parts = [line[:75]]
    rest = line[75:]
    while rest:
        parts.append(" " + rest[:74])
        rest = rest[74:]
    return "\r\n".join(parts)


kinds = st.sampled_from(("utc", "floating", "date", *(f"tz:{z}" for z in TZIDS)))
timed_kinds = st.sampled_from(("utc", "floating", *(f"tz:{z}" for z in TZIDS)))
# Most events sit near the window, many are years in the past, a few in the future.
day_offsets = st.one_of(st.integers(-6, 9), st.integers(-1500, 400))
lengths = st.one_of(
    st.integers(0, 12).map(lambda n: timedelta(minutes=15 * n)),
    st.integers(13, 110).map(lambda n: timedelta(hours=n)),  # multi-day timed events
)


@st.composite
def moments(draw: st.DrawFn, base: datetime) -> datetime:
    day = base + timedelta(days=draw(day_offsets))
    return day.replace(hour=draw(st.integers(0, 23)), minute=draw(st.sampled_from((0, 30, 45))))


@st.composite
def busy_flags(draw: st.DrawFn) -> list[str]:
    """STATUS, TRANSP, attendees, free text: everything that is not a time."""
    lines: list[str] = []
    status = draw(
        st.sampled_from((None, None, None, "CONFIRMED", "TENTATIVE", "CANCELLED", "cancelled"))
    )
    if status:
        lines.append(f"STATUS:{status}")
    transp = draw(st.sampled_from((None, None, "OPAQUE", "TRANSPARENT")))
    if transp:
        lines.append(f"TRANSP:{transp}")
    for _ in range(draw(st.integers(0, 2))):
        who = draw(st.sampled_from((*PERSON_SPELLINGS, "alex@example.com", "sam@example.org")))
        partstat = draw(st.sampled_from(("ACCEPTED", "DECLINED", "NEEDS-ACTION", "TENTATIVE")))
        lines.append(f'ATTENDEE;CN="Someone, Else";PARTSTAT={partstat};RSVP=TRUE:mailto:{who}')
    if draw(st.booleans()):
        lines.append(f"SUMMARY:{draw(st.sampled_from(TRICKY_TEXT))}")
    if draw(st.booleans()):
        lines.append(f"DESCRIPTION:{draw(st.sampled_from(TRICKY_TEXT)) * draw(st.integers(1, 4))}")
    return lines


@st.composite
def end_lines(draw: st.DrawFn, start: datetime, kind: str) -> list[str]:
    """DTEND (sometimes in another zone), DURATION, or nothing at all."""
    style = draw(st.sampled_from(("dtend", "dtend", "duration", "none")))
    length = timedelta(days=draw(st.integers(1, 4))) if kind == "date" else draw(lengths)
    if style == "dtend":
        end_kind = kind if kind == "date" or draw(st.integers(0, 4)) else draw(timed_kinds)
        return [_prop("DTEND", start + length, end_kind)]
    if style == "duration":
        return [f"DURATION:{_duration(length)}"]
    return []


def _alarm(uid: str) -> list[str]:
    return [
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "DESCRIPTION:Reminder",
        "TRIGGER:-PT15M",
        "DURATION:P3D",
        "REPEAT:1",
        f"UID:{uid}-alarm",
        "X-WR-ALARMUID:alarm",
        "END:VALARM",
    ]


def _event(uid: str, lines: list[str], *, alarm: bool, alarm_first: bool = False) -> list[str]:
    if alarm and alarm_first:  # outside RFC 5545's order, but parsers accept it
        return ["BEGIN:VEVENT", *_alarm(uid), f"UID:{uid}", *lines, "END:VEVENT"]
    return ["BEGIN:VEVENT", f"UID:{uid}", *lines, *(_alarm(uid) if alarm else []), "END:VEVENT"]


def _lower_name(line: str) -> str:
    """``dtstart;TZID=...`` for ``DTSTART;TZID=...``: names are case-insensitive."""
    cut = min((i for i in (line.find(";"), line.find(":")) if i != -1), default=len(line))
    return line[:cut].lower() + line[cut:]


@st.composite
def single_events(draw: st.DrawFn, uid: str, base: datetime) -> list[list[str]]:
    kind = draw(kinds)
    start = draw(moments(base))
    lines = [_prop("DTSTART", start, kind), *draw(end_lines(start, kind)), *draw(busy_flags())]
    if draw(st.integers(0, 5)) == 0:
        lines.append(f"SEQUENCE:{draw(st.integers(0, 3))}")
    return [_event(uid, lines, alarm=draw(st.booleans()))]


@st.composite
def rules(draw: st.DrawFn, start: datetime, kind: str) -> tuple[str, timedelta]:
    """An RRULE value, and how far apart its repeats are (roughly, for MONTHLY)."""
    freq = draw(st.sampled_from(("DAILY", "WEEKLY", "WEEKLY", "MONTHLY")))
    interval = draw(st.integers(1, 3))
    rule = [f"FREQ={freq}"]
    if interval > 1 or draw(st.booleans()):
        rule.append(f"INTERVAL={interval}")
    if freq != "MONTHLY" and draw(st.booleans()):
        days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=4, unique=True))
        rule.append("BYDAY=" + ",".join(days))
    if draw(st.integers(0, 4)) == 0:
        rule.append("WKST=SU")
    bound = draw(st.sampled_from(("none", "none", "count", "until")))
    if bound == "count":
        rule.append(f"COUNT={draw(st.integers(1, 40))}")
    elif bound == "until":
        until = start + timedelta(days=draw(st.integers(0, 2000)))
        # RFC 5545: UNTIL is a date for dates, floating for floating times, else UTC.
        formats = {"date": f"{until:%Y%m%d}", "floating": _stamp(until)}
        rule.append("UNTIL=" + formats.get(kind, f"{_stamp(until)}Z"))
    return ";".join(rule), STEP[freq] * interval


@st.composite
def override_events(
    draw: st.DrawFn,
    uid: str,
    *,
    base: datetime,
    kind: str,
    rule: str,
    recurrence: datetime,
    excluded: datetime,
) -> list[str]:
    """An override of the occurrence at ``recurrence``, kept, nudged, or moved near or far."""
    where = draw(st.sampled_from(("same", "shifted", "into", "away")))
    moved = {
        "same": recurrence,
        "shifted": recurrence + timedelta(hours=draw(st.integers(-30, 30))),
        "into": draw(moments(base)),
        "away": recurrence + timedelta(days=draw(st.integers(-900, 900))),
    }[where]
    moved_kind = kind if kind == "date" or draw(st.integers(0, 3)) else draw(timed_kinds)
    rid = _prop("RECURRENCE-ID", recurrence, kind)
    if draw(st.integers(0, 3)) == 0:
        rid = rid.replace("RECURRENCE-ID", "RECURRENCE-ID;RANGE=THISANDFUTURE", 1)
    override = [rid, _prop("DTSTART", moved, moved_kind), *draw(end_lines(moved, moved_kind))]
    if draw(st.booleans()):
        override.append(f"SEQUENCE:{draw(st.integers(0, 3))}")
    if draw(st.integers(0, 6)) == 0:  # some clients repeat the rule in an override
        override.append(f"RRULE:{rule}")
    if draw(st.integers(0, 6)) == 0:
        override.append(_list_prop("EXDATE", [excluded], kind))
    override.extend(draw(busy_flags()))
    return _event(uid, override, alarm=draw(st.booleans()))


@st.composite
def series_events(draw: st.DrawFn, uid: str, base: datetime) -> list[list[str]]:
    """A daily, weekly or monthly series with its exclusions, extra dates and overrides."""
    kind = draw(kinds)
    start = draw(moments(base))
    if draw(st.booleans()):  # long-running series are the ones pruning rebases
        start -= timedelta(days=draw(st.integers(30, 1500)))
    rule, step = draw(rules(start, kind))
    near = max(0, (base - start) // step)  # the repeat closest to the window
    repeats = st.one_of(st.integers(max(0, near - 4), near + 4), st.integers(0, near + 20))

    lines = [_prop("DTSTART", start, kind), *draw(end_lines(start, kind)), f"RRULE:{rule}"]
    exdates = [start + step * k for k in draw(st.lists(repeats, max_size=4))]
    if exdates:
        lines.append(_list_prop("EXDATE", exdates, kind))
    rdates = draw(st.lists(moments(base), max_size=2)) if draw(st.integers(0, 2)) == 0 else []
    if rdates:
        lines.append(_list_prop("RDATE", rdates, kind))
    if kind == "utc" and draw(st.integers(0, 5)) == 0:
        period_start = draw(moments(base))
        period_end = period_start + draw(lengths)
        lines.append(f"RDATE;VALUE=PERIOD:{_stamp(period_start)}Z/{_stamp(period_end)}Z")
    if draw(st.integers(0, 4)) == 0:
        lines.append(f"SEQUENCE:{draw(st.integers(0, 3))}")
    lines.extend(draw(busy_flags()))
    alarm_first = draw(st.integers(0, 9)) == 0
    events = [_event(uid, lines, alarm=draw(st.booleans()), alarm_first=alarm_first)]
    for _ in range(draw(st.integers(0, 3))):
        # Often the very occurrence an EXDATE removes (the exclusion must still hide it), or
        # one an RDATE adds.
        named = draw(st.sampled_from(("repeat", "excluded", "added")))
        if named == "excluded" and exdates:
            recurrence = draw(st.sampled_from(exdates))
        elif named == "added" and rdates:
            recurrence = draw(st.sampled_from(rdates))
        else:
            recurrence = start + step * draw(repeats)
        override = override_events(
            uid,
            base=base,
            kind=kind,
            rule=rule,
            recurrence=recurrence,
            excluded=start + step * draw(repeats),
        )
        events.append(draw(override))
    return events


@st.composite
def cases(draw: st.DrawFn) -> Case:
    first_day = draw(
        st.one_of(st.sampled_from(WINDOW_DAYS), st.dates(date(2024, 1, 1), date(2027, 12, 31)))
    )
    last_day = first_day + timedelta(days=draw(st.integers(0, 4)))
    base = datetime.combine(first_day, datetime.min.time())

    events: list[list[str]] = []
    uids: list[str] = []
    for n in range(draw(st.integers(1, 8))):
        uid = f"event-{n}@example.com"
        if uids and draw(st.integers(0, 9)) == 0:
            uid = draw(st.sampled_from(uids))  # a UID used twice (an exporter's copy)
        uids.append(uid)
        make = series_events if draw(st.booleans()) else single_events
        events.extend(draw(make(uid, base)))
    events = draw(st.permutations(events))

    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Baseline tests//Prune//EN"]
    if draw(st.integers(0, 3)) == 0:
        head.append(f"X-WR-TIMEZONE:{draw(st.sampled_from(('Europe/Berlin', 'Asia/Tokyo')))}")
    if draw(st.booleans()):
        head.extend(BERLIN_VTIMEZONE)
    body = [line for event in events for line in event]
    place = draw(st.sampled_from(("head", "middle", "end", "none")))
    if place == "head":
        head.extend(CUSTOM_VTIMEZONE)
    elif place == "middle":
        ends = [i for i, line in enumerate(body) if line == "END:VEVENT"]
        at = draw(st.sampled_from(ends)) + 1
        body[at:at] = CUSTOM_VTIMEZONE
    elif place == "end":
        body.extend(CUSTOM_VTIMEZONE)
    if draw(st.integers(0, 4)) == 0:
        lowered = draw(st.sets(st.integers(0, len(body) - 1), max_size=6))
        body = [_lower_name(line) if i in lowered else line for i, line in enumerate(body)]
    lines = [*head, *body, "END:VCALENDAR"]
    if draw(st.booleans()):
        lines = [_fold(line) for line in lines]
    newline = draw(st.sampled_from(("\r\n", "\n")))
    text = newline.join(lines).replace("\r\n", newline) + newline
    return Case(
        ics=text.encode(),
        first_day=first_day,
        last_day=last_day,
        tz=draw(st.sampled_from(PERSON_ZONES)),
        email=draw(st.sampled_from((None, *PERSON_SPELLINGS, " sam@example.com "))),
    )


def _both(
    ics: bytes, first_day: date, last_day: date, tz: str, email: str | None
) -> tuple[list[BusyInterval] | str, list[BusyInterval] | str]:
    """Both paths' answers; a CalendarError counts as its message."""
    answers: list[list[BusyInterval] | str] = []
    for prune in (True, False):
        try:
            answers.append(
                busy_intervals(
                    ics,
                    first_day=first_day,
                    last_day=last_day,
                    tz=ZoneInfo(tz),
                    email=email,
                    prune=prune,
                )
            )
        except CalendarError as exc:
            answers.append(f"CalendarError: {exc}")
    return answers[0], answers[1]


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cases())
def test_pruning_never_changes_the_answer(case: Case) -> None:
    pruned, full = _both(case.ics, case.first_day, case.last_day, case.tz, case.email)
    assert pruned == full


def _fixture_files() -> list[Path]:
    return sorted(FIXTURES.glob("*.ics"))


def test_there_are_fixtures_to_compare() -> None:
    assert len(_fixture_files()) >= 3


@pytest.mark.parametrize("path", _fixture_files(), ids=lambda p: p.name)
@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_pruning_agrees_on_every_fixture(path: Path, tz: str) -> None:
    """Every day from late February to early November 2026, in four-day windows."""
    ics = path.read_bytes()
    day, windows = date(2026, 2, 23), 0
    while day <= date(2026, 11, 8):
        email = PERSON if windows % 2 else None
        pruned, full = _both(ics, day, day + timedelta(days=3), tz, email)
        assert pruned == full, (path.name, day, email)
        assert not isinstance(full, str), full
        day += timedelta(days=4)
        windows += 1
    assert windows == 65
