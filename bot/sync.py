"""Calendar sync: read each person's calendar feed on a schedule, keep their busy time, and
re-plan their nudges when it changes.

``/baseline calendar <url>`` calls :meth:`CalendarSync.connect`, which reads the feed at once
and answers with what it found. From then on the person sits in a schedule: a sorted set per
shard (``bl:sync:{s<n>}``, member ``<team>:<user>``, score the next sync), which every
instance's worker drains with :meth:`CalendarSync.run_due`. A claim is one Lua script per
shard that pushes the claimed members' scores to a lease expiry, so two instances never sync
the same person at once and a crashed instance's claims come back when the lease runs out.

One sync is a conditional GET (ETag / Last-Modified). A 304, or a body with the same sha256
as last time, is neither parsed nor re-planned, unless the person's local day moved on since
the last parse (the window of days read moves with it: yesterday to a week ahead). Parsing
is CPU-bound, so it runs in worker processes (``calendar_parse_workers``, see
:mod:`bot.parse_worker`). When a feed breaks for good or keeps failing for an hour, the
person gets one DM; when it works again, one more; nothing in between.

Logs name the feed's host at most: the address is a password, the contents are private.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from time import monotonic
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp.abc import AbstractResolver
from redis.exceptions import RedisClusterException, RedisError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, keys, texts
from bot.calendar_fetch import CalendarFetchError, FetchFailure, FetchResult, fetch_calendar
from bot.commands import mask_url
from bot.installations import SlackClients, as_clients
from bot.listeners.common import dm_channel
from bot.models import Profile
from bot.parse_worker import FeedParser, ParserFailedError
from bot.planning import replan
from bot.schedule import Schedule
from bot.store import RedisClient, StoreUnavailableError, SyncInputs, SyncState
from nudges.calendar import CalendarError
from nudges.clock import BusyInterval, day_bounds, local_instant
from nudges.outlook import calendar_outlook
from nudges.preferences import Preferences

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

# The window one sync parses, in the person's local days: yesterday (a meeting still running
# past midnight) to a week ahead.
DAYS_BEHIND = 1
DAYS_AHEAD = 7
# Busy time kept after it has passed: /baseline week looks back three weeks before this one.
HISTORY_DAYS = 28
# A new calendar is read back this far at once, so the week's view has its history at once.
CONNECT_DAYS_BEHIND = HISTORY_DAYS - 1
# A feed that keeps failing for a reason that may pass is "broken" (one DM) after this long
# and this many attempts in a row; a failure the person must fix counts at once.
BROKEN_AFTER = timedelta(hours=1)
BROKEN_AFTER_ATTEMPTS = 3
# Repeated failures wait longer each time (doubling from the working-hours interval), up to:
BACKOFF_CAP = timedelta(hours=6)
# On the regular schedule, each next sync is moved by up to this fraction either way, so
# calendars connected in the same minute do not stay in step forever.
JITTER = 0.1
BACKOFF_JITTER = 0.25
# Room for everything but the fetch (Slack, Redis, parsing, planning) in /baseline calendar.
CONNECT_MARGIN_SECONDS = 10.0
# Failure reasons beyond the fetcher's (FetchFailure values), kept in the sync state.
_REASON_UNREADABLE = "unreadable"
_REASON_PARSER = "parser_failed"

# KEYS: schedule. ARGV: triples of member, the claim's lease expiry, next sync ('' = leave
# the schedule). Only a claim that still holds its member may move it: after a disconnect
# (member gone) or a new connect (member rescheduled), a late sync changes nothing.
_RELEASE = """
local moved = 0
for i = 1, #ARGV, 3 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    if ARGV[i + 2] == '' then
      redis.call('ZREM', KEYS[1], ARGV[i])
    else
      redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i])
    end
    moved = moved + 1
  end
