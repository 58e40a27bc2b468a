"""Calendar feeds (ICS) → the person's busy intervals for a window of local days.

The cost of reading a feed is in parsing it: a feed with years of history holds thousands of
past events that cannot touch the days we plan. ``prune_feed`` skips those before the full
parse, keeping every series, every override, every time zone and every single event whose
span can reach the window, so the result is identical to parsing everything
(tests/nudges/test_calendar_prune.py compares both paths on random calendars).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import icalendar
import recurring_ical_events
from pydantic import BaseModel, ConfigDict, Field

from nudges.clock import BusyInterval, day_bounds, merge_intervals


class CalendarError(ValueError):
    """A feed Baseline cannot use. The message is one plain sentence fit to show a person."""


class CalendarLimits(BaseModel):
    """Bounds that keep one hostile or broken feed from costing more than a few seconds."""

    model_config = ConfigDict(frozen=True)

    max_bytes: int = Field(default=5_000_000, gt=0)
    max_events: int = Field(default=25_000, gt=0)


# Pruning compares local wall-clock values without resolving time zones, so it widens the
# window by more than the largest UTC offset (±14 h) plus a DST hour on each side.
_PRUNE_MARGIN = timedelta(days=2)
# Rules that repeat faster than hourly are never meetings, and a day of them is 86,400
# occurrences: refusing them keeps the work bounded.
_TOO_FREQUENT = re.compile(r"FREQ\s*=\s*(SECONDLY|MINUTELY)", re.IGNORECASE)
# A content line whose name (or BEGIN/END value) has a lower-case letter; rare, but legal.
_LOWERCASE_NAME = re.compile(r"\n(?:(?:BEGIN|END):[A-Z-]*[a-z][A-Za-z-]*|[A-Z-]*[a-z][A-Za-z-]*)")
_NAME = re.compile(r"^[A-Za-z0-9-]+", re.M)
_COMPONENT = re.compile(r"^(?:BEGIN|END):[A-Za-z0-9-]+", re.M)
_RULE_MARKERS = ("\nRRULE", "\nRDATE", "\nEXRULE")
_RECURRING_MARKERS = (*_RULE_MARKERS, "\nRECURRENCE-ID")
_EVENT_START = "\nBEGIN:VEVENT"
# What decides whether, and when, a person is busy. Everything else in an event is dropped.
_BUSY_PROPERTIES = frozenset(
    {
        "UID",
        "DTSTART",
        "DTEND",
        "DURATION",
        "RRULE",
        "RDATE",
        "EXDATE",
        "EXRULE",
        "RECURRENCE-ID",
        "SEQUENCE",
        "STATUS",
        "TRANSP",
    }
)
_REBASE_STEP = {"DAILY": timedelta(days=1), "WEEKLY": timedelta(weeks=1)}
_REBASE_SAFE_PARTS = frozenset({"FREQ", "INTERVAL", "UNTIL", "BYDAY", "WKST"})
_TZID_PARAMETER = re.compile(r';TZID=("[^"]*"|[^;:]*)')
# What icalendar's process-wide time zone cache was last told about each TZID that is not an
# IANA name: the VTIMEZONE text that defined it, or "" when it was only looked up by name.
_ZONES_SEEN: dict[str, str] = {}
_MAX_ZONES_SEEN = 500
_STAMP = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z?)?")
_DURATION = re.compile(
    r"([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", re.IGNORECASE
)


def busy_intervals(
    ics: bytes,
    *,
    first_day: date,
    last_day: date,
    tz: ZoneInfo,
    email: str | None = None,
    limits: CalendarLimits | None = None,
    prune: bool = True,
) -> list[BusyInterval]:
    """The merged busy intervals (UTC) of local days ``first_day``..``last_day`` inclusive.

    Dropped: cancelled and free (transparent) events, all-day events, and invitations the
    person (``email``) declined. Floating times and TZIDs nobody can resolve are read in the
    person's own zone. Raises :class:`CalendarError` for anything that is not a usable feed.
    """
    if last_day < first_day:
        raise CalendarError("the last day comes before the first day")
    text = decode_feed(ics, limits or CalendarLimits())
    lo, hi = day_bounds(first_day, tz)[0], day_bounds(last_day, tz)[1]
    if prune:
        text = prune_feed(
            text,
            lo.astimezone(tz).replace(tzinfo=None),
            hi.astimezone(tz).replace(tzinfo=None),
            email=email,
        )
    # Rule lines only: a title or description that merely mentions FREQ=MINUTELY is text
    # (and pruning drops it, so counting it would make the two paths disagree).
    if _repeats_too_often(text):
        raise CalendarError(
            "the calendar has an event repeating every second or minute, which is not a meeting"
        )
    try:
        _isolate_time_zones(text)
        calendar = icalendar.Calendar.from_ical(text)
        query = recurring_ical_events.of(calendar)
        # A day's margin either side: the library compares floating times as if they were
        # UTC, and we read them in the person's zone below, then cut to the exact window.
        occurrences = query.between(first_day - timedelta(days=1), last_day + timedelta(days=2))
    except CalendarError:
        raise
    except Exception as exc:  # icalendar and dateutil raise many types for malformed input
        raise CalendarError(f"the calendar could not be read ({_short(exc)})") from exc
    spans = [
        span
        for event in occurrences
        if _counts_as_busy(event, email)
        for span in _span(event, tz, lo, hi)
    ]
    return merge_intervals(spans)


def decode_feed(ics: bytes, limits: CalendarLimits) -> str:
    """Check the raw bytes are a whole, bounded iCalendar feed; return it as unfolded text."""
    if len(ics) > limits.max_bytes:
        raise CalendarError(
            f"the calendar is too big ({len(ics) / 1e6:.1f} MB; the limit is "
            f"{limits.max_bytes / 1e6:.1f} MB)"
        )
    if b"\x00" in ics:
        raise CalendarError("this is a binary file, not an iCalendar (.ics) feed")
    try:
        text = ics.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Some exporters still write Latin-1; every byte decodes, and the structure checks
        # below still reject anything that is not a calendar.
        text = ics.decode("latin-1")
    text = text.strip()
    if not text[:15].upper().startswith("BEGIN:VCALENDAR"):
        raise CalendarError(
            "this is not an iCalendar (.ics) feed: it does not start with BEGIN:VCALENDAR"
        )
    if not text[-13:].upper().endswith("END:VCALENDAR"):
        raise CalendarError("the calendar is cut off: it does not end with END:VCALENDAR")
    # Unfold (RFC 5545 §3.1) with plain replaces: several times faster than a regex here.
    if "\n " in text:
        text = text.replace("\r\n ", "").replace("\n ", "")
    if "\n\t" in text:
        text = text.replace("\r\n\t", "").replace("\n\t", "")
    if _LOWERCASE_NAME.search(text):
        # Names are case-insensitive; the fast paths below look for upper case only.
        text = _NAME.sub(lambda m: m.group().upper(), text)
        text = _COMPONENT.sub(lambda m: m.group().upper(), text)
    count = text.count("BEGIN:VEVENT")
    if count > limits.max_events:
        raise CalendarError(
            f"the calendar has too many events ({count:,}; the limit is {limits.max_events:,})"
        )
    return text + "\r\n"


def prune_feed(text: str, lo: datetime, hi: datetime, *, email: str | None = None) -> str:
    """Reduce a feed to what can decide who is busy in local wall-clock window ``[lo, hi)``.

    ``text`` comes from :func:`decode_feed`. Kept, in their original order: everything
    outside events (calendar properties, time zones, wherever they stand); every series;
    every override that is open-ended (THISANDFUTURE) or whose own time or replaced
    occurrence can reach the window; every event sharing a UID with a kept event; every
    single event whose span may reach the window, or whose dates cannot be read cheaply
    (the full parser decides about those). Inside kept events only the properties that
    decide busy time stay: titles, descriptions, attendee lists and alarms never reach the
    parser, and neither do exclusions far from the window (unless a kept override names
    the same occurrence). A daily or weekly series that started long ago is moved forward by
    whole repeats so its rule is not replayed from the start.
    """
    first = text.find(_EVENT_START)
    if first == -1:
        return text
    head = text[: first + 1]
    # Only a line that is exactly BEGIN:VEVENT starts an event: a description may quote one.
    blocks = text[first + 1 :].split(_EVENT_START)
    blocks[0] = blocks[0][len(_EVENT_START) - 1 :]
    pruner = _Pruner(
        _Window(lo - _PRUNE_MARGIN, hi + _PRUNE_MARGIN),
        attendee=f"MAILTO:{email.strip().upper()}" if email else None,
        rebase="X-WR-TIMEZONE" not in head,
    )
    return "".join([head, *pruner.prune(blocks)])


class _Pruner:
    """One run of :func:`prune_feed`: sort the events, then decide what stays of each."""

    def __init__(self, window: _Window, *, attendee: str | None, rebase: bool) -> None:
        self.window, self.attendee, self.rebase = window, attendee, rebase
        self.out: list[str] = []  # what stays of each block, in file order
        self.series: list[tuple[int, str, str | None, int | None]] = []
        self.overrides: list[tuple[int, str, str | None]] = []
        self.singles_outside: list[tuple[int, str, str | None]] = []
        self.kept_uids: set[str] = set()
        self.single_uids: set[str] = set()
        self.unsure_uids: set[str] = set()  # series whose occurrences other components reshape
        # UID -> longest occurrence in days of its series; None: unknown, keep everything.
        self.series_days: dict[str, int | None] = {}
        # UID -> the days near the occurrences that kept overrides replace.
        self.replaced: dict[str | None, set[str]] = {}

    def prune(self, blocks: list[str]) -> list[str]:
        self.out = [""] * len(blocks)
        self._sort(blocks)
        self._measure_series()
        self._keep_overrides()
        for i, event, uid, own_days in self.series:
            days = own_days if uid is None else self.series_days[uid]
            near = frozenset(self.replaced.get(uid, ()))
            self._keep(i, event, days, near, rebase=self.rebase)
        for i, event, uid in self.singles_outside:
            if uid in self.kept_uids:  # the parser groups a UID's components: keep them all
                self._keep(i, event)
        return self.out

    def _keep(
        self,
        i: int,
        event: str,
        days: int | None = None,
        near: frozenset[str] = frozenset(),
        *,
        rebase: bool = False,
    ) -> None:
        kept = _essentials(event, self.attendee, self.window, days, near, rebase=rebase)
        self.out[i] = kept + self.out[i]

    def _sort(self, blocks: list[str]) -> None:
        """Series, overrides, and single events inside (kept now) or outside the window."""
        window, last = self.window, len(blocks) - 1
        for i, block in enumerate(blocks):
            event = block
            if not block.endswith(("END:VEVENT\r", "END:VEVENT")):
                # A VTIMEZONE (or another component) after the event stays where it is.
                event, self.out[i] = _split_trailer(block, last=i == last)
            uid = _uid(event)
            if ("\nR" in event or "\nEXR" in event) and _is_recurring(event):
                modification = "\nRECURRENCE-ID" in event
                if modification and not _is_recurring(event, overrides_too=False):
                    self.overrides.append((i, event, uid))
                    if uid is not None and ("THISANDFUTURE" in event or "\nEXDATE" in event):
                        self.unsure_uids.add(uid)
                    continue
                if uid is not None and modification:
                    self.unsure_uids.add(uid)  # an override with rules of its own
                self.series.append((i, event, uid, _length_in_days(event)))
            elif window.may_touch(event):
                self._keep(i, event)
                if uid is not None:
                    self.kept_uids.add(uid)
                    self.single_uids.add(uid)
            else:
                self.singles_outside.append((i, event, uid))
                if uid is not None:
                    self.single_uids.add(uid)

    def _measure_series(self) -> None:
        for _, _, uid, days in self.series:
            if uid is None:
                continue
            known = self.series_days.get(uid, 0)
            self.series_days[uid] = None if days is None or known is None else max(days, known)
            self.kept_uids.add(uid)
        # Overrides that reshape later occurrences, and single events that share a series'
        # UID (the parser may take one of them for the series), make a series' reach unknown.
        for uid in self.unsure_uids | (self.single_uids & self.series_days.keys()):
            self.series_days[uid] = None

    def _keep_overrides(self) -> None:
        dropped: list[tuple[int, str, str | None, str | None]] = []
        for i, event, uid in self.overrides:
            days = None if uid is None else self.series_days.get(uid)
            recurrence = _day(event, "\nRECURRENCE-ID")
            if (
                days is None
                or "THISANDFUTURE" in event
                or self.window.may_touch(event)
                or self.window.may_touch_from(recurrence, days)
            ):
                self._keep(i, event)
                if uid is not None:
                    self.kept_uids.add(uid)
                if recurrence is not None:
                    self.replaced.setdefault(uid, set()).update(_near_days(recurrence))
            else:
                dropped.append((i, event, uid, recurrence))
        for i, event, uid, recurrence in dropped:
            if recurrence in self.replaced.get(uid, ()):  # another copy of a kept override
                self._keep(i, event)


def _split_trailer(block: str, *, last: bool) -> tuple[str, str]:
    """An event's own text, and whatever other components follow it before the next one."""
    end = block.find("\nEND:VEVENT")
    cut = -1 if end == -1 else block.find("\n", end + 1)
    if cut == -1:
        return block, ""
    trailer = block[cut + 1 :]
    if not trailer.strip():
        return block, ""
    return block[: cut + 1], trailer if last else trailer + "\n"


