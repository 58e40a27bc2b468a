"""``baseline demo``: the real app, listeners, planner, worker and delivery, wired to the
Slack simulator, the sample team's calendar feeds and the fast clock, for one working day.

How time works. The bot reads only ``DemoClock.now()``. The real :class:`~bot.worker.Worker`
runs as ``baseline run`` runs it, but its slower loops count *real* seconds (sync every 2 s,
day starts every 30 s, window edges every 15 s), hours of simulated time at demo speed; so
the demo also runs those same jobs itself once per simulated minute. And it never moves the
clock past a nudge that is due: it stops at the nudge's time and waits for the worker's
delivery loop to send it, so each DM arrives at the minute it was planned for, at any speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import TextIO
from urllib.parse import urlsplit

from aiohttp import web
from cryptography.fernet import Fernet
from redis.exceptions import RedisError

from bot import keys, texts
from bot.announcer import run_window_edges
from bot.app import build_services, create_app, create_web_app, slack_client
from bot.clock import SystemClock
from bot.demo.clock import MAX_SPEED, DemoClock
from bot.demo.feeds import FeedServer
from bot.demo.interactive import Console, help_text, stdin_lines
from bot.demo.loopback import serve_on_loopback
from bot.demo.simulator import Arrival, ArrivalKind, SlackSimulator, SurfaceKind
from bot.demo.team import (
    HOME_ZONE,
    SAMPLE_TEAM,
    START_AT,
    TEAM_CHANNEL,
    TEAM_ID,
    Person,
    at,
    demo_day,
    find_person,
)
from bot.demo.terminal import Terminal
from bot.planning import forget_plans, run_day_starts
from bot.queue import DropReason
from bot.replies import SharedHttp
from bot.serve import build_store
from bot.store import TRANSIENT_ERRORS, RedisClient, Store, StoreUnavailableError
from bot.vault import Vault
from bot.windows import WindowStore
from bot.worker import Worker
from config.settings import Settings, load_settings

logger = logging.getLogger(__name__)

DEFAULT_SPEED = 8.0  # simulated minutes per real second: a 12-hour day in 90 seconds
INTERACTIVE_SPEED = 1.0  # time to read a reset and click it
DEFAULT_HOURS = 12.0
MAX_HOURS = 48.0
# Fixed, because the simulator and the bot are the only two parties, both in this process.
BOT_TOKEN = "xoxb-0-demo-baseline"  # noqa: S105 - a made-up token for the simulator
SIGNING_SECRET = "baseline-demo-signing-secret"  # noqa: S105 - shared with the simulator only
# Real seconds: a reply to a command (reading a calendar takes longest) and a due nudge.
REPLY_TIMEOUT = 30.0
SETTLE_TIMEOUT = 5.0
SETTLE_POLL = 0.02
_MINUTE = timedelta(minutes=1)
_DROPS = {
    DropReason.OPTED_OUT: "turned off",
    DropReason.PAUSED: "paused",
    DropReason.QUIET_HOURS: "quiet hours",
    DropReason.OUTSIDE_HOURS: "outside working hours",
    DropReason.DND: "Do Not Disturb",
    DropReason.HUDDLE: "in a huddle",
    DropReason.IN_MEETING: "in a meeting (Slack status)",
    DropReason.REPLACED: "replaced",
    DropReason.SLACK_ERROR: "Slack refused",
    DropReason.UNCERTAIN: "uncertain",
    DropReason.RECOVERY_WINDOW: "team recovery window",
}


class DemoError(Exception):
    """The demo cannot start as asked; the message says why in one line."""


@dataclass(frozen=True)
class DemoOptions:
    interactive: bool = False
    speed: float | None = None  # simulated minutes per real second; by mode when None
    hours: float | None = None  # how much of the day to play (DEFAULT_HOURS)
    until: time | None = None  # or until this time, in HOME_ZONE
    as_name: str | None = None  # who the keyboard is (interactive); the first person if None
    day: date | None = None  # the next weekday when None
    redis_url: str | None = None  # a real Redis; the in-process store when None


@dataclass
class DemoReport:
    """What happened: every arrival, and the delivery counters' change over the run."""

    day: date
    start: datetime
    end: datetime
    store: str
    team: tuple[Person, ...]
    arrivals: list[Arrival]
    counters: dict[str, int]
    finished: bool  # the simulated span ran out (rather than quit or Ctrl-C)
    unknown_methods: list[str]  # Web API methods the bot called that the simulator lacks

    def dms(self, person: Person) -> list[Arrival]:
        """The DMs Baseline posted to ``person`` (as first posted)."""
        return [
            a
            for a in self.arrivals
            if a.kind is ArrivalKind.NEW
            and a.surface.kind is SurfaceKind.DM
            and a.surface.user == person.user_id
        ]


