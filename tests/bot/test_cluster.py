"""Baseline on a local three-node Redis Cluster: keys spread over every node, one person's
keys in one slot, a whole flow without a CROSSSLOT error, SCAN-based code that finds keys
on every node, WATCH, readiness, and a node going down.

The store, queue and rate tests run on the cluster too (``any_redis`` in test_store.py and
test_queue.py); this file covers what only a cluster can show.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.exceptions import WatchError
from slack_sdk.web.async_client import AsyncWebClient

from bot import keys, team_view
from bot.app import Services, build_services
from bot.clock import ManualClock
from bot.live import LiveSignals
from bot.metrics import BaselineMetrics
from bot.models import Profile, SentNudge
from bot.planning import forget_plans, replan, run_day_starts
from bot.queue import DueQueue
from bot.ratelimit import WorkspaceRate
from bot.store import RedisClient, Store, StoreUnavailableError, SyncState, connect_redis
from bot.sync import CalendarSync
from bot.vault import Vault
from bot.windows import WindowStore
from config.settings import Settings
from nudges.catalog import PracticeTheme
from nudges.clock import BusyInterval, ClockRange, Weekdays
from nudges.feelings import FeelEntry
from nudges.insights import Outcome, OutcomeRecord
from nudges.planner import Nudge, NudgeKind
from nudges.preferences import Preferences
from nudges.signals import SignalKind
from nudges.windows import RecoveryWindow
from tests.bot.conftest import bot_settings
from tests.support.fake_slack import FakeSlack
from tests.support.redis_cluster import RedisClusterNodes, find_redis_cli
from tests.support.redis_server import SHARED_REDIS_PORT, RedisServer, RedisServerError

KEY = "hD3t4l0l2l3o4tq3Q5cHh0ZxXx9xXb4T3p2E1n0a9mM="
TEAM = "T1"
# Monday 07:30 UTC, before work.
NOW = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
RETENTION = timedelta(days=30)
PEOPLE = [f"U{n:03d}" for n in range(50)]


def make_store(redis: RedisClient) -> Store:
    return Store(redis, Vault([KEY]), retention=RETENTION)


def person_slot(user: str) -> int:
    return key_slot(keys.person_tag(TEAM, user).encode())


def reset_at(at: datetime, key: str | None = None) -> Nudge:
    return Nudge(
        kind=NudgeKind.RESET,
        key=key or f"reset:{at.isoformat()}",
        at=at,
        expires_at=at + timedelta(minutes=30),
        text="Breathe out slowly.",
        practice="breath",
    )


async def node_keys(server: RedisServer) -> list[bytes]:
    """The keys one node really holds, read from that node alone (not through the cluster)."""
    client = Redis(host=server.host, port=server.port)
    try:
        return sorted([k async for k in client.scan_iter(match="*", count=1000)])
    finally:
        await client.aclose()


async def keys_by_node(nodes: RedisClusterNodes) -> dict[int, list[bytes]]:
    return {server.port: await node_keys(server) for server in nodes.servers}


def one_person_per_node(nodes: RedisClusterNodes, candidates: list[str]) -> dict[int, str]:
    """For each node's port, the first of ``candidates`` whose keys that node holds."""
    chosen: dict[int, str] = {}
    for user in candidates:
        chosen.setdefault(nodes.port_of_slot(person_slot(user)), user)
    return chosen


async def fill(store: Store, user: str) -> None:
    """Every kind of record the store keeps for one person."""
    await store.save_profile(TEAM, user, Profile(opted_in=True))
    await store.log_feeling(TEAM, user, FeelEntry(at=NOW, score=2, note=f"{user} note"))
    await store.record_outcome(
        TEAM, user, OutcomeRecord(key="k", at=NOW, outcome=Outcome.DONE, practice="breath")
    )
    await store.rate_practice(TEAM, user, "breath", helped=True)
    await store.ask_fewer(TEAM, user, PracticeTheme.WALK)
    await store.save_reflection(TEAM, user, "2026-W48", {"progress": f"{user} answer"})
    await store.connect_calendar(
        TEAM,
        user,
        url=f"https://calendar.example.com/{user}.ics",
        state=SyncState(generation="g1"),
        email=f"{user}@example.com",
        busy=[BusyInterval(start=NOW, end=NOW + timedelta(hours=1))],
    )
    await store.remember_dm_channel(TEAM, user, f"D{user}")
    await store.remember_sent(
        TEAM, user, SentNudge(nudge=reset_at(NOW), channel="D1", ts="1.2", sent_at=NOW)
    )
    assert await store.offer_support_once(TEAM, user)