def _uid(event: str) -> str | None:
    """The event's UID, not the one of a VALARM inside it (Apple gives alarms UIDs too)."""
    at = event.find("\nUID")
    if at != -1 and event.find("\nBEGIN:", 0, at) != -1:
        nested = event.find("\nBEGIN:")
        event = event[:nested]
    return _value(event, "\nUID")


def _near_days(day: str) -> tuple[str, ...]:
    """``day`` and the two days either side: the same instant written in another zone."""
    return tuple(_shift_day(day, offset) for offset in range(-2, 3))


class _Window:
    """The widened wall-clock window, as ``YYYYMMDD`` strings: those compare like dates."""

    __slots__ = ("first", "hi", "last", "lo")

    def __init__(self, lo: datetime, hi: datetime) -> None:
        self.lo, self.hi = lo, hi
        self.first, self.last = f"{lo:%Y%m%d}", f"{hi:%Y%m%d}"

    def may_touch(self, block: str) -> bool:
        """Whether a single event's own span can reach the window (True when unsure)."""
        nested = block.find("\nBEGIN:")
        own = block if nested == -1 else block[:nested]  # a VALARM has a DURATION of its own
        start = _day(own, "\nDTSTART")
        if start is None:
            return True
        end = _day(own, "\nDTEND")
        if end is None:
            if "\nDURATION" in own:
                return self._may_touch_by_duration(own)
            end = start
        return max(start, end) >= self.first and min(start, end) <= self.last

    def may_touch_from(self, start: str | None, days: int) -> bool:
        """Whether an occurrence starting on ``start`` and lasting ``days`` can reach it."""
        if start is None:
            return True
        return start <= self.last and _shift_day(start, days) >= self.first

    def _may_touch_by_duration(self, own: str) -> bool:
        raw_start, raw_duration = _value(own, "\nDTSTART"), _value(own, "\nDURATION")
        start = None if raw_start is None else _stamp(raw_start)
        length = None if raw_duration is None else _duration(raw_duration)
        if start is None or length is None:
            return True
        end = start + length
        return max(start, end) >= self.lo and min(start, end) <= self.hi


