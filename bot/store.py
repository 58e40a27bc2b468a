"""Baseline's Redis store: preferences, feel logs, nudge outcomes, ratings, reflections,
calendar addresses and DM channels, one person at a time.

Every write that touches several keys is one MULTI/EXEC (all keys share the person's hash
tag, so this holds on Redis Cluster too). Private words and secrets (notes, moods,
reflections, ICS addresses) are encrypted with the :class:`~bot.vault.Vault` before they
reach Redis. A Redis that cannot be reached raises :class:`StoreUnavailableError`, and nothing
is half-written.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ClusterDownError, RedisClusterException
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

from bot import keys
from bot.models import Profile, SentNudge
from bot.vault import Vault
from config.settings import Settings
from nudges.catalog import PracticeFeedback, PracticeHistory, PracticeTheme
from nudges.clock import BusyInterval
from nudges.feelings import FeelEntry
from nudges.insights import OutcomeRecord

RedisClient = Redis | RedisCluster
"""A single Redis or a Redis Cluster: every key Baseline writes is placed so that either works."""

# Decrypted (time, score) pairs kept per process: ~150 bytes each, so about 8 MB at most.
SCORE_CACHE_SIZE = 50_000


def connect_redis(settings: Settings, *, timeout: float | None = None) -> RedisClient:
    """The Redis (or, with ``BASELINE_REDIS_CLUSTER``, the Redis Cluster) at ``REDIS_URL``.

    Nothing connects until the first command. ``timeout`` (seconds per call) defaults to
    ``BASELINE_REDIS_TIMEOUT_SECONDS``, short so a reply still fits Slack's 3 seconds.
    """
    seconds = settings.redis_timeout_seconds if timeout is None else timeout
    if settings.redis_cluster:
        # Any one node's address is enough: the client learns the others from it.
        return RedisCluster.from_url(
            settings.redis_url,
            socket_timeout=seconds,
            socket_connect_timeout=seconds,
            # redis-py's default (10 retries, backoff up to 10 s) rides out a failover but
            # keeps a person waiting far past Slack's 3 s. Two quick retries still follow a
            # moved slot; a cluster that is down fails fast into "couldn't save just now".
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.2), retries=2),
        )
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=seconds,
        socket_connect_timeout=seconds,
        health_check_interval=30,
    )


class StoreUnavailableError(RuntimeError):
    """Redis could not be reached in time; nothing was changed."""


# CLUSTERDOWN: a cluster whose nodes declared one of them failed refuses every key.
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError, ClusterDownError)


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    StoreUnavailableError,
    *_UNREACHABLE,
    RedisClusterException,
    TimeoutError,
)
"""What a background loop treats as "Redis or the network is away for now": it logs a
warning, waits for its next pass and tries again. redis-py's connection and timeout errors
are not OSError/TimeoutError, and a cluster client's are not even RedisError."""


@asynccontextmanager
async def reachable() -> AsyncIterator[None]:
    try:
        yield
    except _UNREACHABLE as exc:
        raise StoreUnavailableError("Redis is unreachable") from exc
    except RedisClusterException as exc:
        # A cluster client that reaches none of its nodes raises this (not a RedisError),
        # caused by the connection error; other RedisClusterExceptions are our bugs.
        if isinstance(exc.__cause__, _UNREACHABLE):
            raise StoreUnavailableError("Redis is unreachable") from exc
        raise


