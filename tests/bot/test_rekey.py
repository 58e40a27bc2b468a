"""Key rotation (`bot.rekey`): after a pass, the old key can be dropped and nothing is lost;
on a single Redis and on Redis Cluster (every step is one key)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import keys
from bot.rekey import Rekeyer
from bot.store import RedisClient, Store
from bot.vault import Vault, VaultError
from nudges.clock import BusyInterval
from nudges.feelings import FeelEntry

OLD = Vault.new_key()
NEW = Vault.new_key()
TEAM = "T1"
AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
URL = "https://calendar.example.com/private-r0tate-me/basic.ics"
BUSY = [BusyInterval(start=AT, end=AT + timedelta(minutes=30))]


def store(redis: RedisClient, *keys_: str) -> Store:
    return Store(redis, Vault(list(keys_)), retention=timedelta(days=180))


async def fill(old: Store, people: int = 3) -> None:
    for n in range(people):
        user = f"U{n}"
        await old.log_feeling(TEAM, user, FeelEntry(at=AT, score=2, note=f"note {n}"))
        await old.log_feeling(TEAM, user, FeelEntry(at=AT + timedelta(hours=1), score=4))
        await old.save_reflection(TEAM, user, "2026-W48", {"weighed": f"answer {n}"})
        await old.set_calendar(TEAM, user, URL)
        await old.save_busy(TEAM, user, BUSY)


async def read_all(reader: Store, people: int = 3) -> list[object]:
    seen: list[object] = []
    for n in range(people):
        user = f"U{n}"
        seen.append(await reader.feelings(TEAM, user, since=AT - timedelta(days=1)))
        seen.append(await reader.reflections(TEAM, user))
        seen.append(await reader.calendar_url(TEAM, user))
        seen.append(await reader.busy(TEAM, user))
    return seen


async def test_after_a_pass_the_new_key_alone_reads_everything(any_redis: RedisClient) -> None:
    redis = any_redis
    await fill(store(redis, OLD))
    before = await read_all(store(redis, OLD))
    ttl_before = await redis.ttl(keys.busy(TEAM, "U0"))
    with pytest.raises(VaultError):
        await store(redis, NEW).calendar_url(TEAM, "U0")

    report = await Rekeyer(redis, Vault([NEW, OLD])).run()

    # 3 people x (2 feel members + 1 reflection field + calendar + busy) were under OLD.
    assert report.reencrypted == 15
    assert report.by_type == {"zset": 6, "hash": 3, "string": 6}
    assert report.undecryptable == 0
    assert await read_all(store(redis, NEW)) == before
    # Rewriting keeps the retention expiry the value had.
    assert 0 < await redis.ttl(keys.busy(TEAM, "U0")) <= ttl_before
    # The log's time is its score; a rotated member keeps it.
    members = await redis.zrange(keys.feelings(TEAM, "U0"), 0, -1, withscores=True)
    assert [pair[1] for pair in members] == [
        AT.timestamp(),
        (AT + timedelta(hours=1)).timestamp(),
    ]


async def test_a_second_pass_rewrites_nothing(any_redis: RedisClient) -> None:
    redis = any_redis
    await fill(store(redis, OLD), people=1)
    vault = Vault([NEW, OLD])
    first = await Rekeyer(redis, vault).run()
    second = await Rekeyer(redis, vault).run()
    assert first.reencrypted == 5
    assert second.reencrypted == 0
    assert second.already_current == 5


async def test_plain_values_are_left_alone(any_redis: RedisClient) -> None:
    redis = any_redis
    await redis.set("bl:plain", b'{"opted_in": true}')
    await redis.hset("bl:plain-hash", mapping={"a": b"1"})
    report = await Rekeyer(redis, Vault([NEW, OLD])).run()
    assert report.keys_scanned == 2
    assert report.reencrypted == report.already_current == report.undecryptable == 0
    assert await redis.get("bl:plain") == b'{"opted_in": true}'


async def test_a_value_no_key_opens_is_counted_and_kept(any_redis: RedisClient) -> None:
    redis = any_redis
    lost = Vault([Vault.new_key()])
    await store(redis, OLD).set_calendar(TEAM, "U0", URL)
    sealed = lost.seal("written under a key nobody has")
    await redis.set(keys.calendar(TEAM, "U1"), sealed)

    report = await Rekeyer(redis, Vault([NEW, OLD])).run()

    assert report.reencrypted == 1
    assert report.undecryptable == 1
    assert await redis.get(keys.calendar(TEAM, "U1")) == sealed


async def test_keys_outside_baseline_are_not_touched(any_redis: RedisClient) -> None:
    redis = any_redis
    foreign = Vault([OLD]).seal("someone else's data")
    await redis.set("other-app:secret", foreign)
    report = await Rekeyer(redis, Vault([NEW, OLD])).run()
    assert report.keys_scanned == 0
    assert await redis.get("other-app:secret") == foreign


async def test_a_value_the_bot_rewrote_meanwhile_is_not_overwritten(any_redis: RedisClient) -> None:
    """The swap is compare-and-set: a value changed between the read and the rewrite (the
    bot saved a new address under the new key) wins over the rotation of the old one."""
    redis = any_redis
    await store(redis, OLD).set_calendar(TEAM, "U0", URL)
    key = keys.calendar(TEAM, "U0")
    vault = Vault([NEW, OLD])
    rekeyer = Rekeyer(redis, vault)
    read = await redis.get(key)
    assert isinstance(read, bytes)
    newer = "https://calendar.example.com/newer.ics"
    await store(redis, NEW, OLD).set_calendar(TEAM, "U0", newer)  # the bot, meanwhile

    # The one step of a pass that rewrites a string, run on the value it had read.
    swapped = await rekeyer._swap_string(keys=[key], args=[read, vault.rotate(read)])

    assert swapped == 0
    assert await store(redis, NEW).calendar_url(TEAM, "U0") == newer