def _isolate_time_zones(text: str) -> None:
    """Make the TZIDs in ``text`` mean what this feed says, whatever was parsed before.

    icalendar caches every VTIMEZONE it parses by TZID for the whole process, and the first
    definition wins: another person's "Customized Time Zone" would decide the times in this
    feed, and a TZID this feed never defines would resolve instead of being read in the
    person's zone. Emptying the cache is the cure, but rebuilding an Outlook zone whose rules
    start in 1601 costs tens of milliseconds, so it is emptied only when it would answer this
    feed differently.
    """
    zones: dict[str, str] = {}
    at = text.find("BEGIN:VTIMEZONE")
    while at != -1:
        end = text.find("END:VTIMEZONE", at)
        if end == -1:
            break
        definition = text[at:end]
        tzid = _value(definition, "\nTZID")
        if tzid is not None:
            zones.setdefault(tzid.strip('"').strip("/"), definition.replace("\r\n", "\n"))
        at = text.find("BEGIN:VTIMEZONE", end)
    for match in _TZID_PARAMETER.finditer(text):
        zones.setdefault(match.group(1).strip('"').strip("/"), "")
    zones = {tzid: definition for tzid, definition in zones.items() if not _is_iana(tzid)}
    if (
        not _ZONES_SEEN
        or len(_ZONES_SEEN) > _MAX_ZONES_SEEN
        or any(_ZONES_SEEN.get(tzid, seen) != seen for tzid, seen in zones.items())
    ):
        icalendar.timezone.tzp.use_zoneinfo()  # a fresh, empty cache
        _ZONES_SEEN.clear()
    for tzid, seen in zones.items():
        _ZONES_SEEN.setdefault(tzid, seen)


