"""SLOW MULTI-PROCESS SUITE: delivery across real ``baseline run`` processes.

Each test starts 2–3 ``baseline run`` processes (HTTP mode, worker on, each on a free port)
on the session's throwaway Redis, against one fake Slack in this process, and enqueues
nudges with ``DueQueue.replace`` a few seconds ahead, as a re-plan does. What is checked is
what Slack saw (every ``chat.postMessage``, its nudge key read from the DM's buttons, its
arrival time) against the shared counters and the queue's idempotency records.

It runs in the default ``make test`` (about 40 s on 2 cores); every wait polls a condition with a
timeout, and every process is stopped in teardown, its log printed (pytest shows it when a
test fails).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest_asyncio
from redis.asyncio import Redis

from bench.delivery import (
    POST,
    BotFleet,
    Post,
    as_post,
    make_store,
    opt_in,
    posted,
    reset,
    user_id,
)
from bot import keys
from bot.queue import DueQueue
from bot.ratelimit import WorkspaceRate
from bot.store import Store
from nudges.planner import Nudge
from tests.support import TEAM_ID
from tests.support.fake_slack import FakeSlack
from tests.support.redis_server import RedisServer

# Far enough that no nudge expires unless a test means it to.
LONG = timedelta(minutes=10)
# Between the deliverer's last look at a deadline and Slack receiving the post.
SEND_LATENCY = 0.5


@dataclass
class Scene:
    redis: Redis
    redis_url: str
    store: Store
    queue: DueQueue
    slack: FakeSlack

    async def enqueue(self, plans: dict[str, list[Nudge]]) -> None:
        now = datetime.now(UTC)
        for user, nudges in plans.items():
            await self.queue.replace(TEAM_ID, user, nudges, now=now)

    async def counters(self) -> dict[str, int]:
        return await self.queue.counters.read()

    async def done_states(self, users: list[str]) -> dict[tuple[str, str], str]:
        """(user, nudge key) → ``sent`` / ``sending``: the queue's idempotency records."""
        out: dict[tuple[str, str], str] = {}
        for user in users:
            done = keys.queue_done(self.queue.shard_of(TEAM_ID, user), TEAM_ID, user)
            for key, state in (await self.redis.hgetall(done)).items():
                out[(user, _text(key))] = _text(state).split(":", 1)[0]
        return out

    async def depth(self) -> tuple[int, int, int]:
        """Nudges scheduled, ready and leased, over all shards (``ZCARD`` only)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for shard in range(self.queue.shards):
                pipe.zcard(keys.queue_at(shard))
                pipe.zcard(keys.queue_ready(shard))
                pipe.zcard(keys.queue_leased(shard))
            counts = await pipe.execute()
        return sum(counts[0::3]), sum(counts[1::3]), sum(counts[2::3])

    async def leased(self) -> int:
        return (await self.depth())[2]

    async def idle(self) -> bool:
        return await self.depth() == (0, 0, 0)


@pytest_asyncio.fixture
async def scene(redis: Redis, redis_server: RedisServer, fake_slack: FakeSlack) -> Scene:
    return Scene(
        redis=redis,
        redis_url=redis_server.url,
        store=make_store(redis),
        queue=DueQueue(redis),  # the processes' defaults: 16 shards
        slack=fake_slack,
    )


@asynccontextmanager
async def bots(scene: Scene, count: int, **env: str) -> AsyncIterator[BotFleet]:
    """``count`` running ``baseline run`` processes; always stopped on the way out."""
    fleet = BotFleet(count, redis_url=scene.redis_url, slack=scene.slack, env=env)
    try:
        fleet.start()
        await fleet.wait_ready()
        yield fleet
    finally:
        # In a thread: this loop serves the fake Slack, which the bots' last sends still call.
        await asyncio.to_thread(fleet.stop)
        # Captured by pytest: shown with the report when the test failed.
        sys.stderr.write(f"baseline run logs:\n{fleet.logs()}\n")
        fleet.close()
        try:
            counters, depth = await scene.counters(), await scene.depth()
            calls = Counter(f"{c.method} {c.status}" for c in scene.slack.requests)
            sys.stderr.write(
                f"counters: {counters}\nqueue (scheduled, ready, leased): {depth}\n"
                f"Slack calls: {calls}\n"
            )
        except Exception as exc:  # a report, not a check
            sys.stderr.write(f"no counters: {exc!r}\n")


async def eventually(
    condition: Callable[[], Awaitable[bool]], *, timeout: float, what: Callable[[], str]
) -> None:
    """Poll ``condition`` until it holds; fail with ``what()`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what()}")
        await asyncio.sleep(0.05)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def once_each(posts: list[Post]) -> Counter[tuple[str, str]]:
    return Counter((p.user, p.key) for p in posts)


def dropped(counters: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counters.items() if k.startswith("dropped:") and v}


async def test_three_processes_deliver_1000_nudges_due_in_the_same_minute_exactly_once(
    scene: Scene,
) -> None:
    now = datetime.now(UTC)
    users = [user_id(i) for i in range(500)]
    await opt_in(scene.store, users, now=now)
    async with bots(scene, 3, BASELINE_SLACK_RATE="1000"):
        at = datetime.now(UTC) + timedelta(seconds=3)
        plans = {
            user: [reset(at, life=LONG, tag="/a"), reset(at + timedelta(seconds=1), life=LONG)]
            for user in users
        }
        await scene.enqueue(plans)
        expected = {(user, n.key) for user, nudges in plans.items() for n in nudges}
        assert len(expected) == 1000

        async def all_sent() -> bool:
            return (await scene.counters()).get("sent", 0) >= 1000 and await scene.idle()

        await eventually(
            all_sent, timeout=45, what=lambda: f"{len(posted(scene.slack))} of 1000 posted"
        )
        counts = once_each(posted(scene.slack))
        counters = await scene.counters()

    assert set(counts) == expected
    assert [k for k, n in counts.items() if n > 1] == []
    assert counters["planned"] == 1000
    assert counters["sent"] == 1000
    assert counters.get("expired", 0) == 0
    assert dropped(counters) == {}
    states = await scene.done_states(users)
    assert set(states) == expected
    assert set(states.values()) == {"sent"}


async def test_a_killed_process_s_claims_go_to_the_others_after_the_lease_none_twice(
    scene: Scene,
) -> None:
    total, concurrency = 200, 4
    now = datetime.now(UTC)
    users = [user_id(i) for i in range(total)]
    await opt_in(scene.store, users, now=now)
    # A slow rate so the backlog lasts past the kill, and a short lease so recovery is quick,
    # yet well above the longest wait for a rate token (12 claims share 40 tokens a second):
    # a claim that outlives its lease while it waits is counted twice (a known issue).
    async with bots(
        scene,
        3,
        BASELINE_SLACK_RATE="40",
        BASELINE_DELIVERY_LEASE_SECONDS="4",
        BASELINE_DELIVERY_CONCURRENCY=str(concurrency),
    ) as fleet:
        at = datetime.now(UTC) + timedelta(seconds=2)
        plans = {user: [reset(at, life=LONG)] for user in users}
        await scene.enqueue(plans)
        expected = {(user, n.key) for user, nudges in plans.items() for n in nudges}

        leased_before = 0

        async def busy() -> bool:
            # Some posts arrived, and more claims are held than two processes can hold: the
            # one about to be killed holds some.
            nonlocal leased_before
            leased_before = await scene.leased()
            return len(posted(scene.slack)) >= 40 and leased_before > 2 * concurrency

        await eventually(
            busy,
            timeout=20,
            what=lambda: f"{len(posted(scene.slack))} posted, {leased_before} claims held",
        )
        fleet.processes[0].kill()
        posted_before_kill = len(posted(scene.slack))

        async def settled() -> bool:
            # Nothing left in the queue, and every nudge either sent or given up as uncertain.
            if not await scene.idle():
                return False
            states = await scene.done_states(users)
            return len(states) == total

        await eventually(
            settled,
            timeout=30,
            what=lambda: f"{len(posted(scene.slack))} of {total} posted after the kill",
        )
        assert all(bot.alive for bot in fleet.processes[1:])
        counts = once_each(posted(scene.slack))
        counters = await scene.counters()
        states = await scene.done_states(users)

    assert posted_before_kill < total
    # None twice.
    assert [k for k, n in counts.items() if n > 1] == []
    assert set(counts) <= expected
    # Every nudge posted, or counted uncertain: the dead process had marked it ``sending``
    # and may or may not have reached Slack. Only its own in-flight sends can be uncertain.
    uncertain = {k for k, state in states.items() if state == "sending"}
    assert counters.get("dropped:uncertain", 0) == len(uncertain)
    assert len(uncertain) <= concurrency
    assert expected - set(counts) <= uncertain
    assert set(counts) | uncertain == expected
    # A posted nudge is recorded sent, unless it is one the dead process posted and died
    # before recording (then it is one of the uncertain ones).
    assert {k for k, state in states.items() if state == "sent"} == set(counts) - uncertain
    # The dead process's claims came back after the lease: sent by the others, or (those it
    # had begun to send) given up as uncertain.
    assert counters.get("recovered", 0) + len(uncertain) >= 1
    assert counters["sent"] == len(set(counts) - uncertain)
    assert counters.get("expired", 0) == 0
    assert set(dropped(counters)) <= {"dropped:uncertain"}


async def test_429s_are_honoured_every_nudge_is_sent_before_its_deadline_or_expired(
    scene: Scene,
) -> None:
    now = datetime.now(UTC)
    short, long_ = 50, 100
    users = [user_id(i) for i in range(short + long_)]
    await opt_in(scene.store, users, now=now)
    # The first posts are told to wait 3 s (longer than the short nudges live), then every
    # 40th is told to wait 1 s.
    scene.slack.rate_limit(POST, retry_after=3, times=3)
    scene.slack.rate_limit_every(POST, 40, retry_after=1)
    async with bots(scene, 2, BASELINE_SLACK_RATE="1000"):
        at = datetime.now(UTC) + timedelta(seconds=2)
        plans = {
            user: [reset(at, life=timedelta(seconds=1.5) if i < short else LONG)]
            for i, user in enumerate(users)
        }
        deadlines = {(u, n.key): n.expires_at.timestamp() for u, ns in plans.items() for n in ns}
        await scene.enqueue(plans)

        async def settled() -> bool:
            counters = await scene.counters()
            accounted = (
                counters.get("sent", 0)
                + counters.get("expired", 0)
                + sum(dropped(counters).values())
            )
            return accounted >= len(users) and await scene.idle()

        await eventually(
            settled, timeout=40, what=lambda: f"{len(posted(scene.slack))} posted so far"
        )
        posts = posted(scene.slack)
        counters = await scene.counters()
        refused = scene.slack.rate_limited_calls(POST)
        first_three = scene.slack.calls(POST)[:3]

    counts = once_each(posts)
    assert [k for k, n in counts.items() if n > 1] == []
    # Delivered before its deadline, or not at all. The deliverer looks at the deadline
    # before the send, so Slack may receive it a moment after (the request's own latency).
    late = [
        (p.user, p.key, round(p.received_at - deadlines[(p.user, p.key)], 3))
        for p in posts
        if p.received_at > deadlines[(p.user, p.key)] + SEND_LATENCY
    ]
    assert late == []
    # None lost silently: every nudge is a post, an expiry or a counted drop.
    assert counters["sent"] == len(counts)
    assert len(counts) + counters.get("expired", 0) + sum(dropped(counters).values()) == len(users)
    assert dropped(counters) == {}
    # Every 429 was seen and honoured; the long-lived nudges all got through in the end.
    assert len(refused) >= 3
    assert counters["rate_limited"] == len(refused)
    assert {(u, plans[u][0].key) for u in users[short:]} <= set(counts)
    # A short-lived nudge told to wait 3 s (the first three posts) could not be sent in its
    # 1.5 s: it expired.
    told_to_wait = {(p.user, p.key) for p in map(as_post, first_three)}
    short_refused = {k for k in told_to_wait if deadlines[k] - at.timestamp() < 2}
    assert not short_refused & set(counts)
    assert counters.get("expired", 0) >= len(short_refused)


async def test_a_calendar_change_between_planning_and_send_sends_only_the_new_reset(
    scene: Scene,
) -> None:
    now = datetime.now(UTC)
    moved_early, moved_in_flight = user_id(1), user_id(2)
    await opt_in(scene.store, [moved_early, moved_in_flight], now=now)
    async with bots(scene, 2, BASELINE_SLACK_RATE="100"):
        # 1. The meeting moves before its reset is due: the re-plan replaces the reset.
        start = datetime.now(UTC)
        old = reset(start + timedelta(seconds=2), life=LONG)
        new = reset(start + timedelta(seconds=3), life=LONG)
        await scene.enqueue({moved_early: [old]})
        await scene.enqueue({moved_early: [new]})
        await scene.slack.wait_for(POST, count=1, timeout=15)
        await eventually(scene.idle, timeout=10, what=lambda: "the queue did not empty")
        assert once_each(posted(scene.slack)) == {(moved_early, new.key): 1}

        # 2. The meeting moves while an instance holds the old reset (waiting for the rate
        # token it reserved: the workspace's next 4 s of tokens are spoken for): it drops
        # it, the new one goes.
        busy_bucket = WorkspaceRate(scene.redis, rate=100, max_wait=5)
        for _ in range(400):
            await busy_bucket.take(TEAM_ID)
        start = datetime.now(UTC)
        old2 = reset(start, life=LONG, tag="/old")
        new2 = reset(start + timedelta(seconds=1), life=LONG, tag="/new")
        await scene.enqueue({moved_in_flight: [old2]})

        async def claimed() -> bool:
            return await scene.leased() == 1

        await eventually(claimed, timeout=3, what=lambda: "the old reset was not claimed")
        await scene.enqueue({moved_in_flight: [new2]})
        await scene.slack.wait_for(POST, count=2, timeout=15)

        async def old_dropped() -> bool:
            counters = await scene.counters()
            return counters.get("dropped:replaced", 0) >= 1 and await scene.idle()

        await eventually(old_dropped, timeout=10, what=lambda: "the old reset was not dropped")
        counts = once_each(posted(scene.slack))
        counters = await scene.counters()

    assert counts == {(moved_early, new.key): 1, (moved_in_flight, new2.key): 1}
    assert counters["planned"] == 4
    assert counters["sent"] == 2
    assert dropped(counters) == {"dropped:replaced": 1}
    assert await scene.queue.pending(TEAM_ID, moved_early) == []
    assert not await scene.queue.was_sent(TEAM_ID, moved_early, old.key)
    assert await scene.queue.was_sent(TEAM_ID, moved_in_flight, new2.key)