@pytest_asyncio.fixture(loop_scope="function")
async def services(
    cluster_redis: RedisCluster, redis_cluster: RedisClusterNodes, fake_slack: FakeSlack
) -> Services:
    """What the listeners and the worker share, on the cluster (the fake Slack is never
    called by the code under test here; Settings and build_services want a Web API URL)."""
    settings = bot_settings(
        redis_cluster.url, fake_slack, calendar_parse_workers=0, redis_cluster=True
    )
    return build_services(settings, store=make_store(cluster_redis), clock=ManualClock(NOW))


# --- the helper itself --------------------------------------------------------------------


def test_three_primaries_share_every_slot(redis_cluster: RedisClusterNodes) -> None:
    assert len(redis_cluster.servers) == 3
    assert SHARED_REDIS_PORT not in redis_cluster.ports
    assert redis_cluster.url == f"redis://127.0.0.1:{redis_cluster.ports[0]}/0"
    for server in redis_cluster.servers:
        info = server.command("CLUSTER", "INFO")
        for line in (b"cluster_state:ok", b"cluster_slots_assigned:16384", b"cluster_size:3"):
            assert line in info, (server.port, info)
        assert b"cluster_known_nodes:3" in info


def test_a_missing_redis_cli_fails_with_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not skipped: without redis-cli the cluster tests cannot run, and the run must say so.
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RedisServerError, match=r"No redis-cli binary found.*apt-get install"):
        find_redis_cli(str(tmp_path / "redis-server"))


@pytest.mark.parametrize("any_redis", ["cluster"], indirect=True)
async def test_the_cluster_half_of_any_redis_is_the_three_node_cluster(
    any_redis: RedisClient, redis_cluster: RedisClusterNodes
) -> None:
    # Guards the parametrization of test_store.py and test_queue.py: "cluster" really is one.
    assert isinstance(any_redis, RedisCluster)
    await any_redis.set(b"probe", b"1")
    assert sorted(node.port for node in any_redis.get_primaries()) == sorted(redis_cluster.ports)
    assert [k for keys_ in (await keys_by_node(redis_cluster)).values() for k in keys_] == [
        b"probe"
    ]


async def test_connect_redis_makes_a_cluster_client_from_one_node_url(
    redis_cluster: RedisClusterNodes,
) -> None:
    # BASELINE_REDIS_CLUSTER with REDIS_URL naming any one node; without it, a plain client.
    assert isinstance(connect_redis(Settings(redis_url=redis_cluster.url)), Redis)
    client = connect_redis(Settings(redis_url=redis_cluster.url, redis_cluster=True))
    try:
        assert isinstance(client, RedisCluster)
        assert await make_store(client).ping() is True
        assert len(client.get_primaries()) == 3  # it learnt the other nodes from the one
    finally:
        await client.aclose()


# --- where keys go ------------------------------------------------------------------------


async def test_people_and_queue_shards_spread_over_every_node(
    cluster_redis: RedisCluster, redis_cluster: RedisClusterNodes
) -> None:
    store = make_store(cluster_redis)
    queue = DueQueue(cluster_redis, shards=16)
    for user in PEOPLE:
        await store.save_profile(TEAM, user, Profile(opted_in=True))
        await store.log_feeling(TEAM, user, FeelEntry(at=NOW, score=3))
        await queue.replace(TEAM, user, [reset_at(NOW + timedelta(hours=2))], now=NOW)

    held = await keys_by_node(redis_cluster)

    every = [k for node in held.values() for k in node]
    assert len(every) == len(set(every))  # each key lives on one node only
    for port, found in held.items():
        people = {user for user in PEOPLE if keys.profile(TEAM, user).encode() in found}
        assert len(people) >= 10, (port, len(people))  # 15, 16 and 19 of the 50
    # Each person's tag and each queue shard's tag is a slot of its own: 50 + 16 (+ stats).
    assert len({person_slot(user) for user in PEOPLE}) == len(PEOPLE)
    assert len({key_slot(k) for k in every}) >= len(PEOPLE) + 16


