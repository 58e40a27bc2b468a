"""Recovery windows in Redis: each channel's windows, who is in those channels (both ways),
and the schedule of window edges (starts, ends, weekly digests) the announcer claims.

A channel's windows and members share one hash tag (``{c:<team>:<channel>}``); the person →
channels index (``member_channels``) is what a person's re-plan reads to skip their windows.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from bot import keys
from bot.store import RedisClient, reachable
from nudges.windows import RecoveryWindow, next_edge

# Most windows one channel may hold (a list a person can read at a glance).
MAX_WINDOWS = 10

# KEYS: edge schedule; ARGV: now limit lease_until → member, score pairs that were due, each
# pushed to lease_until so no other instance claims it meanwhile.
_CLAIM_EDGES = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0,
  tonumber(ARGV[2]))
for i = 1, #due, 2 do
  redis.call('ZADD', KEYS[1], ARGV[3], due[i])
end
return due
"""


def new_window_id(now: datetime) -> str:
    """Time-ordered (a list shows windows in the order they were added), and unguessable."""
    return f"{int(now.timestamp() * 1000):x}{secrets.token_hex(2)}"


class WindowStore:
    def __init__(self, redis: RedisClient, *, shards: int) -> None:
        self._redis = redis
        self._shards = shards

    @property
    def shards(self) -> int:
        return self._shards

    def shard_of(self, team: str, channel: str) -> int:
        digest = hashlib.blake2b(f"{team}:{channel}".encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big") % self._shards

    async def windows(self, team: str, channel: str) -> list[RecoveryWindow]:
        """The channel's windows, oldest first (``remove N`` counts from 1 in this order)."""
        stored = await self._redis.hgetall(keys.channel_windows(team, channel))
        found = [RecoveryWindow.model_validate_json(raw) for raw in stored.values()]
        return sorted(found, key=lambda w: w.id)

    async def window(self, team: str, channel: str, window_id: str) -> RecoveryWindow | None:
        raw = await self._redis.hget(keys.channel_windows(team, channel), window_id)
        return None if raw is None else RecoveryWindow.model_validate_json(raw)

    async def add(self, team: str, window: RecoveryWindow, *, now: datetime) -> None:
        channel = window.channel
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.channel_windows(team, channel), window.id, window.model_dump_json())
            await pipe.execute()
        await self.schedule(team, window, after=now)

    async def remove(self, team: str, channel: str, window_id: str) -> bool:
        removed = await self._redis.hdel(keys.channel_windows(team, channel), window_id)
        await self._redis.zrem(
            keys.window_edges(self.shard_of(team, channel)), _edge_member(team, channel, window_id)
        )
        if not await self._redis.exists(keys.channel_windows(team, channel)):
            await self.drop_channel(team, channel)
        return bool(removed)

    async def drop_channel(self, team: str, channel: str) -> set[str]:
        """Forget the channel's windows and members (archived, or the bot was removed);
        returns who was in it, so their plans can be made again without its windows."""
        members = await self.members(team, channel)
        window_ids = await self._redis.hkeys(keys.channel_windows(team, channel))
        edges = keys.window_edges(self.shard_of(team, channel))
        for window_id in window_ids:
            await self._redis.zrem(edges, _edge_member(team, channel, _text(window_id)))
        await self._redis.delete(
            keys.channel_windows(team, channel), keys.channel_members(team, channel)
        )
        for user in members:
            await self._redis.srem(keys.member_channels(team, user), channel)
        return members

    async def schedule(self, team: str, window: RecoveryWindow, *, after: datetime) -> None:
        edge = next_edge(window, after)
        await self._redis.zadd(
            keys.window_edges(self.shard_of(team, window.channel)),
            {_edge_member(team, window.channel, window.id): edge.at.timestamp()},
        )

    async def claim_edges(
        self, shard: int, *, now: datetime, lease_until: datetime, limit: int = 200
    ) -> list[tuple[str, str, str, datetime]]:
        """Due edges of one shard as (team, channel, window id, edge time), leased."""
        claim = self._redis.register_script(_CLAIM_EDGES)
        due = await claim(
            keys=[keys.window_edges(shard)],
            args=[now.timestamp(), limit, lease_until.timestamp()],
        )
        out = []
        for member, score in zip(due[::2], due[1::2], strict=True):
            team, channel, window_id = _text(member).split(":", 2)
            out.append((team, channel, window_id, datetime.fromtimestamp(float(score), tz=UTC)))
        return out

    async def unschedule(self, team: str, channel: str, window_id: str) -> None:
        await self._redis.zrem(
            keys.window_edges(self.shard_of(team, channel)), _edge_member(team, channel, window_id)
        )

    async def claim_announcement(
        self, team: str, channel: str, window_id: str, day: str, edge: str
    ) -> bool:
        """True exactly once per (window, occurrence, edge), across every instance."""
        return bool(
            await self._redis.set(
                keys.window_announced(team, channel, window_id, day, edge),
                "1",
                nx=True,
                ex=8 * 24 * 3600,
            )
        )

    # --- membership --------------------------------------------------------------------

    async def members(self, team: str, channel: str) -> set[str]:
        return {_text(m) for m in await self._redis.smembers(keys.channel_members(team, channel))}

    async def set_members(self, team: str, channel: str, members: Iterable[str]) -> set[str]:
        """Make the stored member list exactly ``members``; returns everyone whose windows
        changed (joined or left), so they can be re-planned."""
        new = set(members)
        old = await self.members(team, channel)
        key = keys.channel_members(team, channel)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if new:
                pipe.sadd(key, *new)
            await pipe.execute()
        for user in new - old:
            await self._redis.sadd(keys.member_channels(team, user), channel)
        for user in old - new:
            await self._redis.srem(keys.member_channels(team, user), channel)
        return new ^ old

    async def joined(self, team: str, channel: str, user: str) -> bool:
        """Someone joined a channel; True when it has windows (their plan changes)."""
        if not await self._redis.exists(keys.channel_windows(team, channel)):
            return False
        await self._redis.sadd(keys.channel_members(team, channel), user)
        await self._redis.sadd(keys.member_channels(team, user), channel)
        return True

    async def left(self, team: str, channel: str, user: str) -> bool:
        removed = await self._redis.srem(keys.channel_members(team, channel), user)
        await self._redis.srem(keys.member_channels(team, user), channel)
        return bool(removed)

    async def forget_person(self, team: str, user: str) -> None:
        """Drop the person from every channel's member list and drop their index (forget)."""
        index = keys.member_channels(team, user)
        for channel in await self._redis.smembers(index):
            await self._redis.srem(keys.channel_members(team, _text(channel)), user)
        await self._redis.delete(index)

    async def person_windows(self, team: str, user: str) -> list[RecoveryWindow]:
        """The windows of every channel the person is in."""
        async with reachable():
            channels = await self._redis.smembers(keys.member_channels(team, user))
            found: list[RecoveryWindow] = []
            for channel in sorted(_text(c) for c in channels):
                found.extend(await self.windows(team, channel))
        return found


def _edge_member(team: str, channel: str, window_id: str) -> str:
    return f"{team}:{channel}:{window_id}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
