"""The due queue: every pending nudge of every person, in Redis, shared by all instances.

People are spread over ``shards`` by a hash of their ids. One shard is a handful of keys
under one hash tag (``{q7}``), so each operation below is one Lua script in one Redis
Cluster slot, atomic with respect to every other instance:

- ``at``      sorted set job → send time (not due yet);
- ``ready``   sorted set job → deadline (due: the closest deadline is claimed first);
- ``leased``  sorted set job → lease expiry (claimed by an instance that is sending it);
- ``jobs``    hash job → JSON payload; ``owner`` hash job → the claiming instance's token;
- ``p:<team>:<user>``    set of the person's pending jobs (what a re-plan replaces);
- ``done:<team>:<user>`` hash nudge key → ``sending|sent:<expiry>``: the idempotency record.

A job id is ``<team>:<user>:<nudge key>``; the nudge key is stable across re-plans of the
same day (``reset:<UTC anchor>``), so a re-plan updates a job rather than adding a twin.

Once-only: a sender marks the key ``sending`` in ``done`` (only while it still holds the
lease, only if no one marked it before) *before* the Slack call, and ``sent`` after. A crash
between the two leaves ``sending``: recovery then drops the job and counts it ``uncertain``
rather than risk a second DM. At most once, and the one ambiguous case is counted, not lost
silently.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from bot import keys
from bot.store import RedisClient
from nudges.planner import Nudge

# Idempotency records outlive any re-plan that could bring their nudge back: the weekly
# reflection's key names its ISO week, so a week and a day.
DONE_TTL = timedelta(days=8)
# Expired leases and due jobs moved per script call, so one call never blocks Redis for long.
MOVE_BATCH = 500


class DropReason(StrEnum):
    """Why a due nudge was not sent (counted as ``dropped:<reason>``)."""

    OPTED_OUT = "opted_out"
    PAUSED = "paused"
    QUIET_HOURS = "quiet_hours"
    OUTSIDE_HOURS = "outside_hours"
    DND = "dnd"
    HUDDLE = "huddle"
    IN_MEETING = "in_meeting"
    REPLACED = "replaced"
    SLACK_ERROR = "slack_error"
    UNCERTAIN = "uncertain"
    RECOVERY_WINDOW = "recovery_window"
    UNINSTALLED = "uninstalled"  # the workspace removed Baseline (no installation left)


class Counters:
    """Delivery and sync counters in one Redis hash, shared by all instances.

    ``baseline stats`` prints them; names: planned, sent, expired, deduplicated,
    rate_limited, ``dropped:<reason>``, ``sync:<result>``, ``signal:<kind>``.
    """

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def incr(self, name: str, by: int = 1) -> None:
        if by:
            await self._redis.hincrby(keys.counters(), name, by)

    async def read(self) -> dict[str, int]:
        raw = await self._redis.hgetall(keys.counters())
        return {_text(k): int(v) for k, v in sorted(raw.items())}


@dataclass(frozen=True, slots=True)
class Claim:
    """A due nudge this instance holds the lease on."""

    team: str
    user: str
    nudge: Nudge
    shard: int
    token: str

    @property
    def job(self) -> str:
        return job_id(self.team, self.user, self.nudge.key)


@dataclass(frozen=True, slots=True)
class QueueDepth:
    scheduled: int  # waiting for their send time
    ready: int  # due, not yet claimed
    leased: int  # claimed, being sent
    oldest_due: datetime | None  # the send time of the longest-waiting ready nudge


def job_id(team: str, user: str, key: str) -> str:
    return f"{team}:{user}:{key}"


# Shared by the scripts: put a job back into ``ready`` (by deadline) or ``at`` (by send time).
_LUA_PLACE = """
local function place(at_key, ready_key, id, due, deadline, now)
  if due <= now then
    redis.call('ZADD', ready_key, deadline, id)
  else
    redis.call('ZADD', at_key, due, id)
  end
