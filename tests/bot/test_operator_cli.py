"""The operator's commands: ``baseline rekey`` (key rotation) and ``baseline
forget-workspace`` (what uninstalling does, by hand), against a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from bot import keys
from bot.cli import main
from bot.models import Profile
from bot.store import Store
from bot.vault import Vault
from nudges.feelings import FeelEntry
from tests.support.redis_server import RedisServer, free_port

OLD = Vault.new_key()
NEW = Vault.new_key()
AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
URL = "https://calendar.example.com/private-0per4tor/basic.ics"


@pytest.fixture
def server(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """The session's Redis, empty, in REDIS_URL; emptied again afterwards."""
    redis_server.reset()
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    yield redis_server
    redis_server.reset()


async def _write(url: str, key: str, team: str, users: list[str]) -> None:
    redis = Redis.from_url(url)
    store = Store(redis, Vault([key]), retention=timedelta(days=180))
    for user in users:
        await store.save_profile(team, user, Profile(opted_in=True))
        await store.log_feeling(team, user, FeelEntry(at=AT, score=2, note="a private note"))
        await store.set_calendar(team, user, URL)
    await redis.aclose()


async def _keys(url: str, pattern: str) -> list[bytes]:
    redis = Redis.from_url(url)
    try:
        return sorted([k async for k in redis.scan_iter(match=pattern)])
    finally:
        await redis.aclose()


async def _calendar(url: str, key_list: list[str], team: str, user: str) -> str | None:
    redis = Redis.from_url(url)
    try:
        store = Store(redis, Vault(key_list), retention=timedelta(days=180))
        return await store.calendar_url(team, user)
    finally:
        await redis.aclose()


def test_rekey_rotates_then_says_old_keys_can_go(
    server: RedisServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_write(server.url, OLD, "T1", ["U1", "U2"]))
    monkeypatch.setenv("BASELINE_ENCRYPTION_KEY", f"{NEW},{OLD}")

    assert main(["rekey"]) == 0
    first = capsys.readouterr().out
    assert "Re-encrypted:                                 4  (string 2, zset 2)" in first
    assert "Run it once more" in first
    assert asyncio.run(_calendar(server.url, [NEW], "T1", "U2")) == URL

    assert main(["rekey"]) == 0
    second = capsys.readouterr().out
    assert "Already under the newest key:                 4" in second
    assert "older keys can be dropped" in second


def test_rekey_exits_1_when_a_value_opens_with_no_key(
    server: RedisServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_write(server.url, Vault.new_key(), "T1", ["U1"]))  # a key nobody has now
    monkeypatch.setenv("BASELINE_ENCRYPTION_KEY", f"{NEW},{OLD}")
    assert main(["rekey"]) == 1
    out = capsys.readouterr().out
    assert "Could not decrypt with any key:               2" in out
    assert "do not drop any" in out


def test_rekey_needs_keys_and_redis(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BASELINE_ENCRYPTION_KEY", raising=False)
    assert main(["rekey"]) == 2
    assert "BASELINE_ENCRYPTION_KEY is missing" in capsys.readouterr().err
    monkeypatch.setenv("BASELINE_ENCRYPTION_KEY", f"{NEW},{OLD}")
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    assert main(["rekey"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "could not be reached" in err


def test_forget_workspace_deletes_that_workspace_only(
    server: RedisServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_write(server.url, OLD, "T1GONE", ["U1", "U2"]))
    asyncio.run(_write(server.url, OLD, "T2STAY", ["U1"]))
    monkeypatch.setenv("BASELINE_ENCRYPTION_KEY", OLD)
    kept = asyncio.run(_keys(server.url, f"{keys.PREFIX}:{{p:T2STAY:*"))

    assert main(["forget-workspace", "T1GONE", "--yes"]) == 0

    assert "Workspace T1GONE forgotten: 2 people" in capsys.readouterr().out
    assert asyncio.run(_keys(server.url, "*T1GONE*")) == []
    assert asyncio.run(_keys(server.url, f"{keys.PREFIX}:{{p:T2STAY:*")) == kept
    assert asyncio.run(_calendar(server.url, [OLD], "T2STAY", "U1")) == URL


def test_forget_workspace_asks_first_and_checks_the_id(
    server: RedisServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_write(server.url, OLD, "T1", ["U1"]))
    monkeypatch.setenv("BASELINE_ENCRYPTION_KEY", OLD)
    # Not a terminal (pytest's stdin): no question can be asked, so nothing is deleted.
    assert main(["forget-workspace", "T1"]) == 2
    assert "add --yes" in capsys.readouterr().err
    assert main(["forget-workspace", "not-a-team", "--yes"]) == 2
    assert "is not a team id" in capsys.readouterr().err
    assert asyncio.run(_calendar(server.url, [OLD], "T1", "U1")) == URL
