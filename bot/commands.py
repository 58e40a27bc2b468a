"""Reading what people type after ``/baseline`` and ``/feel`` into typed commands.

Pure: the listeners pass the text, the person's zone and ``now``; mistakes come back as a
:class:`CommandError` whose message is fit to show the person.
"""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from nudges.clock import (
    ClockRange,
    Weekdays,
    local_instant,
    parse_clock,
    parse_weekdays,
)
from nudges.feelings import MAX_NOTE
from nudges.preferences import ReflectionTime

MAX_PAUSE = timedelta(days=90)
_WEB_SCHEMES = ("http", "https", "webcal")
# Day names are read from any prefix of three letters or more ("wed", "wedn", "wednesday").
_DAY_WORDS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_URL = 2000
SUBCOMMANDS = (
    "help",
    "on",
    "off",
    "calendar",
    "hours",
    "quiet",
    "pause",
    "resume",
    "reflection",
    "week",
    "export",
    "forget",
    "status",
    "window",
    "team",
    "privacy",
)
# Subcommands announced but not built yet get a kind "not yet" (none at the moment).
LATER: tuple[str, ...] = ()
MAX_WINDOW_NAME = 60


class CommandError(ValueError):
    """What was typed cannot be used; the message says why, in a sentence."""


@dataclass(frozen=True)
class Help:
    suggestion: str | None = None


@dataclass(frozen=True)
class Simple:
    """A subcommand without arguments: on, off, resume, week, export, forget, status."""

    name: str


@dataclass(frozen=True)
class Later:
    name: str


@dataclass(frozen=True)
class SetCalendar:
    url: str | None  # None: disconnect


@dataclass(frozen=True)
class SetHours:
    hours: ClockRange
    days: Weekdays | None


@dataclass(frozen=True)
class SetQuiet:
    quiet: ClockRange | None


@dataclass(frozen=True)
class Pause:
    until: datetime


@dataclass(frozen=True)
class SetReflection:
    reflection: ReflectionTime | None


@dataclass(frozen=True)
class WindowAdd:
    """``window add wed 14:00-14:30 [name]``: in the lead's zone, on those days."""

    days: Weekdays
    hours: ClockRange
    name: str | None


@dataclass(frozen=True)
class WindowList:
    pass


@dataclass(frozen=True)
class WindowRemove:
    number: int  # as shown by ``window list``, from 1


@dataclass(frozen=True)
class WindowDm:
    """``window dm on|off``: a short DM when a window of one of my channels starts."""

    on: bool


@dataclass(frozen=True)
class TeamView:
    pass


@dataclass(frozen=True)
class PrivacyView:
    pass


WindowCommand = WindowAdd | WindowList | WindowRemove | WindowDm
BaselineCommand = (
    Help
    | Simple
    | Later
    | SetCalendar
    | SetHours
    | SetQuiet
    | Pause
    | SetReflection
    | WindowCommand
    | TeamView
    | PrivacyView
)


@dataclass(frozen=True)
class FeelLog:
    score: int
    note: str | None


def parse_baseline(text: str, *, tz: ZoneInfo, now: datetime) -> BaselineCommand:
    words = text.strip().split()
    if not words:
        return Help()
    name, rest = words[0].lower(), words[1:]
    arg = " ".join(rest)
    if name in ("help", "?"):
        return Help()
    if name in ("on", "off", "resume", "week", "export", "forget", "status"):
        if rest:
            raise CommandError(f"`/baseline {name}` takes nothing after it.")
        return Simple(name)
    if name in LATER:
        return Later(name)
    if name == "calendar":
        return _calendar(arg)
    if name == "hours":
        return _hours(rest)
    if name == "quiet":
        if arg.lower() in ("off", "none"):
            return SetQuiet(None)
        return SetQuiet(_range(arg, example="quiet 18:00-08:00"))
    if name == "pause":
        return Pause(parse_pause(arg, tz=tz, now=now))
    if name == "reflection":
        return _reflection(rest)
    if name == "window":
        return _window(rest)
    if name == "team":
        return TeamView()
    if name == "privacy":
        return PrivacyView()
    close = difflib.get_close_matches(name, SUBCOMMANDS + LATER, n=1, cutoff=0.6)
    return Help(suggestion=close[0] if close else None)


