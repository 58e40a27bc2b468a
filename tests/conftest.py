"""Shared fixtures: a throwaway Redis for the session and a fake Slack Web API per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from tests.support.fake_slack import FakeSlack
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


@pytest_asyncio.fixture(loop_scope="function")
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """A started fake Slack Web API; pass `fake_slack.base_url` as the client's base URL."""
    async with FakeSlack() as fake:
        yield fake