def _is_iana(tzid: str) -> bool:
    """Whether the tz database lists ``tzid``: icalendar then never caches a VTIMEZONE for it."""
    return tzid in _iana_names()


@functools.cache
def _iana_names() -> frozenset[str]:
    return frozenset(available_timezones())  # the same test icalendar makes


def _repeats_too_often(text: str) -> bool:
    """Whether an RRULE or EXRULE line (not free text quoting one) repeats by second or minute."""
    for match in _TOO_FREQUENT.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if text.startswith(("RRULE:", "RRULE;", "EXRULE:", "EXRULE;"), line_start):
            return True
    return False


def _is_recurring(block: str, *, overrides_too: bool = True) -> bool:
    markers = _RECURRING_MARKERS if overrides_too else _RULE_MARKERS
    return any(marker in block for marker in markers)


def _value(block: str, marker: str) -> str | None:
    """The value of the first ``marker`` property line in ``block`` (marker starts with \\n)."""
    at = block.find(marker)
    if at == -1:
        return None
    line_end = block.find("\n", at + 1)
    line = block[at + 1 : line_end if line_end != -1 else len(block)]
    name_end = len(marker) - 1
    if len(line) <= name_end or line[name_end] not in ";:":
        return None
    colon = line.rfind(":")
    return line[colon + 1 :].strip() if colon != -1 else None