def parse_feel(text: str) -> FeelLog | None:
    """``/feel 3 tired`` → FeelLog; ``/feel`` alone → None (open the modal)."""
    stripped = text.strip()
    if not stripped:
        return None
    # Few digits: int() refuses more than 4,300 with a ValueError that is not a CommandError.
    match = re.fullmatch(r"(\d{1,9})(?:\s*/\s*5)?(?:\s+(.*))?", stripped, re.DOTALL)
    if match is None:
        raise CommandError(
            "start with a number from 1 (drained) to 5 (great), like `/feel 3 long morning`"
        )
    score = int(match[1])
    if not 1 <= score <= 5:
        raise CommandError(f"{score} is not between 1 and 5")
    note = (match[2] or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise CommandError(
            f"the note is {len(note):,} characters; keep it under {MAX_NOTE}, or use `/feel` "
            "alone for the form"
        )
    return FeelLog(score=score, note=note)


def parse_pause(text: str, *, tz: ZoneInfo, now: datetime) -> datetime:
    """``2h``, ``90m``, ``3 days``, ``until monday``, ``until tomorrow``, ``until 14:00``,
    ``until 2026-12-01`` → the UTC instant the pause ends (at most 90 days away)."""
    words = text.strip().lower()
    if not words:
        raise CommandError("say how long, like `/baseline pause 2h` or `pause until monday`")
    until = _pause_end(words, tz=tz, now=now)
    if until <= now:
        raise CommandError("that time has already passed")
    if until - now > MAX_PAUSE:
        raise CommandError("a pause can last up to 90 days; `/baseline off` stops everything")
    return until


def mask_url(url: str) -> str:
    """Show enough of an ICS address to recognise it, never enough to use it: the scheme
    (when it is a web one), the host and the last four characters."""
    scheme, host = _scheme_and_host(url)
    shown = f"{scheme}://" if scheme in _WEB_SCHEMES and host is not None else ""
    tail = url.rstrip("/")[-4:]
    return f"{shown}{host or '?'}/…{tail}"


def _scheme_and_host(url: str) -> tuple[str, str | None]:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), parts.hostname
    except ValueError:  # an unclosed IPv6 bracket, for one
        return "", None


def _pause_end(words: str, *, tz: ZoneInfo, now: datetime) -> datetime:
    duration = re.fullmatch(
        r"(\d{1,4})\s*(m|min|mins|minutes?|h|hr|hrs|hours?|d|days?|w|weeks?)", words
    )
    if duration:
        amount, unit = int(duration[1]), duration[2][0]
        step = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
        return now + amount * step.get(unit, timedelta(weeks=1))
    if not words.startswith("until "):
        raise CommandError(
            f"`{words}` is not a pause I understand: try `2h`, `3 days`, `until monday`, "
            "`until 14:00` or `until 2026-12-01`"
        )
    target = words.removeprefix("until ").strip()
    today = now.astimezone(tz).date()
    if target == "tomorrow":
        return local_instant(today + timedelta(days=1), time(0), tz)
    weekday = _weekday(target)
    if weekday is not None:
        ahead = (weekday - today.weekday() - 1) % 7 + 1
        return local_instant(today + timedelta(days=ahead), time(0), tz)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", target):
        try:
            day = date.fromisoformat(target)
        except ValueError as exc:
            raise CommandError(f"{target} is not a date") from exc
        try:
            return local_instant(day, time(0), tz)
        except OverflowError as exc:  # 0001-01-01 east of UTC is before the first UTC day
            raise CommandError("that time has already passed") from exc
    try:
        clock = parse_clock(target)
    except ValueError as exc:
        raise CommandError(
            f"`until {target}` is not a day or time I understand: try `until monday`, "
            "`until 14:00` or `until 2026-12-01`"
        ) from exc
    at = local_instant(today, clock, tz)
    return at if at > now else local_instant(today + timedelta(days=1), clock, tz)