end
return moved
"""
# Finished claims of one shard are released together, this many at a time (one script call).
RELEASE_BATCH = 32
# A good sync that changed nothing rewrites the sync state only this often (last success).
STATE_REFRESH = timedelta(hours=1)


class SyncResult(StrEnum):
    """What one sync did; counted as ``sync:<result>``."""

    CHANGED = "changed"  # parsed, busy time changed, re-planned
    PARSED = "parsed"  # parsed (new content or a new day), busy time the same
    NOT_MODIFIED = "not_modified"  # the server said 304
    SAME_HASH = "same_hash"  # fetched, byte for byte what was parsed last time
    FAILED = "failed"  # failed; the person is not told (yet)
    BROKEN = "broken"  # failed, and this time the person was told
    OPTED_OUT = "opted_out"  # not synced: the person has not opted in
    NO_CALENDAR = "no_calendar"  # disconnected meanwhile: left the schedule
    SUPERSEDED = "superseded"  # the calendar was replaced or removed while this sync ran
    ERROR = "error"  # Redis or Slack away, or a bug: tried again later


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    result: SyncResult
    next_at: datetime | None  # None: leave the schedule
    recovered: bool = False  # the feed had been reported broken and works again


@dataclass(frozen=True, slots=True)
class _Claim:
    shard: int
    member: str
    lease: str  # the score the claim set, exactly as sent

    @property
    def person(self) -> tuple[str, str]:
        team, _, user = self.member.partition(":")
        return team, user


# --- pure scheduling maths ------------------------------------------------------------------


def working_spans(now: datetime, preferences: Preferences) -> list[tuple[datetime, datetime]]:
    """The person's working stretches (UTC) that are under way at ``now`` or start within
    the next two local days."""
    tz = preferences.tz
    hours, days = preferences.working_hours, preferences.working_days.days
    today = now.astimezone(tz).date()
    # A stretch that wraps midnight may have begun yesterday.
    first = -1 if hours.wraps_midnight else 0
    spans = []
    for offset in range(first, 3):
        day = today + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        end_day = day + timedelta(days=1) if hours.wraps_midnight else day
        end = local_instant(end_day, hours.end, tz)
        if end <= now:
            continue
        spans.append((local_instant(day, hours.start, tz), end))
        if len(spans) == 2:
            break  # the one under way (or next) and the one after are all anyone needs
    return spans


def next_sync_at(
    now: datetime,
    preferences: Preferences,
    *,
    every: timedelta,
    idle: timedelta,
    rng: random.Random,
) -> datetime:
    """When to read the calendar next after a good sync: every ``every`` in working hours,
    every ``idle`` outside them, and once just before the next working stretch begins (so
    the day's first resets follow the morning's calendar)."""
    spans = working_spans(now, preferences)
    if any(start <= now < end for start, end in spans):
        return now + every * rng.uniform(1 - JITTER, 1 + JITTER)
    later = now + idle * rng.uniform(1 - JITTER, 1 + JITTER)
    starts = [start for start, _ in spans if start > now]
    if starts:
        before_work = max(min(starts) - every, now + every / 10)
        if before_work < later:
            return before_work
    return later


def backoff(failures: int, *, base: timedelta, rng: random.Random) -> timedelta:
    """The wait after ``failures`` failures in a row: ``base`` doubling each time, with
    jitter, never over :data:`BACKOFF_CAP`."""
    doubled = base * (1 << min(max(failures - 1, 0), 20))
    return min(BACKOFF_CAP, doubled * rng.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER))


def merge_busy(
    stored: Sequence[BusyInterval],
    parsed: Sequence[BusyInterval],
    *,
    window_start: datetime,
    keep_after: datetime,
) -> list[BusyInterval]:
    """Stored busy time before ``window_start`` (but not before ``keep_after``), then what
    was just parsed from ``window_start`` on; a stored meeting that runs into the window is
    cut at its start (the parse has the rest)."""
    kept = [
        b if b.end <= window_start else BusyInterval(start=b.start, end=window_start)
        for b in stored
        if b.end > keep_after and b.start < window_start
    ]
    return sorted([*kept, *parsed], key=lambda b: (b.start, b.end))


def parse_window(today: date, tz: ZoneInfo) -> str:
    """Names the days a parse covered: ``2026-11-23 Europe/Berlin``."""
    return f"{today.isoformat()} {tz.key}"


# --- parsing off the event loop -------------------------------------------------------------

_SHARED_PARSERS: dict[int, FeedParser] = {}


def shared_parser(workers: int) -> FeedParser:
    """One parser (and so one set of worker processes) per process and size: the command
    listener and the background worker share it."""
    parser = _SHARED_PARSERS.get(workers)
    if parser is None:
        parser = _SHARED_PARSERS[workers] = FeedParser(workers)
    return parser


# --- the sync -----------------------------------------------------------------------------


class CalendarSync:
    """Connects calendars, syncs them on a schedule, and tells people when one breaks.

    ``client`` sends the DMs: one workspace's client, or where each workspace's comes from
    (:class:`~bot.installations.SlackClients`). Parsing goes to the process's shared
    :class:`FeedParser` unless ``parser`` is given; ``resolver`` replaces the system's name
    lookup for feeds (tests); ``rng`` drives the jitter.
    """

    def __init__(
        self,
        services: Services,
        client: AsyncWebClient | SlackClients,
        *,
        parser: FeedParser | None = None,
        resolver: AbstractResolver | None = None,
        rng: random.Random | None = None,
    ) -> None:
        settings = services.settings
        self.services = services
        self.clients = as_clients(client)
        self.parser = parser or shared_parser(settings.calendar_parse_workers)
        self._resolver = resolver
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._redis: RedisClient = services.store.redis
        self._due = Schedule(self._redis)
        self._release = self._redis.register_script(_RELEASE)
        self.every = timedelta(minutes=settings.calendar_sync_minutes)
        self.idle = timedelta(minutes=settings.calendar_idle_sync_minutes)
        # Longer than any one sync can take (the fetch is bounded by its timeout).
        self.lease = max(
            timedelta(seconds=60), timedelta(seconds=3 * settings.calendar_timeout_seconds)
        )
        self.concurrency = settings.calendar_sync_concurrency

    @property
    def connect_budget_seconds(self) -> float:
        """How long ``/baseline calendar <url>`` may take: the fetch, then the rest."""
        return self.services.settings.calendar_timeout_seconds + CONNECT_MARGIN_SECONDS

    # --- connect and disconnect -------------------------------------------------------------

    async def connect(
        self,
        team: str,
        user: str,
        url: str,
        *,
        now: datetime,
        profile: Profile | None = None,
        client: AsyncWebClient | None = None,
    ) -> blocks.Message:
        """Read the calendar at ``url`` now and answer with what it holds, or why it could
        not be read. Saved only when it could be read, or when the failure may pass by
        itself (a timeout, a server error): then it is retried on the schedule. ``client``:
        the request's own (its workspace's token), when there is a request."""
        store, settings = self.services.store, self.services.settings
        profile = profile or await store.profile(team, user)
        tz = profile.preferences.tz
        today = now.astimezone(tz).date()
        masked = mask_url(url)
        email = await self._email(team, user, client)
        try:
            fetched = await self._fetch(url, etag=None, last_modified=None)
            assert fetched.body is not None  # noqa: S101 - an unconditional GET has a body
            busy = await self.parser.busy(
                fetched.body,
                first_day=today - timedelta(days=CONNECT_DAYS_BEHIND),
                last_day=today + timedelta(days=DAYS_AHEAD),
                tz=tz,
                email=email,
                limits=settings.calendar,
            )
        except CalendarFetchError as exc:
            if exc.reason.transient and exc.reason is not FetchFailure.DNS_FAILED:
                return await self._connect_later(
                    team, user, url, exc, now=now, email=email, masked=masked
                )
            await self.services.counters.incr("sync:connect_refused")
            previous = await store.calendar_url(team, user)
            return blocks.calendar_not_connected(str(exc), previous_kept=previous is not None)
        except (CalendarError, ParserFailedError) as exc:
            await self.services.counters.incr("sync:connect_refused")
            previous = await store.calendar_url(team, user)
            reason = str(exc) if isinstance(exc, CalendarError) else texts.CALENDAR_PARSER_FAILED
            return blocks.calendar_not_connected(reason, previous_kept=previous is not None)
        state = SyncState(
            generation=secrets.token_hex(4),
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            content_hash=_short_hash(fetched),
            window=parse_window(today, tz),
            last_success=now,
        )
        await store.connect_calendar(team, user, url=url, state=state, email=email, busy=busy)
        await self._schedule(
            team,
            user,
            next_sync_at(now, profile.preferences, every=self.every, idle=self.idle, rng=self._rng),
        )
        logger.info("calendar connected from %s: %d busy intervals", fetched.host, len(busy))
        await self.services.counters.incr("sync:connected")
        await replan(self.services, team, user, now=now)
        return blocks.calendar_connected(
            masked,
            calendar_outlook(busy, now=now, policy=settings.planning),
            now=now,
            tz=tz,
            every_minutes=settings.calendar_sync_minutes,
            idle_minutes=settings.calendar_idle_sync_minutes,
        )

    async def _connect_later(
        self,
        team: str,
        user: str,
        url: str,
        exc: CalendarFetchError,
        *,
        now: datetime,
        email: str | None,
        masked: str,
    ) -> blocks.Message:
        # The address is saved (it may well be right); what an older calendar said is not
        # kept, since it is no longer the person's calendar.
        state = SyncState(
            generation=secrets.token_hex(4),
            failures=1,
            failing_since=now,
            reason=exc.reason.value,
        )
        await self.services.store.connect_calendar(
            team, user, url=url, state=state, email=email, busy=None
        )
        wait = backoff(1, base=self.every, rng=self._rng)
        await self._schedule(team, user, now + wait)
        await self.services.counters.incr("sync:connect_later")
        await replan(self.services, team, user, now=now)
        return blocks.calendar_not_read_yet(
            masked, str(exc), retry_minutes=round(wait.total_seconds() / 60)
        )

    async def disconnect(self, team: str, user: str, *, now: datetime) -> bool:
        """``/baseline calendar off``: the address, its busy time and sync state go, the
        person leaves the schedule, and their nudges are re-planned without it. True if a
        calendar was connected."""
        removed = await self.services.store.disconnect_calendar(team, user)
        await self.unschedule(team, user)
        await replan(self.services, team, user, now=now)
        return removed

    async def unschedule(self, team: str, user: str) -> None:
        """Take the person off the sync schedule (disconnect, forget)."""
        shard = self.services.queue.shard_of(team, user)
        await self._redis.zrem(keys.sync_schedule(shard), f"{team}:{user}")

    async def wake(self, team: str, user: str, *, now: datetime) -> None:
        """Sync the person at the next run (e.g. just after they opted in), if they have a
        calendar on the schedule."""
        shard = self.services.queue.shard_of(team, user)
        await self._redis.zadd(
            keys.sync_schedule(shard), {f"{team}:{user}": now.timestamp()}, xx=True
        )

    async def schedule_existing(self, *, now: datetime) -> int:
        """Put every connected calendar that is on no schedule yet (connected before sync
        existed) on it, due now; returns how many. Safe to run on every start."""
        added = 0
        async for raw in self._redis.scan_iter(match=f"{keys.PREFIX}:{{p:*}}:calendar", count=1000):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            tag = key[key.index("{p:") + 3 : key.rindex("}")]
            team, _, user = tag.partition(":")
            if keys.calendar(team, user) != key:
                continue
            shard = self.services.queue.shard_of(team, user)
            if await self._redis.zadd(
                keys.sync_schedule(shard), {f"{team}:{user}": now.timestamp()}, nx=True
            ):
                added += 1
        return added

    # --- the schedule -------------------------------------------------------------------

    async def run_due(self, *, now: datetime, limit: int = 1000) -> int:
        """Sync up to ``limit`` people whose sync is due, with ``calendar_sync_concurrency``
        fetches at a time; returns how many were claimed. Claims are taken a batch at a time
        as workers free up, so a claim never waits long for its turn while its lease runs.
        Every sync of the run is timed from ``now``; leases from the time really passed."""
        started = monotonic()
        waiting: deque[tuple[_Claim, SyncInputs | None]] = deque()
        lock = asyncio.Lock()
        claimed = 0
        exhausted = False
        results: Counter[str] = Counter()
        finished: dict[int, list[tuple[_Claim, SyncOutcome]]] = {}
        # Fetches are bounded by the concurrency; twice as many syncs run, so those waiting
        # for a parse worker do not hold the fetches up.
        fetch_slots = asyncio.Semaphore(self.concurrency)
        workers = 2 * self.concurrency

        async def next_claim() -> tuple[_Claim, SyncInputs | None] | None:
            nonlocal claimed, exhausted
            async with lock:
                if not waiting and not exhausted and claimed < limit:
                    at = now + timedelta(seconds=monotonic() - started)
                    batch = await self._claim_due(at, min(self.concurrency, limit - claimed))
                    claimed += len(batch)
                    exhausted = not batch
                    waiting.extend(zip(batch, await self._inputs_of(batch), strict=True))
                return waiting.popleft() if waiting else None

        async def work() -> None:
            while (next_one := await next_claim()) is not None:
                claim, inputs = next_one
                team, user = claim.person
                outcome = await self._sync_safely(
                    team, user, now=now, inputs=inputs, fetch_slots=fetch_slots
                )
                results[f"sync:{outcome.result}"] += 1
                if outcome.recovered:
                    results["sync:recovered"] += 1
                done = finished.setdefault(claim.shard, [])
                done.append((claim, outcome))
                if len(done) >= RELEASE_BATCH:
                    finished[claim.shard] = []
                    await self._release_claims(claim.shard, done)

        try:
            await asyncio.gather(*(work() for _ in range(max(1, min(workers, limit)))))
        finally:
            for shard, done in finished.items():
                if done:
                    await self._release_claims(shard, done)
            try:
                for name, count in results.items():
                    await self.services.counters.incr(name, count)
            except (RedisError, RedisClusterException) as exc:
                logger.warning("calendar sync: counters not updated: %s", type(exc).__name__)
        return claimed

    async def _claim_due(self, at: datetime, wanted: int) -> list[_Claim]:
        shards = self.services.queue.shards
        lease = repr((at + self.lease).timestamp())
        first = self._rng.randrange(shards)
        found: list[_Claim] = []
        for step in range(shards):
            if len(found) >= wanted:
                break
            shard = (first + step) % shards
            try:
                members = await self._due.claim_due(
                    keys.sync_schedule(shard),
                    now=at.timestamp(),
                    limit=wanted - len(found),
                    lease_until=lease,
                )
            except (RedisError, RedisClusterException) as exc:
                raise StoreUnavailableError("Redis is unreachable") from exc
            found.extend(_Claim(shard, m, lease) for m in members)
        return found

    async def _inputs_of(self, batch: Sequence[_Claim]) -> list[SyncInputs | None]:
        """What the claimed syncs start from, read in one round trip (each sync reads its
        own again if this fails)."""
        try:
            return list(await self.services.store.sync_inputs_many([c.person for c in batch]))
        except StoreUnavailableError:
            return [None] * len(batch)

    async def _release_claims(self, shard: int, done: Sequence[tuple[_Claim, SyncOutcome]]) -> None:
        args: list[str] = []
        for claim, outcome in done:
            next_at = "" if outcome.next_at is None else repr(outcome.next_at.timestamp())
            args.extend((claim.member, claim.lease, next_at))
        try:
            await self._release(keys=[keys.sync_schedule(shard)], args=args)
        except (RedisError, RedisClusterException, OSError) as exc:
            # The lease runs out and the person is claimed again: a sync too many, no harm.
            logger.warning("calendar sync: could not reschedule: %s", type(exc).__name__)

    async def _schedule(self, team: str, user: str, at: datetime) -> None:
        shard = self.services.queue.shard_of(team, user)
        await self._redis.zadd(keys.sync_schedule(shard), {f"{team}:{user}": at.timestamp()})

    # --- one person -------------------------------------------------------------------

    async def sync_person(self, team: str, user: str, *, now: datetime) -> SyncOutcome:
        """Sync one person now, outside the schedule's claims, and put their next sync on
        the schedule (or take them off it when they no longer have a calendar)."""
        outcome = await self._sync_safely(team, user, now=now)
        await self.services.counters.incr(f"sync:{outcome.result}")
        if outcome.recovered:
            await self.services.counters.incr("sync:recovered")
        if outcome.result is SyncResult.NO_CALENDAR:
            await self.unschedule(team, user)
        elif outcome.next_at is not None:
            await self._schedule(team, user, outcome.next_at)
        return outcome

    async def _sync_safely(
        self,
        team: str,
        user: str,
        *,
        now: datetime,
        inputs: SyncInputs | None = None,
        fetch_slots: asyncio.Semaphore | None = None,
    ) -> SyncOutcome:
        try:
            return await self._sync(team, user, now=now, inputs=inputs, fetch_slots=fetch_slots)
        except (StoreUnavailableError, RedisError, OSError, SlackApiError) as exc:
            logger.warning("calendar sync failed: %s", type(exc).__name__)
        except Exception:
            # One person's bad data must not stop everyone else's sync.
            logger.exception("calendar sync failed unexpectedly")
        return SyncOutcome(SyncResult.ERROR, now + backoff(2, base=self.every, rng=self._rng))

    async def _sync(
        self,
        team: str,
        user: str,
        *,
        now: datetime,
        inputs: SyncInputs | None = None,
        fetch_slots: asyncio.Semaphore | None = None,
    ) -> SyncOutcome:
        store, settings = self.services.store, self.services.settings
        inputs = inputs or await store.sync_inputs(team, user)
        if inputs.url is None:
            return SyncOutcome(SyncResult.NO_CALENDAR, None)
        preferences = inputs.profile.preferences
        if not inputs.profile.opted_in:
            return SyncOutcome(SyncResult.OPTED_OUT, now + self.idle)
        state = inputs.state
        tz = preferences.tz
        today = now.astimezone(tz).date()
        window = parse_window(today, tz)
        # Validators only within the same window: a new day needs the body to parse again.
        same_window = state.window == window
        try:
            async with fetch_slots or contextlib.nullcontext():
                fetched = await self._fetch(
                    inputs.url,
                    etag=state.etag if same_window else None,
                    last_modified=state.last_modified if same_window else None,
                )
        except CalendarFetchError as exc:
            return await self._failed(
                team,
                user,
                state,
                reason=exc.reason.value,
                message=str(exc),
                must_fix=not exc.reason.transient,
                now=now,
            )
        success = state.but(
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            failures=0,
            failing_since=None,
            broken=False,
            reason=None,
            last_success=now,
        )
        content_hash = _short_hash(fetched)
        busy: list[BusyInterval] | None = None
        if fetched.body is None:
            result = SyncResult.NOT_MODIFIED
        elif same_window and content_hash == state.content_hash:
            result = SyncResult.SAME_HASH
        else:
            first_day = today - timedelta(days=DAYS_BEHIND)
            try:
                parsed = await self.parser.busy(
                    fetched.body,
                    first_day=first_day,
                    last_day=today + timedelta(days=DAYS_AHEAD),
                    tz=tz,
                    email=await store.sync_email(team, user),
                    limits=settings.calendar,
                )
            except CalendarError as exc:
                return await self._failed(
                    team,
                    user,
                    state,
                    reason=_REASON_UNREADABLE,
                    message=str(exc),
                    must_fix=True,
                    now=now,
                )
            except ParserFailedError:
                return await self._failed(
                    team,
                    user,
                    state,
                    reason=_REASON_PARSER,
                    message=texts.CALENDAR_PARSER_FAILED,
                    must_fix=False,
                    now=now,
                )
            stored = await store.busy(team, user)
            merged = merge_busy(
                stored,
                parsed,
                window_start=day_bounds(first_day, tz)[0],
                keep_after=day_bounds(today - timedelta(days=HISTORY_DAYS), tz)[0],
            )
            success = success.but(content_hash=content_hash, window=window)
            if merged != stored:
                busy, result = merged, SyncResult.CHANGED
            else:
                result = SyncResult.PARSED
            logger.debug("calendar from %s parsed: %d busy intervals", fetched.host, len(parsed))
        if _worth_writing(state, success, now=now) and not await store.commit_sync(
            team, user, success, busy=busy
        ):
            return SyncOutcome(SyncResult.SUPERSEDED, None)
        if state.broken:
            await self._tell(team, user, blocks.calendar_recovered_dm())
        if busy is not None:
            await replan(self.services, team, user, now=now)
        next_at = next_sync_at(now, preferences, every=self.every, idle=self.idle, rng=self._rng)
        return SyncOutcome(result, next_at, recovered=state.broken)

    async def _failed(
        self,
        team: str,
        user: str,
        state: SyncState,
        *,
        reason: str,
        message: str,
        must_fix: bool,
        now: datetime,
    ) -> SyncOutcome:
        failures = state.failures + 1
        since = state.failing_since or now
        breaks_now = not state.broken and (
            must_fix or (now - since >= BROKEN_AFTER and failures >= BROKEN_AFTER_ATTEMPTS)
        )
        failed = state.but(
            failures=failures,
            failing_since=since,
            reason=reason,
            broken=state.broken or breaks_now,
        )
        # Marked broken before the DM goes out, so it goes out at most once; if Slack refuses
        # it, the mark is taken back and a later failure tries again.
        if not await self.services.store.commit_sync(team, user, failed):
            return SyncOutcome(SyncResult.SUPERSEDED, None)
        next_at = now + backoff(failures, base=self.every, rng=self._rng)
        if not breaks_now:
            return SyncOutcome(SyncResult.FAILED, next_at)
        logger.info("calendar sync: feed broken (%s)", reason)
        if not await self._tell(team, user, blocks.calendar_broken_dm(message)):
            await self.services.store.commit_sync(team, user, failed.but(broken=False))
            return SyncOutcome(SyncResult.FAILED, next_at)
        return SyncOutcome(SyncResult.BROKEN, next_at)

    async def _tell(self, team: str, user: str, message: blocks.Message) -> bool:
        try:
            client = await self.clients.for_team(team)
            if client is None:
                logger.info("calendar sync: DM not sent: workspace not installed")
                return False
            channel = await dm_channel(self.services, client, team, user)
            await client.chat_postMessage(channel=channel, unfurl_links=False, **message.to_dict())
        except SlackApiError as exc:
            logger.warning("calendar sync: DM not sent: %s", exc.response.get("error", "unknown"))
            return False
        except (StoreUnavailableError, aiohttp.ClientError, OSError) as exc:
            logger.warning("calendar sync: DM not sent: %s", type(exc).__name__)
            return False
        return True

    async def _fetch(self, url: str, *, etag: str | None, last_modified: str | None) -> FetchResult:
        settings = self.services.settings
        return await fetch_calendar(
            url,
            limits=settings.calendar,
            allow_private=settings.calendar_allow_private,
            timeout=settings.calendar_timeout_seconds,
            max_redirects=settings.calendar_max_redirects,
            etag=etag,
            last_modified=last_modified,
            resolver=self._resolver,
        )

    async def _email(
        self, team: str, user: str, client: AsyncWebClient | None = None
    ) -> str | None:
        """The person's address in Slack: their own declined invitations are not busy."""
        try:
            client = client or await self.clients.for_team(team)
            if client is None:
                return None
            response = await client.users_info(user=user)
        except SlackApiError as exc:
            logger.warning("users.info failed: %s", exc.response.get("error", "unknown"))
            return None
        except (aiohttp.ClientError, OSError) as exc:
            logger.warning("users.info failed: %s", type(exc).__name__)
            return None
        email = ((response.get("user") or {}).get("profile") or {}).get("email")
        return str(email) if email else None


def _worth_writing(before: SyncState, after: SyncState, *, now: datetime) -> bool:
    """Whether a good sync must write its state: something changed, or the last success
    on record is getting old. Most syncs find nothing new, and skip the write."""
    if after.but(last_success=before.last_success) != before:
        return True
    return before.last_success is None or now - before.last_success >= STATE_REFRESH


def _short_hash(fetched: FetchResult) -> str | None:
    # 128 bits of the sha256 tell feeds apart as well as all 256, in half the bytes.
    return None if fetched.content_hash is None else fetched.content_hash[:32]