@dataclass
class DemoSession:
    """What a line source sees while the demo runs (tests script with it)."""

    simulator: SlackSimulator
    terminal: Terminal
    clock: DemoClock
    store: Store
    me: Person
    team: tuple[Person, ...]
    day: date
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


LineSource = Callable[[DemoSession], AsyncIterator[str]]


def plan_span(options: DemoOptions, *, today: date) -> tuple[date, datetime, datetime, float]:
    """The day, start, end and speed the options ask for; DemoError when they make no sense."""
    speed = options.speed
    if speed is None:
        speed = INTERACTIVE_SPEED if options.interactive else DEFAULT_SPEED
    if not 0 < speed <= MAX_SPEED:
        raise DemoError(f"--speed must be above 0 and at most {MAX_SPEED:g}")
    day = options.day or demo_day(today)
    start = at(day, START_AT, HOME_ZONE)
    if options.until is not None:
        end = at(day, options.until, HOME_ZONE)
        if end <= start:
            end += timedelta(days=1)
    else:
        hours = DEFAULT_HOURS if options.hours is None else options.hours
        if not 0 < hours <= MAX_HOURS:
            raise DemoError(f"--hours must be above 0 and at most {MAX_HOURS:g}")
        end = start + timedelta(hours=hours)
    return day, start, end, speed


def demo_settings(*, api_url: str, redis_url: str | None) -> Settings:
    """The bot's settings for the demo: the environment's ``BASELINE_*`` (a policy to try),
    with everything that connects it pointed at the simulator and the local feeds."""
    return load_settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_app_token=None,
        slack_client_id=None,
        slack_client_secret=None,
        slack_api_url=api_url,
        encryption_key=Fernet.generate_key().decode(),
        calendar_allow_private=True,  # the feeds are on 127.0.0.1
        calendar_parse_workers=0,  # a few small feeds: parsed in this process
        queue_shards=1,
        worker=True,
        redis_url=redis_url or "redis://in-process/0",
    )


async def run_demo(
    options: DemoOptions,
    *,
    out: TextIO,
    lines: LineSource | None = None,
    color: bool = False,
    handle_signals: bool = False,
    prompt: str = "",
) -> DemoReport:
    """Play the demo's day and print it to ``out``; with ``options.interactive``, lines from
    ``lines`` are what the person types. Returns what happened."""
    team = SAMPLE_TEAM
    me = _me(team, options.as_name)
    today = SystemClock().now().astimezone(HOME_ZONE).date()
    day, start, end, speed = plan_span(options, today=today)
    clock = DemoClock(start, speed=speed)
    terminal = Terminal(out, team, me=me if options.interactive else None, color=color)
    async with (
        SlackSimulator(team, clock=clock, token=BOT_TOKEN, signing_secret=SIGNING_SECRET) as slack,
        FeedServer(team, day=day, clock=clock) as feeds,
    ):
        slack.subscribe(terminal.show)
        settings = demo_settings(api_url=slack.api_url, redis_url=options.redis_url)
        store, described = await _open_store(settings, real=options.redis_url is not None)
        try:
            day_run = _DayRun(
                settings=settings,
                feeds=feeds,
                session=DemoSession(
                    simulator=slack,
                    terminal=terminal,
                    clock=clock,
                    store=store,
                    me=me,
                    team=team,
                    day=day,
                ),
                end=end,
            )
            finished = await day_run.play(
                options,
                lines=lines,
                described=described,
                handle_signals=handle_signals,
                prompt=prompt,
            )
            counters = day_run.counters
        finally:
            await store.redis.aclose()
    return DemoReport(
        day=day,
        start=start,
        end=end,
        store=described,
        team=team,
        arrivals=list(slack.arrivals),
        counters=counters,
        finished=finished,
        unknown_methods=list(slack.unknown_methods),
    )


