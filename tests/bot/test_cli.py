"""``baseline preview`` end to end: the bundled sample week, the JSON shape, the flags, and
bad input (always exit 2, one line on stderr, nothing on stdout, never a traceback)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import pytest

from bot.cli import main
from config.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "config" / "samples" / "busy-week.ics"
WEEK = ["--date", "2026-11-23", "--days", "5", "--tz", "Europe/Berlin"]
SAM = ["--email", "sam@example.com"]
NOVEMBER_BERLIN = timedelta(hours=1)  # CET: the whole sample week is after the October change
DAY_KEYS = {"date", "tz", "busy", "chains", "summary", "load", "nudges"}
NUDGE_KEYS = {"kind", "at", "expires_at", "practice", "text"}
FIFTY_MB = 50_000_000


@pytest.fixture(autouse=True)
def _default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees the shipped defaults, whatever BASELINE_* the shell has set."""
    for name in list(os.environ):
        if name.upper().startswith("BASELINE_"):
            monkeypatch.delenv(name)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``baseline ARGV`` in-process: exit status, stdout, stderr."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def preview(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    return run(capsys, "preview", str(SAMPLE), *extra)


def preview_json(capsys: pytest.CaptureFixture[str], *extra: str) -> Any:
    status, out, err = preview(capsys, "--tz", "Europe/Berlin", "--json", *extra)
    assert (status, err) == (0, "")
    return json.loads(out)


def day_json(capsys: pytest.CaptureFixture[str], day: str, *extra: str) -> dict[str, Any]:
    plan = preview_json(capsys, "--date", day, *extra)
    assert isinstance(plan, dict)
    return plan


def local(text: str) -> datetime:
    """An ISO 8601 time from the output, checked to carry Berlin's November offset."""
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == NOVEMBER_BERLIN, text
    return moment


def clock(text: str) -> str:
    return f"{local(text):%H:%M}"