def _calendar(arg: str) -> SetCalendar:
    if arg.lower() in ("off", "disconnect", "remove"):
        return SetCalendar(None)
    # Slack escapes & < > in command text and may send a link as <url> or <url|label>.
    url = html.unescape(arg.strip().strip("<>").split("|", 1)[0]).strip()
    if not url:
        raise CommandError("paste your calendar's secret iCal address after `/baseline calendar`")
    if url[: len("webcal://")].lower() == "webcal://":
        url = "https://" + url[len("webcal://") :]
    scheme, host = _scheme_and_host(url)
    if scheme not in ("http", "https") or not host:
        raise CommandError("that is not a web address: it should start with https://")
    if len(url) > MAX_URL or " " in url:
        raise CommandError("that address does not look like a calendar link")
    return SetCalendar(url)


def _hours(rest: list[str]) -> SetHours:
    if not rest or len(rest) > 2:
        raise CommandError("say your working hours like `/baseline hours 09:00-17:30 mon-fri`")
    hours = _range(rest[0], example="hours 09:00-17:30 mon-fri")
    days = None
    if len(rest) == 2:
        try:
            days = Weekdays(days=parse_weekdays(rest[1]))
        except ValueError as exc:
            raise CommandError(f"`{rest[1]}` is not a list of days like mon-fri") from exc
    return SetHours(hours=hours, days=days)


def _range(text: str, *, example: str) -> ClockRange:
    try:
        return ClockRange.parse(text)
    except ValueError as exc:
        raise CommandError(f"`{text}` is not a time range: try `/baseline {example}`") from exc


def _reflection(rest: list[str]) -> SetReflection:
    if len(rest) == 1 and rest[0].lower() in ("off", "none"):
        return SetReflection(None)
    weekday = _weekday(rest[0].lower()) if len(rest) == 2 else None
    if weekday is None:
        raise CommandError("say a day and time like `/baseline reflection fri 16:00`, or `off`")
    try:
        at = parse_clock(rest[1])
    except ValueError as exc:
        raise CommandError(f"`{rest[1]}` is not a time like 16:00") from exc
    return SetReflection(ReflectionTime(weekday=weekday, at=at))


_WINDOW_USAGE = (
    "try `/baseline window add wed 14:00-14:30 [name]`, `window list`, `window remove 1` "
    "or `window dm on`"
)


def _window(rest: list[str]) -> WindowCommand:
    action = rest[0].lower() if rest else "list"
    args = rest[1:]
    if action in ("list", "ls") and not args:
        return WindowList()
    if action in ("remove", "rm", "delete") and len(args) == 1:
        if not re.fullmatch(r"\d{1,3}", args[0]) or int(args[0]) < 1:
            raise CommandError("say which window by its number in `/baseline window list`")
        return WindowRemove(int(args[0]))
    if action == "dm" and len(args) == 1 and args[0].lower() in ("on", "off"):
        return WindowDm(on=args[0].lower() == "on")
    if action != "add":
        raise CommandError(
            f"`window {_cut(' '.join(rest))}` is not something I understand: {_WINDOW_USAGE}"
        )
    if len(args) < 2:
        raise CommandError("say the days and the time, like `/baseline window add wed 14:00-14:30`")
    try:
        days = Weekdays(days=parse_weekdays(args[0]))
    except ValueError as exc:
        raise CommandError(
            f"`{_cut(args[0])}` is not a day or a list of days like `wed`, `mon-fri` or `daily`"
        ) from exc
    hours = _range(args[1], example="window add wed 14:00-14:30")
    if hours.wraps_midnight:
        raise CommandError("a recovery window has to end on the day it starts")
    name = " ".join(args[2:]).strip() or None
    if name is not None and len(name) > MAX_WINDOW_NAME:
        raise CommandError(f"keep the window's name under {MAX_WINDOW_NAME} characters")
    return WindowAdd(days=days, hours=hours, name=name)


def _cut(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "…"


def _weekday(word: str) -> int | None:
    """0 (Monday) to 6 for ``mon``, ``tues``, ``weds``, ``thursday``…; None for other words."""
    word = word.removesuffix(".")
    if word == "weds":
        return 2
    if len(word) < 3:
        return None
    return next((i for i, name in enumerate(_DAY_WORDS) if name.startswith(word)), None)