def _me(team: Sequence[Person], name: str | None) -> Person:
    if name is None:
        return team[0]
    found = find_person(team, name)
    if found is None:
        names = ", ".join(p.first_name for p in team)
        raise DemoError(f"--as {name!r} is not in the sample team ({names})")
    return found


async def _open_store(settings: Settings, *, real: bool) -> tuple[Store, str]:
    if real:
        store = build_store(settings)
        where = _where(settings.redis_url)
        try:
            await store.redis.ping()
            await _refuse_foreign_data(store.redis)
        except (RedisError, OSError, StoreUnavailableError) as exc:
            await store.redis.aclose()
            raise DemoError(
                f"Redis at {where} could not be reached ({type(exc).__name__}); "
                "unset REDIS_URL to use the demo's in-process store"
            ) from None
        except DemoError:
            await store.redis.aclose()
            raise
        return store, f"Redis at {where}"
    try:
        import fakeredis  # noqa: PLC0415 - optional: only the demo's in-process store needs it
    except ImportError:
        raise DemoError(
            "the demo's in-process store needs fakeredis: pip install -e '.[demo]' "
            "(or set REDIS_URL to a Redis of its own)"
        ) from None
    redis: RedisClient = fakeredis.FakeAsyncRedis()
    vault = Vault(settings.fernet_keys())
    return Store(redis, vault, retention=timedelta(days=settings.retention_days)), (
        "in-process (fakeredis)"
    )


async def _refuse_foreign_data(redis: RedisClient) -> None:
    """The demo's worker claims due work on the queue's shard 0: on a Redis that a running
    Baseline uses, it would take (and "send" to the simulator) real people's nudges."""
    shared = (
        keys.queue_at(0),
        keys.queue_ready(0),
        keys.queue_leased(0),
        keys.sync_schedule(0),
        keys.day_starts(0),
        keys.window_edges(0),
    )
    for key in shared:
        async for member, _score in redis.zscan_iter(key):
            text = member.decode() if isinstance(member, bytes) else str(member)
            if not text.startswith(f"{TEAM_ID}:"):
                raise DemoError(
                    "the Redis at REDIS_URL holds another Baseline's data; give the demo a "
                    "Redis of its own, or unset REDIS_URL"
                )


