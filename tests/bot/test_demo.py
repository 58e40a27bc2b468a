"""``baseline demo``: the real bot against the Slack simulator, end to end.

A whole day in-process (resets land at the ends of real meetings, sized to the real gap),
the interactive mode driven by a script (``/feel``, clicking a reset's buttons, a snooze
that comes back, the /feel form, a kind hint for nonsense, ``quit``), the same demo on a
real Redis, and the command line as a person runs it (exit codes, Ctrl-C, no tracebacks).
Time is never asserted on: only simulated times, which the demo controls.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bot import keys, texts
from bot.demo.clock import DemoClock
from bot.demo.run import (
    BOT_TOKEN,
    SIGNING_SECRET,
    DemoError,
    DemoOptions,
    DemoReport,
    DemoSession,
    plan_span,
    run_demo,
)
from bot.demo.simulator import Arrival, ArrivalKind, Surface, SurfaceKind, buttons_of
from bot.demo.team import (
    HOME_ZONE,
    SAMPLE_TEAM,
    TEAM_ID,
    Person,
    busy_spans,
    calendar_ics,
    demo_day,
    find_person,
)
from bot.demo.terminal import Terminal, plain
from config.catalog import load_catalog
from nudges.calendar import busy_intervals
from nudges.catalog import Practice
from nudges.insights import Outcome

ROOT = Path(__file__).resolve().parents[2]
FASTEST = 10_000.0  # simulated minutes per real second: as fast as the machine goes
WAIT = 60.0  # real seconds a scripted step may wait for the bot (a ceiling, never expected)
MONDAY = date(2030, 11, 18)  # a fixed, future weekday: what the demo stores is never past
CATALOG = load_catalog(None)
NOTE = "so tired today"
MAYA, JONAS, SAM, INES, LEO = SAMPLE_TEAM


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo reads BASELINE_* (a policy to try) and REDIS_URL: none of the shell's."""
    for name in list(os.environ):
        if name.upper().startswith("BASELINE_") or name.upper() == "REDIS_URL":
            monkeypatch.delenv(name)


async def play(
    lines: Callable[[DemoSession], AsyncIterator[str]] | None = None, **options: Any
) -> tuple[DemoReport, str]:
    out = io.StringIO()
    report = await run_demo(
        DemoOptions(**{"speed": FASTEST, "day": MONDAY, **options}), out=out, lines=lines
    )
    return report, out.getvalue()


def is_reset(arrival: Arrival) -> bool:
    return any(b.get("block_id") == "reset" for b in arrival.surface.blocks)


def practice_of(surface: Surface) -> Practice:
    """The catalog practice a reset DM shows, by its exact words."""
    section = surface.blocks[0]["text"]["text"]
    found = [p for p in CATALOG.practices if texts.practice(p.title, p.text) == section]
    assert len(found) == 1, section
    return found[0]


def local(moment: datetime, person: Person) -> time:
    return moment.astimezone(person.tz).time()


def assert_clean(text: str) -> None:
    """No traceback, no secret address of a calendar, no token, no private note."""
    assert "Traceback" not in text
    assert "/calendars/" not in text
    assert BOT_TOKEN not in text
    assert SIGNING_SECRET not in text
    assert NOTE not in text


# --- a whole day ---------------------------------------------------------------------------