async def test_one_persons_keys_share_one_slot_and_one_shard_its_queue_keys(
    cluster_redis: RedisCluster, redis_cluster: RedisClusterNodes
) -> None:
    store = make_store(cluster_redis)
    queue = DueQueue(cluster_redis, shards=16)
    live = LiveSignals(cluster_redis)
    await fill(store, "U1")
    await live.begin(TEAM, "U1", SignalKind.HUDDLE, at=NOW)
    await live.remember_dnd(TEAM, "U1", "{}", ttl=timedelta(minutes=5))
    await queue.replace(TEAM, "U1", [reset_at(NOW), reset_at(NOW + timedelta(hours=1))], now=NOW)
    (claim,) = await queue.claim(queue.shard_of(TEAM, "U1"), now=NOW, limit=5)
    assert await queue.begin_send(claim, now=NOW)

    mine = await store.person_keys(TEAM, "U1")

    assert len(mine) == 15  # fill's 13 (11 records, sync state, e-mail), live, dnd
    assert {key_slot(k) for k in mine} == {person_slot("U1")}
    # Redis itself agrees, and one node holds them all.
    server = redis_cluster.servers[0]
    for key in mine:
        assert server.command("CLUSTER", "KEYSLOT", key.decode()) == b":%d" % person_slot("U1")
    held = await keys_by_node(redis_cluster)
    holders = [port for port, found in held.items() if set(mine) <= set(found)]
    assert holders == [redis_cluster.port_of_slot(person_slot("U1"))]
    # The queue's keys of the person's shard, including the pending set and the send record
    # the claim script names from the shard's prefix, share the shard's slot.
    shard = queue.shard_of(TEAM, "U1")
    shard_keys = [
        keys.queue_at(shard), keys.queue_ready(shard), keys.queue_leased(shard),
        keys.queue_jobs(shard), keys.queue_owner(shard), keys.queue_person(shard, TEAM, "U1"),
        keys.queue_done(shard, TEAM, "U1"), keys.day_starts(shard),
    ]  # fmt: skip
    assert {key_slot(k.encode()) for k in shard_keys} == {key_slot(f"{{q{shard}}}".encode())}
    assert await cluster_redis.exists(*(k.encode() for k in shard_keys[2:7])) == 5


# --- a whole flow -------------------------------------------------------------------------


