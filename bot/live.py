"""Live state from Slack, per person: since when they are in a huddle or a status-marked
meeting, and their cached Do Not Disturb answer; and what happens when a signal ends.

Both live in Redis under the person's hash tag (``forget`` finds them), so any instance
sees what another learned from an event, and delivery reads both in one round trip.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot import keys
from bot.store import RedisClient
from nudges.planner import Nudge
from nudges.signals import KEY_PREFIX, SignalKind, signal_reset

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

# A huddle or meeting status whose end never reached us (a lost event) stops counting after
# this long: delivery would otherwise hold every nudge back until the key expires.
STALE_AFTER = timedelta(hours=8)
_UNTIL = ":until"

# KEYS: live hash. ARGV: kind since until('' = none) now stale_seconds ttl_seconds.
# Starts a signal, or keeps the running one's start: a status that moves from one meeting
# to the next back-to-back one is one stack. A mark past its expiry or stale starts afresh.
# Returns 1 when the signal started now, 0 when it was already running.
_BEGIN = """
local kind, since, until_ = ARGV[1], ARGV[2], ARGV[3]
local now, stale = tonumber(ARGV[4]), tonumber(ARGV[5])
local current = tonumber(redis.call('HGET', KEYS[1], kind))
local old_until = tonumber(redis.call('HGET', KEYS[1], kind .. ':until'))
local running = current ~= nil and now - current < stale and (old_until == nil or old_until > now)
if not running then redis.call('HSET', KEYS[1], kind, since) end
if until_ == '' then
  redis.call('HDEL', KEYS[1], kind .. ':until')
else
  redis.call('HSET', KEYS[1], kind .. ':until', until_)
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
if running then return 0 end
return 1
"""


@dataclass(frozen=True, slots=True)
class LiveMark:
    """One running signal: since when, and (a status) when it said it would end."""

    since: datetime
    until: datetime | None = None

    def running(self, now: datetime) -> bool:
        if now - self.since >= STALE_AFTER:
            return False
        return self.until is None or now < self.until


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """What delivery reads before a send: running signals and the cached DND answer."""

    marks: dict[SignalKind, LiveMark]
    dnd: bytes | None  # the cached dnd.info answer (bot.presence decodes it), or None


class LiveSignals:
    """The live state of one Redis (bytes client), for every person."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._begin = redis.register_script(_BEGIN)

    async def begin(
        self,
        team: str,
        user: str,
        kind: SignalKind,
        *,
        at: datetime,
        until: datetime | None = None,
    ) -> bool:
        """Record that the person is in ``kind`` from ``at`` (kept if already running);
        True when it started now."""
        started = await self._begin(
            keys=[keys.live(team, user)],
            args=[
                kind.value,
                _ts(at),
                "" if until is None else _ts(until),
                _ts(at),
                int(STALE_AFTER.total_seconds()),
                int(STALE_AFTER.total_seconds()) + 3600,
            ],
        )
        return bool(started)

    async def end(
        self, team: str, user: str, kind: SignalKind
    ) -> tuple[LiveMark | None, dict[SignalKind, LiveMark]]:
        """Stop ``kind``: its mark (None if it was not running) and the marks still there.

        One MULTI/EXEC, so of two instances handling two end events only one gets the mark.
        """
        key = keys.live(team, user)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hmget(key, [kind.value, kind.value + _UNTIL])
            pipe.hdel(key, kind.value, kind.value + _UNTIL)
            pipe.hgetall(key)
            (since, until), _deleted, rest = await pipe.execute()
        mark = None if since is None else LiveMark(since=_time(since), until=_maybe_time(until))
        return mark, _marks(rest)

    async def snapshot(self, team: str, user: str) -> LiveSnapshot:
        """Running signals and the cached DND answer, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.live(team, user))
            pipe.get(keys.dnd(team, user))
            marks, dnd = await pipe.execute()
        return LiveSnapshot(marks=_marks(marks), dnd=dnd)

    async def remember_dnd(self, team: str, user: str, answer: str, *, ttl: timedelta) -> None:
        await self._redis.set(keys.dnd(team, user), answer, ex=ttl)

    async def forget_dnd(self, team: str, user: str) -> None:
        await self._redis.delete(keys.dnd(team, user))

    async def sent_resets(self, team: str, user: str) -> list[datetime]:
        """When the person's recent resets (planned or live) went out, from the keys of the
        sent-nudge record (``reset:<UTC anchor>``, ``live:<UTC minute>``)."""
        fields = await self._redis.hkeys(keys.sent_nudges(team, user))
        out = []
        for field in fields:
            name = field.decode() if isinstance(field, bytes) else str(field)
            kind, _, stamp = name.partition(":")
            if kind + ":" in ("reset:", KEY_PREFIX):
                try:
                    out.append(datetime.fromisoformat(stamp))
                except ValueError:
                    continue
        return sorted(out)


async def signal_started(
    services: Services,
    team: str,
    user: str,
    kind: SignalKind,
    *,
    now: datetime,
    until: datetime | None = None,
) -> bool:
    """A huddle or meeting status began: remember since when (opted-in people only)."""
    profile = await services.store.profile(team, user)
    if not profile.opted_in:
        return False
    return await LiveSignals(services.store.redis).begin(team, user, kind, at=now, until=until)


async def signal_ended(
    services: Services, team: str, user: str, kind: SignalKind, *, now: datetime
) -> Nudge | None:
    """A huddle or meeting status ended: queue the reset it earned, if any (see
    nudges.signals.signal_reset), and return it."""
    live = LiveSignals(services.store.redis)
    mark, still = await live.end(team, user, kind)
    if mark is None:
        return None  # not running: someone not opted in, or a repeated end
    if now - mark.since >= STALE_AFTER:
        return None  # its start is from a signal whose end was lost
    late = timedelta(minutes=services.settings.planning.chain_gap_minutes)
    if mark.until is not None and mark.until < now - late:
        return None  # the status lapsed long before Slack said so: too late to help
    store = services.store
    profile = await store.profile(team, user)
    if not profile.opted_in:
        return None
    busy, history, pending, sent = await asyncio.gather(
        store.busy(team, user),
        store.practice_history(team, user),
        services.queue.pending(team, user),
        live.sent_resets(team, user),
    )
    nudge = signal_reset(
        mark.since,
        now=now,
        busy=busy,
        preferences=profile.preferences,
        policy=services.settings.planning,
        catalog=services.catalog,
        history=history,
        pending=pending,
        sent=sent,
        still_in=[k for k, m in still.items() if m.running(now)],
    )
    if nudge is None:
        return None
    if not await services.queue.add(team, user, nudge, now=now):
        return None
    await services.counters.incr(f"signal:{kind.value}")
    logger.info("queued a reset after a %s", kind.value)
    return nudge


def _marks(raw: dict[bytes, bytes]) -> dict[SignalKind, LiveMark]:
    fields = {k.decode(): v for k, v in raw.items()}
    marks = {}
    for kind in SignalKind:
        since = fields.get(kind.value)
        if since is not None:
            marks[kind] = LiveMark(
                since=_time(since), until=_maybe_time(fields.get(kind.value + _UNTIL))
            )
    return marks


def _ts(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"


def _time(raw: bytes) -> datetime:
    return datetime.fromtimestamp(float(raw), tz=UTC)


def _maybe_time(raw: bytes | None) -> datetime | None:
    return None if raw is None else _time(raw)
