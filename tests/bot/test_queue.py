"""The due queue and the workspace rate on a real Redis: replace, claim by deadline, leases,
once-only sends, token buckets. Each test runs on the single server and on the three-node
cluster (``any_redis``): the Lua scripts must stay inside one slot there."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from redis.asyncio import Redis

from bot import keys
from bot.queue import Claim, DueQueue
from bot.ratelimit import Reservation, WorkspaceRate
from bot.store import RedisClient
from nudges.planner import Nudge, NudgeKind

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TEAM = "T1"


# Runs every test here on the single Redis and on the cluster, in place of the shared `redis`.
@pytest.fixture(name="redis")
def single_and_cluster_redis(any_redis: RedisClient) -> RedisClient:
    return any_redis


def reset(minute: int, *, life: int = 30, practice: str = "breath") -> Nudge:
    at = NOW + timedelta(minutes=minute)
    return Nudge(
        kind=NudgeKind.RESET,
        key=f"reset:{at.isoformat()}",
        at=at,
        expires_at=at + timedelta(minutes=life),
        text="Breathe out slowly.",
        practice=practice,
    )


async def claim_all(queue: DueQueue, *, now: datetime, limit: int = 1000) -> list[Claim]:
    claims: list[Claim] = []
    for shard in range(queue.shards):
        claims += await queue.claim(shard, now=now, limit=limit)
    return claims


async def test_replace_makes_the_pending_set_exactly_the_plan(redis: RedisClient) -> None:
    queue = DueQueue(redis, shards=4)
    assert await queue.replace(TEAM, "U1", [reset(10), reset(60)], now=NOW) == 2
    assert [n.key for n in await queue.pending(TEAM, "U1")] == [reset(10).key, reset(60).key]
    # The 10:00 meeting moved: its reset moves with it, the other stays, nothing doubles.
    assert await queue.replace(TEAM, "U1", [reset(25), reset(60)], now=NOW) == 2
    assert [n.key for n in await queue.pending(TEAM, "U1")] == [reset(25).key, reset(60).key]
    assert (await queue.counters.read())["planned"] == 3
    assert await queue.replace(TEAM, "U1", [], now=NOW) == 0
    assert await queue.pending(TEAM, "U1") == []


async def test_a_nudge_past_its_deadline_is_not_queued(redis: RedisClient) -> None:
    queue = DueQueue(redis, shards=2)
    assert await queue.replace(TEAM, "U1", [reset(-60, life=30)], now=NOW) == 0


async def test_claims_come_due_by_send_time_and_leave_by_closest_deadline(
    redis: RedisClient,
) -> None:
    queue = DueQueue(redis, shards=1)
    planned = NOW - timedelta(minutes=2)
    await queue.replace(TEAM, "U1", [reset(0, life=50), reset(5, life=60)], now=planned)
    await queue.replace(TEAM, "U2", [reset(1, life=10)], now=planned)
    assert await queue.claim(0, now=NOW - timedelta(minutes=1), limit=10) == []
    claims = await queue.claim(0, now=NOW + timedelta(minutes=2), limit=10)
    # Both due ones, the closer deadline (U2's, 11 min) first; the 9:05 one is not due yet.
    assert [(c.user, c.nudge.key) for c in claims] == [
        ("U2", reset(1).key),
        ("U1", reset(0).key),
    ]


async def test_a_nudge_is_sent_once_even_when_claimed_twice(redis: RedisClient) -> None:
    queue = DueQueue(redis, shards=1, lease=timedelta(seconds=30))
    await queue.replace(TEAM, "U1", [reset(0)], now=NOW)
    (first,) = await queue.claim(0, now=NOW, limit=5)
    # The first holder stalls past its lease: it may no longer send, even before another
    # instance has taken the nudge over.
    later = NOW + timedelta(seconds=31)
    assert not await queue.begin_send(first, now=later)
    (second,) = await queue.claim(0, now=later, limit=5)
    assert second.token != first.token
    assert not await queue.begin_send(first, now=later)
    assert await queue.begin_send(second, now=later)
    await queue.finish(second, sent=True, now=later)
    assert await queue.was_sent(TEAM, "U1", reset(0).key)
    # A re-plan that still contains the sent nudge does not queue it again.
    assert await queue.replace(TEAM, "U1", [reset(0)], now=later) == 0
    counters = await queue.counters.read()
    assert counters["recovered"] == 1
    assert counters["lease_lost"] == 2
    # The loser comes back after the send: it is told the nudge is already out.
    assert not await queue.begin_send(first, now=later)
    assert (await queue.counters.read())["deduplicated"] == 1


async def test_beginning_a_send_renews_the_lease_for_the_post(redis: RedisClient) -> None:
    queue = DueQueue(redis, shards=1, lease=timedelta(seconds=30))
    await queue.replace(TEAM, "U1", [reset(0)], now=NOW)
    (claim,) = await queue.claim(0, now=NOW, limit=1)
    assert await queue.begin_send(claim, now=NOW + timedelta(seconds=29))
    # 31 s after the claim, but only 2 s into the send: not recovered by anyone.
    assert await queue.claim(0, now=NOW + timedelta(seconds=31), limit=5) == []
    await queue.finish(claim, sent=True, now=NOW + timedelta(seconds=31))
    assert await queue.was_sent(TEAM, "U1", reset(0).key)


async def test_a_crash_after_the_send_began_is_counted_never_resent(redis: RedisClient) -> None:
    queue = DueQueue(redis, shards=1, lease=timedelta(seconds=10))
    await queue.replace(TEAM, "U1", [reset(0)], now=NOW)
    (claim,) = await queue.claim(0, now=NOW, limit=1)
    assert await queue.begin_send(claim, now=NOW)
    # ...and the instance dies before it can say whether Slack got it.
    assert await queue.claim(0, now=NOW + timedelta(seconds=11), limit=5) == []
    assert await queue.pending(TEAM, "U1") == []
    assert (await queue.counters.read())["dropped:uncertain"] == 1


async def test_replaced_while_claimed_the_old_nudge_is_not_sent(redis: RedisClient) -> None:
    queue = DueQueue(redis, shards=1)
    await queue.replace(TEAM, "U1", [reset(0)], now=NOW)
    (claim,) = await queue.claim(0, now=NOW, limit=1)
    await queue.replace(TEAM, "U1", [reset(20)], now=NOW)
    assert not await queue.begin_send(claim, now=NOW)
    assert [n.key for n in await queue.pending(TEAM, "U1")] == [reset(20).key]
    assert (await queue.counters.read())["dropped:replaced"] == 1


async def test_a_retry_releases_the_key_and_comes_back_when_due(redis: RedisClient) -> None:
    queue = DueQueue(redis, shards=1)
    await queue.replace(TEAM, "U1", [reset(0)], now=NOW)
    (claim,) = await queue.claim(0, now=NOW, limit=1)
    assert await queue.begin_send(claim, now=NOW)
    # Slack said 429: nothing was posted, so the key is released and the nudge waits.
    assert await queue.retry(claim, at=NOW + timedelta(seconds=20), release=True)
    assert await queue.claim(0, now=NOW + timedelta(seconds=10), limit=1) == []
    (again,) = await queue.claim(0, now=NOW + timedelta(seconds=20), limit=1)
    assert await queue.begin_send(again, now=NOW + timedelta(seconds=20))


async def test_live_signal_resets_survive_a_replan(redis: RedisClient) -> None:
    queue = DueQueue(redis, shards=2)
    live = reset(3).model_copy(update={"key": "live:huddle"})
    assert await queue.add(TEAM, "U1", live, now=NOW)
    assert not await queue.add(TEAM, "U1", live, now=NOW)  # already pending
    await queue.replace(TEAM, "U1", [reset(30)], now=NOW)
    assert {n.key for n in await queue.pending(TEAM, "U1")} == {"live:huddle", reset(30).key}


async def test_clear_and_forget(redis: RedisClient) -> None:
    queue = DueQueue(redis, shards=2)
    await queue.replace(TEAM, "U1", [reset(0), reset(50)], now=NOW)
    (claim,) = [c for c in await claim_all(queue, now=NOW) if c.user == "U1"]
    await queue.begin_send(claim, now=NOW)
    await queue.finish(claim, sent=True, now=NOW)
    assert await queue.clear(TEAM, "U1") == 1
    assert await queue.was_sent(TEAM, "U1", reset(0).key)
    await queue.clear(TEAM, "U1", forget=True)
    assert not await queue.was_sent(TEAM, "U1", reset(0).key)
    shard = queue.shard_of(TEAM, "U1")
    assert not await redis.exists(keys.queue_done(shard, TEAM, "U1"))


async def test_concurrent_claimers_each_get_a_nudge_once(redis: RedisClient) -> None:
    queue = DueQueue(redis, shards=8)
    for person in range(200):
        await queue.replace(TEAM, f"U{person}", [reset(0), reset(1)], now=NOW)
    claimers = [DueQueue(redis, shards=8) for _ in range(4)]

    async def drain(q: DueQueue) -> list[str]:
        got = []
        while batch := await claim_all(q, now=NOW + timedelta(minutes=2), limit=7):
            for claim in batch:
                if await q.begin_send(claim, now=NOW):
                    await q.finish(claim, sent=True, now=NOW)
                    got.append(claim.job)
        return got

    results = await asyncio.gather(*(drain(q) for q in claimers))
    sent = [job for got in results for job in got]
    assert len(sent) == 400
    assert len(set(sent)) == 400
    depth = await queue.depth()
    assert (depth.scheduled, depth.ready, depth.leased) == (0, 0, 0)


async def test_depth_reports_the_oldest_due_nudge(redis: RedisClient) -> None:
    queue = DueQueue(redis, shards=2)
    await queue.replace(TEAM, "U1", [reset(-5), reset(40)], now=NOW)
    await claim_all(queue, now=NOW, limit=0)  # moves due jobs to ready, claims none
    depth = await queue.depth()
    assert (depth.scheduled, depth.ready, depth.leased) == (1, 1, 0)
    assert depth.oldest_due == NOW - timedelta(minutes=5)


async def test_old_idempotency_records_are_pruned(redis: RedisClient) -> None:
    queue = DueQueue(redis, shards=1)
    await queue.replace(TEAM, "U1", [reset(0)], now=NOW)
    (claim,) = await queue.claim(0, now=NOW, limit=1)
    await queue.begin_send(claim, now=NOW)
    await queue.finish(claim, sent=True, now=NOW)
    done = keys.queue_done(0, TEAM, "U1")
    assert await redis.hlen(done) == 1
    await queue.replace(TEAM, "U1", [], now=NOW + timedelta(days=9))
    assert await redis.hlen(done) == 0


def test_a_queue_needs_a_shard() -> None:
    with pytest.raises(ValueError, match="at least one shard"):
        DueQueue(Redis(), shards=0)


async def test_the_workspace_bucket_spends_its_burst_then_queues_waiters(
    redis: RedisClient,
) -> None:
    rate = WorkspaceRate(redis, rate=5, burst=3, max_wait=1.0)
    tokens = [await rate.take(TEAM) for _ in range(9)]
    assert [t.wait for t in tokens[:3]] == [0, 0, 0]
    # Each waiter gets a token of its own, one fifth of a second after the one before.
    waits = [t.wait for t in tokens[3:8]]
    assert all(t.reserved for t in tokens[:8])
    assert waits == sorted(waits)
    assert [round(b - a, 2) for a, b in pairwise(waits)] == [0.2] * 4
    # Past max_wait nothing is reserved; the caller hands its claim back instead.
    assert not tokens[8].reserved
    assert tokens[8].wait > 1.0
    # Another workspace has a bucket of its own.
    assert await rate.take("T2") == Reservation(reserved=True, wait=0)


async def test_a_429_pauses_every_instance_for_the_workspace(redis: RedisClient) -> None:
    one, two = WorkspaceRate(redis, rate=50), WorkspaceRate(redis, rate=50)
    assert await one.pause(TEAM, 7) == pytest.approx(7, abs=0.1)
    paused = await two.take(TEAM)
    assert not paused.reserved
    assert paused.wait == pytest.approx(7, abs=0.2)
    # A shorter Retry-After never cuts a longer pause short.
    assert await two.pause(TEAM, 1) == pytest.approx(7, abs=0.2)
    assert (await two.take("T2")).reserved
