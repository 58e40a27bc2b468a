"""Key rotation: re-encrypt everything stored encrypted under the newest key.

``BASELINE_ENCRYPTION_KEY=new,old`` already makes new writes use ``new`` while ``old`` still
decrypts. ``baseline rekey`` finishes the rotation: it walks every Baseline key and rewrites
each encrypted value (ICS addresses, busy times, e-mail addresses, feel logs, reflections,
workspace tokens) under ``new``, after which ``old`` can be dropped.

It finds encrypted values by their shape, not by a list of key names, so a key type added
later is covered without touching this module: a Fernet token is url-safe base64 of a
version byte 0x80 and a timestamp, so it always starts with ``gAAAAA``, and nothing else
Baseline stores (JSON, ids, numbers) does.

Each rewrite is one small Lua script on one key that replaces the value only if it is still
the one that was read, so a value written meanwhile by the bot (already under the new key) is
never overwritten with an older one, and the bot keeps running during a rotation. Every script
touches one key, so it is safe on Redis Cluster.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot import keys
from bot.store import RedisClient
from bot.vault import Vault, VaultError

logger = logging.getLogger(__name__)

FERNET_PREFIX = b"gAAAAA"

# KEYS: the string. ARGV: old value, new value. KEEPTTL: retention expiries stay as they were.
_SWAP_STRING = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
"""

# KEYS: the hash. ARGV: field, old value, new value.
_SWAP_HASH_FIELD = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0
"""

# KEYS: the sorted set. ARGV: old member, new member. The score (the log's time) is kept.
_SWAP_ZSET_MEMBER = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[1], score, ARGV[2])
  return 1
end
return 0
"""


@dataclass
class RekeyReport:
    """What one pass did. ``undecryptable`` values are left as they are and counted."""

    keys_scanned: int = 0
    already_current: int = 0
    reencrypted: int = 0
    changed_meanwhile: int = 0
    undecryptable: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


class Rekeyer:
    def __init__(self, redis: RedisClient, vault: Vault, *, scan_count: int = 500) -> None:
        self._redis = redis
        self._vault = vault
        self._scan_count = scan_count
        self._swap_string = redis.register_script(_SWAP_STRING)
        self._swap_field = redis.register_script(_SWAP_HASH_FIELD)
        self._swap_member = redis.register_script(_SWAP_ZSET_MEMBER)

    async def run(self) -> RekeyReport:
        """One pass over every ``bl:*`` key; safe to repeat: values already under the newest
        key are left alone, so a second pass rewrites nothing."""
        report = RekeyReport()
        async for raw in self._redis.scan_iter(match=f"{keys.PREFIX}:*", count=self._scan_count):
            key = raw if isinstance(raw, bytes) else str(raw).encode()
            report.keys_scanned += 1
            kind = await self._redis.type(key)
            kind_name = kind.decode() if isinstance(kind, bytes) else str(kind)
            if kind_name == "string":
                await self._string(key, report)
            elif kind_name == "hash":
                await self._hash(key, report)
            elif kind_name == "zset":
                await self._zset(key, report)
        return report

    def _rotated(self, value: bytes, report: RekeyReport) -> bytes | None:
        if not value.startswith(FERNET_PREFIX):
            return None
        if self._vault.is_current(value):
            report.already_current += 1
            return None
        try:
            return self._vault.rotate(value)
        except VaultError:
            # Not ours to fix here: the value stays, the count tells the operator, and the
            # old key must not be dropped while it is above zero.
            report.undecryptable += 1
            return None

    def _count(self, report: RekeyReport, kind: str, swapped: object) -> None:
        if swapped:
            report.reencrypted += 1
            report.by_type[kind] = report.by_type.get(kind, 0) + 1
        else:
            report.changed_meanwhile += 1

    async def _string(self, key: bytes, report: RekeyReport) -> None:
        value = await self._redis.get(key)
        if not isinstance(value, bytes):
            return
        rotated = self._rotated(value, report)
        if rotated is not None:
            swapped = await self._swap_string(keys=[key], args=[value, rotated])
            self._count(report, "string", swapped)

    async def _hash(self, key: bytes, report: RekeyReport) -> None:
        async for name, value in self._redis.hscan_iter(key, count=self._scan_count):
            if not isinstance(value, bytes):
                continue
            rotated = self._rotated(value, report)
            if rotated is not None:
                swapped = await self._swap_field(keys=[key], args=[name, value, rotated])
                self._count(report, "hash", swapped)

    async def _zset(self, key: bytes, report: RekeyReport) -> None:
        async for member, _score in self._redis.zscan_iter(key, count=self._scan_count):
            if not isinstance(member, bytes):
                continue
            rotated = self._rotated(member, report)
            if rotated is not None:
                swapped = await self._swap_member(keys=[key], args=[member, rotated])
                self._count(report, "zset", swapped)
