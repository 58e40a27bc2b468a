"""Delivery figures: real ``baseline run`` processes against a fake Slack that enforces R msgs/s.

Run with ``python -m bench.delivery`` (``--quick`` for a short run). One throwaway
``redis-server``, one fake Slack in this process that answers ``chat.postMessage`` above R
messages a second with HTTP 429 + Retry-After (a token bucket, bursts up to one second's
worth, as Slack allows short bursts), and 1–3 ``baseline run`` processes (HTTP mode, worker
on) with ``BASELINE_SLACK_RATE=R``. Two phases per instance count:

- backlog: ``--nudges`` nudges all due at once, far more than R can send in a second; prints
  delivered/s as a fraction of R (target ≥ 0.95), measured from the fake's receive times
  after the first second (the bucket's initial burst is left out) and over the whole run;
- under capacity: nudges due one after another at half of R; prints the due-to-sent latency
  p50/p99 (post arrival at the fake minus the nudge's ``at``; target p99 ≤ 2 s);

and, for both, the 429s the fake answered.

The process harness (:class:`BotFleet`) is also what tests/bot/test_delivery_processes.py
uses to run the bot as real processes.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Self
from zoneinfo import ZoneInfo

import aiohttp
from redis.asyncio import Redis

from bot.models import Profile
from bot.queue import DueQueue
from bot.store import Store
from bot.vault import Vault
from nudges.clock import ClockRange, Weekdays
from nudges.planner import Nudge, NudgeKind
from nudges.preferences import Preferences
from tests.support import TEAM_ID
from tests.support.fake_slack import FakeSlack, SlackCall
from tests.support.redis_server import RedisServer, free_port

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"
PRACTICE = "long-exhale"  # in config/catalog.toml
POST = "chat.postMessage"
# How long a process may take to answer /healthz after it was started.
STARTUP_SECONDS = 30.0
# Log lines worth keeping per process when showing why something failed.
LOG_TAIL_CHARS = 6000
# The command a fleet runs: ``baseline run``.
BASELINE_RUN = (sys.executable, "-m", "bot.cli", "run")

_running: set[BotProcess] = set()


# --- the processes -------------------------------------------------------------------------


@dataclass(eq=False)
class BotProcess:
    """One ``baseline run`` process (HTTP mode on ``port``), its stderr in ``log_path``."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """``kill -9``: no shutdown, no drain, leases left behind."""
        if self.alive:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        _running.discard(self)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited after ``timeout`` seconds."""
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        _running.discard(self)

    def log_tail(self, limit: int = LOG_TAIL_CHARS) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return text if len(text) <= limit else "…" + text[-limit:]


