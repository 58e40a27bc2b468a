"""Baseline's Redis store: preferences, feel logs, nudge outcomes, ratings, reflections,
calendar addresses and DM channels, one person at a time.

Every write that touches several keys is one MULTI/EXEC (all keys share the person's hash
tag, so this holds on Redis Cluster too). Private words and secrets (notes, moods,
reflections, ICS addresses) are encrypted with the :class:`~bot.vault.Vault` before they
reach Redis. A Redis that cannot be reached raises :class:`StoreUnavailableError`, and nothing
is half-written.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot import keys
from bot.models import Profile, SentNudge
from bot.vault import Vault
from nudges.catalog import PracticeFeedback, PracticeHistory, PracticeTheme
from nudges.clock import BusyInterval
from nudges.feelings import FeelEntry
from nudges.insights import OutcomeRecord

# Decrypted (time, score) pairs kept per process: ~150 bytes each, so about 8 MB at most.
SCORE_CACHE_SIZE = 50_000


class StoreUnavailableError(RuntimeError):
    """Redis could not be reached in time; nothing was changed."""


@asynccontextmanager
async def _reachable() -> AsyncIterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise StoreUnavailableError("Redis is unreachable") from exc


class Store:
    """All of Baseline's per-person state. ``team``/``user`` are Slack ids."""

    def __init__(self, redis: Redis, vault: Vault, *, retention: timedelta) -> None:
        self._redis = redis
        self._vault = vault
        self._retention = retention
        # Stored logs never change, so a token's (time, score) is decrypted once per process:
        # a /feel reply needs two weeks of scores, and Fernet was a fifth of its CPU. Notes
        # are not kept here; only what the trend and the support rule read.
        self._scores: OrderedDict[bytes, FeelEntry] = OrderedDict()

    @property
    def redis(self) -> Redis:
        return self._redis

    async def ping(self) -> bool:
        try:
            async with _reachable():
                return bool(await self._redis.ping())
        except StoreUnavailableError:
            return False

    # --- profile -------------------------------------------------------------------------

    async def profile(self, team: str, user: str) -> Profile:
        async with _reachable():
            raw = await self._redis.get(keys.profile(team, user))
        return Profile() if raw is None else Profile.model_validate_json(raw)

    async def save_profile(self, team: str, user: str, profile: Profile) -> None:
        async with _reachable():
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
        async with _reachable(), self._redis.pipeline(transaction=True) as pipe:
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
        async with _reachable():
            members = await self._redis.zrangebyscore(
                keys.feelings(team, user), since.timestamp(), "+inf"
            )
        return [FeelEntry.model_validate_json(self._vault.open(_raw(m))) for m in members]

    # --- nudge outcomes and learning -----------------------------------------------------

    async def record_outcome(self, team: str, user: str, record: OutcomeRecord) -> None:
        await self._append(keys.outcomes(team, user), record.model_dump_json().encode(), record.at)

    async def outcomes(self, team: str, user: str, *, since: datetime) -> list[OutcomeRecord]:
        async with _reachable():
            members = await self._redis.zrangebyscore(
                keys.outcomes(team, user), since.timestamp(), "+inf"
            )
        return [OutcomeRecord.model_validate_json(_raw(m)) for m in members]

    async def rate_practice(self, team: str, user: str, practice: str, *, helped: bool) -> None:
        field = f"{practice}:{'helped' if helped else 'unhelpful'}"
        async with _reachable():
            await self._redis.hincrby(keys.ratings(team, user), field, 1)

    async def ask_fewer(self, team: str, user: str, theme: PracticeTheme) -> None:
        async with _reachable():
            await self._redis.sadd(keys.fewer(team, user), theme.value)

    async def practice_history(self, team: str, user: str) -> PracticeHistory:
        async with _reachable(), self._redis.pipeline(transaction=False) as pipe:
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
        async with _reachable(), self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, week, sealed)
            pipe.expire(key, self._retention)
            await pipe.execute()

    async def reflections(self, team: str, user: str) -> dict[str, dict[str, str]]:
        async with _reachable():
            stored = await self._redis.hgetall(keys.reflections(team, user))
        return {
            _text(week): json.loads(self._vault.open(_raw(sealed)))
            for week, sealed in sorted(stored.items())
        }

    # --- calendar ------------------------------------------------------------------------

    async def set_calendar(self, team: str, user: str, url: str) -> None:
        async with _reachable():
            await self._redis.set(keys.calendar(team, user), self._vault.seal(url))

    async def calendar_url(self, team: str, user: str) -> str | None:
        async with _reachable():
            sealed = await self._redis.get(keys.calendar(team, user))
        return None if sealed is None else self._vault.open(_raw(sealed))

    async def clear_calendar(self, team: str, user: str) -> bool:
        async with _reachable():
            return bool(await self._redis.delete(keys.calendar(team, user)))

    # --- busy time (written by calendar sync) ------------------------------------------

    async def save_busy(self, team: str, user: str, busy: Sequence[BusyInterval]) -> None:
        """Replace the person's known busy intervals (from their calendar)."""
        payload = json.dumps([[b.start.isoformat(), b.end.isoformat()] for b in busy])
        async with _reachable():
            await self._redis.set(
                keys.busy(team, user), self._vault.seal(payload), ex=self._retention
            )

    async def busy(self, team: str, user: str) -> list[BusyInterval]:
        async with _reachable():
            sealed = await self._redis.get(keys.busy(team, user))
        if sealed is None:
            return []
        pairs = json.loads(self._vault.open(_raw(sealed)))
        return [
            BusyInterval(start=datetime.fromisoformat(s), end=datetime.fromisoformat(e))
            for s, e in pairs
        ]

    # --- Slack plumbing ------------------------------------------------------------------

    async def dm_channel(self, team: str, user: str) -> str | None:
        async with _reachable():
            raw = await self._redis.get(keys.dm_channel(team, user))
        return None if raw is None else _text(raw)

    async def remember_dm_channel(self, team: str, user: str, channel: str) -> None:
        async with _reachable():
            await self._redis.set(keys.dm_channel(team, user), channel)

    async def remember_sent(self, team: str, user: str, sent: SentNudge) -> None:
        key = keys.sent_nudges(team, user)
        async with _reachable(), self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, sent.key, sent.model_dump_json())
            pipe.expire(key, timedelta(days=14))
            await pipe.execute()

    async def sent(self, team: str, user: str, key: str) -> SentNudge | None:
        async with _reachable():
            raw = await self._redis.hget(keys.sent_nudges(team, user), key)
        return None if raw is None else SentNudge.model_validate_json(raw)

    async def offer_support_once(self, team: str, user: str) -> bool:
        """True the first time in a low streak (the caller then sends the offer)."""
        async with _reachable():
            return bool(
                await self._redis.set(
                    keys.support_offered(team, user), b"1", nx=True, ex=timedelta(days=14)
                )
            )

    async def clear_support(self, team: str, user: str) -> None:
        async with _reachable():
            await self._redis.delete(keys.support_offered(team, user))

    async def first_delivery(self, event_id: str, *, ttl: timedelta = timedelta(hours=1)) -> bool:
        """Whether this Events API delivery is new (retries of one event share its id)."""
        async with _reachable():
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
        }

    async def person_keys(self, team: str, user: str) -> list[bytes]:
        async with _reachable():
            found = [
                _raw(k) async for k in self._redis.scan_iter(match=keys.person_pattern(team, user))
            ]
        return [k for k in found if keys.is_person_key(team, user, k.decode(errors="replace"))]

    async def forget(self, team: str, user: str) -> int:
        """Delete every key of the person; returns how many were deleted."""
        found = await self.person_keys(team, user)
        if not found:
            return 0
        async with _reachable():
            return int(await self._redis.delete(*found))

    # --- internals -----------------------------------------------------------------------

    async def _all_sent(self, team: str, user: str) -> list[SentNudge]:
        async with _reachable():
            stored = await self._redis.hgetall(keys.sent_nudges(team, user))
        sent = [SentNudge.model_validate_json(raw) for raw in stored.values()]
        return sorted(sent, key=lambda s: (s.sent_at, s.key))

    async def _support_offered(self, team: str, user: str) -> bool:
        async with _reachable():
            return bool(await self._redis.exists(keys.support_offered(team, user)))

    async def _append(self, key: str, member: bytes, at: datetime) -> None:
        """Add a timestamped record and drop those past the retention period, atomically."""
        cutoff = (at - self._retention).timestamp()
        async with _reachable(), self._redis.pipeline(transaction=True) as pipe:
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