async def test_a_whole_flow_runs_without_a_cross_slot_error(
    services: Services, redis_cluster: RedisClusterNodes
) -> None:
    store, queue = services.store, services.queue
    # One person per node, so every node's share of the flow is exercised.
    people = list(one_person_per_node(redis_cluster, PEOPLE).values())
    assert len(people) == 3
    busy = [
        BusyInterval(start=NOW + timedelta(hours=h), end=NOW + timedelta(hours=h + 1))
        for h in (2, 3, 4)  # 09:30-12:30 UTC, back to back
    ]
    profile = Profile(
        opted_in=True,
        preferences=Preferences(working_hours=ClockRange(start=time(8), end=time(18))),
    )
    for user in people:
        await store.save_profile(TEAM, user, profile)
        await store.log_feeling_and_recent(
            TEAM, user, FeelEntry(at=NOW, score=1), since=NOW - timedelta(days=7)
        )
        await store.connect_calendar(
            TEAM,
            user,
            url=f"https://calendar.example.com/{user}.ics",
            state=SyncState(generation="g1"),
            email=None,
            busy=None,
        )
        assert await store.commit_sync(TEAM, user, SyncState(generation="g1", etag="e"), busy=busy)
        assert await replan(services, TEAM, user, now=NOW) > 0
    inputs = await store.sync_inputs_many([(TEAM, user) for user in people])
    assert [i.state.etag for i in inputs] == ["e", "e", "e"]
    assert all(i.profile.opted_in for i in inputs)

    # Deliver every reset due by 12:30, as a worker would.
    rate = WorkspaceRate(store.redis, rate=100)
    sent = 0
    for shard in range(queue.shards):
        for claim in await queue.claim(shard, now=NOW + timedelta(hours=5), limit=100):
            assert (await rate.take(TEAM)).reserved
            assert await queue.begin_send(claim, now=NOW + timedelta(hours=5))
            await queue.finish(claim, sent=True, now=NOW + timedelta(hours=5))
            assert await queue.was_sent(TEAM, claim.user, claim.nudge.key)
            sent += 1
    assert sent >= 3
    # Every planned nudge is accounted for, over the shards of all three nodes.
    depth = await queue.depth()
    assert (depth.ready, depth.leased) == (0, 0)
    assert (await queue.counters.read())["planned"] == sent + depth.scheduled
    assert await BaselineMetrics(redis=store.redis, queue=queue).read_shared() is not None

    # Live signals, windows, the team view's guarded answer, day starts.
    live = LiveSignals(store.redis)
    assert await live.begin(TEAM, people[0], SignalKind.HUDDLE, at=NOW)
    mark, _rest = await live.end(TEAM, people[0], SignalKind.HUDDLE)
    assert mark is not None
    windows = WindowStore(store.redis, shards=queue.shards)
    window = RecoveryWindow(
        id="w1",
        channel="C1",
        days=Weekdays(),
        hours=ClockRange(start=time(14), end=time(14, 30)),
        tz=ZoneInfo("UTC"),
        lead="U0LEAD",
    )
    await windows.add(TEAM, window, now=NOW)
    assert await windows.set_members(TEAM, "C1", people) == set(people)
    assert await windows.person_windows(TEAM, people[0]) == [window]
    group = [*people, "U0X4", "U0X5"]
    assert await team_view.guard(services, TEAM, "overlap", group)
    assert await run_day_starts(services, now=NOW + timedelta(days=1)) == 3

    # Export and forget one person: nothing of theirs is left on any node.
    gone = people[0]
    assert (await store.export(TEAM, gone))["calendar"]["connected"] is True
    await forget_plans(services, TEAM, gone)
    assert await store.forget(TEAM, gone) > 0
    assert await queue.pending(TEAM, gone) == []
    left = [k for found in (await keys_by_node(redis_cluster)).values() for k in found]
    assert [k for k in left if gone.encode() in k] == []
    assert [k for k in left if people[1].encode() in k] != []
    member, shard = f"{TEAM}:{gone}", queue.shard_of(TEAM, gone)
    assert await store.redis.zscore(keys.day_starts(shard), member) is None
    assert await windows.members(TEAM, "C1") == set(people[1:])


async def test_a_crash_mid_send_is_recovered_on_the_cluster_as_uncertain(
    cluster_redis: RedisCluster,
) -> None:
    # The claim script reads the person's send record by a key it builds from the shard's
    # prefix (not one passed in KEYS): on a cluster that must still be the shard's slot.
    queue = DueQueue(cluster_redis, shards=4, lease=timedelta(seconds=10))
    for user in PEOPLE[:12]:
        await queue.replace(TEAM, user, [reset_at(NOW)], now=NOW)
    claims = [c for shard in range(4) for c in await queue.claim(shard, now=NOW, limit=50)]
    assert len(claims) == 12
    for claim in claims:
        assert await queue.begin_send(claim, now=NOW)
    later = NOW + timedelta(seconds=11)
    assert [c for shard in range(4) for c in await queue.claim(shard, now=later, limit=50)] == []
    assert (await queue.counters.read())["dropped:uncertain"] == 12


# --- SCAN on every node -------------------------------------------------------------------


async def test_forget_and_export_find_a_persons_keys_on_every_node(
    cluster_redis: RedisCluster, redis_cluster: RedisClusterNodes
) -> None:
    store = make_store(cluster_redis)
    chosen = one_person_per_node(redis_cluster, PEOPLE)
    assert len(chosen) == 3
    for user in PEOPLE[:20]:
        await fill(store, user)

    for port, user in chosen.items():
        before = await keys_by_node(redis_cluster)
        theirs = [k for k in before[port] if keys.person_prefix(TEAM, user).encode() in k]
        assert len(theirs) == 13
        assert sorted(await store.person_keys(TEAM, user)) == sorted(theirs)
        assert (await store.export(TEAM, user))["dm_channel"] == f"D{user}"

        assert await store.forget(TEAM, user) == 13

        after = await keys_by_node(redis_cluster)
        assert sorted(after[port]) == sorted(set(before[port]) - set(theirs))
        assert {p: k for p, k in after.items() if p != port} == {
            p: k for p, k in before.items() if p != port
        }