class BotFleet:
    """``count`` ``baseline run`` processes on one Redis and one fake Slack.

    Use as a context manager: every process is stopped (and killed if need be) on the way
    out, whatever happened; ``logs()`` gives each one's stderr, for a failure's report.
    """

    def __init__(
        self,
        count: int,
        *,
        redis_url: str,
        slack: FakeSlack,
        env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        command: Sequence[str] = BASELINE_RUN,
    ) -> None:
        self.count = count
        self._command = list(command)
        self._env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.base_url,
            "REDIS_URL": redis_url,
            "BASELINE_ENCRYPTION_KEY": Vault.new_key(),
            "BASELINE_WORKER": "true",
            # Parse calendars in-process: no parser pool per instance on a small machine.
            "BASELINE_CALENDAR_PARSE_WORKERS": "0",
            **(env or {}),
        }
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if log_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="baseline-fleet-")
            log_dir = Path(self._tmp.name)
        self._log_dir = log_dir
        self.processes: list[BotProcess] = []

    def start(self) -> None:
        # Settings the machine's own environment may carry must not leak into the bots.
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("BASELINE_", "SLACK_")) and k not in {"REDIS_URL", "PORT"}
        }
        for i in range(self.count):
            port = free_port()
            log_path = self._log_dir / f"bot{i}.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(  # noqa: S603 - our own module (or a test wrapper of it)
                    self._command,
                    env={**base, **self._env, "PORT": str(port)},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            bot = BotProcess(f"bot{i}", port, process, log_path)
            _running.add(bot)
            self.processes.append(bot)

    async def wait_ready(self, timeout: float = STARTUP_SECONDS) -> None:
        """Until every process answers ``GET /healthz``; fails with their logs otherwise."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            for bot in self.processes:
                while True:
                    if not bot.alive:
                        raise RuntimeError(f"{bot.name} exited while starting:\n{self.logs()}")
                    try:
                        async with http.get(f"{bot.url}/healthz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{bot.name} did not start:\n{self.logs()}")
                    await asyncio.sleep(0.05)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to all at once, then SIGKILL to any still running after ``timeout``.

        It blocks: from a coroutine whose event loop serves the fake Slack, call it in a
        thread (``asyncio.to_thread``), or the bots' last calls wait on a loop that is stuck.
        """
        for bot in self.processes:
            if bot.alive:
                bot.process.terminate()
        deadline = time.monotonic() + timeout
        for bot in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                bot.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            bot.kill()

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def logs(self) -> str:
        return "\n".join(
            f"----- {bot.name} (port {bot.port}, pid {bot.process.pid}, "
            f"{'running' if bot.alive else f'exit {bot.process.returncode}'}) -----\n"
            f"{bot.log_tail()}"
            for bot in self.processes
        )

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@atexit.register
def _kill_leftovers() -> None:
    # Belt and braces for an interrupted run: no bot process outlives the one that started it.
    for bot in list(_running):
        bot.kill()


# --- people and nudges ---------------------------------------------------------------------


def always_working(now: datetime) -> Preferences:
    """Preferences under which ``now`` (± six hours) is working time, any day of the week."""
    start = (now - timedelta(hours=6)).time().replace(second=0, microsecond=0, tzinfo=None)
    end = (now + timedelta(hours=6)).time().replace(second=0, microsecond=0, tzinfo=None)
    return Preferences(
        tz=ZoneInfo("UTC"),
        working_hours=ClockRange(start=start, end=end),
        working_days=Weekdays(days=frozenset(range(7))),
        reflection=None,
    )


def reset(at: datetime, *, life: timedelta = timedelta(minutes=10), tag: str = "") -> Nudge:
    """A reset due at ``at``; its key (``reset:<at>[tag]``) names it in the DM's buttons."""
    return Nudge(
        kind=NudgeKind.RESET,
        key=f"reset:{at.astimezone(UTC).isoformat()}{tag}",
        at=at,
        expires_at=at + life,
        text="Breathe out slowly.",
        practice=PRACTICE,
    )


def user_id(i: int) -> str:
    return f"U{i:06d}"


async def opt_in(store: Store, users: Iterable[str], *, now: datetime) -> None:
    profile = Profile(opted_in=True, preferences=always_working(now))
    for user in users:
        await store.save_profile(TEAM_ID, user, profile)


def make_store(redis: Redis) -> Store:
    return Store(redis, Vault([Vault.new_key()]), retention=timedelta(days=30))


@dataclass(frozen=True)
class Post:
    """One chat.postMessage the fake answered ok: whose, which nudge, when it arrived."""

    user: str
    key: str
    received_at: float


def posted(slack: FakeSlack) -> list[Post]:
    """The nudges the fake Slack accepted (HTTP 200, ok), oldest first."""
    out = []
    for call in slack.calls(POST):
        if call.status != 200 or not isinstance(call.response, dict) or not call.response["ok"]:
            continue
        out.append(as_post(call))
    return out


def as_post(call: SlackCall) -> Post:
    """Whose DM a chat.postMessage was, which nudge, and when it arrived."""
    return Post(_user_of(call), nudge_key(call), call.received_at)


