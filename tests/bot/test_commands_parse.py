"""What people type after /baseline and /feel, read into commands: table tests with a fixed
``now`` in Berlin and New York (across DST changes), and properties of mask_url."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.commands import (
    MAX_PAUSE,
    BaselineCommand,
    CommandError,
    FeelLog,
    Help,
    Pause,
    PrivacyView,
    SetCalendar,
    SetHours,
    SetQuiet,
    SetReflection,
    Simple,
    TeamView,
    WindowAdd,
    WindowDm,
    WindowList,
    WindowRemove,
    mask_url,
    parse_baseline,
    parse_feel,
    parse_pause,
)
from nudges.clock import ClockRange, Weekdays
from nudges.feelings import MAX_NOTE
from nudges.preferences import ReflectionTime

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# Monday 23 Nov 2026, 08:30 in Berlin (CET, +1), 02:30 in New York (EST, -5).
MONDAY = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, tz: ZoneInfo) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz).astimezone(UTC)


def clock_range(start: time, end: time) -> ClockRange:
    return ClockRange(start=start, end=end)


# --- /baseline: every subcommand -------------------------------------------------------------

URL = "https://calendar.example.com/ical/a%40b/private-0123456789abcdef/basic.ics"

BASELINE_CASES: list[tuple[str, BaselineCommand]] = [
    ("", Help()),
    ("   ", Help()),
    ("help", Help()),
    ("?", Help()),
    ("HELP me", Help()),
    *((name, Simple(name)) for name in ("on", "off", "resume", "week", "export", "forget")),
    ("status", Simple("status")),
    ("  ON  ", Simple("on")),
    ("window", WindowList()),
    ("window list", WindowList()),
    (
        "window add wed 14:00-14:30",
        WindowAdd(
            days=Weekdays(days=frozenset({2})), hours=ClockRange.parse("14:00-14:30"), name=None
        ),
    ),
    (
        "window add mon-fri 12:30-13:00 Lunch, really",
        WindowAdd(
            days=Weekdays(days=frozenset(range(5))),
            hours=ClockRange.parse("12:30-13:00"),
            name="Lunch, really",
        ),
    ),
    (
        "window add daily 16:45-17:00",
        WindowAdd(
            days=Weekdays(days=frozenset(range(7))),
            hours=ClockRange.parse("16:45-17:00"),
            name=None,
        ),
    ),
    ("window remove 2", WindowRemove(2)),
    ("window dm on", WindowDm(on=True)),
    ("window dm OFF", WindowDm(on=False)),
    ("team anything at all", TeamView()),
    ("privacy", PrivacyView()),
    (f"calendar {URL}", SetCalendar(URL)),
    (f"calendar <{URL}>", SetCalendar(URL)),
    ("calendar http://intranet.example/cal.ics", SetCalendar("http://intranet.example/cal.ics")),
    ("calendar webcal://p01.example.com/x.ics", SetCalendar("https://p01.example.com/x.ics")),
    ("calendar WEBCAL://p01.example.com/x.ics", SetCalendar("https://p01.example.com/x.ics")),
    # Slack escapes & < > in command text, and may send a link as <url|label>.
    (
        "calendar https://cal.example.com/ics?user=7&amp;key=s3cr3t",
        SetCalendar("https://cal.example.com/ics?user=7&key=s3cr3t"),
    ),
    (
        "calendar <https://cal.example.com/a.ics|cal.example.com/a.ics>",
        SetCalendar("https://cal.example.com/a.ics"),
    ),
    ("calendar off", SetCalendar(None)),
    ("calendar Disconnect", SetCalendar(None)),
    ("calendar remove", SetCalendar(None)),
    (
        "hours 9-17:30 mon-fri",
        SetHours(hours=clock_range(time(9), time(17, 30)), days=Weekdays(days=frozenset(range(5)))),
    ),
    ("hours 09:00-17:30", SetHours(hours=clock_range(time(9), time(17, 30)), days=None)),
    (
        "hours 0800–1600 mon,wed,fri",
        SetHours(hours=clock_range(time(8), time(16)), days=Weekdays(days=frozenset({0, 2, 4}))),
    ),
    (
        "hours 22-06 sun-thu",
        SetHours(
            hours=clock_range(time(22), time(6)), days=Weekdays(days=frozenset({6, 0, 1, 2, 3}))
        ),
    ),
    ("quiet 18:00-08:00", SetQuiet(clock_range(time(18), time(8)))),
    ("quiet 12-13", SetQuiet(clock_range(time(12), time(13)))),
    ("quiet off", SetQuiet(None)),
    ("quiet NONE", SetQuiet(None)),
    ("pause 2h", Pause(MONDAY + timedelta(hours=2))),
    ("pause until tomorrow", Pause(utc("2026-11-23 23:00"))),
    ("reflection fri 16:00", SetReflection(ReflectionTime(weekday=4, at=time(16)))),
    ("reflection Friday 16:30", SetReflection(ReflectionTime(weekday=4, at=time(16, 30)))),
    ("reflection mon 9", SetReflection(ReflectionTime(weekday=0, at=time(9)))),
    ("reflection thurs 0815", SetReflection(ReflectionTime(weekday=3, at=time(8, 15)))),
    ("reflection weds 12:00", SetReflection(ReflectionTime(weekday=2, at=time(12)))),
    ("reflection SUN 24:00", SetReflection(ReflectionTime(weekday=6, at=time(23, 59)))),
    ("reflection off", SetReflection(None)),
    ("reflection none", SetReflection(None)),
    # Unknown words: the closest subcommand, or none.
    ("pasue", Help(suggestion="pause")),
    ("calender https://x.example.com/a.ics", Help(suggestion="calendar")),
    ("hour 9-17", Help(suggestion="hours")),
    ("exprot", Help(suggestion="export")),
    ("stauts", Help(suggestion="status")),
    ("windows", Help(suggestion="window")),
    ("xyz", Help(suggestion=None)),
    ("banana", Help(suggestion=None)),
]


@pytest.mark.parametrize(("text", "expected"), BASELINE_CASES)
def test_baseline_subcommands(text: str, expected: BaselineCommand) -> None:
    assert parse_baseline(text, tz=BERLIN, now=MONDAY) == expected


BASELINE_ERRORS = [
    ("window add", "say the days and the time"),
    ("window add wed", "say the days and the time"),
    ("window add someday 14:00-14:30", "is not a day or a list of days"),
    ("window add wed 14-14", "is not a time range"),
    ("window add wed 23:00-01:00", "has to end on the day it starts"),
    ("window add wed 14:00-14:30 " + "x" * 61, "under 60 characters"),
    ("window remove", "is not something I understand"),
    ("window remove zero", "by its number"),
    ("window remove 0", "by its number"),
    ("window dm maybe", "is not something I understand"),
    ("on now", "takes nothing after it"),
    ("forget everything", "takes nothing after it"),
    ("calendar", "paste your calendar's secret iCal address"),
    ("calendar <>", "paste your calendar's secret iCal address"),
    ("calendar ftp://x", "not a web address"),
    ("calendar ftp://files.example.com/cal.ics", "not a web address"),
    ("calendar calendar.example.com/x.ics", "not a web address"),
    ("calendar https://", "not a web address"),
    ("calendar https:///no-host.ics", "not a web address"),
    ("calendar https://[oops/cal.ics", "not a web address"),
    ("calendar javascript:alert(1)", "not a web address"),
    ("calendar https://a.example.com/x y", "does not look like a calendar link"),
    ("calendar https://a.example.com/" + "x" * 2000, "does not look like a calendar link"),
    ("hours", "say your working hours"),
    ("hours 9-17 mon-fri extra", "say your working hours"),
    ("hours 9-9", "is not a time range"),
    ("hours 25-26", "is not a time range"),
    ("hours 9:60-17", "is not a time range"),
    ("hours nine-five", "is not a time range"),
    ("hours 9-17:30 funday", "is not a list of days"),
    ("quiet", "is not a time range"),
    ("quiet 18:00", "is not a time range"),
    ("pause", "say how long"),
    ("pause forever", "is not a pause I understand"),
    ("reflection", "say a day and time"),
    ("reflection fri", "say a day and time"),
    ("reflection funday 16:00", "say a day and time"),
    ("reflection frisbee 16:00", "say a day and time"),
    ("reflection fr 16:00", "say a day and time"),
    ("reflection 16:00 fri", "say a day and time"),
    ("reflection fri 25:00", "is not a time like 16:00"),
    ("reflection fri 16:00 weekly", "say a day and time"),
]


@pytest.mark.parametrize(("text", "message"), BASELINE_ERRORS)
def test_baseline_mistakes_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse_baseline(text, tz=BERLIN, now=MONDAY)


@given(st.text(max_size=60))
@example("calendar https://[::1")
@example("pause until 0001-01-01")
@example("hours 9-17:30 " + "m" * 50)
def test_baseline_text_is_a_command_or_a_command_error(text: str) -> None:
    for subcommand in (
        "",
        "calendar ",
        "hours ",
        "quiet ",
        "pause ",
        "pause until ",
        "reflection ",
    ):
        with contextlib.suppress(CommandError):
            parse_baseline(subcommand + text, tz=BERLIN, now=MONDAY)


# --- /baseline pause -------------------------------------------------------------------------

PAUSES: list[tuple[str, ZoneInfo, datetime, datetime]] = [
    # Durations are exact spans of time.
    ("2h", BERLIN, MONDAY, utc("2026-11-23 09:30")),
    ("90m", BERLIN, MONDAY, utc("2026-11-23 09:00")),
    ("45 minutes", BERLIN, MONDAY, utc("2026-11-23 08:15")),
    ("1 min", BERLIN, MONDAY, utc("2026-11-23 07:31")),
    ("2 hrs", BERLIN, MONDAY, utc("2026-11-23 09:30")),
    ("3 days", BERLIN, MONDAY, utc("2026-11-26 07:30")),
    ("1d", BERLIN, MONDAY, utc("2026-11-24 07:30")),
    ("2 weeks", NEW_YORK, MONDAY, utc("2026-12-07 07:30")),
    ("1W", BERLIN, MONDAY, utc("2026-11-30 07:30")),
    # Day words are local midnights; "monday" on a Monday is next week's.
    ("until tomorrow", BERLIN, MONDAY, local("2026-11-24 00:00", BERLIN)),
    ("until monday", BERLIN, MONDAY, local("2026-11-30 00:00", BERLIN)),
    ("until Monday", NEW_YORK, MONDAY, local("2026-11-30 00:00", NEW_YORK)),
    ("until mon", BERLIN, utc("2026-11-22 23:30"), local("2026-11-30 00:00", BERLIN)),
    ("until tuesday", BERLIN, MONDAY, local("2026-11-24 00:00", BERLIN)),
    ("until fri", BERLIN, MONDAY, local("2026-11-27 00:00", BERLIN)),
    ("until sunday", BERLIN, MONDAY, local("2026-11-29 00:00", BERLIN)),
    # 02:30 Monday in New York is still Sunday evening there at 22:00 the day before.
    ("until tomorrow", NEW_YORK, utc("2026-11-24 03:00"), local("2026-11-24 00:00", NEW_YORK)),
    ("until monday", NEW_YORK, utc("2026-11-23 03:00"), local("2026-11-23 00:00", NEW_YORK)),
    # Clock times: today if still ahead, else tomorrow.
    ("until 14:00", BERLIN, MONDAY, local("2026-11-23 14:00", BERLIN)),
    ("until 14:00", BERLIN, utc("2026-11-23 14:00"), local("2026-11-24 14:00", BERLIN)),
    ("until 14:00", BERLIN, local("2026-11-23 14:00", BERLIN), local("2026-11-24 14:00", BERLIN)),
    ("until 9", NEW_YORK, MONDAY, local("2026-11-23 09:00", NEW_YORK)),
    ("until 0130", NEW_YORK, MONDAY, local("2026-11-24 01:30", NEW_YORK)),
    ("until 2026-12-01", BERLIN, MONDAY, local("2026-12-01 00:00", BERLIN)),
    ("until 2026-12-01", NEW_YORK, MONDAY, local("2026-12-01 00:00", NEW_YORK)),
    # Across the spring-forward change (Berlin: 29 Mar 2026, 02:00 CET → 03:00 CEST).
    ("until monday", BERLIN, utc("2026-03-28 12:00"), utc("2026-03-29 22:00")),
    ("until tomorrow", BERLIN, utc("2026-03-28 12:00"), utc("2026-03-28 23:00")),
    ("3 days", BERLIN, utc("2026-03-28 12:00"), utc("2026-03-31 12:00")),
    ("until 14:00", BERLIN, utc("2026-03-28 14:00"), utc("2026-03-29 12:00")),
    ("until 02:30", BERLIN, utc("2026-03-29 00:00"), utc("2026-03-29 01:30")),  # skipped hour
    # Across the fall-back change (New York: 1 Nov 2026, 02:00 EDT → 01:00 EST).
    ("until monday", NEW_YORK, utc("2026-10-31 16:00"), utc("2026-11-02 05:00")),
    ("until tomorrow", NEW_YORK, utc("2026-10-31 16:00"), utc("2026-11-01 04:00")),
    ("until 01:30", NEW_YORK, utc("2026-11-01 04:30"), utc("2026-11-01 05:30")),  # first 01:30
    ("until 12:00", NEW_YORK, utc("2026-11-01 04:30"), utc("2026-11-01 17:00")),
    # The 90-day cap is inclusive.
    ("90 days", BERLIN, MONDAY, MONDAY + MAX_PAUSE),
    ("2160h", BERLIN, MONDAY, MONDAY + MAX_PAUSE),
    ("until 2027-02-21", BERLIN, MONDAY, local("2027-02-21 00:00", BERLIN)),
]


@pytest.mark.parametrize(("text", "tz", "now", "until"), PAUSES)
def test_pause_ends_at(text: str, tz: ZoneInfo, now: datetime, until: datetime) -> None:
    got = parse_pause(text, tz=tz, now=now)
    assert got == until
    assert got.utcoffset() == timedelta(0)


def test_pause_until_monday_on_a_monday_is_a_week_away_in_both_zones() -> None:
    # 08:30 Monday in Berlin; 02:30 Monday in New York: both wait for next week's Monday.
    assert parse_pause("until monday", tz=BERLIN, now=MONDAY) - MONDAY > timedelta(days=6)
    assert parse_pause("until monday", tz=NEW_YORK, now=MONDAY) - MONDAY > timedelta(days=6)


PAUSE_ERRORS = [
    ("", "say how long"),
    ("   ", "say how long"),
    ("until 2026-02-30", "2026-02-30 is not a date"),
    ("until 2026-13-01", "is not a date"),
    ("until 0000-01-01", "is not a date"),
    ("until 0001-01-01", "already passed"),
    ("until 2026-11-22", "already passed"),
    ("until 2026-11-23", "already passed"),  # today's midnight
    ("0h", "already passed"),
    ("91 days", "up to 90 days"),
    ("13 weeks", "up to 90 days"),
    ("2161h", "up to 90 days"),
    ("until 2027-02-22", "up to 90 days"),
    ("9999w", "up to 90 days"),
    ("until funday", "not a day or time I understand"),
    ("until monkey", "not a day or time I understand"),
    ("until sunshine", "not a day or time I understand"),
    ("until 25:00", "not a day or time I understand"),
    ("until yesterday", "not a day or time I understand"),
    ("until", "is not a pause I understand"),
    ("forever", "is not a pause I understand"),
    ("2 fortnights", "is not a pause I understand"),
    ("-2h", "is not a pause I understand"),
    ("12345h", "is not a pause I understand"),
    ("2h30m", "is not a pause I understand"),
]


@pytest.mark.parametrize(("text", "message"), PAUSE_ERRORS)
def test_pause_mistakes(text: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse_pause(text, tz=BERLIN, now=MONDAY)


# --- /feel -----------------------------------------------------------------------------------

FEELS: list[tuple[str, FeelLog | None]] = [
    ("", None),
    ("   \n", None),
    ("3/5 ok", FeelLog(score=3, note="ok")),
    ("3", FeelLog(score=3, note=None)),
    ("5/5", FeelLog(score=5, note=None)),
    ("1 / 5 rough night", FeelLog(score=1, note="rough night")),
    ("4   lots of space   ", FeelLog(score=4, note="lots of space")),
    ("2 line one\nline two", FeelLog(score=2, note="line one\nline two")),
    ("03 leading zero", FeelLog(score=3, note="leading zero")),
    ("4 5/5 would log again", FeelLog(score=4, note="5/5 would log again")),
    ("2 " + "é" * MAX_NOTE, FeelLog(score=2, note="é" * MAX_NOTE)),
]


@pytest.mark.parametrize(("text", "expected"), FEELS)
def test_feel(text: str, expected: FeelLog | None) -> None:
    assert parse_feel(text) == expected


FEEL_ERRORS = [
    ("0", "0 is not between 1 and 5"),
    ("6", "6 is not between 1 and 5"),
    ("9 great", "9 is not between 1 and 5"),
    ("0/5", "0 is not between 1 and 5"),
    ("hello", "start with a number from 1"),
    ("3.5", "start with a number from 1"),
    ("-1", "start with a number from 1"),
    ("three", "start with a number from 1"),
    ("3/10", "start with a number from 1"),
    ("3tired", "start with a number from 1"),
    ("9" * 5000, "start with a number from 1"),  # int() itself refuses > 4,300 digits
    ("3 " + "x" * (MAX_NOTE + 1), "the note is 501 characters"),
]


@pytest.mark.parametrize(("text", "message"), FEEL_ERRORS)
def test_feel_mistakes(text: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse_feel(text)


@given(st.text(max_size=MAX_NOTE + 20))
def test_feel_text_is_a_log_none_or_a_command_error(text: str) -> None:
    try:
        log = parse_feel(text)
    except CommandError:
        return
    if log is not None:
        assert 1 <= log.score <= 5
        assert log.note is None or 0 < len(log.note) <= MAX_NOTE


# --- mask_url --------------------------------------------------------------------------------

MASKS = [
    (URL, "https://calendar.example.com/….ics"),
    ("https://user:hunter2@cal.example.com/x/token-abcd", "https://cal.example.com/…abcd"),
    ("https://cal.example.com/x?token=sekrit1234", "https://cal.example.com/…1234"),
    ("https://cal.example.com/x#frag-wxyz/", "https://cal.example.com/…wxyz"),
    ("webcal://CAL.Example.com/p", "webcal://cal.example.com/…om/p"),
    ("HTTPS://cal.example.com:8443/feed", "https://cal.example.com/…feed"),
    ("https://h", "https://h/…://h"),
    ("http://[oops/secret", "?/…cret"),
    ("secrettoken:rest-of-it", "?/…f-it"),
    ("javascript://evil.example/alert", "evil.example/…lert"),
    ("", "?/…"),
]


@pytest.mark.parametrize(("url", "masked"), MASKS)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


URL_PARTS = st.builds(
    "{}{}{}{}{}{}".format,
    st.sampled_from(["https://", "http://", "webcal://", "ftp://", "HTTPS://", "x-secret:", ""]),
    st.sampled_from(["", "me@", "me:p4ssw0rd@", "@"]),
    st.from_regex(r"[a-zA-Z0-9.-]{0,20}|\[[0-9a-f:]{0,10}\]?", fullmatch=True),
    st.sampled_from(["", ":443", ":99999", ":x"]),
    st.text(max_size=40),
    st.sampled_from(["", "/", "?k=v", "#f", "//"]),
)


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


@given(st.one_of(URL_PARTS, st.text(max_size=80)))
@example("http://[oops")
@example("SECRET:rest")
def test_mask_url_shows_only_the_host_and_the_last_four_characters(url: str) -> None:
    masked = mask_url(url)

    head, sep, tail = masked.rpartition("/…")
    assert sep == "/…"
    assert tail == url.rstrip("/")[-4:]
    host = _host(url)
    shown = (
        {"?"} if host is None else {host, *(f"{s}://{host}" for s in ("http", "https", "webcal"))}
    )
    if not host:
        shown.add("?")
    assert head in shown