def _where(url: str) -> str:
    """host:port/db of a Redis URL, never its password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or '/0'}"


class _DayRun:
    def __init__(
        self,
        *,
        settings: Settings,
        feeds: FeedServer,
        session: DemoSession,
        end: datetime,
    ) -> None:
        self.settings = settings
        # The simulator, terminal, clock and store are the session's: one of each per run.
        self.store = session.store
        self.clock = session.clock
        self.slack = session.simulator
        self.feeds = feeds
        self.terminal = session.terminal
        self.session = session
        self.team = session.team
        self.end = end
        self.stopping = session.stopping
        self.counters: dict[str, int] = {}
        # Wired as `baseline run` wires one workspace (bot/serve.py).
        self.client = slack_client(settings)
        self.services = build_services(
            settings, store=self.store, clock=self.clock, client=self.client
        )
        self.worker = Worker(self.services, self.services.slack)

    async def play(
        self,
        options: DemoOptions,
        *,
        lines: LineSource | None,
        described: str,
        handle_signals: bool,
        prompt: str,
    ) -> bool:
        runner = await self._serve()
        worker_stop = asyncio.Event()
        worker: asyncio.Task[None] | None = None
        reader: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        if handle_signals:
            loop.add_signal_handler(signal.SIGINT, self.stopping.set)
            loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        try:
            await self._forget_earlier_runs(real=options.redis_url is not None)
            before = await self.services.counters.read()
            worker = asyncio.create_task(self.worker.run(worker_stop))
            self._introduce(options, described)
            await self._set_up(quiet_others=options.interactive)
            if options.interactive and not self.stopping.is_set():
                reader = self._start_console(lines, prompt=prompt)
            if not self.stopping.is_set():
                self.terminal.heading("The day begins.")
                await self._drive()
            finished = self.clock.now() >= self.end
        finally:
            self.terminal.prompt = ""
            if handle_signals:
                loop.remove_signal_handler(signal.SIGINT)
                loop.remove_signal_handler(signal.SIGTERM)
            if reader is not None:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
            worker_stop.set()
            if worker is not None:
                await worker
            await runner.cleanup()
        after = await self.services.counters.read()
        self.counters = {
            name: after.get(name, 0) - before.get(name, 0)
            for name in after
            if after.get(name, 0) != before.get(name, 0)
        }
        self._summarise(finished=finished)
        return finished

    async def _serve(self) -> web.AppRunner:
        """The bot's real aiohttp app (``create_web_app``) on a free local port."""
        http = SharedHttp()
        app = create_app(self.services, client=self.client, http=http)
        web_app = create_web_app(app, store=self.store, http=http, services=self.services)
        runner, self.slack.app_url = await serve_on_loopback(web_app)
        return runner

    def _start_console(self, lines: LineSource | None, *, prompt: str) -> asyncio.Task[None]:
        me, weekday = self.session.me, _weekday(self.session.day)
        self.terminal.hint(help_text(me, weekday=weekday))
        self.terminal.prompt = prompt
        self.terminal.show_prompt()
        console = Console(self.slack, self.terminal, me, weekday=weekday)
        source = lines or (lambda _session: stdin_lines())
        return asyncio.create_task(self._read(console, source))

    # --- before the day ------------------------------------------------------------------

    async def _forget_earlier_runs(self, *, real: bool) -> None:
        """A real Redis may hold an earlier demo's team: start from nobody, as the bot's own
        ``forget`` would leave them (the once-only records of sent nudges included)."""
        if not real:
            return
        for person in self.team:
            await self.store.forget(TEAM_ID, person.user_id)
            await forget_plans(self.services, TEAM_ID, person.user_id)
        # The team channel's recovery windows too, as when Baseline leaves a channel.
        await WindowStore(self.store.redis, shards=self.services.queue.shards).drop_channel(
            TEAM_ID, TEAM_CHANNEL
        )

    def _introduce(self, options: DemoOptions, described: str) -> None:
        day = self.session.day
        start = self.clock.now().astimezone(HOME_ZONE)
        end = self.end.astimezone(HOME_ZONE)
        cities = ", ".join(dict.fromkeys(p.city for p in self.team))
        minutes = self.clock.speed
        pace = "1 simulated minute" if minutes == 1 else f"{minutes:g} simulated minutes"
        self.terminal.heading(
            f"Baseline demo · {day:%A %d %B %Y} · a sample team of {len(self.team)} in {cities}"
        )
        self.terminal.say(
            "The real bot runs here against a Slack simulator: every DM below is what a "
            f"person would get, at their own local time. {pace} pass each second "
            f"(--speed); the day ends at {end:%H:%M} Berlin (--hours, --until). "
            f"Store: {described}."
        )
        if options.interactive:
            me = self.session.me
            self.terminal.say(
                f"You are {me.first_name}: your DMs are shown in full, everyone else's in one line."
            )
        self.terminal.heading(f"{start:%H:%M} Berlin · everyone turns Baseline on")

    async def _set_up(self, *, quiet_others: bool) -> None:
        """Each person opts in and connects a calendar: real signed slash commands."""
        me = self.session.me
        weekday = _weekday(self.session.day)
        for person in self.team:
            if self.stopping.is_set():
                return
            self.terminal.quiet = quiet_others and person != me
            self.terminal.say(
                f"{person.first_name} ({person.city}, {person.about}) types /baseline on "
                "and /baseline calendar with the secret address of their calendar."
            )
            commands = [
                "on",
                f"calendar {self.feeds.url(person)}",
                *(extra.format(weekday=weekday) for extra in person.setup),
            ]
            for index, text in enumerate(commands):
                if index >= 2:  # the first two were announced above
                    self.terminal.say(f"{person.first_name} types /baseline {text}")
                ack = await self.slack.command(person.user_id, "/baseline", text)
                if await ack.reply(REPLY_TIMEOUT) is None:
                    self.terminal.say(f"(no answer to {person.first_name}'s /baseline yet)")
        self.terminal.quiet = False

    async def _read(self, console: Console, source: LineSource) -> None:
        try:
            async for line in source(self.session):
                self.terminal.line_typed()
                if self.stopping.is_set() or not await console.handle(line):
                    break
                self.terminal.show_prompt()
        finally:
            self.stopping.set()

    # --- the day -------------------------------------------------------------------------

    async def _drive(self) -> None:
        clock = self.clock
        changes = self._changes()
        next_minute = _floor_minute(clock.now()) + _MINUTE
        next_hour = _floor_hour(clock.now()) + timedelta(hours=1)
        await self._settle(clock.now())
        clock.restart_pacing()
        while not self.stopping.is_set() and clock.now() < self.end:
            target = min(clock.next_step(), self.end)
            due = await self._next_due(clock.now())
            if due is not None and due < target:
                target = due
            if not await self._sleep(clock.wait_for(target)):
                break
            clock.set(target)
            if target >= next_hour:
                self.terminal.clock(next_hour)
                next_hour += timedelta(hours=1)
            for moment, person, note in [c for c in changes if c[0] <= target]:
                changes.remove((moment, person, note))
                self.terminal.say(
                    f"{person.local(moment):%H:%M} {person.city}: {person.first_name} {note}; "
                    "Baseline will see it at its next calendar sync."
                )
            self.slack.post_scheduled(target)
            if target >= next_minute:
                await self._minute_jobs(target)
                next_minute = _floor_minute(target) + _MINUTE
            if due is not None and due <= target:
                await self._settle(target)

    async def _sleep(self, wait: Awaitable[None]) -> bool:
        """Sleep until ``wait`` is done; False when the demo is stopping instead."""
        sleeper = asyncio.ensure_future(wait)
        stopper = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                task.cancel()
        return not self.stopping.is_set()

    async def _minute_jobs(self, now: datetime) -> None:
        """What the worker's real-second loops do, on simulated minutes (see the module doc)."""
        jobs: Sequence[tuple[str, Callable[[], Awaitable[int]]]] = (
            ("calendar sync", lambda: self.worker.sync.run_due(now=now)),
            ("day-start planning", lambda: run_day_starts(self.services, now=now)),
            (
                "window announcements",
                lambda: run_window_edges(self.services, self.services.slack, now=now),
            ),
        )
        for name, job in jobs:
            try:
                await job()
            except TRANSIENT_ERRORS as exc:
                logger.warning("%s failed: %s", name, type(exc).__name__)

    async def _pending_times(self) -> list[datetime]:
        queue = self.services.queue
        times: list[datetime] = []
        try:
            for person in self.team:
                times += [n.at for n in await queue.pending(TEAM_ID, person.user_id)]
        except StoreUnavailableError:
            return []
        return times

    async def _next_due(self, now: datetime) -> datetime | None:
        """The next moment something happens: a queued nudge, a snoozed reset coming back."""
        times = [t for t in await self._pending_times() if t > now]
        scheduled = self.slack.next_scheduled()
        if scheduled is not None and scheduled > now:
            times.append(scheduled)
        return min(times, default=None)

    async def _settle(self, now: datetime) -> None:
        """Hold the clock while the worker's delivery loop takes what is due."""
        deadline = monotonic() + SETTLE_TIMEOUT
        while not self.stopping.is_set() and monotonic() < deadline:
            if not any(t <= now for t in await self._pending_times()):
                return
            await asyncio.sleep(SETTLE_POLL)

    def _changes(self) -> list[tuple[datetime, Person, str]]:
        return sorted(
            (
                (at(self.session.day, change.at, person.tz), person, change.note)
                for person in self.team
                for change in person.changes
            ),
            key=lambda c: c[0],
        )

    # --- after the day -------------------------------------------------------------------

    def _summarise(self, *, finished: bool) -> None:
        now = self.clock.now().astimezone(HOME_ZONE)
        self.terminal.heading(
            f"{now:%H:%M} Berlin · " + ("the day is over" if finished else "the demo stops here")
        )
        width = max(len(p.first_name) for p in self.team)
        lines = ["DMs from Baseline:"]
        for person in self.team:
            lines.append(f"  {person.first_name:<{width}}  {self._dm_line(person)}")
        lines += ["", *self._counter_lines()]
        self.terminal.write(lines)

    def _dm_line(self, person: Person) -> str:
        kinds: Counter[str] = Counter()
        for arrival in self.slack.arrivals:
            surface = arrival.surface
            if (
                arrival.kind is ArrivalKind.NEW
                and surface.kind is SurfaceKind.DM
                and surface.user == person.user_id
            ):
                kinds[_kind_of(surface.blocks)] += 1
        total = sum(kinds.values())
        if not total:
            return "none"
        parts = [_count(kinds[kind], kind) for kind in _KINDS if kinds[kind]]
        return f"{_count(total, 'DM')}: " + ", ".join(parts)

    def _counter_lines(self) -> list[str]:
        counts = self.counters
        dropped = {
            name.removeprefix("dropped:"): n
            for name, n in counts.items()
            if name.startswith("dropped:")
        }
        line = f"Nudges sent {counts.get('sent', 0)}, expired {counts.get('expired', 0)}"
        if dropped:
            held = ", ".join(f"{n} {_drop_label(r)}" for r, n in sorted(dropped.items()))
            line += f"; held back at the last moment: {held}"
        syncs = sum(n for name, n in counts.items() if name.startswith("sync:"))
        changed = counts.get("sync:changed", 0)
        return [
            "Baseline's own counters for this run (what `baseline stats` reads):",
            f"  {line}.",
            f"  Calendar syncs {syncs} ({changed} found a change and re-planned).",
        ]