def nudge_key(call: SlackCall) -> str:
    """The nudge key a reset DM carries as its buttons' value."""
    for block in call.param_json("blocks"):
        for element in block.get("elements", ()):
            if element.get("action_id") == "reset_done":
                return str(element["value"])
    raise AssertionError(f"no reset button in {call.params}")


def _user_of(call: SlackCall) -> str:
    channel = str(call.params["channel"])
    # The fake's DM channel for U… is D + U…
    return channel[1:] if channel.startswith("DU") else channel


# --- the bench -----------------------------------------------------------------------------


@dataclass
class Figures:
    instances: int
    rate: float
    backlog_nudges: int = 0
    backlog_delivered: int = 0
    backlog_seconds: float = 0.0
    steady_per_second: float = 0.0
    overall_per_second: float = 0.0
    backlog_429: int = 0
    latency_nudges: int = 0
    latency_delivered: int = 0
    latencies: list[float] = field(default_factory=list)
    latency_429: int = 0
    counters: dict[str, int] = field(default_factory=dict)


async def _wait_for_posts(slack: FakeSlack, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(posted(slack)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(posted(slack))} of {count} nudges posted in {timeout:.0f} s")
        await asyncio.sleep(0.05)


async def _backlog(
    slack: FakeSlack, queue: DueQueue, store: Store, *, figures: Figures, nudges: int
) -> None:
    rate = figures.rate
    now = datetime.now(UTC)
    users = [user_id(i) for i in range(nudges)]
    await opt_in(store, users, now=now)
    at = now + timedelta(seconds=2)
    # Far deadlines: under a backlog nothing should expire, so every nudge is a send.
    life = timedelta(seconds=nudges / rate * 3 + 60)
    for i, user in enumerate(users):
        await queue.replace(TEAM_ID, user, [reset(at, life=life, tag=f"/{i}")], now=now)
    await _wait_for_posts(slack, nudges, timeout=nudges / rate * 3 + 30)
    times = sorted(p.received_at for p in posted(slack))
    first, last = times[0], times[-1]
    steady = [t for t in times if t >= first + 1.0]
    figures.backlog_nudges = nudges
    figures.backlog_delivered = len(times)
    figures.backlog_seconds = last - first
    if len(steady) > 1:
        figures.steady_per_second = (len(steady) - 1) / (steady[-1] - steady[0])
    figures.overall_per_second = len(times) / max(last - at.timestamp(), 1e-9)
    figures.backlog_429 = len(slack.rate_limited_calls(POST))


async def _under_capacity(
    slack: FakeSlack, queue: DueQueue, store: Store, *, figures: Figures, nudges: int
) -> None:
    rate = figures.rate
    now = datetime.now(UTC)
    users = [user_id(100_000 + i) for i in range(nudges)]
    await opt_in(store, users, now=now)
    start = now + timedelta(seconds=2)
    spacing = timedelta(seconds=2 / rate)  # half of R
    due: dict[tuple[str, str], float] = {}
    for i, user in enumerate(users):
        nudge = reset(start + i * spacing, life=timedelta(minutes=5), tag=f"/{i}")
        due[(user, nudge.key)] = nudge.at.timestamp()
        await queue.replace(TEAM_ID, user, [nudge], now=now)
    await _wait_for_posts(slack, nudges, timeout=nudges / rate * 2 + 30)
    posts = posted(slack)
    figures.latency_nudges = nudges
    figures.latency_delivered = len(posts)
    figures.latencies = [p.received_at - due[(p.user, p.key)] for p in posts]
    figures.latency_429 = len(slack.rate_limited_calls(POST))


async def run_bench(*, instances: int, rate: float, nudges: int, latency_nudges: int) -> Figures:
    figures = Figures(instances=instances, rate=rate)
    with RedisServer() as redis_server:
        redis = Redis.from_url(redis_server.url)
        try:
            store = make_store(redis)
            queue = DueQueue(redis)
            async with FakeSlack() as slack:
                env = {"BASELINE_SLACK_RATE": str(rate)}
                with BotFleet(instances, redis_url=redis_server.url, slack=slack, env=env) as fleet:
                    try:
                        await fleet.wait_ready()
                        slack.cap_rate(POST, rate)
                        await _backlog(slack, queue, store, figures=figures, nudges=nudges)
                        slack.clear()
                        slack.cap_rate(POST, rate)
                        # A quiet second: the bucket fills up again, as between bursts.
                        await asyncio.sleep(1.0)
                        await _under_capacity(
                            slack, queue, store, figures=figures, nudges=latency_nudges
                        )
                        figures.counters = await queue.counters.read()
                    except BaseException:
                        sys.stderr.write(fleet.logs())
                        raise
                    finally:
                        await asyncio.to_thread(fleet.stop)
        finally:
            await redis.aclose()
    return figures


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def report(f: Figures) -> None:
    fraction = f.steady_per_second / f.rate
    mark = "ok" if fraction >= 0.95 else "MISSED"
    print(f"instances {f.instances} · R = {f.rate:g} msgs/s")
    print(
        f"  backlog      {f.backlog_delivered}/{f.backlog_nudges} delivered in "
        f"{f.backlog_seconds:.1f} s · {f.steady_per_second:.1f}/s after the first second = "
        f"{fraction:.3f} R (target ≥ 0.95: {mark}) · {f.overall_per_second:.1f}/s from due, "
        f"initial burst included = {f.overall_per_second / f.rate:.3f} R · 429s: {f.backlog_429}"
    )
    if f.latencies:
        p50, p99 = statistics.median(f.latencies), _percentile(f.latencies, 0.99)
        mark = "ok" if p99 <= 2.0 else "MISSED"
        print(
            f"  under cap.   {f.latency_delivered}/{f.latency_nudges} at R/2 · due→sent "
            f"p50 {p50 * 1000:.0f} ms · p99 {p99 * 1000:.0f} ms · max "
            f"{max(f.latencies) * 1000:.0f} ms (target p99 ≤ 2 s: {mark}) · 429s: {f.latency_429}"
        )
    shown = ("planned", "sent", "expired", "rate_limited", "recovered", "lease_lost")
    dropped = {k: v for k, v in f.counters.items() if k.startswith("dropped:")}
    print(
        "  counters     "
        + " · ".join(f"{k} {f.counters.get(k, 0)}" for k in shown)
        + (" · " + " · ".join(f"{k} {v}" for k, v in dropped.items()) if dropped else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=100.0, help="R, msgs/s (default 100)")
    parser.add_argument(
        "--nudges", type=int, help="backlog size (default 15 s of R; quick: 5 s of R)"
    )
    parser.add_argument(
        "--instances",
        default="1,3",
        help="baseline run processes, or a comma-separated list of runs (default 1,3)",
    )
    parser.add_argument("--quick", action="store_true", help="short runs: one instance count")
    args = parser.parse_args()
    counts = [int(n) for n in str(args.instances).split(",") if n.strip()]
    if args.quick and args.instances == parser.get_default("instances"):
        counts = [3]
    seconds = 5 if args.quick else 15
    nudges = args.nudges or int(args.rate * seconds)
    latency_nudges = int(args.rate * (2 if args.quick else 5))
    print(
        f"delivery · fake Slack enforcing R = {args.rate:g} msgs/s · BASELINE_SLACK_RATE = R · "
        f"backlog {nudges} nudges · {latency_nudges} nudges at R/2 · {os.cpu_count()} cores"
    )
    for count in counts:
        figures = asyncio.run(
            run_bench(instances=count, rate=args.rate, nudges=nudges, latency_nudges=latency_nudges)
        )
        report(figures)


if __name__ == "__main__":
    main()