async def test_a_day_brings_each_person_resets_sized_to_the_real_gaps(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    report, out = await play(hours=12)
    assert report.finished
    assert report.store == "in-process (fakeredis)"
    assert report.unknown_methods == []
    nudges = 0
    for person in SAMPLE_TEAM:
        dms = report.dms(person)
        resets = [dm for dm in dms if is_reset(dm)]
        assert resets, f"{person.first_name} got no reset"
        nudges += len(dms)
        for reset in resets:
            at = reset.at
            busy = busy_spans(person, report.day, now=at)
            # Sent as a meeting ends, never inside one.
            assert any(end == at for _, end in busy), (person.first_name, local(at, person))
            assert not any(start < at < end for start, end in busy)
            following = [start for start, _ in busy if start >= at]
            gap = min(following) - at if following else timedelta(hours=8)
            practice = practice_of(reset.surface)
            assert practice.fits(gap), (person.first_name, practice.id, gap)
            if gap == timedelta(0):
                assert practice.while_connecting
    # Every nudge the worker sent is a DM someone got; Sam's reset in his DND was held back.
    assert report.counters["sent"] == nudges
    assert report.counters["dropped:dnd"] == 1
    assert not [dm for dm in report.dms(SAM) if time(16, 40) <= local(dm.at, SAM) < time(17, 30)]
    # Sam's quiet hours (set at the start) and everyone's working hours hold.
    assert not [dm for dm in report.dms(SAM) if time(12, 15) <= local(dm.at, SAM) < time(13, 15)]
    assert all(time(8, 0) <= local(dm.at, LEO) <= time(16, 30) for dm in report.dms(LEO))
    # Maya's heavy day starts with a heads-up; her reflection comes when she asked for it.
    first = report.dms(MAYA)[0]
    assert local(first.at, MAYA) == time(9, 0)
    assert first.surface.text.startswith("Heads-up")
    assert [
        local(dm.at, MAYA)
        for dm in report.dms(MAYA)
        if dm.surface.text.startswith(texts.REFLECTION_FALLBACK[:20])
    ] == [time(17, 45)]
    # Ines's afternoon changed at 12:10: the sync read it and re-planned; a reset between
    # the two new calls could only come from the new calendar.
    assert report.counters["sync:changed"] >= 1
    assert any(local(r.at, INES) in (time(13, 30), time(14, 0)) for r in report.dms(INES))
    # What the terminal shows.
    assert "12:00 Berlin · Maya · DM from Baseline" in out
    assert "reply to /baseline calendar" in out
    assert "DMs from Baseline:" in out
    assert "1 Do Not Disturb" in out
    assert_clean(out)
    assert_clean("\n".join(r.getMessage() for r in caplog.records))


async def test_every_sample_calendar_reads_as_the_meetings_it_was_written_with() -> None:
    """Through Baseline's own parser: declined and free events are not busy."""
    evening = datetime.combine(MONDAY, time(23, 0), tzinfo=UTC)
    for person in SAMPLE_TEAM:
        feed = calendar_ics(person, MONDAY, now=evening)
        busy = busy_intervals(
            feed, first_day=MONDAY, last_day=MONDAY, tz=person.tz, email=person.email
        )
        assert [(b.start, b.end) for b in busy] == busy_spans(person, MONDAY, now=evening)
    assert len(busy_spans(JONAS, MONDAY, now=evening)) == 5  # all-hands declined, focus free


# --- interactive --------------------------------------------------------------------------


def number_of(terminal: Terminal, surface: Surface, action_id: str) -> str:
    """The number the terminal gave a button of ``surface``."""
    for number, button in terminal.buttons.items():
        mine = button.surface_key == surface.key and button.action_id == action_id
        if mine and button in buttons_of(surface):
            return str(number)
    raise AssertionError(f"no numbered {action_id} on {surface.key}")


async def test_interactive_feel_buttons_snooze_form_and_quit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    seen: dict[str, Any] = {}

    async def script(session: DemoSession) -> AsyncIterator[str]:
        slack, me = session.simulator, session.me.user_id

        async def arrival(matches: Callable[[Arrival], bool]) -> Arrival:
            return await slack.wait_for(matches, timeout=WAIT)

        def mine(a: Arrival) -> bool:
            return a.surface.user == me

        def updated(surface: Surface) -> Callable[[Arrival], bool]:
            return lambda a: a.kind is ArrivalKind.UPDATED and a.surface.key == surface.key

        yield f"/feel 3 {NOTE}"
        feel = await arrival(lambda a: mine(a) and a.surface.answers == "/feel")
        seen["feel"] = feel.surface.text
        yield "what is this"
        yield "/weather"
        yield "42"
        # A reset: Done, then 👍.
        first = await arrival(
            lambda a: mine(a) and a.surface.kind is SurfaceKind.DM and is_reset(a)
        )
        yield number_of(session.terminal, first.surface, "reset_done")
        done = await arrival(updated(first.surface))
        seen["done"] = done.surface.text
        yield number_of(session.terminal, done.surface, "reset_helped")
        rated = await arrival(
            lambda a: updated(first.surface)(a) and a.surface.text != done.surface.text
        )
        seen["rated"] = rated.surface.text
        yield number_of(session.terminal, first.surface, "reset_done")  # gone since
        # The next reset: snoozed, and back ten minutes later with the same key.
        second = await arrival(
            lambda a: mine(a) and is_reset(a) and a.kind is ArrivalKind.NEW and a.at > first.at
        )
        yield number_of(session.terminal, second.surface, "reset_snooze")
        snoozed = await arrival(updated(second.surface))
        seen["snoozed"] = snoozed
        key = buttons_of(second.surface)[0].value
        again = await arrival(
            lambda a: (
                mine(a)
                and a.kind is ArrivalKind.NEW
                and a.surface.key != second.surface.key
                and bool(buttons_of(a.surface))
                and buttons_of(a.surface)[0].value == key
            )
        )
        seen["again"] = again
        # The one-tap form: score 4, nothing else.
        yield "/feel"
        await arrival(lambda a: mine(a) and a.surface.kind is SurfaceKind.MODAL)
        for answer in ("submit", "4", "", ""):
            yield answer
        logged = await arrival(lambda a: mine(a) and "Logged: *4*" in a.surface.text)
        seen["logged"] = logged.surface.kind
        seen["outcomes"] = await session.store.outcomes(
            TEAM_ID, me, since=datetime.combine(MONDAY, time(0), tzinfo=UTC)
        )
        yield "help"
        yield "quit"

    # A long day, so a slow machine cannot reach its end before the script does.
    report, out = await play(script, interactive=True, speed=60.0, hours=24)
    assert not report.finished  # quit before the day was over
    assert report.unknown_methods == []
    assert seen["feel"] == texts.feel_saved(3)
    assert seen["done"].startswith("Nicely done")
    assert "helped" in seen["rated"]
    snoozed, again = seen["snoozed"], seen["again"]
    back_at = (snoozed.at + timedelta(minutes=10)).astimezone(MAYA.tz)
    assert f"snoozed until {back_at:%H:%M}" in snoozed.surface.text
    assert again.at - snoozed.at == timedelta(minutes=10)
    assert seen["logged"] is SurfaceKind.DM
    outcomes = {(o.outcome, o.helped) for o in seen["outcomes"]}
    assert (Outcome.DONE, True) in outcomes
    assert (Outcome.SNOOZED, None) in outcomes
    # Kind one-line hints for what it does not understand.
    assert "I didn't catch that. Type a command like /feel 3 tired" in out
    assert "Baseline answers /feel and /baseline; /weather isn't one of them." in out
    assert "There is no button [42]." in out
    assert "is gone: that message has changed since" in out
    assert "What you can type:" in out
    assert "[1] Done" in out
    # Only Maya's own messages are shown in full; the others in one line each.
    assert "Jonas got a DM: A short reset:" in out
    assert "Jonas · DM from Baseline" not in out
    assert "the demo stops here" in out
    assert_clean(out)
    assert_clean("\n".join(r.getMessage() for r in caplog.records))


async def test_interactive_as_another_person_and_the_lead_only_commands() -> None:
    async def script(session: DemoSession) -> AsyncIterator[str]:
        yield "/baseline team"
        await session.simulator.wait_for(
            lambda a: a.surface.user == session.me.user_id and a.surface.kind is SurfaceKind.REPLY,
            timeout=WAIT,
        )
        yield "now"
        yield "home"
        await session.simulator.wait_for(lambda a: a.surface.kind is SurfaceKind.HOME, timeout=WAIT)

    report, out = await play(script, interactive=True, as_name="leo", speed=30.0)
    assert "You are Leo" in out
    assert "(sent from #team: it is about the channel)" in out
    assert "Leo · Home tab" in out
    # Leo does not lead #team: Baseline says so instead of showing the team view.
    reply = next(a for a in report.arrivals if a.surface.answers == "/baseline team")
    assert "Team view" not in reply.surface.text
    assert "Berlin" in out
    assert "New York" in out
    assert report.unknown_methods == []
    assert_clean(out)


# --- real Redis ------------------------------------------------------------------------------


async def test_with_redis_url_it_uses_that_redis_and_starts_afresh_each_time(
    redis: Redis, redis_url: str
) -> None:
    first, out = await play(hours=4, redis_url=redis_url)
    assert first.store.startswith("Redis at 127.0.0.1:")
    assert "Store: Redis at 127.0.0.1:" in out
    assert first.dms(MAYA)
    assert int(await redis.hget(keys.counters(), "sent") or 0) == first.counters["sent"] > 0
    assert await redis.exists(keys.profile(TEAM_ID, MAYA.user_id))
    # A second run forgets the first one's team, so its nudges are sent again (not deduplicated).
    second, _ = await play(hours=4, redis_url=redis_url)
    assert [dm.surface.text for dm in second.dms(MAYA)] == [
        dm.surface.text for dm in first.dms(MAYA)
    ]
    assert second.counters["sent"] == first.counters["sent"]
    assert "deduplicated" not in second.counters


async def test_it_refuses_a_redis_that_a_running_baseline_uses(
    redis: Redis, redis_url: str
) -> None:
    await redis.zadd(keys.sync_schedule(0), {"T0REAL:U0SOMEONE": 1.0})
    with pytest.raises(DemoError, match="holds another Baseline's data"):
        await play(hours=1, redis_url=redis_url)
    assert await redis.zscore(keys.sync_schedule(0), "T0REAL:U0SOMEONE") == 1.0


async def test_an_unreachable_redis_is_one_line() -> None:
    with pytest.raises(DemoError, match=r"could not be reached .*unset REDIS_URL"):
        await play(hours=1, redis_url="redis://127.0.0.1:1/0")


# --- the command line ------------------------------------------------------------------------


def cli_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("BASELINE_") and k.upper() != "REDIS_URL"
    }