def _day(block: str, marker: str) -> str | None:
    """The ``YYYYMMDD`` part of a date property's value, or None when it is not plain."""
    value = _value(block, marker)
    if value is None or len(value) < 8 or not value[:8].isdigit():
        return None
    return value[:8]


def _shift_day(day: str, days: int) -> str:
    moved = date(int(day[:4]), int(day[4:6]), int(day[6:8])) + timedelta(days=days)
    return f"{moved:%Y%m%d}"


def _length_in_days(block: str) -> int | None:
    """Whole days (rounded up, plus one) an occurrence of this series may last; None: unknown."""
    nested = block.find("\nBEGIN:")
    own = block if nested == -1 else block[:nested]
    raw_start = _value(own, "\nDTSTART")
    start = None if raw_start is None else _stamp(raw_start)
    if start is None:
        return None
    raw_end, raw_duration = _value(own, "\nDTEND"), _value(own, "\nDURATION")
    if raw_end is not None:
        end = _stamp(raw_end)
        length = None if end is None else end - start
    elif raw_duration is not None:
        length = _duration(raw_duration)
    else:
        length = timedelta(days=1)
    if length is None or length < timedelta(0):
        return None
    return length.days + 2


def _essentials(
    block: str,
    attendee: str | None,
    window: _Window,
    days: int | None,
    near: frozenset[str] = frozenset(),
    *,
    rebase: bool,
) -> str:
    lines = ["BEGIN:VEVENT\r\n"]
    depth = 0
    for line in block.splitlines():
        name = line.split(":", 1)[0].split(";", 1)[0].strip()
        if name == "BEGIN":
            depth += 1
        elif name == "END":
            if depth == 0:
                break
            depth -= 1
        elif depth:
            continue
        elif name == "EXDATE" and days is not None:
            exclusions = _near_exclusions(line, window, days, near)
            if exclusions is not None:
                lines.append(exclusions)
        elif name in _BUSY_PROPERTIES or (
            name == "ATTENDEE" and attendee is not None and attendee in line.upper()
        ):
            lines.append(line + "\r\n")
    lines.append("END:VEVENT\r\n")
    if rebase and days is not None:
        _rebase_series(lines, window.lo, days)
    return "".join(lines)


def _near_exclusions(line: str, window: _Window, days: int, near: frozenset[str]) -> str | None:
    """An EXDATE line with only the dates whose occurrence could reach the window.

    Also kept: dates near ``near``, the occurrences kept overrides replace (an exclusion
    hides an override of the same occurrence, wherever the override moved it).
    """
    params, _, values = line.rpartition(":")
    kept = [
        value
        for value in values.split(",")
        if len(value.strip()) < 8
        or not value.strip()[:8].isdigit()
        or window.may_touch_from(value.strip()[:8], days)
        or value.strip()[:8] in near
    ]
    return f"{params}:{','.join(kept)}\r\n" if kept else None


