"""One token bucket per workspace in Redis, shared by every instance.

Slack limits ``chat.postMessage`` per workspace (an unpublished workspace-wide rate on top of
about one message per second per channel), so the budget must be shared: a bucket of
``rate`` tokens per second, holding at most ``burst``. Time is Redis's own (``TIME``), so
instances with skewed clocks still agree. A 429 from Slack pauses the whole workspace for its
``Retry-After``: every instance then waits, not only the one that was told.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot import keys
from bot.store import RedisClient

# KEYS: bucket; ARGV: rate burst max_wait
# Reserves a token: the bucket may go below zero by up to ``max_wait`` seconds' worth, and
# each caller is told how long to wait for *its* token, so waiters go one after another
# instead of all waking at once to race for the next one. Returns "<reserved 0/1> <wait>"
# (a string: Lua numbers lose their fraction on the way back); a wait longer than
# ``max_wait`` (or a 429 pause) reserves nothing.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local rate, burst, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated', 'paused_until')
local paused = tonumber(state[3]) or 0
if paused > now then return '0 ' .. tostring(paused - now) end
local tokens = tonumber(state[1]) or burst
local updated = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local after = tokens - 1
local wait = 0
if after < 0 then wait = -after / rate end
if wait > max_wait then
  return '0 ' .. tostring(wait)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(after), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return '1 ' .. tostring(wait)
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


@dataclass(frozen=True, slots=True)
class Reservation:
    """A token for one message: send after ``wait`` seconds if ``reserved``; otherwise none
    was taken, and the earliest a token would be free is ``wait`` seconds away."""

    reserved: bool
    wait: float


class WorkspaceRate:
    """``await take(team)`` reserves the next token of the workspace's bucket."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        rate: float,
        burst: float | None = None,
        max_wait: float = 5.0,
    ) -> None:
        if rate <= 0:
            raise ValueError("the rate must be positive")
        self.rate = rate
        # Half a second's worth by default: Slack's own bucket is not published, and a
        # burst at the start of a backlog that overshoots it costs a whole Retry-After pause.
        self.burst = max(1.0, burst if burst is not None else rate / 2)
        self.max_wait = max_wait
        self._take = redis.register_script(_TAKE)
        self._pause = redis.register_script(_PAUSE)

    async def take(self, team: str) -> Reservation:
        """Reserve one token, to be used after the returned wait; or, when that wait would
        be longer than ``max_wait`` (or the workspace is paused), reserve nothing."""
        raw = await self._take(
            keys=[keys.rate_bucket(team)], args=[self.rate, self.burst, self.max_wait]
        )
        reserved, _, wait = _text(raw).partition(" ")
        return Reservation(reserved=reserved == "1", wait=max(float(wait), 0.0))

    async def pause(self, team: str, seconds: float) -> float:
        """Slack said 429: nobody sends to ``team`` for ``seconds``. Returns the pause left."""
        return float(await self._pause(keys=[keys.rate_bucket(team)], args=[max(seconds, 0.0)]))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def retry_after(exc: SlackApiError) -> float | None:
    """The seconds Slack's 429 asks us to wait (``Retry-After``), or None when it says none
    usable."""
    headers = getattr(exc.response, "headers", None) or {}
    raw = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    try:
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