def _kind_of(blocks: Sequence[dict[str, object]]) -> str:
    ids = {b.get("block_id") for b in blocks}
    if "reset" in ids or "reset_feedback" in ids:
        return "reset"
    if "reflect" in ids:
        return "weekly reflection"
    for block in blocks:
        elements = block.get("elements")
        if (
            block.get("type") == "context"
            and isinstance(elements, list)
            and any(
                isinstance(e, dict) and e.get("text") == texts.HEAVY_DAY_FOOTER for e in elements
            )
        ):
            return "heavy-day heads-up"
    return "other message"


_KINDS = ("reset", "heavy-day heads-up", "weekly reflection", "other message")


def _drop_label(reason: str) -> str:
    try:
        return _DROPS[DropReason(reason)]
    except (ValueError, KeyError):
        return reason  # a reason added after this demo was written


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _weekday(day: date) -> str:
    return f"{day:%a}".lower()


def _floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _floor_hour(moment: datetime) -> datetime:
    # Every zone of the sample team is a whole number of hours from UTC.
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def options_from_args(
    *,
    interactive: bool,
    speed: float | None,
    hours: float | None,
    until: str | None,
    as_name: str | None,
    environment: Settings,
) -> DemoOptions:
    """The command line's choices; REDIS_URL only when the environment really sets it (the
    setting's default names a Redis the demo must not assume is there)."""
    until_time = None
    if until is not None:
        try:
            until_time = time.fromisoformat(until)
        except ValueError:
            raise DemoError(f"--until {until!r} is not a time like 17:30") from None
        if hours is not None:
            raise DemoError("give --hours or --until, not both")
    options = DemoOptions(
        interactive=interactive,
        speed=speed,
        hours=hours,
        until=until_time,
        as_name=as_name,
        redis_url=environment.redis_url if "redis_url" in environment.model_fields_set else None,
    )
    # Checked here, so a mistake is one line before anything starts.
    plan_span(options, today=SystemClock().now().date())
    _me(SAMPLE_TEAM, as_name)
    return options


async def run_in_terminal(options: DemoOptions) -> None:
    """``baseline demo``: stdout, colour on a terminal, typed lines from stdin, Ctrl-C."""
    # NO_COLOR is the terminal convention (no-color.org), not one of Baseline's settings.
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    prompt = "› " if options.interactive and sys.stdin.isatty() else ""
    await run_demo(options, out=sys.stdout, color=color, handle_signals=True, prompt=prompt)