class Store:
    """All of Baseline's per-person state. ``team``/``user`` are Slack ids."""

    def __init__(self, redis: RedisClient, vault: Vault, *, retention: timedelta) -> None:
        self._redis = redis
        self._vault = vault
        self._retention = retention
        # Stored logs never change, so a token's (time, score) is decrypted once per process:
        # a /feel reply needs two weeks of scores, and Fernet was a fifth of its CPU. Notes
        # are not kept here; only what the trend and the support rule read.
        self._scores: OrderedDict[bytes, FeelEntry] = OrderedDict()

    @property
    def redis(self) -> RedisClient:
        return self._redis

    async def ping(self) -> bool:
        try:
            async with reachable():
                if isinstance(self._redis, RedisCluster):
                    # Every primary: a cluster client's plain PING asks one node, which
                    # answers even while another node (and everyone it holds) is down.
                    return bool(await self._redis.ping(target_nodes=RedisCluster.PRIMARIES))
                return bool(await self._redis.ping())
        except StoreUnavailableError:
            return False

    # --- profile -------------------------------------------------------------------------

    async def profile(self, team: str, user: str) -> Profile:
        async with reachable():
            raw = await self._redis.get(keys.profile(team, user))
        return Profile() if raw is None else Profile.model_validate_json(raw)

    async def save_profile(self, team: str, user: str, profile: Profile) -> None:
        async with reachable():
            await self._redis.set(keys.profile(team, user), profile.model_dump_json())

    # --- feelings ------------------------------------------------------------------------

    async def log_feeling(self, team: str, user: str, entry: FeelEntry) -> None:
        key = keys.feelings(team, user)
        sealed = self._vault.seal(entry.model_dump_json())
        await self._append(key, sealed, entry.at)

    async def log_feeling_and_recent(
        self,
        team: str,
        user: str,
        entry: FeelEntry,
        *,
        since: datetime,
        last: int = 3,
        end_low_streak: bool = False,
    ) -> tuple[list[FeelEntry], list[FeelEntry]]:
        """Log ``entry`` and read back, in the same MULTI/EXEC (one round trip), the logs
        since ``since`` and the ``last`` most recent ones (oldest first in both), without
        their notes: what a reply's trend and the support rule need."""
        key = keys.feelings(team, user)
        cutoff = (entry.at - self._retention).timestamp()
        sealed = self._vault.seal(entry.model_dump_json())
        async with reachable(), self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {sealed: entry.at.timestamp()})
            pipe.zremrangebyscore(key, "-inf", f"({cutoff}")
            pipe.expire(key, self._retention)
            pipe.zrangebyscore(key, since.timestamp(), "+inf")
            pipe.zrange(key, -last, -1)
            if end_low_streak:
                pipe.delete(keys.support_offered(team, user))
            replies = await pipe.execute()
        window, latest = replies[3], replies[4]
        self._remember_score(sealed, entry)
        return self._scores_of(window), self._scores_of(latest)

    def _scores_of(self, members: list[bytes]) -> list[FeelEntry]:
        """Entries with time, score and what weighed, but never the note (see _scores)."""
        entries = []
        for member in members:
            token = _raw(member)
            entry = self._scores.get(token)
            if entry is None:
                entry = self._remember_score(
                    token, FeelEntry.model_validate_json(self._vault.open(token))
                )
            else:
                self._scores.move_to_end(token)
            entries.append(entry)
        return entries

    def _remember_score(self, token: bytes, entry: FeelEntry) -> FeelEntry:
        kept = entry.model_copy(update={"note": None}) if entry.note is not None else entry
        self._scores[token] = kept
        while len(self._scores) > SCORE_CACHE_SIZE:
            self._scores.popitem(last=False)
        return kept

    async def feelings(self, team: str, user: str, *, since: datetime) -> list[FeelEntry]:
        async with reachable():
            members = await self._redis.zrangebyscore(
                keys.feelings(team, user), since.timestamp(), "+inf"
            )
        return [FeelEntry.model_validate_json(self._vault.open(_raw(m))) for m in members]

    # --- nudge outcomes and learning -----------------------------------------------------

    async def record_outcome(self, team: str, user: str, record: OutcomeRecord) -> None:
        await self._append(keys.outcomes(team, user), record.model_dump_json().encode(), record.at)

    async def outcomes(self, team: str, user: str, *, since: datetime) -> list[OutcomeRecord]:
        async with reachable():
            members = await self._redis.zrangebyscore(
                keys.outcomes(team, user), since.timestamp(), "+inf"
            )
        return [OutcomeRecord.model_validate_json(_raw(m)) for m in members]

    async def rate_practice(self, team: str, user: str, practice: str, *, helped: bool) -> None:
        field = f"{practice}:{'helped' if helped else 'unhelpful'}"
        async with reachable():
            await self._redis.hincrby(keys.ratings(team, user), field, 1)

    async def ask_fewer(self, team: str, user: str, theme: PracticeTheme) -> None:
        async with reachable():
            await self._redis.sadd(keys.fewer(team, user), theme.value)

    async def practice_history(self, team: str, user: str) -> PracticeHistory:
        async with reachable(), self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.ratings(team, user))
            pipe.smembers(keys.fewer(team, user))
            ratings, fewer = await pipe.execute()
        counts: dict[str, dict[str, int]] = {}
        for field, value in ratings.items():
            practice, _, kind = _text(field).rpartition(":")
            counts.setdefault(practice, {})[kind] = int(value)
        return PracticeHistory(
            feedback={
                practice: PracticeFeedback(
                    helped=c.get("helped", 0), unhelpful=c.get("unhelpful", 0)
                )
                for practice, c in counts.items()
            },
            fewer=frozenset(
                PracticeTheme(_text(t))
                for t in fewer
                if _text(t) in PracticeTheme.__members__.values()
            ),
            seed=person_seed(team, user),
        )

    # --- reflections ---------------------------------------------------------------------

    async def save_reflection(
        self, team: str, user: str, week: str, answers: dict[str, str]
    ) -> None:
        sealed = self._vault.seal(json.dumps(answers, ensure_ascii=False))
        key = keys.reflections(team, user)
        async with reachable(), self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, week, sealed)
            pipe.expire(key, self._retention)
            await pipe.execute()

    async def reflections(self, team: str, user: str) -> dict[str, dict[str, str]]:
        async with reachable():
            stored = await self._redis.hgetall(keys.reflections(team, user))
        return {
            _text(week): json.loads(self._vault.open(_raw(sealed)))
            for week, sealed in sorted(stored.items())
        }

    # --- calendar ------------------------------------------------------------------------

    async def set_calendar(self, team: str, user: str, url: str) -> None:
        async with reachable():
            await self._redis.set(keys.calendar(team, user), self._vault.seal(url))

    async def calendar_url(self, team: str, user: str) -> str | None:
        async with reachable():
            sealed = await self._redis.get(keys.calendar(team, user))
        return None if sealed is None else self._vault.open(_raw(sealed))

    async def clear_calendar(self, team: str, user: str) -> bool:
        async with reachable():
            return bool(await self._redis.delete(keys.calendar(team, user)))

    # --- busy time (written by calendar sync) ------------------------------------------

    async def save_busy(self, team: str, user: str, busy: Sequence[BusyInterval]) -> None:
        """Replace the person's known busy intervals (from their calendar)."""
        async with reachable():
            await self._redis.set(keys.busy(team, user), self._seal_busy(busy), ex=self._retention)

    async def busy(self, team: str, user: str) -> list[BusyInterval]:
        """The person's busy intervals, sorted, as UTC instants (whole seconds)."""
        async with reachable():
            sealed = await self._redis.get(keys.busy(team, user))
        return [] if sealed is None else self._open_busy(_raw(sealed))

    def _seal_busy(self, busy: Sequence[BusyInterval]) -> bytes:
        return self._vault.seal(encode_busy(busy))

    def _open_busy(self, sealed: bytes) -> list[BusyInterval]:
        return decode_busy(self._vault.open(sealed))

    # --- calendar sync state (bot/sync.py) ---------------------------------------------

    async def sync_inputs(self, team: str, user: str) -> SyncInputs:
        """What one sync starts from, in one round trip: the address, the state, the profile."""
        [inputs] = await self.sync_inputs_many([(team, user)])
        return inputs

    async def sync_inputs_many(self, people: Sequence[tuple[str, str]]) -> list[SyncInputs]:
        """:meth:`sync_inputs` of many people in one round trip (a batch of claimed syncs)."""
        if not people:
            return []
        async with reachable(), self._redis.pipeline(transaction=False) as pipe:
            for team, user in people:
                # Two GETs, not an MGET: redis-py refuses MGET in a cluster pipeline.
                pipe.get(keys.calendar(team, user))
                pipe.get(keys.profile(team, user))
                pipe.hgetall(keys.sync_state(team, user))
            replies = await pipe.execute()
        return [
            SyncInputs(
                url=None if sealed_url is None else self._vault.open(_raw(sealed_url)),
                state=SyncState.from_fields(fields),
                profile=Profile()
                if raw_profile is None
                else Profile.model_validate_json(raw_profile),
            )
            for sealed_url, raw_profile, fields in zip(
                replies[::3], replies[1::3], replies[2::3], strict=True
            )
        ]

    async def sync_state(self, team: str, user: str) -> SyncState:
        async with reachable():
            fields = await self._redis.hgetall(keys.sync_state(team, user))
        return SyncState.from_fields(fields)

    async def sync_email(self, team: str, user: str) -> str | None:
        """The person's e-mail address, kept while a calendar is connected: the parser drops
        the invitations they declined. Its own key: sealed, it is too long for the small
        (listpack) encoding of the sync-state hash."""
        async with reachable():
            sealed = await self._redis.get(keys.sync_email(team, user))
        return None if sealed is None else self._vault.open(_raw(sealed))

    async def connect_calendar(
        self,
        team: str,
        user: str,
        *,
        url: str,
        state: SyncState,
        email: str | None,
        busy: Sequence[BusyInterval] | None,
    ) -> None:
        """Store a newly connected address with its first sync, in one MULTI/EXEC: the old
        state goes, and ``busy`` replaces what was known (``None`` forgets it)."""
        fields = state.to_fields()
        async with reachable(), self._redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.calendar(team, user), self._vault.seal(url))
            pipe.delete(keys.sync_state(team, user))
            pipe.hset(keys.sync_state(team, user), mapping=fields)
            if email is None:
                pipe.delete(keys.sync_email(team, user))
            else:
                pipe.set(keys.sync_email(team, user), self._vault.seal(email))
            if busy is None:
                pipe.delete(keys.busy(team, user))
            else:
                pipe.set(keys.busy(team, user), self._seal_busy(busy), ex=self._retention)
            await pipe.execute()

    async def commit_sync(
        self,
        team: str,
        user: str,
        state: SyncState,
        *,
        busy: Sequence[BusyInterval] | None = None,
    ) -> bool:
        """Write a sync's outcome (and ``busy``, when it changed) in one atomic step, unless
        the calendar was disconnected or connected anew since the sync read ``state``
        (its generation changed): then nothing is written and the answer is False."""
        fields = state.to_fields()
        gone = [name for name in _SYNC_FIELDS if name not in fields]
        sealed = b"" if busy is None else self._seal_busy(busy)
        ttl = int(self._retention.total_seconds())
        args: list[EncodableT] = [state.generation, sealed, ttl, len(gone)]
        args.extend(gone)
        for name, value in fields.items():
            args.extend((name, value))
        async with reachable():
            done = await self._commit_script()(
                keys=[
                    keys.sync_state(team, user),
                    keys.busy(team, user),
                    keys.calendar(team, user),
                ],
                args=args,
            )
        return bool(done)

    def _commit_script(self) -> AsyncScript:
        # Registered on first use (registering sends nothing to Redis).
        script: AsyncScript | None = getattr(self, "_commit_sync", None)
        if script is None:
            script = self._redis.register_script(_COMMIT_SYNC)
            self._commit_sync = script
        return script

    async def disconnect_calendar(self, team: str, user: str) -> bool:
        """Delete the address, the busy time read from it and the sync state; True if a
        calendar was connected."""
        async with reachable(), self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.calendar(team, user))
            pipe.delete(
                keys.busy(team, user), keys.sync_state(team, user), keys.sync_email(team, user)
            )
            removed, _ = await pipe.execute()
        return bool(removed)

    # --- Slack plumbing ------------------------------------------------------------------

    async def dm_channel(self, team: str, user: str) -> str | None:
        async with reachable():
            raw = await self._redis.get(keys.dm_channel(team, user))
        return None if raw is None else _text(raw)

    async def remember_dm_channel(self, team: str, user: str, channel: str) -> None:
        async with reachable():
            await self._redis.set(keys.dm_channel(team, user), channel)

    async def remember_sent(self, team: str, user: str, sent: SentNudge) -> None:
        key = keys.sent_nudges(team, user)
        async with reachable(), self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, sent.key, sent.model_dump_json())
            pipe.expire(key, timedelta(days=14))
            await pipe.execute()

    async def sent(self, team: str, user: str, key: str) -> SentNudge | None:
        async with reachable():
            raw = await self._redis.hget(keys.sent_nudges(team, user), key)
        return None if raw is None else SentNudge.model_validate_json(raw)

    async def offer_support_once(self, team: str, user: str) -> bool:
        """True the first time in a low streak (the caller then sends the offer)."""
        async with reachable():
            return bool(
                await self._redis.set(
                    keys.support_offered(team, user), b"1", nx=True, ex=timedelta(days=14)
                )
            )

    async def clear_support(self, team: str, user: str) -> None:
        async with reachable():
            await self._redis.delete(keys.support_offered(team, user))

    async def first_delivery(self, event_id: str, *, ttl: timedelta = timedelta(hours=1)) -> bool:
        """Whether this Events API delivery is new (retries of one event share its id)."""
        async with reachable():
            return bool(await self._redis.set(keys.event_seen(event_id), b"1", nx=True, ex=ttl))

    # --- a person's whole record ---------------------------------------------------------

    async def export(self, team: str, user: str) -> dict[str, Any]:
        """Everything stored about the person, decrypted, as plain JSON-able data."""
        epoch = datetime.fromtimestamp(0, tz=UTC)
        profile = await self.profile(team, user)
        calendar = await self.calendar_url(team, user)
        history = await self.practice_history(team, user)
        return {
            "team": team,
            "user": user,
            "profile": profile.model_dump(mode="json"),
            "calendar": {"connected": calendar is not None, "address": calendar},
            "feelings": [
                e.model_dump(mode="json") for e in await self.feelings(team, user, since=epoch)
            ],
            "nudge_outcomes": [
                r.model_dump(mode="json") for r in await self.outcomes(team, user, since=epoch)
            ],
            "practice_ratings": {k: v.model_dump(mode="json") for k, v in history.feedback.items()},
            "fewer_of": sorted(t.value for t in history.fewer),
            "reflections": await self.reflections(team, user),
            "busy": [b.model_dump(mode="json") for b in await self.busy(team, user)],
            "sent_nudges": [s.model_dump(mode="json") for s in await self._all_sent(team, user)],
            "support_offered": await self._support_offered(team, user),
            "dm_channel": await self.dm_channel(team, user),
            # Read from Slack to drop calendar invitations the person declined.
            "calendar_email": await self.sync_email(team, user),
        }

    async def person_keys(self, team: str, user: str) -> list[bytes]:
        async with reachable():
            found = [
                _raw(k) async for k in self._redis.scan_iter(match=keys.person_pattern(team, user))
            ]
        return [k for k in found if keys.is_person_key(team, user, k.decode(errors="replace"))]

    async def forget(self, team: str, user: str) -> int:
        """Delete every key of the person; returns how many were deleted."""
        found = await self.person_keys(team, user)
        if not found:
            return 0
        async with reachable():
            return int(await self._redis.delete(*found))

    # --- internals -----------------------------------------------------------------------

    async def _all_sent(self, team: str, user: str) -> list[SentNudge]:
        async with reachable():
            stored = await self._redis.hgetall(keys.sent_nudges(team, user))
        sent = [SentNudge.model_validate_json(raw) for raw in stored.values()]
        return sorted(sent, key=lambda s: (s.sent_at, s.key))

    async def _support_offered(self, team: str, user: str) -> bool:
        async with reachable():
            return bool(await self._redis.exists(keys.support_offered(team, user)))

    async def _append(self, key: str, member: bytes, at: datetime) -> None:
        """Add a timestamped record and drop those past the retention period, atomically."""
        cutoff = (at - self._retention).timestamp()
        async with reachable(), self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {member: at.timestamp()})
            pipe.zremrangebyscore(key, "-inf", f"({cutoff}")
            pipe.expire(key, self._retention)
            await pipe.execute()


