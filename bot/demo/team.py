"""The demo's sample team: five people in three time zones, each with a calendar written for
the demo's days (back-to-back chains, a heavy day, a gap-less morning, long meetings), as
the ICS feeds their calendar apps would publish.

Pure data and text: the feed server (:mod:`bot.demo.feeds`) serves what :func:`calendar_ics`
writes, so the bot reads these calendars through its real sync path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TEAM_ID = "T0DEMO"
TEAM_DOMAIN = "baseline-demo"
TEAM_CHANNEL = "C0DEMOTEAM"
TEAM_CHANNEL_NAME = "team"
# The team's office: the demo's clock and --until are read in this zone.
HOME_ZONE = ZoneInfo("Europe/Berlin")
# The demo starts here on its day, in HOME_ZONE: before anyone's first meeting.
START_AT = time(8, 30)
# Other weekdays' calendars reach this far around the demo's day, so `/baseline week` and the
# weekly reflection have a week (and some history) to talk about.
DAYS_BEFORE = 14
DAYS_AFTER = 7


@dataclass(frozen=True)
class Meeting:
    """One event in a person's calendar, in their own zone."""

    start: time
    end: time
    title: str
    daily: bool = False  # a recurring event (RRULE), every weekday
    declined: bool = False  # an invitation the person declined: not busy
    free: bool = False  # marked "free" (TRANSP:TRANSPARENT): not busy

    @property
    def busy(self) -> bool:
        return not (self.declined or self.free)


@dataclass(frozen=True)
class CalendarChange:
    """Meetings that appear in a person's calendar at ``at`` (their local time) on the demo
    day: the sync reads them on its next pass and re-plans."""

    at: time
    added: tuple[Meeting, ...]
    note: str


@dataclass(frozen=True)
class Person:
    name: str
    user_id: str
    tz: ZoneInfo
    city: str
    about: str  # what kind of day they have, in a few words
    day: tuple[Meeting, ...]  # the demo day's calendar
    # Extra `/baseline …` commands sent after connecting the calendar ({weekday} is the demo
    # day's three-letter name).
    setup: tuple[str, ...] = ()
    # Slack's Do Not Disturb on the demo day (local times), as dnd.info reports it.
    dnd: tuple[time, time] | None = None
    changes: tuple[CalendarChange, ...] = ()
    lead: bool = False
    first_name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "first_name", self.name.split()[0])

    @property
    def email(self) -> str:
        return f"{self.first_name.lower()}@example.com"

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)


def _m(start: str, end: str, title: str, **flags: bool) -> Meeting:
    return Meeting(time.fromisoformat(start), time.fromisoformat(end), title, **flags)


BERLIN = ZoneInfo("Europe/Berlin")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")

SAMPLE_TEAM: tuple[Person, ...] = (
    Person(
        name="Maya Hoffmann",
        user_id="U0DEMOMAYA",
        tz=BERLIN,
        city="Berlin",
        about="team lead, a heavy day of back-to-back chains",
        lead=True,
        day=(
            _m("09:30", "09:45", "Team standup", daily=True),
            _m("09:45", "10:30", "1:1 with Jonas"),
            _m("10:30", "11:00", "Hiring sync"),
            _m("11:05", "12:00", "Roadmap review"),
            _m("13:00", "13:45", "Customer call"),
            _m("13:50", "14:30", "Design critique"),
            _m("14:30", "15:00", "Budget check-in"),
            _m("15:30", "17:00", "Quarterly planning"),
            _m("17:00", "17:30", "Planning wrap-up"),
        ),
        setup=("reflection {weekday} 17:45",),
    ),
    Person(
        name="Jonas Weber",
        user_id="U0DEMOJONAS",
        tz=BERLIN,
        city="Berlin",
        about="a gap-less morning, a quieter afternoon",
        day=(
            _m("09:00", "09:30", "Incident review"),
            _m("09:30", "10:30", "Architecture session"),
            _m("10:30", "11:00", "Vendor call"),
            _m("11:00", "12:00", "Sprint planning"),
            _m("14:00", "14:30", "1:1 with Maya"),
            _m("15:00", "16:00", "All-hands", declined=True),
            _m("16:30", "17:15", "Focus time", free=True),
        ),
        setup=("hours 08:30-17:00",),
    ),
    Person(
        name="Sam Okafor",
        user_id="U0DEMOSAM",
        tz=LONDON,
        city="London",
        about="two long workshops",
        day=(
            _m("09:30", "11:30", "Research workshop"),
            _m("11:30", "12:00", "Workshop follow-up"),
            _m("13:30", "15:30", "Customer interviews"),
            _m("15:30", "16:00", "Debrief"),
            _m("16:00", "16:45", "Hiring panel"),
        ),
        setup=("quiet 12:15-13:15",),
        dnd=(time(16, 40), time(17, 30)),
    ),
    Person(
        name="Ines Duarte",
        user_id="U0DEMOINES",
        tz=LONDON,
        city="London",
        about="short back-to-back calls; her afternoon fills up at noon",
        day=(
            _m("10:00", "10:25", "Support escalation"),
            _m("10:25", "10:55", "Partner check-in"),
            _m("11:30", "12:00", "Docs review"),
            _m("14:00", "14:30", "Onboarding call"),
            _m("14:30", "15:00", "Onboarding call"),
            _m("15:00", "15:30", "Team retro"),
            _m("16:00", "16:20", "Quick sync"),
        ),
        changes=(
            CalendarChange(
                at=time(12, 10),
                added=(
                    _m("13:00", "13:30", "Escalation follow-up"),
                    _m("13:30", "14:00", "Contract questions"),
                ),
                note="accepts two new calls right before her afternoon block",
            ),
        ),
    ),
    Person(
        name="Leo Martins",
        user_id="U0DEMOLEO",
        tz=NEW_YORK,
        city="New York",
        about="an early call with Europe, then a packed morning",
        day=(
            _m("08:30", "09:00", "Europe sync", daily=True),
            _m("09:00", "09:45", "Sales pipeline"),
            _m("09:45", "10:30", "Pricing review"),
            _m("10:30", "11:15", "Customer demo"),
            _m("11:20", "12:00", "Deal desk"),
            _m("13:00", "14:00", "Lunch and learn"),
        ),
        setup=("hours 08:00-16:30",),
    ),
)