end
"""

# KEYS: at ready leased jobs owner person done
# ARGV: now n [id key due deadline payload]*n
# Returns {removed, added, pending}
_REPLACE = (
    _LUA_PLACE
    + """
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local wanted = {}
for i = 0, n - 1 do wanted[ARGV[3 + i * 5]] = true end
local removed = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[6])) do
  -- A live signal's reset (key ``live:...``) is not the plan's to take back.
  if not wanted[id] and not string.find(id, ':live:', 1, true) then
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('HDEL', KEYS[4], id)
    redis.call('HDEL', KEYS[5], id)
    redis.call('SREM', KEYS[6], id)
    removed = removed + 1
  end
end
local added = 0
for i = 0, n - 1 do
  local base = 3 + i * 5
  local id, key = ARGV[base], ARGV[base + 1]
  local due, deadline = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  if redis.call('HEXISTS', KEYS[7], key) == 0 and deadline > now
     and not redis.call('ZSCORE', KEYS[3], id) then
    if redis.call('SISMEMBER', KEYS[6], id) == 0 then added = added + 1 end
    redis.call('HSET', KEYS[4], id, ARGV[base + 4])
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    place(KEYS[1], KEYS[2], id, due, deadline, now)
    redis.call('SADD', KEYS[6], id)
  end
end
return {removed, added, redis.call('SCARD', KEYS[6])}
"""
)

# KEYS: at ready leased jobs owner person done
# ARGV: now id key due deadline payload
# Returns 1 when added, 0 when the key was sent, in flight or pending already.
_ADD = (
    _LUA_PLACE
    + """
local now = tonumber(ARGV[1])
local id, key = ARGV[2], ARGV[3]
local due, deadline = tonumber(ARGV[4]), tonumber(ARGV[5])
if deadline <= now or redis.call('HEXISTS', KEYS[7], key) == 1
   or redis.call('SISMEMBER', KEYS[6], id) == 1 then
  return 0
end
redis.call('HSET', KEYS[4], id, ARGV[6])
place(KEYS[1], KEYS[2], id, due, deadline, now)
redis.call('SADD', KEYS[6], id)
return 1
"""
)

# KEYS: at ready leased jobs owner
# ARGV: now limit lease_until token batch
# Recovers expired leases, moves due jobs into ready, then claims the ``limit`` jobs with the
# closest deadlines. Returns {recovered, [id, payload]*}; a recovered job whose send had begun
# is not put back (its person's done hash says ``sending``): it is returned as {id, ''} in a
# third table for the caller to count as uncertain.
_CLAIM = """
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local lease_until, token, batch = ARGV[3], ARGV[4], tonumber(ARGV[5])
local recovered = 0
local uncertain = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, batch)) do
  redis.call('ZREM', KEYS[3], id)
  redis.call('HDEL', KEYS[5], id)
  local payload = redis.call('HGET', KEYS[4], id)
  if payload then
    local job = cjson.decode(payload)
    local done_key = KEYS[6] .. job.team .. ':' .. job.user
    local state = redis.call('HGET', done_key, job.nudge.key)
    if state and string.sub(state, 1, 7) == 'sending' then
      redis.call('HDEL', KEYS[4], id)
      redis.call('SREM', KEYS[7] .. job.team .. ':' .. job.user, id)
      table.insert(uncertain, id)
    else
      redis.call('ZADD', KEYS[2], job.deadline, id)
      recovered = recovered + 1
    end
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, batch)) do
  redis.call('ZREM', KEYS[1], id)
  local payload = redis.call('HGET', KEYS[4], id)
  if payload then
    redis.call('ZADD', KEYS[2], cjson.decode(payload).deadline, id)
  end
end
local claimed = {}
if limit > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, limit - 1)) do
    redis.call('ZREM', KEYS[2], id)
    local payload = redis.call('HGET', KEYS[4], id)
    if payload then
      redis.call('ZADD', KEYS[3], lease_until, id)
      redis.call('HSET', KEYS[5], id, token)
      table.insert(claimed, id)
      table.insert(claimed, payload)
    end
  end