def baseline(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot.cli", "demo", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=cli_env(),
        timeout=240,
        check=False,
    )


def test_baseline_demo_plays_the_morning_from_the_command_line() -> None:
    done = baseline("--speed", "10000", "--until", "11:00")
    assert done.returncode == 0, done.stderr
    assert "Store: in-process (fakeredis)" in done.stdout
    assert "10:30 Berlin · Maya · DM from Baseline" in done.stdout
    assert "[Done]" in done.stdout
    assert "11:00 Berlin · the day is over" in done.stdout
    assert "Traceback" not in done.stderr
    assert_clean(done.stdout + done.stderr)


def test_interactive_from_stdin_ends_at_the_end_of_input() -> None:
    done = baseline("--interactive", "--speed", "30", stdin="help\nnonsense\n/feel 4\n")
    assert done.returncode == 0, done.stderr
    assert "What you can type:" in done.stdout
    assert "I didn't catch that." in done.stdout
    assert "the demo stops here" in done.stdout
    assert_clean(done.stdout + done.stderr)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--as", "Zed"], "--as 'Zed' is not in the sample team (Maya, Jonas, Sam, Ines, Leo)"),
        (["--speed", "0"], "--speed must be above 0"),
        (["--hours", "100"], "--hours must be above 0 and at most 48"),
        (["--until", "25:00"], "--until '25:00' is not a time like 17:30"),
        (["--hours", "2", "--until", "12:00"], "not allowed with argument"),
    ],
)
def test_bad_options_are_one_line_and_status_2(argv: list[str], message: str) -> None:
    done = baseline(*argv)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("baseline: error:")
    assert message in done.stderr
    assert done.stderr.count("\n") == 1


