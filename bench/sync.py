"""One full calendar sync + plan cycle for many people, served by a local feed server.

Run with ``python -m bench.sync`` (``--people 50000`` by default; ``--quick`` for a smoke
run). Everyone is due at once; their calendars are typical feeds (5–15 meetings a week,
10–40 KB, weekly series and one-off meetings with a month of history, titles,
descriptions and attendees). Since the last sync, ``--changed`` of them changed; of the
rest, half are served with ETag/Last-Modified (answered 304) and half without validators
(the full body comes back and its content hash says "same").

The feed server runs as its own process, Redis is a throwaway ``redis-server`` on a free
port, and the sync is ``CalendarSync.run_due`` as every instance's worker runs it: claims,
conditional fetches, parsing in worker processes, busy time stored, re-planning into the
due queue. Printed: the cycle's wall time, what the fetches came back as, and Redis memory
per person (MEMORY USAGE over each person's keys, plus their share of the schedule and due
queue). Everything shares this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import multiprocessing
import os
import pstats
import random
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient

from bot import keys
from bot.app import build_services
from bot.clock import ManualClock
from bot.models import Profile
from bot.parse_worker import FeedParser
from bot.store import Store, SyncState, encode_busy
from bot.sync import CalendarSync, SyncResult, parse_window
from bot.vault import Vault
from config.settings import Settings
from nudges.calendar import busy_intervals
from nudges.preferences import Preferences
from tests.support.fake_slack import FakeSlack
from tests.support.redis_server import RedisServer, free_port

TEAM = "T0BENCH"
TOKEN = "xoxb-bench"  # the fake Slack takes any token
KEY = Vault.new_key()
BERLIN = ZoneInfo("Europe/Berlin")
# A Tuesday, 10:00 in Berlin: working hours, so everyone is on the 10-minute cadence.
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TODAY = NOW.astimezone(BERLIN).date()
TEMPLATES = 400  # distinct calendars; person i reads template i % TEMPLATES
SEED_BATCH = 2000

_VTIMEZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nX-LIC-LOCATION:Europe/Berlin\r\n"
    "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
    "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"
    "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)
_WORDS = (
    *("roadmap", "sync", "review", "planning", "budget", "hiring", "retro", "design"),
    *("customer", "quarterly", "launch", "incident", "follow-up", "onboarding"),
    *("architecture", "metrics", "pricing", "partner", "interview", "demo"),
)


# --- typical calendars ---------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def _event(rng: random.Random, uid: str, start: datetime, minutes: int, extra: str = "") -> str:
    end = start + timedelta(minutes=minutes)
    title = " ".join(rng.sample(_WORDS, 3)).capitalize()
    description = " ".join(rng.choices(_WORDS, k=rng.randint(3, 15)))
    attendees = "".join(
        f"ATTENDEE;CN=Person {n};PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:"
        f"mailto:p{n}@corp.example\r\n"
        for n in rng.sample(range(500), rng.randint(1, 3))
    )
    return (
        "BEGIN:VEVENT\r\n"
        f"DTSTART;TZID=Europe/Berlin:{_stamp(start)}\r\n"
        f"DTEND;TZID=Europe/Berlin:{_stamp(end)}\r\n"
        f"DTSTAMP:20261101T000000Z\r\nUID:{uid}@google.com\r\n{extra}"
        "ORGANIZER;CN=Organiser:mailto:org@corp.example\r\n"
        f"{attendees}"
        f"CREATED:20260901T080000Z\r\nDESCRIPTION:{description}\r\n"
        f"LAST-MODIFIED:20261101T080000Z\r\nLOCATION:Room {rng.randint(1, 40)}\r\n"
        f"SEQUENCE:0\r\nSTATUS:CONFIRMED\r\nSUMMARY:{title}\r\nTRANSP:OPAQUE\r\n"
        "END:VEVENT\r\n"
    )


def typical_calendar(number: int, *, changed: bool) -> bytes:
    """Calendar ``number``: a few weekly series and 3–9 one-off meetings a week from four
    weeks back to two weeks ahead; ``changed`` adds one meeting tomorrow."""
    rng = random.Random(number)
    parts = [
        "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\n"
        "CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nX-WR-CALNAME:work\r\n"
        "X-WR-TIMEZONE:Europe/Berlin\r\n",
        _VTIMEZONE,
    ]
    monday = TODAY - timedelta(days=TODAY.weekday())
    for series in range(rng.randint(2, 6)):
        first = monday - timedelta(weeks=rng.randint(8, 40), days=-rng.randint(0, 4))
        start = datetime.combine(first, datetime.min.time()).replace(
            hour=rng.randint(9, 16), minute=rng.choice((0, 30))
        )
        skipped = "".join(
            f"EXDATE;TZID=Europe/Berlin:{_stamp(start + timedelta(weeks=rng.randint(1, 8)))}\r\n"
            for _ in range(rng.randint(0, 2))
        )
        extra = f"RRULE:FREQ=WEEKLY;WKST=MO\r\n{skipped}"
        parts.append(
            _event(rng, f"series{number}x{series}", start, rng.choice((30, 45, 60)), extra)
        )
    for week in range(-4, 3):
        for single in range(rng.randint(3, 9)):
            day = monday + timedelta(weeks=week, days=rng.randint(0, 4))
            start = datetime.combine(day, datetime.min.time()).replace(
                hour=rng.randint(8, 17), minute=rng.choice((0, 15, 30, 45))
            )
            uid = f"single{number}w{week}n{single}"
            parts.append(_event(rng, uid, start, rng.choice((15, 30, 45, 60, 90))))
    if changed:
        tomorrow = datetime.combine(TODAY + timedelta(days=1), datetime.min.time())
        parts.append(_event(rng, f"moved{number}", tomorrow.replace(hour=7), 50))
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts).encode()


def is_changed(person: int, share: float) -> bool:
    # Spread over the templates, not tied to them.
    return (person * 2654435761 % 2**32) / 2**32 < share


def has_validators(person: int) -> bool:
    return person % 2 == 0


def etag_of(template: int, changed: bool) -> str:
    return f'"t{template}-{int(changed)}"'


def modified_of(changed: bool) -> str:
    moment = datetime(2026, 11, 20, 8, tzinfo=UTC) + timedelta(days=int(changed))
    return format_datetime(moment, usegmt=True)


# --- the feed server (its own process) -------------------------------------------------------


def serve_feeds(port: int, share: float, ready: Any) -> None:
    """Serves ``/f/<person>``: their calendar, with or without validators, 304 on a match.

    A bare HTTP/1.1 responder on asyncio (one request per connection, as the fetcher sends
    them), so the stand-in for the calendar providers costs this machine little CPU.
    """
    import uvloop  # noqa: PLC0415 - the child process only

    bodies = {
        (t, c): typical_calendar(t, changed=c) for t in range(TEMPLATES) for c in (False, True)
    }

    def answer(head: bytes) -> list[bytes]:
        line, _, rest = head.partition(b"\r\n")
        try:
            person = int(line.split(b" ")[1].rsplit(b"/", 1)[1])
        except (IndexError, ValueError):
            return [b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"]
        template, changed = person % TEMPLATES, is_changed(person, share)
        body = bodies[(template, changed)]
        validators = b""
        if has_validators(person):
            etag = etag_of(template, changed).encode()
            validators = b"ETag: %s\r\nLast-Modified: %s\r\n" % (
                etag,
                modified_of(changed).encode(),
            )
            for header in rest.split(b"\r\n"):
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"if-none-match" and value.strip() == etag:
                    return [
                        b"HTTP/1.1 304 Not Modified\r\n%sConnection: close\r\n\r\n" % validators
                    ]
        return [
            b"HTTP/1.1 200 OK\r\nContent-Type: text/calendar; charset=utf-8\r\n"
            b"Content-Length: %d\r\n%sConnection: close\r\n\r\n" % (len(body), validators),
            body,
        ]

    class Feed(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.Transport, transport)  # TCP (uvloop's own class)
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            if b"\r\n\r\n" in self.buffer:
                self.transport.writelines(answer(self.buffer.split(b"\r\n\r\n", 1)[0]))
                self.transport.close()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_server(Feed, "127.0.0.1", port, backlog=4096)
        ready.set()
        await asyncio.Event().wait()

    uvloop.run(main())


# --- seeding: everyone synced once before ----------------------------------------------------


def previous_sync(templates: Sequence[bytes]) -> list[tuple[list[Any], str]]:
    """Per template: the busy time last stored and the content hash of that sync."""
    out = []
    for body in templates:
        busy = busy_intervals(
            body,
            first_day=TODAY - timedelta(days=1),
            last_day=TODAY + timedelta(days=7),
            tz=BERLIN,
        )
        out.append((busy, hashlib.sha256(body).hexdigest()[:32]))
    return out


async def seed(redis: Redis, sync: CalendarSync, vault: Vault, people: int, feed_port: int) -> None:
    templates = [typical_calendar(t, changed=False) for t in range(TEMPLATES)]
    before = previous_sync(templates)
    profile = Profile(opted_in=True, preferences=Preferences(tz=BERLIN), tz_from_slack=True)
    profile_json = profile.model_dump_json()
    sealed_busy = [vault.seal(encode_busy(busy)) for busy, _ in before]
    shards = sync.services.queue
    for first in range(0, people, SEED_BATCH):
        async with redis.pipeline(transaction=False) as pipe:
            for person in range(first, min(first + SEED_BATCH, people)):
                user = f"U{person:07d}"
                template = person % TEMPLATES
                state = SyncState(
                    generation="0a1b2c3d",
                    etag=etag_of(template, False) if has_validators(person) else None,
                    last_modified=modified_of(False) if has_validators(person) else None,
                    content_hash=before[template][1],
                    window=parse_window(TODAY, BERLIN),
                    last_success=NOW - timedelta(minutes=10),
                )
                fields = state.to_fields()
                pipe.set(keys.profile(TEAM, user), profile_json)
                pipe.set(
                    keys.calendar(TEAM, user),
                    vault.seal(f"http://127.0.0.1:{feed_port}/f/{person}"),
                )
                pipe.hset(keys.sync_state(TEAM, user), mapping=fields)
                pipe.set(keys.sync_email(TEAM, user), vault.seal(f"{user.lower()}@corp.example"))
                pipe.set(keys.busy(TEAM, user), sealed_busy[template], ex=timedelta(days=180))
                pipe.zadd(
                    keys.sync_schedule(shards.shard_of(TEAM, user)),
                    {f"{TEAM}:{user}": (NOW - timedelta(seconds=1)).timestamp()},
                )
            await pipe.execute()


# --- measuring -------------------------------------------------------------------------------


def cpu_of(pids: Sequence[int]) -> float:
    """User + system CPU seconds the processes have used so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (not idle or waiting), all cores."""
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(
            int, stat.readline().split()[1:9]
        )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


async def redis_cpu(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def memory_per_person(
    redis: Redis, vault: Vault, people: int, *, planned: int, sample: int = 200
) -> tuple[dict[str, float], float]:
    """Mean MEMORY USAGE of a person's keys, their share of the schedule and (per person
    with a plan) of the due queue; and what the busy key weighs with four weeks of history."""
    rng = random.Random(1)
    per_kind: dict[str, list[int]] = {}
    for person in rng.sample(range(people), min(sample, people)):
        user = f"U{person:07d}"
        for kind, key in (
            ("profile", keys.profile(TEAM, user)),
            ("calendar", keys.calendar(TEAM, user)),
            ("busy", keys.busy(TEAM, user)),
            ("sync", keys.sync_state(TEAM, user)),
            ("email", keys.sync_email(TEAM, user)),
        ):
            used = await redis.memory_usage(key, samples=0)
            per_kind.setdefault(kind, []).append(int(used or 0))
    figures = {kind: statistics.mean(values) for kind, values in per_kind.items()}
    schedule = queue = 0
    async for key in redis.scan_iter(match="bl:sync:*"):
        schedule += int(await redis.memory_usage(key, samples=0) or 0)
    async for key in redis.scan_iter(match="bl:q:*"):
        queue += int(await redis.memory_usage(key, samples=0) or 0)
    figures["schedule share"] = schedule / people
    figures["due queue (planned)"] = queue / max(planned, 1)
    # One person's busy time with the four weeks /baseline week looks back over.
    week = previous_sync([typical_calendar(0, changed=False)])[0][0]
    history = [
        b.model_copy(
            update={
                "start": b.start - k * timedelta(weeks=1),
                "end": b.end - k * timedelta(weeks=1),
            }
        )
        for k in range(5)
        for b in week
    ]
    sample_key = keys.busy(TEAM, "UHISTORY")
    await redis.set(sample_key, vault.seal(encode_busy(history)))
    with_history = float(await redis.memory_usage(sample_key, samples=0) or 0)
    await redis.delete(sample_key)
    return figures, with_history


async def run(
    people: int, *, changed: float, concurrency: int, workers: int, profile: bool = False
) -> None:
    feed_port = free_port()
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    feeds = context.Process(target=serve_feeds, args=(feed_port, changed, ready), daemon=True)
    feeds.start()
    with RedisServer() as redis_server:
        redis = Redis(host=redis_server.host, port=redis_server.port, max_connections=256)
        async with FakeSlack() as slack:
            settings = Settings(
                slack_bot_token=TOKEN,
                slack_signing_secret=TOKEN,
                slack_api_url=slack.base_url,
                redis_url=redis_server.url,
                encryption_key=KEY,
                calendar_allow_private=True,
                calendar_sync_concurrency=concurrency,
                calendar_parse_workers=workers,
            )
            vault = Vault([KEY])
            store = Store(redis, vault, retention=timedelta(days=180))
            services = build_services(settings, store=store, clock=ManualClock(NOW))
            parser = FeedParser(workers)
            sync = CalendarSync(
                services,
                AsyncWebClient(token=TOKEN, base_url=slack.base_url),
                parser=parser,
            )
            started = time.perf_counter()
            await seed(redis, sync, vault, people, feed_port)
            print(f"seeded {people:,} people in {time.perf_counter() - started:.1f} s")
            if not ready.wait(timeout=120):
                raise RuntimeError("the feed server did not start")
            # Start the parse workers before the clock runs, as a long-running bot has them.
            await parser.start()
            others = {"feed server": [feeds.pid or 0], "parse workers": parser.pids}
            others_before = {name: cpu_of(pids) for name, pids in others.items()}
            redis_before = await redis_cpu(redis)
            machine_before = machine_busy()

            profiler = cProfile.Profile(time.process_time) if profile else None
            started, cpu = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            claimed = await sync.run_due(now=NOW, limit=people)
            if profiler is not None:
                profiler.disable()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            cpus = {"main process": cpu} | {
                name: cpu_of(pids) - others_before[name] for name, pids in others.items()
            }
            cpus["redis-server"] = await redis_cpu(redis) - redis_before
            machine = machine_busy() - machine_before
            if profiler is not None:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)

            counters = await services.counters.read()
            memory, busy_with_history = await memory_per_person(
                redis, vault, people, planned=counters.get("sync:changed", 0)
            )
            used_after = (await redis.info("memory"))["used_memory"]
            await parser.aclose()
            await redis.aclose()
    feeds.terminate()
    feeds.join()

    report(
        people,
        changed=changed,
        workers=workers,
        seconds=seconds,
        cpus=cpus,
        machine=machine,
        claimed=claimed,
        counters=counters,
        memory=memory,
        busy_with_history=busy_with_history,
        used_memory=used_after,
    )


def report(
    people: int,
    *,
    changed: float,
    workers: int,
    seconds: float,
    cpus: dict[str, float],
    machine: float,
    claimed: int,
    counters: dict[str, int],
    memory: dict[str, float],
    busy_with_history: float,
    used_memory: int,
) -> None:
    results = {r.value: counters.get(f"sync:{r.value}", 0) for r in SyncResult}
    fetched = results["changed"] + results["parsed"] + results["same_hash"]
    parsed = results["changed"] + results["parsed"]
    others = {
        k: v
        for k, v in results.items()
        if v and k not in {"changed", "parsed", "same_hash", "not_modified"}
    }
    print(f"\none sync + plan cycle: {people:,} people, {changed:.0%} changed since the last sync")
    print(f"  wall time           {seconds:8.1f} s   (target <= 60 s on 2 cores)")
    for name, used in cpus.items():
        print(f"  CPU {name:15} {used:8.1f} s")
    print(f"  CPU all             {sum(cpus.values()):8.1f} s   ({workers} parse workers)")
    cores = os.cpu_count() or 1
    print(f"  CPU whole machine   {machine:8.1f} s   (of {seconds * cores:.1f} s; kernel too)")
    print(f"  claimed             {claimed:8,}")
    print(f"  fetched (200)       {fetched:8,}")
    print(f"  not modified (304)  {results['not_modified']:8,}")
    print(f"  same content hash   {results['same_hash']:8,}   (fetched, not parsed)")
    print(f"  parsed              {parsed:8,}")
    print(f"  busy time changed   {results['changed']:8,}   (each re-planned)")
    print(f"  nudges planned      {counters.get('planned', 0):8,}")
    print(f"  other results       {others or 'none'}")
    print("\nRedis memory per person (MEMORY USAGE; keys: mean of 200 people):")
    total = 0.0
    for kind, value in memory.items():
        total += value
        print(f"  {kind:18} {value:8.0f} B")
    print(f"  {'total':18} {total:8.0f} B   (target <= 2 KB excluding history)")
    print(
        f"  busy, 4 weeks back {busy_with_history:8.0f} B   (with the history /baseline week reads)"
    )
    print(f"  whole server       {used_memory / people:8.0f} B   (INFO used_memory / people)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="2,000 people: a smoke run")
    parser.add_argument("--changed", type=float, default=0.10)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="parse worker processes")
    parser.add_argument("--profile", action="store_true", help="cProfile the cycle (slower)")
    args = parser.parse_args()
    people = 2_000 if args.quick else args.people
    import uvloop  # noqa: PLC0415 - as `baseline run` does

    uvloop.run(
        run(
            people,
            changed=args.changed,
            concurrency=args.concurrency,
            workers=args.workers,
            profile=args.profile,
        )
    )


if __name__ == "__main__":
    main()