end
return {recovered, claimed, uncertain}
"""

# KEYS: jobs owner done leased
# ARGV: id token key expiry ttl_ms now lease_until
# 1: go ahead (marked sending, lease renewed for the send); -1: already sent; -2: the job
# was replaced; 0: the lease ran out or passed to another instance (it will send).
_BEGIN_SEND = """
if redis.call('HEXISTS', KEYS[3], ARGV[3]) == 1 then return -1 end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return -2 end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
local lease = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[1]))
if not lease or lease <= tonumber(ARGV[6]) then return 0 end
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[3], 'sending:' .. ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return 1
"""

# KEYS: leased jobs owner person done
# ARGV: id token key sent(0/1) expiry ttl_ms
_FINISH = """
local owner = redis.call('HGET', KEYS[3], ARGV[1])
if owner and owner ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[5], ARGV[3], 'sent:' .. ARGV[5])
  redis.call('PEXPIRE', KEYS[5], ARGV[6])
end
return 1
"""

# KEYS: at leased owner jobs done
# ARGV: id token due key release(0/1)
_RETRY = """
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if ARGV[5] == '1' then
  local state = redis.call('HGET', KEYS[5], ARGV[4])
  if state and string.sub(state, 1, 7) == 'sending' then redis.call('HDEL', KEYS[5], ARGV[4]) end
end
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""

# KEYS: at ready leased jobs owner person done
_CLEAR = """
local ids = redis.call('SMEMBERS', KEYS[6])
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  redis.call('HDEL', KEYS[5], id)
end
redis.call('DEL', KEYS[6])
if ARGV[1] == '1' then redis.call('DEL', KEYS[7]) end
return #ids
"""

# KEYS: done; ARGV: now. Forget idempotency records past their expiry (the hash's own TTL is
# refreshed by every send, so an active person's hash would otherwise only grow).
_PRUNE_DONE = """
local now = tonumber(ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
local dropped = 0
for i = 1, #all, 2 do
  local expiry = tonumber(string.match(all[i + 1], ':(%d+)$'))
  if expiry and expiry < now then
    redis.call('HDEL', KEYS[1], all[i])
    dropped = dropped + 1
  end
end
return dropped
"""