def nudges_of(plan: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [n for n in plan["nudges"] if n["kind"] == kind]


def busy_clocks(plan: dict[str, Any]) -> list[tuple[str, str]]:
    return [(clock(start), clock(end)) for start, end in plan["busy"]]


# --- the sample week as text (what `make demo` prints) ----------------------------------------


@pytest.fixture
def week_text(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """The demo's output, one entry per weekday name."""
    status, out, err = preview(capsys, *WEEK, *SAM)
    assert (status, err) == (0, "")
    days = out.strip("\n").split("\n\n")
    return {section.split(" ", 1)[0]: section for section in days}


def test_the_demo_prints_five_days_in_order(week_text: dict[str, str]) -> None:
    assert list(week_text) == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
    assert week_text["Monday"].startswith(
        "Monday 23 November 2026 · Europe/Berlin · working hours 09:00-18:00"
    )
    assert week_text["Friday"].startswith("Friday 27 November 2026")
    assert all(
        "  Load 09:00 " in day and day.count(" 18:00  (peak ") == 1 for day in week_text.values()
    )


def test_monday_is_a_wall_of_calls_with_resets_in_the_seams(week_text: dict[str, str]) -> None:
    monday = week_text["Monday"]
    assert "8 meetings, 4 h 35 min in all; longest stretch 3 h 30 min" in monday
    assert "    09:00–12:30  back-to-back: 6 meetings, 3 h 30 min" in monday
    assert "    14:00–14:30  meeting, 30 min" in monday
    # The chain's end gets a reset until the next meeting or 30 minutes, whichever is first ...
    assert "    12:30 (until 13:00)  reset · " in monday
    # ... and so do the seams inside the chain: a 5-minute gap, and a zero-minute one that
    # still gets the 2-minute grace while the next call connects.
    assert "    09:45 (until 09:50)  reset · " in monday
    assert "    10:30 (until 10:32)  reset · " in monday


def test_tuesday_gets_the_heavy_day_heads_up(week_text: dict[str, str]) -> None:
    tuesday = week_text["Tuesday"]
    assert "8 meetings, 5 h 55 min in all; longest stretch 3 h 15 min" in tuesday
    assert "    13:00–16:15  back-to-back: 4 meetings, 3 h 15 min" in tuesday
    assert "    09:00 (until 09:30)  heavy day\n" in tuesday
    assert (
        "Heads-up: today holds 5 h 55 min of meetings, with the longest stretch from 13:00 "
        "to 16:15. Your best window to come back to baseline is 12:00–13:00."
    ) in tuesday
    assert "    16:15 (until 16:30)  reset · " in tuesday


def test_wednesday_is_light_and_quiet(week_text: dict[str, str]) -> None:
    wednesday = week_text["Wednesday"]
    # Declined (14:00), free focus time (13:00-16:00) and the all-day event are not meetings.
    assert "3 meetings, 1 h 30 min in all; longest stretch 45 min" in wednesday
    assert "14:00" not in wednesday
    assert "13:00–16:00" not in wednesday
    assert "  Plan: no nudges today." in wednesday


def test_thursday_resets_after_the_long_workshop(week_text: dict[str, str]) -> None:
    thursday = week_text["Thursday"]
    assert "    10:00–12:00  meeting, 2 h" in thursday
    assert "    12:00 (until 12:30)  reset · " in thursday
    # The weekly 1:1 was moved from 15:00 to 16:30 this week.
    assert "    16:30–17:00  meeting, 30 min" in thursday
    assert "15:00–15:30" not in thursday


def test_friday_reflection_waits_for_the_meeting_over_four(week_text: dict[str, str]) -> None:
    friday = week_text["Friday"]
    assert "    15:00–16:15  meeting, 1 h 15 min" in friday
    assert "    16:15 (until 18:00)  reflection\n        Your week is nearly done." in friday
    assert "16:00 (" not in friday
    assert friday.count("\n        • ") >= 1
    assert "13:00–14:00" not in friday  # the cancelled vendor demo


# --- --json ------------------------------------------------------------------------------------


def check_day_shape(plan: dict[str, Any]) -> None:
    """The documented object for one day: keys, types, and every time with its offset."""
    assert set(plan) == DAY_KEYS
    assert plan["tz"] == "Europe/Berlin"
    assert all(len(pair) == 2 and local(pair[0]) < local(pair[1]) for pair in plan["busy"])
    for chain in plan["chains"]:
        assert set(chain) == {"start", "end", "meetings"}
        assert local(chain["start"]) < local(chain["end"])
        assert isinstance(chain["meetings"], int)
        assert chain["meetings"] >= 2
    assert {"meeting_minutes", "longest_chain_minutes"} <= set(plan["summary"])
    assert isinstance(plan["summary"]["meeting_minutes"], int)
    assert isinstance(plan["summary"]["longest_chain_minutes"], int)
    for at, load in plan["load"]:
        assert local(at).date().isoformat() == plan["date"]
        assert 0.0 <= load <= 1.0
    for nudge in plan["nudges"]:
        assert set(nudge) == NUDGE_KEYS
        assert nudge["kind"] in {"reset", "heavy_day", "reflection"}
        assert local(nudge["at"]) < local(nudge["expires_at"])
        assert isinstance(nudge["text"], str)
        assert nudge["text"]
        assert (nudge["practice"] is not None) == (nudge["kind"] == "reset")


def test_json_for_one_day_is_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    monday = day_json(capsys, "2026-11-23", *SAM)
    check_day_shape(monday)
    assert monday["date"] == "2026-11-23"
    assert monday["busy"][0] == ["2026-11-23T09:00:00+01:00", "2026-11-23T09:30:00+01:00"]
    assert len(monday["busy"]) == 8
    assert monday["chains"] == [
        {"start": "2026-11-23T09:00:00+01:00", "end": "2026-11-23T12:30:00+01:00", "meetings": 6}
    ]
    assert monday["summary"]["meeting_minutes"] == 275
    assert monday["summary"]["longest_chain_minutes"] == 210
    resets = nudges_of(monday, "reset")
    assert [clock(n["at"]) for n in resets] == ["09:45", "10:30", "11:15", "12:30"]
    assert resets[-1]["expires_at"] == "2026-11-23T13:00:00+01:00"
    assert all(isinstance(n["practice"], str) for n in resets)


def test_json_for_several_days_is_an_array(capsys: pytest.CaptureFixture[str]) -> None:
    week = preview_json(capsys, "--date", "2026-11-23", "--days", "5", *SAM)
    assert isinstance(week, list)
    assert [d["date"] for d in week] == [f"2026-11-{n}" for n in range(23, 28)]
    for plan in week:
        check_day_shape(plan)
    monday, tuesday, wednesday, thursday, friday = week
    assert [n["at"] for n in nudges_of(tuesday, "heavy_day")] == ["2026-11-24T09:00:00+01:00"]
    assert tuesday["summary"]["meeting_minutes"] >= 300
    assert tuesday["summary"]["longest_chain_minutes"] == 195
    assert wednesday["nudges"] == []
    assert wednesday["chains"] == []
    assert ("16:30", "17:00") in busy_clocks(thursday)
    assert ("15:00", "15:30") not in busy_clocks(thursday)
    [reflection] = nudges_of(friday, "reflection")
    assert reflection["at"] == "2026-11-27T16:15:00+01:00"
    assert reflection["expires_at"] == "2026-11-27T18:00:00+01:00"
    assert reflection["practice"] is None
    assert monday["nudges"][0]["kind"] == "heavy_day"  # a 3 h 30 min chain is heavy too


def test_json_matches_a_single_day_run(capsys: pytest.CaptureFixture[str]) -> None:
    week = preview_json(capsys, "--date", "2026-11-23", "--days", "5", *SAM)
    assert day_json(capsys, "2026-11-26", *SAM) == week[3]


# --- flags --------------------------------------------------------------------------------------


def test_email_drops_the_declined_invitation(capsys: pytest.CaptureFixture[str]) -> None:
    everyone = busy_clocks(day_json(capsys, "2026-11-25"))
    sam = busy_clocks(day_json(capsys, "2026-11-25", *SAM))
    assert ("14:00", "15:00") in everyone
    assert sam == [("09:30", "09:45"), ("11:00", "11:30"), ("16:30", "17:15")]
    assert [b for b in everyone if b not in sam] == [("14:00", "15:00")]
    # Someone else's address changes nothing: sam's own answer is what counts.
    assert busy_clocks(day_json(capsys, "2026-11-25", "--email", "lena@example.com")) == everyone


def test_quiet_hours_remove_the_nudges_inside_them(capsys: pytest.CaptureFixture[str]) -> None:
    before = day_json(capsys, "2026-11-23", *SAM)
    after = day_json(capsys, "2026-11-23", *SAM, "--quiet", "12:00-14:00")
    assert "12:30" in [clock(n["at"]) for n in nudges_of(before, "reset")]
    quiet = [n for n in after["nudges"] if "12:00" <= clock(n["at"]) < "14:00"]
    assert quiet == []

    # Outside the quiet span the same nudges go at the same times, and the meetings stand ...
    def times(plan: dict[str, Any]) -> list[tuple[str, str]]:
        return [(n["kind"], clock(n["at"])) for n in plan["nudges"] if clock(n["at"]) < "12:00"]

    assert times(after) == times(before) != []
    assert after["busy"] == before["busy"]
    # ... but the heads-up no longer suggests a break inside the quiet hours.
    [heads_up] = nudges_of(after, "heavy_day")
    assert (
        "best window to come back to baseline is 12:30–14:00"
        in nudges_of(before, "heavy_day")[0]["text"]
    )
    assert "best window to come back to baseline is 14:30–16:00" in heads_up["text"]


def test_quiet_hours_in_text(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = preview(
        capsys, "--date", "2026-11-23", "--tz", "Europe/Berlin", *SAM, "--quiet", "9-12"
    )
    assert status == 0
    plan = out.split("  Plan:", 1)[1]
    assert "    12:30 (until 13:00)  reset · " in plan
    for quiet in ("09:00 (", "09:45 (", "10:30 (", "11:15 ("):
        assert quiet not in plan


def test_working_hours_move_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    late = day_json(capsys, "2026-11-23", *SAM, "--hours", "10:00-18:00")
    assert all(clock(n["at"]) >= "10:00" for n in late["nudges"])
    assert [clock(n["at"]) for n in nudges_of(late, "heavy_day")] == ["10:30"]
    assert clock(late["load"][0][0]) == "10:00"
    assert clock(late["load"][-1][0]) == "18:00"
    # Ending the day at 16:00 leaves no time for Friday's reflection after the 16:15 meeting.
    early = day_json(capsys, "2026-11-27", *SAM, "--hours", "09:00-16:00")
    assert nudges_of(early, "reflection") == []
    assert nudges_of(day_json(capsys, "2026-11-27", *SAM), "reflection") != []


def test_working_hours_show_in_the_text_header(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = preview(
        capsys, "--date", "2026-11-23", "--tz", "Europe/Berlin", "--hours", "8-17"
    )
    assert status == 0
    assert out.startswith("Monday 23 November 2026 · Europe/Berlin · working hours 08:00-17:00\n")
    assert "  Load 08:00 " in out
    assert " 17:00  (peak " in out


# --- bad input ----------------------------------------------------------------------------------


def args(path: Path | str, *extra: str) -> list[str]:
    return ["preview", str(path), "--date", "2026-11-23", "--tz", "Europe/Berlin", *extra]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def not_a_calendar(tmp: Path) -> list[str]:
    return args(write(tmp / "notes.ics", b"Remember to book the room for Thursday.\n"))


def truncated(tmp: Path) -> list[str]:
    whole = SAMPLE.read_bytes()
    return args(write(tmp / "cut.ics", whole[: len(whole) // 2]))


def binary(tmp: Path) -> list[str]:
    return args(write(tmp / "noise.ics", random.Random(7).randbytes(4096)))  # noqa: S311 - test data


def fifty_megabytes(tmp: Path) -> list[str]:
    return args(sparse_calendar(tmp / "huge.ics", FIFTY_MB))


def every_second(tmp: Path) -> list[str]:
    event = (
        "BEGIN:VEVENT\r\nUID:tick@example.com\r\nDTSTART:20261123T080000Z\r\n"
        "DTEND:20261123T080001Z\r\nRRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\n"
    )
    return args(write(tmp / "tick.ics", calendar(event).encode()))


def hundred_thousand_events(tmp: Path) -> list[str]:
    events = "".join(f"BEGIN:VEVENT\r\nUID:{n}\r\nEND:VEVENT\r\n" for n in range(100_000))
    return args(write(tmp / "many.ics", calendar(events).encode()))


def calendar(body: str) -> str:
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


def sparse_calendar(path: Path, size: int) -> Path:
    """A calendar-looking file of ``size`` bytes, almost all of it a hole on disk."""
    head, tail = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", b"END:VCALENDAR\r\n"
    with path.open("wb") as handle:
        handle.write(head)
        handle.seek(size - len(tail))
        handle.write(tail)
    assert path.stat().st_size == size
    return path


BAD_INPUT: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("not-a-calendar", not_a_calendar, "not an iCalendar (.ics) feed"),
    ("truncated", truncated, "cut off"),
    ("binary", binary, "binary file"),
    ("50-mb", fifty_megabytes, "too big (50.0 MB; the limit is 5.0 MB)"),
    ("secondly", every_second, "repeating every second or minute"),
    ("100k-events", hundred_thousand_events, "too many events (100,000; the limit is 25,000)"),
    ("missing-file", lambda tmp: args(tmp / "nowhere.ics"), "nowhere.ics: no such file"),
    ("directory", args, "is a directory"),
    ("unknown-zone", lambda _: args(SAMPLE, "--tz", "Mars/Base"), "unknown time zone 'Mars/Base'"),
    ("zone-folder", lambda _: args(SAMPLE, "--tz", "Europe"), "unknown time zone 'Europe'"),
    ("bad-date", lambda _: args(SAMPLE, "--date", "2026-13-45"), "--date '2026-13-45'"),
    ("date-at-the-end", lambda _: args(SAMPLE, "--date", "9999-12-31"), "--date must be"),
    ("date-at-the-start", lambda _: args(SAMPLE, "--date", "0001-01-01"), "--date must be"),
    ("bad-hours", lambda _: args(SAMPLE, "--hours", "25:00-26:00"), "--hours '25:00-26:00'"),
    ("bad-quiet", lambda _: args(SAMPLE, "--quiet", "noon"), "--quiet 'noon'"),
    ("zero-days", lambda _: args(SAMPLE, "--days", "0"), "--days must be between 1 and 31"),
    ("many-days", lambda _: args(SAMPLE, "--days", "32"), "--days must be between 1 and 31"),
    ("days-not-a-number", lambda _: args(SAMPLE, "--days", "five"), "invalid int value: 'five'"),
    ("no-zone", lambda _: ["preview", str(SAMPLE)], "required: --tz"),
    ("no-command", lambda _: [], "required: command"),
]


@pytest.mark.parametrize(
    ("build", "expected"),
    [pytest.param(build, expected, id=name) for name, build, expected in BAD_INPUT],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    build: Callable[[Path], list[str]],
    expected: str,
) -> None:
    status, out, err = run(capsys, *build(tmp_path))
    assert status == 2
    assert out == ""
    assert err.endswith("\n")
    assert err.count("\n") == 1, err
    assert err.startswith("baseline: error: ")
    assert expected in err
    assert "Traceback" not in err


class _CountingReader:
    """Wraps a binary file handle and records how many bytes each read returned."""

    def __init__(self, handle: IO[bytes], reads: list[int]) -> None:
        self._handle, self._reads = handle, reads

    def __enter__(self) -> _CountingReader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._handle.close()

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._reads.append(len(data))
        return data


@pytest.fixture
def reads_of(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], list[int]]:
    """``reads_of(path)``: the sizes of every read of ``path`` through ``Path.open``."""
    seen: dict[Path, list[int]] = {}
    real_open = Path.open

    def spying_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, *args, **kwargs)
        if self in seen:
            return _CountingReader(handle, seen[self])
        return handle

    def reads(path: Path) -> list[int]:
        return seen.setdefault(path, [])

    monkeypatch.setattr(Path, "open", spying_open)
    return reads


def test_a_huge_file_is_refused_after_reading_just_past_the_limit(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    reads_of: Callable[[Path], list[int]],
) -> None:
    huge = sparse_calendar(tmp_path / "huge.ics", FIFTY_MB)
    reads = reads_of(huge)
    status, out, err = run(capsys, *args(huge))
    limit = load_settings().calendar.max_bytes
    assert (status, out) == (2, "")
    assert "too big (50.0 MB" in err
    assert reads, "the spy saw no read: it is not measuring the CLI"
    assert sum(reads) == limit + 1


def test_a_file_just_under_the_limit_is_read_whole(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    reads_of: Callable[[Path], list[int]],
) -> None:
    limit = load_settings().calendar.max_bytes
    # Padding inside the calendar: harmless blank-ish lines up to exactly the limit.
    head = SAMPLE.read_bytes()
    padding = b"X-PAD:" + b"x" * (limit - len(head) - len(b"X-PAD:\r\n")) + b"\r\n"
    body = head.replace(b"END:VCALENDAR\r\n", padding + b"END:VCALENDAR\r\n")
    assert len(body) == limit
    exact = write(tmp_path / "exact.ics", body)
    reads = reads_of(exact)
    status, out, err = run(capsys, *args(exact, *SAM))
    assert (status, err) == (0, "")
    assert "back-to-back: 6 meetings" in out
    assert sum(reads) == limit


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_device_is_refused_with_the_limit(capsys: pytest.CaptureFixture[str]) -> None:
    # A device (or a pipe) has no size to report: the message says only the limit.
    status, out, err = run(capsys, *args("/dev/zero"))
    assert (status, out) == (2, "")
    assert err == "baseline: error: the calendar is too big (the limit is 5.0 MB)\n"


# --- the real entry point -----------------------------------------------------------------------


def run_module(*argv: str, stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    """``python -m bot.cli ARGV`` in a fresh interpreter, with the shipped settings and stdout
    buffered as in a terminal session (no PYTHONUNBUFFERED), so a closed pipe shows late."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("BASELINE_") and k != "PYTHONUNBUFFERED"
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot.cli", *argv],
        cwd=ROOT,
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        pytest.param(binary, "binary file", id="binary"),
        pytest.param(truncated, "cut off", id="truncated"),
        pytest.param(lambda tmp: args(tmp / "nowhere.ics"), "no such file", id="missing-file"),
        pytest.param(lambda _: args(SAMPLE, "--tz", "Mars/Base"), "Mars/Base", id="unknown-zone"),
        pytest.param(lambda _: args(SAMPLE, "--days", "0"), "--days", id="zero-days"),
    ],
)
def test_the_entry_point_exits_2_with_one_line(
    tmp_path: Path, build: Callable[[Path], list[str]], expected: str
) -> None:
    done = run_module(*build(tmp_path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("baseline: error: ")
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_the_entry_point_prints_the_demo() -> None:
    done = run_module("preview", str(SAMPLE), *WEEK, *SAM)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("Monday 23 November 2026 · Europe/Berlin")
    assert done.stdout.count("\n\n") == 4


def test_a_closed_pipe_ends_quietly() -> None:
    # `baseline preview ... | head -1`: the reader is gone before anything is written.
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = run_module(
            "preview", str(SAMPLE), "--tz", "UTC", "--date", "2026-11-23", stdout=writer
        )
    finally:
        os.close(writer)
    assert done.returncode == 1
    assert done.stderr == ""