def person_seed(team: str, user: str) -> int:
    """A stable number per person, so practice rotation differs between people."""
    digest = hashlib.blake2b(f"{team}:{user}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _raw(value: object) -> bytes:
    # The client is made with decode_responses=False: members and values are bytes.
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise TypeError(f"unexpected Redis value {type(value).__name__}")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# --- calendar sync state and busy time, as stored ------------------------------------------

# Hash fields of the sync state, short because every person has one: generation, ETag,
# Last-Modified, content hash, parse window, failures, failing since, broken (DM sent), last
# success, the failure's reason.
_SYNC_FIELDS = ("g", "e", "m", "h", "w", "f", "fs", "b", "ok", "r")

# KEYS: sync state, busy, calendar address. ARGV: generation, sealed busy ("" = unchanged),
# busy TTL, n, n field names to delete, then field/value pairs. Writes only while the calendar
# is still connected under the generation the sync started from.
_COMMIT_SYNC = """
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
local generation = redis.call('HGET', KEYS[1], 'g') or ''
if generation ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[4])
for i = 5, 4 + n do redis.call('HDEL', KEYS[1], ARGV[i]) end
if #ARGV > 4 + n then redis.call('HSET', KEYS[1], unpack(ARGV, 5 + n)) end
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3]) end
return 1
"""


@dataclass(frozen=True, slots=True)
class SyncState:
    """Where one person's calendar sync stands (written by :mod:`bot.sync`).

    ``generation`` changes each time a calendar is connected, so a sync that began before
    cannot write over the new one. ``window`` names the local day and zone the stored busy
    time was parsed for: an unchanged feed is parsed again only when the window moves.
    """

    generation: str = ""
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    window: str | None = None
    failures: int = 0
    failing_since: datetime | None = None
    broken: bool = False
    last_success: datetime | None = None
    reason: str | None = None

    @classmethod
    def from_fields(cls, fields: dict[Any, Any]) -> SyncState:
        got = {_text(k): _raw(v) for k, v in fields.items()}

        def text(name: str) -> str | None:
            value = got.get(name)
            return None if value is None else value.decode()

        def moment(name: str) -> datetime | None:
            value = got.get(name)
            return None if value is None else datetime.fromtimestamp(int(value), tz=UTC)

        return cls(
            generation=text("g") or "",
            etag=text("e"),
            last_modified=text("m"),
            content_hash=text("h"),
            window=text("w"),
            failures=int(got.get("f", b"0")),
            failing_since=moment("fs"),
            broken=got.get("b") == b"1",
            last_success=moment("ok"),
            reason=text("r"),
        )

    def to_fields(self) -> dict[FieldT, EncodableT]:
        """The hash fields that have a value. Each is short, so Redis keeps the hash in its
        compact encoding (values up to 64 bytes)."""
        fields: dict[FieldT, EncodableT | None] = {
            "g": self.generation,
            "e": self.etag,
            "m": self.last_modified,
            "h": self.content_hash,
            "w": self.window,
            "f": self.failures or None,
            "fs": None if self.failing_since is None else int(self.failing_since.timestamp()),
            "b": 1 if self.broken else None,
            "ok": None if self.last_success is None else int(self.last_success.timestamp()),
            "r": self.reason,
        }
        return {name: value for name, value in fields.items() if value is not None}

    def but(self, **changes: Any) -> SyncState:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class SyncInputs:
    url: str | None
    state: SyncState
    profile: Profile


# Busy time is stored compactly (a few bytes a meeting, then sealed): "b1:" and URL-safe
# base64 of unsigned LEB128 numbers — the unit (60 when every instant is on a whole minute,
# else 1 second), then per interval the gap since the previous end (zigzag, the first one from
# the epoch) and the length, in that unit. Older values are JSON [[start, end], ...].
_BUSY_V1 = "b1:"


def encode_busy(busy: Sequence[BusyInterval]) -> str:
    spans = sorted((int(b.start.timestamp() // 1), -int(-b.end.timestamp() // 1)) for b in busy)
    unit = 60 if all(s % 60 == 0 and e % 60 == 0 for s, e in spans) else 1
    out = bytearray()
    _put(out, unit)
    previous = 0
    for start, end in spans:
        gap = (start - previous) // unit
        _put(out, gap * 2 if gap >= 0 else -gap * 2 - 1)
        _put(out, (end - start) // unit)
        previous = end
    return _BUSY_V1 + base64.urlsafe_b64encode(bytes(out)).decode().rstrip("=")


def decode_busy(text: str) -> list[BusyInterval]:
    if not text.startswith(_BUSY_V1):
        return [
            BusyInterval(start=datetime.fromisoformat(s), end=datetime.fromisoformat(e))
            for s, e in json.loads(text)
        ]
    body = text[len(_BUSY_V1) :]
    data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    numbers = list(_numbers(data))
    unit, rest = numbers[0], numbers[1:]
    busy = []
    previous = 0
    for zigzag, length in zip(rest[::2], rest[1::2], strict=True):
        gap = zigzag // 2 if zigzag % 2 == 0 else -(zigzag + 1) // 2
        start = previous + gap * unit
        end = start + length * unit
        busy.append(
            BusyInterval(
                start=datetime.fromtimestamp(start, tz=UTC),
                end=datetime.fromtimestamp(end, tz=UTC),
            )
        )
        previous = end
    return busy


def _put(out: bytearray, number: int) -> None:
    while number >= 0x80:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)


def _numbers(data: bytes) -> Iterator[int]:
    number = shift = 0
    for byte in data:
        number |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            yield number
            number = shift = 0