async def test_existing_calendars_on_every_node_are_scheduled(
    services: Services, fake_slack: FakeSlack, redis_cluster: RedisClusterNodes
) -> None:
    # CalendarSync.schedule_existing SCANs for calendar keys; a cluster client must look on
    # every primary, not only the node it happens to ask first.
    store = services.store
    chosen = one_person_per_node(redis_cluster, PEOPLE)
    for user in chosen.values():
        await store.set_calendar(TEAM, user, f"https://calendar.example.com/{user}.ics")
    client = AsyncWebClient(token="xoxb-test", base_url=fake_slack.base_url)
    sync = CalendarSync(services, client)

    assert await sync.schedule_existing(now=NOW) == 3
    assert await sync.schedule_existing(now=NOW) == 0
    for user in chosen.values():
        schedule = keys.sync_schedule(services.queue.shard_of(TEAM, user))
        assert await store.redis.zscore(schedule, f"{TEAM}:{user}") == NOW.timestamp()


# --- WATCH, readiness, a node down ----------------------------------------------------------


async def test_watch_on_the_cluster_aborts_a_transaction_when_the_key_changed(
    cluster_redis: RedisCluster,
) -> None:
    # The team view's differencing guard is an optimistic WATCH/MULTI/EXEC transaction.
    key = keys.answered_groups(TEAM, "overlap")
    async with cluster_redis.pipeline(transaction=True) as pipe:
        await pipe.watch(key)  # type: ignore[no-untyped-call]  # untyped on cluster pipelines
        assert await pipe.hgetall(key) == {}
        await cluster_redis.hset(key, "other", "[]")  # another instance answers meanwhile
        pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        pipe.hset(key, "mine", "[]")
        with pytest.raises(WatchError):
            await pipe.execute()
    assert await cluster_redis.hkeys(key) == [b"other"]


async def test_the_differencing_guard_lets_one_of_two_close_groups_through(
    services: Services,
) -> None:
    five = ["U0A1", "U0A2", "U0A3", "U0A4", "U0A5"]
    assert await team_view.guard(services, TEAM, "feel", five)
    assert await team_view.guard(services, TEAM, "feel", five)  # the same group again
    assert not await team_view.guard(services, TEAM, "feel", [*five, "U0SIX"])


@pytest_asyncio.fixture(loop_scope="function")
async def own_cluster() -> AsyncIterator[RedisClusterNodes]:
    """A cluster of its own for the test that stops a node; a short node timeout, so the
    survivors declare the cluster down within about a second."""
    with RedisClusterNodes(node_timeout_ms=500) as nodes:
        yield nodes


async def test_readiness_needs_every_primary_and_a_lost_node_is_unavailable(
    own_cluster: RedisClusterNodes,
) -> None:
    # No retries: each failing call answers at once instead of after the client's backoff.
    client = RedisCluster(
        host=own_cluster.host, port=own_cluster.ports[0], retry=Retry(NoBackoff(), 0)
    )
    store = make_store(client)
    try:
        assert await store.ping() is True
        dead = own_cluster.servers[2]
        by_node = one_person_per_node(own_cluster, PEOPLE)
        on_dead, on_live = by_node[dead.port], by_node[own_cluster.ports[0]]
        dead.stop()

        # The node the client asks first still answers PING: readiness must ask them all.
        assert await store.ping() is False
        with pytest.raises(StoreUnavailableError):
            await store.profile(TEAM, on_dead)  # its node refuses connections
        # Once the others mark it failed, they refuse every key (CLUSTERDOWN): the people
        # whose node is up get "unavailable" too, not an unexpected error.
        own_cluster.wait_for_state("fail", own_cluster.servers[:2])
        with pytest.raises(StoreUnavailableError):
            await store.profile(TEAM, on_live)
        assert await store.ping() is False
        # With no node left the client raises an error of its own kind, also "unavailable";
        # a metrics scrape reports Redis down instead of failing.
        for server in own_cluster.servers[:2]:
            server.stop()
        with pytest.raises(StoreUnavailableError):
            await store.profile(TEAM, on_live)
        assert await store.ping() is False
        metrics = BaselineMetrics(redis=client, queue=DueQueue(client, shards=4))
        assert await metrics.read_shared() is None
    finally:
        await client.aclose()