def demo_day(today: date) -> date:
    """The next weekday after ``today``: the demo plays a working day still to come, so
    nothing it stores is already in the past."""
    day = today + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """``clock`` on ``day`` in ``tz``, as an aware UTC datetime."""
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def meetings_on(person: Person, day: date, *, demo: date, now: datetime) -> list[Meeting]:
    """What the person's calendar holds on ``day`` as of ``now`` (in every kind: busy, free,
    declined). The demo day has everything; other weekdays are a lighter, varying part of it."""
    if day.weekday() >= 5:
        return []
    if day == demo:
        added = [
            meeting
            for change in person.changes
            if now >= at(day, change.at, person.tz)
            for meeting in change.added
        ]
        return sorted([*person.day, *added], key=lambda m: m.start)
    offset = (day - demo).days
    return [m for index, m in enumerate(person.day) if m.daily or (index + offset) % 3 != 0]


def busy_spans(person: Person, day: date, *, now: datetime) -> list[tuple[datetime, datetime]]:
    """The demo day's busy time as the bot should see it (UTC): declined and free events
    are not busy."""
    return [
        (at(day, m.start, person.tz), at(day, m.end, person.tz))
        for m in meetings_on(person, day, demo=day, now=now)
        if m.busy
    ]


def calendar_ics(person: Person, demo: date, *, now: datetime) -> bytes:
    """The person's calendar feed as of ``now``: a daily event as one recurring VEVENT, the
    rest as single events, times in UTC, titles and attendees included as real feeds have
    them (Baseline drops them before parsing)."""
    first = demo - timedelta(days=DAYS_BEFORE)
    last = demo + timedelta(days=DAYS_AFTER)
    # Fixed, so an unchanged calendar is byte for byte the same (the sync skips it by hash).
    stamp = f"{first:%Y%m%d}T120000Z"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Baseline demo//Sample team//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{person.email}",
        f"X-WR-TIMEZONE:{person.tz.key}",
    ]
    for meeting in person.day:
        if meeting.daily:
            # The first occurrence's UTC time is the demo day's, moved back by whole days:
            # a UTC rule keeps the demo day at the right local time whatever DST did before.
            start = at(demo, meeting.start, person.tz) - (demo - first)
            end = at(demo, meeting.end, person.tz) - (demo - first)
            until = at(last, time(23, 59), person.tz)
            lines += _event(
                person,
                meeting,
                uid=f"daily-{_slug(meeting.title)}",
                start=start,
                end=end,
                stamp=stamp,
                rule=f"FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;UNTIL={until:%Y%m%dT%H%M%SZ}",
            )
    for day in _days(first, last):
        for index, meeting in enumerate(meetings_on(person, day, demo=demo, now=now)):
            if meeting.daily:
                continue
            lines += _event(
                person,
                meeting,
                uid=f"{day.isoformat()}-{index}-{_slug(meeting.title)}",
                start=at(day, meeting.start, person.tz),
                end=at(day, meeting.end, person.tz),
                stamp=stamp,
            )
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _event(
    person: Person,
    meeting: Meeting,
    *,
    uid: str,
    start: datetime,
    end: datetime,
    stamp: str,
    rule: str | None = None,
) -> Sequence[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}-{person.user_id.lower()}@demo.baseline.invalid",
        f"DTSTAMP:{stamp}",
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
        f"DTEND:{end:%Y%m%dT%H%M%SZ}",
        f"SUMMARY:{meeting.title}",
    ]
    if rule is not None:
        lines.append(f"RRULE:{rule}")
    if meeting.free:
        lines.append("TRANSP:TRANSPARENT")
    partstat = "DECLINED" if meeting.declined else "ACCEPTED"
    lines.append(f"ATTENDEE;CN={person.first_name};PARTSTAT={partstat}:mailto:{person.email}")
    lines.append("END:VEVENT")
    return lines


def _slug(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower())


def find_person(team: Sequence[Person], name: str) -> Person | None:
    """By first name, full name or user id, in any case."""
    wanted = name.strip().lower()
    for person in team:
        if wanted in (person.first_name.lower(), person.name.lower(), person.user_id.lower()):
            return person
    return None