async def test_ctrl_c_stops_cleanly_with_the_summary() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "demo",
        "--interactive",
        "--speed",
        "1",
        cwd=ROOT,
        env=cli_env(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    seen = b""
    async with asyncio.timeout(WAIT):
        while b"The day begins." not in seen:
            line = await process.stdout.readline()
            assert line, seen.decode()
            seen += line
    process.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), WAIT)
    assert process.returncode == 0, err.decode()
    text = (seen + out).decode() + err.decode()
    assert "the demo stops here" in text
    assert "DMs from Baseline:" in text
    assert "KeyboardInterrupt" not in text
    assert_clean(text)


# --- the parts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("speed", "step_seconds"),
    [(0.1, 1), (1, 3), (2, 5), (4, 10), (8, 15), (10_000, 15)],
)
def test_the_clock_steps_on_a_grid_that_divides_a_minute(speed: float, step_seconds: int) -> None:
    start = datetime(2030, 11, 18, 7, 30, 7, tzinfo=UTC)
    clock = DemoClock(start, speed=speed)
    assert clock.step == timedelta(seconds=step_seconds)
    following = clock.next_step()
    assert start < following <= start + clock.step
    assert following.timestamp() % step_seconds == 0


@pytest.mark.parametrize("speed", [0, -1, 10_001])
def test_the_clock_refuses_a_speed_it_cannot_keep(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        DemoClock(datetime(2030, 1, 1, tzinfo=UTC), speed=speed)


@pytest.mark.parametrize(
    ("today", "day"),
    [
        (date(2030, 11, 15), date(2030, 11, 18)),  # Friday → Monday
        (date(2030, 11, 16), date(2030, 11, 18)),  # Saturday → Monday
        (date(2030, 11, 18), date(2030, 11, 19)),  # Monday → Tuesday
    ],
)
def test_the_demo_plays_the_next_weekday(today: date, day: date) -> None:
    assert demo_day(today) == day


def test_the_span_by_hours_or_until() -> None:
    day, start, end, speed = plan_span(DemoOptions(day=MONDAY), today=MONDAY)
    assert (day, speed) == (MONDAY, 8.0)
    assert start.astimezone(HOME_ZONE).time() == time(8, 30)
    assert end - start == timedelta(hours=12)
    _, _, end, speed = plan_span(
        DemoOptions(day=MONDAY, until=time(17, 0), interactive=True), today=MONDAY
    )
    assert (end.astimezone(HOME_ZONE).time(), speed) == (time(17, 0), 1.0)
    with pytest.raises(DemoError, match="--hours"):
        plan_span(DemoOptions(hours=0), today=MONDAY)


@pytest.mark.parametrize(
    ("name", "person"),
    [("maya", MAYA), ("Leo Martins", LEO), ("U0DEMOSAM", SAM), ("nobody", None)],
)
def test_people_are_found_by_name_or_id(name: str, person: Person | None) -> None:
    assert find_person(SAMPLE_TEAM, name) == person


@pytest.mark.parametrize(
    ("mrkdwn", "shown"),
    [
        ("*Box breathing*\nIn for four", "Box breathing\nIn for four"),
        ("see <https://example.com/x|the guide>", "see the guide"),
        ("<#C0DEMOTEAM|team> &amp; <!here>", "#team & @here"),
        ("snake_case_name stays", "snake_case_name stays"),
        ("_gently_ now", "gently now"),
        (":herb: starts now, 10:00-10:30", "🌿 starts now, 10:00-10:30"),
    ],
)
def test_mrkdwn_reads_as_plain_text(mrkdwn: str, shown: str) -> None:
    assert plain(mrkdwn) == shown
