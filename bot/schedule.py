"""A schedule: a sorted set of members scored by when they are due (day-start re-plans,
calendar syncs), claimed by any instance with a lease.

A claim pushes each due member's score to the lease's end, so a member is worked on by one
instance at a time, and comes back by itself if that instance dies before rescheduling it.
"""

from __future__ import annotations

from bot.store import RedisClient

# KEYS: schedule. ARGV: now, limit, lease expiry. The due members, each pushed to the expiry.
_CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[3], member)
end
return due
"""


class Schedule:
    def __init__(self, redis: RedisClient) -> None:
        self._claim = redis.register_script(_CLAIM_DUE)

    async def claim_due(self, key: str, *, now: float, limit: int, lease_until: str) -> list[str]:
        """Up to ``limit`` members of ``key`` due at ``now``, leased until ``lease_until``
        (a score, as text: a caller that later compares it gets exactly what it wrote)."""
        members = await self._claim(keys=[key], args=[now, limit, lease_until])
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]