def _rebase_series(lines: list[str], lo: datetime, days: int) -> None:
    """Move a long-running daily or weekly series' start forward by whole repeats, in place.

    The rule then yields exactly the same occurrences from the new start on, and the new
    start is still more than a repeat and an occurrence's length (``days``) before ``lo``.
    Only plain rules qualify: no COUNT (it counts from the start), one RRULE, wall-clock
    start and end in the same zone, and not an override (its start is its own time).
    """
    rules = [i for i, line in enumerate(lines) if line.startswith("RRULE")]
    if len(rules) != 1 or any(line.startswith(("EXRULE", "RECURRENCE-ID")) for line in lines):
        return
    parts = dict(
        p.split("=", 1) for p in lines[rules[0]].strip()[6:].upper().split(";") if "=" in p
    )
    step = _REBASE_STEP.get(parts.get("FREQ", ""))
    if step is None or not set(parts) <= _REBASE_SAFE_PARTS or "COUNT" in parts:
        return
    if any(ch.isdigit() for ch in parts.get("BYDAY", "")):
        return
    try:
        step *= int(parts.get("INTERVAL", "1"))
    except ValueError:
        return
    starts = [i for i, line in enumerate(lines) if line.startswith("DTSTART")]
    ends = [i for i, line in enumerate(lines) if line.startswith("DTEND")]
    if len(starts) != 1 or len(ends) > 1 or step <= timedelta(0):
        return
    start_line = lines[starts[0]].rstrip("\r\n")
    start_params, _, start_value = start_line.rpartition(":")
    start = _stamp(start_value)
    if (
        start is None
        or "T" not in start_value
        or start_value.endswith("Z")
        or ";TZID=" not in start_params
    ):
        return
    if "UNTIL" in parts:
        until = _stamp(parts["UNTIL"])
        if until is None or until < lo:
            return
    moves = (lo - step - timedelta(days=days) - start) // step
    if moves < 1:
        return
    shift = step * moves
    lines[starts[0]] = f"{start_params}:{start + shift:%Y%m%dT%H%M%S}\r\n"
    if ends:
        end_line = lines[ends[0]].rstrip("\r\n")
        end_params, _, end_value = end_line.rpartition(":")
        end = _stamp(end_value)
        if end is None or end_params[5:] != start_params[7:] or "T" not in end_value:
            lines[starts[0]] = start_line + "\r\n"  # zones differ: leave the series alone
            return
        lines[ends[0]] = f"{end_params}:{end + shift:%Y%m%dT%H%M%S}\r\n"


def _stamp(value: str) -> datetime | None:
    """A DATE or DATE-TIME value as a naive wall-clock datetime (its zone is ignored)."""
    match = _STAMP.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = match.groups()
    try:
        return datetime(  # noqa: DTZ001 - wall clock on purpose
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError:
        return None


def _duration(value: str) -> timedelta | None:
    match = _DURATION.fullmatch(value)
    if match is None:
        return None
    sign, weeks, days, hours, minutes, seconds = match.groups()
    length = timedelta(
        weeks=int(weeks or 0),
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
    )
    return -length if sign == "-" else length


def _counts_as_busy(event: Any, email: str | None) -> bool:
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return False
    if str(event.get("TRANSP", "")).upper() == "TRANSPARENT":
        return False
    if email is None:
        return True
    wanted = "mailto:" + email.strip().lower()
    attendees = event.get("ATTENDEE", [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    for attendee in attendees:
        if str(attendee).strip().lower() == wanted:
            partstat = str(attendee.params.get("PARTSTAT", "")).upper()
            return partstat != "DECLINED"
    return True


def _span(
    event: Any, tz: ZoneInfo, lo: datetime, hi: datetime
) -> Iterator[tuple[datetime, datetime]]:
    start = event.get("DTSTART")
    if start is None or not isinstance(start.dt, datetime):
        return  # all-day events (plain dates) are not meetings
    begin = _as_utc(start.dt, tz)
    end_prop = event.get("DTEND")
    if end_prop is not None and isinstance(end_prop.dt, datetime):
        finish = _as_utc(end_prop.dt, tz)
    elif event.get("DURATION") is not None:
        finish = begin + event["DURATION"].dt
    else:
        return  # a timed event with no end lasts no time (RFC 5545 §3.6.1)
    begin, finish = max(begin, lo), min(finish, hi)
    if begin < finish:
        yield begin, finish


def _as_utc(moment: datetime, tz: ZoneInfo) -> datetime:
    # Floating times, and TZIDs that neither the feed nor the tz database define, mean
    # "wherever the person is".
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def _short(exc: Exception) -> str:
    message = " ".join(str(exc).split()) or type(exc).__name__
    return message[:120]