class DueQueue:
    """Pending nudges of everyone, sharded by person; see the module docstring."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        shards: int = 16,
        lease: timedelta = timedelta(seconds=30),
        counters: Counters | None = None,
    ) -> None:
        if shards < 1:
            raise ValueError("a queue needs at least one shard")
        self._redis = redis
        self.shards = shards
        self.lease = lease
        self.counters = counters or Counters(redis)
        self._replace = redis.register_script(_REPLACE)
        self._add = redis.register_script(_ADD)
        self._claim = redis.register_script(_CLAIM)
        self._begin = redis.register_script(_BEGIN_SEND)
        self._finish = redis.register_script(_FINISH)
        self._retry = redis.register_script(_RETRY)
        self._clear = redis.register_script(_CLEAR)
        self._prune = redis.register_script(_PRUNE_DONE)

    def shard_of(self, team: str, user: str) -> int:
        digest = hashlib.blake2b(f"{team}:{user}".encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big") % self.shards

    # --- planning side ---------------------------------------------------------------------

    async def replace(self, team: str, user: str, nudges: Sequence[Nudge], *, now: datetime) -> int:
        """The person's pending nudges become ``nudges``; returns how many are pending.

        Keys already sent (or being sent) are not added again; a pending job missing from
        ``nudges`` is removed, even while an instance holds it (its send then stops, counted
        ``replaced``). Each nudge new to the queue counts as ``planned``.
        """
        shard = self.shard_of(team, user)
        args: list[Any] = [_ts(now), len(nudges)]
        for nudge in nudges:
            args += [
                job_id(team, user, nudge.key),
                nudge.key,
                _ts(nudge.at),
                _ts(nudge.expires_at),
                _payload(team, user, nudge),
            ]
        _removed, added, pending = await self._replace(
            keys=self._person_keys(shard, team, user), args=args
        )
        await self._prune(keys=[keys.queue_done(shard, team, user)], args=[_ts(now)])
        await self.counters.incr("planned", int(added))
        return int(pending)

    async def add(self, team: str, user: str, nudge: Nudge, *, now: datetime) -> bool:
        """Queue one more nudge for the person (a live signal's reset) beside the planned ones."""
        shard = self.shard_of(team, user)
        added = await self._add(
            keys=self._person_keys(shard, team, user),
            args=[
                _ts(now),
                job_id(team, user, nudge.key),
                nudge.key,
                _ts(nudge.at),
                _ts(nudge.expires_at),
                _payload(team, user, nudge),
            ],
        )
        if added:
            await self.counters.incr("planned")
        return bool(added)

    async def clear(self, team: str, user: str, *, forget: bool = False) -> int:
        """Drop the person's pending nudges (opted out); ``forget`` also drops what was sent."""
        shard = self.shard_of(team, user)
        return int(
            await self._clear(
                keys=self._person_keys(shard, team, user), args=["1" if forget else "0"]
            )
        )

    async def pending(self, team: str, user: str) -> list[Nudge]:
        shard = self.shard_of(team, user)
        ids = await self._redis.smembers(keys.queue_person(shard, team, user))
        if not ids:
            return []
        payloads = await self._redis.hmget(keys.queue_jobs(shard), sorted(_text(i) for i in ids))
        nudges = [_decode(p)[2] for p in payloads if p is not None]
        return sorted(nudges, key=lambda n: (n.at, n.key))

    async def was_sent(self, team: str, user: str, key: str) -> bool:
        state = await self._redis.hget(keys.queue_done(self.shard_of(team, user), team, user), key)
        return state is not None and _text(state).startswith("sent:")

    # --- delivery side ---------------------------------------------------------------------

    async def claim(self, shard: int, *, now: datetime, limit: int) -> list[Claim]:
        """Take up to ``limit`` due nudges of ``shard``, closest deadline first, leased to
        this call's token until ``now + lease``. Recovers expired leases on the way."""
        token = secrets.token_hex(8)
        recovered, claimed, uncertain = await self._claim(
            keys=[
                keys.queue_at(shard),
                keys.queue_ready(shard),
                keys.queue_leased(shard),
                keys.queue_jobs(shard),
                keys.queue_owner(shard),
                keys.queue_done_prefix(shard),
                keys.queue_person_prefix(shard),
            ],
            args=[_ts(now), limit, _ts(now + self.lease), token, MOVE_BATCH],
        )
        if int(recovered):
            await self.counters.incr("recovered", int(recovered))
        if uncertain:
            await self.counters.incr(f"dropped:{DropReason.UNCERTAIN}", len(uncertain))
        out = []
        for i in range(0, len(claimed), 2):
            team, user, nudge = _decode(claimed[i + 1])
            out.append(Claim(team=team, user=user, nudge=nudge, shard=shard, token=token))
        return out

    async def begin_send(self, claim: Claim, *, now: datetime) -> bool:
        """The once-only gate, right before the Slack call: True exactly once per nudge key.

        False when the lease was lost or the job was replaced (counted ``dropped:replaced``)
        or when the key was already sent (counted ``deduplicated``); the caller then stops.
        """
        state = await self._begin(
            keys=[
                keys.queue_jobs(claim.shard),
                keys.queue_owner(claim.shard),
                keys.queue_done(claim.shard, claim.team, claim.user),
                keys.queue_leased(claim.shard),
            ],
            args=[
                claim.job,
                claim.token,
                claim.nudge.key,
                int((now + DONE_TTL).timestamp()),
                int(DONE_TTL.total_seconds() * 1000),
                _ts(now),
                _ts(now + self.lease),
            ],
        )
        match int(state):
            case 1:
                return True
            case -1:
                await self.finish(claim, sent=False, now=now)
                await self.counters.incr("deduplicated")
            case -2:
                await self.counters.incr(f"dropped:{DropReason.REPLACED}")
            case _:
                await self.counters.incr("lease_lost")
        return False

    async def finish(self, claim: Claim, *, sent: bool, now: datetime) -> None:
        """Done with a claim: sent (the key is recorded as sent) or given up."""
        expiry = int((now + DONE_TTL).timestamp())
        await self._finish(
            keys=[
                keys.queue_leased(claim.shard),
                keys.queue_jobs(claim.shard),
                keys.queue_owner(claim.shard),
                keys.queue_person(claim.shard, claim.team, claim.user),
                keys.queue_done(claim.shard, claim.team, claim.user),
            ],
            args=[
                claim.job,
                claim.token,
                claim.nudge.key,
                "1" if sent else "0",
                expiry,
                int(DONE_TTL.total_seconds() * 1000),
            ],
        )

    async def retry(self, claim: Claim, *, at: datetime, release: bool = False) -> bool:
        """Give the claim back, due again at ``at`` (a rate wait, a 429's Retry-After).

        ``release`` also takes back the ``sending`` mark of :meth:`begin_send`, for a send
        that certainly did not reach Slack (a 429, a refused connection).
        """
        return bool(
            await self._retry(
                keys=[
                    keys.queue_at(claim.shard),
                    keys.queue_leased(claim.shard),
                    keys.queue_owner(claim.shard),
                    keys.queue_jobs(claim.shard),
                    keys.queue_done(claim.shard, claim.team, claim.user),
                ],
                args=[claim.job, claim.token, _ts(at), claim.nudge.key, "1" if release else "0"],
            )
        )

    async def depth(self) -> QueueDepth:
        scheduled = ready = leased = 0
        oldest: float | None = None
        for shard in range(self.shards):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zcard(keys.queue_at(shard))
                pipe.zcard(keys.queue_ready(shard))
                pipe.zcard(keys.queue_leased(shard))
                a, r, leased_count = await pipe.execute()
            scheduled, ready, leased = scheduled + a, ready + r, leased + leased_count
            if r:
                # A sample: ready is ordered by deadline, and the send times are close to it.
                first = await self._redis.zrange(keys.queue_ready(shard), 0, 199)
                if not first:
                    continue  # emptied since ZCARD: claimed meanwhile
                payloads = await self._redis.hmget(
                    keys.queue_jobs(shard), cast("list[bytes]", first)
                )
                for payload in payloads:
                    if payload is not None:
                        at = json.loads(payload)["at"]
                        oldest = at if oldest is None else min(oldest, at)
        return QueueDepth(
            scheduled=scheduled,
            ready=ready,
            leased=leased,
            oldest_due=None if oldest is None else datetime.fromtimestamp(oldest, tz=UTC),
        )

    def _person_keys(self, shard: int, team: str, user: str) -> list[str]:
        return [
            keys.queue_at(shard),
            keys.queue_ready(shard),
            keys.queue_leased(shard),
            keys.queue_jobs(shard),
            keys.queue_owner(shard),
            keys.queue_person(shard, team, user),
            keys.queue_done(shard, team, user),
        ]


def _ts(moment: datetime) -> float:
    return round(moment.timestamp(), 3)


def _payload(team: str, user: str, nudge: Nudge) -> str:
    # ``at``/``deadline`` ride along as numbers: the claim script sorts by them.
    return json.dumps(
        {
            "team": team,
            "user": user,
            "at": _ts(nudge.at),
            "deadline": _ts(nudge.expires_at),
            "nudge": nudge.model_dump(mode="json", exclude_defaults=True),
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _decode(payload: object) -> tuple[str, str, Nudge]:
    job = json.loads(cast("bytes | str", payload))
    return str(job["team"]), str(job["user"]), Nudge.model_validate(job["nudge"])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
