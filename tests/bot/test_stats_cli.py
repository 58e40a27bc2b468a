"""``baseline stats`` reads the shared counters and the queue from Redis."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from bot.cli import main
from bot.queue import DueQueue
from nudges.planner import Nudge, NudgeKind
from tests.support.redis_server import RedisServer, free_port

NOW = datetime.now(UTC)


async def _fill(url: str) -> None:
    redis = Redis.from_url(url)
    queue = DueQueue(redis, shards=16)
    nudge = Nudge(
        kind=NudgeKind.RESET,
        key="reset:x",
        at=NOW + timedelta(hours=1),
        expires_at=NOW + timedelta(hours=2),
        text="Breathe.",
        practice="breath",
    )
    await queue.replace("T1", "U1", [nudge], now=NOW)
    await queue.counters.incr("sent", 3)
    await queue.counters.incr("dropped:dnd")
    await redis.aclose()


def test_stats_prints_counters_and_queue(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    redis_server.reset()
    asyncio.run(_fill(redis_server.url))
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "dropped:dnd" in out
    assert "scheduled   1" in out
    assert main(["stats", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counters"] == {"dropped:dnd": 1, "planned": 1, "sent": 3}
    assert data["queue"]["scheduled"] == 1
    redis_server.reset()


def test_stats_without_redis_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    assert main(["stats"]) == 2
    assert "could not be reached" in capsys.readouterr().err
