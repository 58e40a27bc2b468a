"""Shared fixtures: a throwaway Redis for the session (and, for the tests that ask, a
three-node Redis Cluster) and a fake Slack Web API per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from bot.store import RedisClient
from tests.support.fake_slack import FakeSlack
from tests.support.redis_cluster import RedisClusterNodes
from tests.support.redis_server import SHARED_REDIS_PORT, RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One `redis-server` for the whole session on a free port; tests may stop and start it."""
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """`redis://127.0.0.1:<port>/0` of the session's server (request `redis` to get it empty)."""
    return redis_server.url


# The async fixtures run in the test's own event loop (pytest-asyncio's default test loop is per
# function), so clients and servers they create are usable from the test body.
@pytest_asyncio.fixture(name="redis", loop_scope="function")
async def redis_client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A bytes client on the session's server, which is running and empty before and after."""
    assert redis_server.port != SHARED_REDIS_PORT
    redis_server.reset()
    client = Redis(host=redis_server.host, port=redis_server.port, decode_responses=False)
    try:
        yield client
    finally:
        await client.aclose()
        assert redis_server.port != SHARED_REDIS_PORT
        redis_server.reset()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterNodes]:
    """Three cluster nodes for the whole session, started only when a test first needs them
    (`cluster_redis`, or the "cluster" half of `any_redis`): a couple of seconds, once."""
    with RedisClusterNodes() as nodes:
        yield nodes


@pytest_asyncio.fixture(loop_scope="function")
async def cluster_redis(redis_cluster: RedisClusterNodes) -> AsyncIterator[RedisCluster]:
    """A bytes cluster client on the session's cluster, every node empty before and after."""
    redis_cluster.flushall()
    client = RedisCluster(
        host=redis_cluster.host, port=redis_cluster.ports[0], decode_responses=False
    )
    try:
        yield client
    finally:
        await client.aclose()
        redis_cluster.flushall()


@pytest_asyncio.fixture(loop_scope="function", params=["single", "cluster"])
async def any_redis(request: pytest.FixtureRequest) -> AsyncIterator[RedisClient]:
    """A bytes client on the single Redis, then (a second run of the test) on the cluster;
    empty before and after, like `redis`.

    Only the session server the run needs is looked up (both are plain session fixtures, so
    asking for one from here does not nest event loops), so the cluster starts only if some
    test runs with it. A test that needs the single server (it stops it, or reaches into its
    connections) narrows this with ``@pytest.mark.parametrize("any_redis", ["single"],
    indirect=True)``.
    """
    client: RedisClient
    if request.param == "single":
        server: RedisServer = request.getfixturevalue("redis_server")
        assert server.port != SHARED_REDIS_PORT
        server.reset()
        client = Redis(host=server.host, port=server.port, decode_responses=False)
        empty = server.reset
    else:
        nodes: RedisClusterNodes = request.getfixturevalue("redis_cluster")
        nodes.flushall()
        client = RedisCluster(host=nodes.host, port=nodes.ports[0], decode_responses=False)
        empty = nodes.flushall
    try:
        yield client
    finally:
        await client.aclose()
        empty()


@pytest_asyncio.fixture(loop_scope="function")
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """A started fake Slack Web API; pass `fake_slack.base_url` as the client's base URL."""
    async with FakeSlack() as fake:
        yield fake
