"""One token bucket per workspace in Redis, shared by every instance.

Slack limits ``chat.postMessage`` per workspace (an unpublished workspace-wide rate on top of
about one message per second per channel), so the budget must be shared: a bucket of
``rate`` tokens per second, holding at most ``burst``. Time is Redis's own (``TIME``), so
instances with skewed clocks still agree. A 429 from Slack pauses the whole workspace for its
``Retry-After``: every instance then waits, not only the one that was told.
"""

from __future__ import annotations

from redis.asyncio import Redis

from bot import keys

# KEYS: bucket; ARGV: rate burst
# Returns the seconds to wait (as a string: Lua numbers lose their fraction on the way
# back); "0" means a token was taken.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated', 'paused_until')
local paused = tonumber(state[3]) or 0
if paused > now then return tostring(paused - now) end
local tokens = tonumber(state[1]) or burst
local updated = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(wait)
"""

# KEYS: bucket; ARGV: seconds. Pause the workspace (429 Retry-After), never shortening a pause.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local until_ = now + tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
if until_ > current then
  redis.call('HSET', KEYS[1], 'paused_until', tostring(until_),
             'tokens', '0', 'updated', tostring(until_))
end
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(math.max(until_, current) - now)
"""


class WorkspaceRate:
    """``await take(team)`` → seconds to wait first (0: go now, a token was taken)."""

    def __init__(self, redis: Redis, *, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("the rate must be positive")
        self.rate = rate
        # One second's worth by default: smooth, but a quiet workspace can still send a few
        # nudges at once.
        self.burst = max(1.0, burst if burst is not None else rate)
        self._take = redis.register_script(_TAKE)
        self._pause = redis.register_script(_PAUSE)

    async def take(self, team: str) -> float:
        """Take one token, or say how long until one is free (nothing is taken then)."""
        wait = float(await self._take(keys=[keys.rate_bucket(team)], args=[self.rate, self.burst]))
        return max(wait, 0.0)

    async def pause(self, team: str, seconds: float) -> float:
        """Slack said 429: nobody sends to ``team`` for ``seconds``. Returns the pause left."""
        return float(await self._pause(keys=[keys.rate_bucket(team)], args=[max(seconds, 0.0)]))
