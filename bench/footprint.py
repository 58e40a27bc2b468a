"""Redis memory for one person's history at the end of the retention period, for sizing.

Run with ``python -m bench.footprint`` (``--people N``, ``--days D``). A throwaway
``redis-server`` is filled through the real :class:`~bot.store.Store` (so values are the real
encrypted JSON), with what an active person leaves behind in ``--days`` days: one ``/feel``
log per working day (a third with a note), four reset outcomes and two 👍/👎 ratings per
working day, one weekly reflection, and two weeks of sent-nudge records (their TTL). The
figure printed is ``INFO used_memory`` after minus before, divided by the number of people,
plus ``MEMORY USAGE`` of each kind of key for one sample person.

Add this to the ~1.8 KB a person costs without history (``bench.sync``) to size a Redis.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from bot import keys
from bot.models import SentNudge
from bot.store import Store
from bot.vault import Vault
from nudges.feelings import FeelEntry
from nudges.insights import Outcome, OutcomeRecord
from nudges.planner import Nudge, NudgeKind
from tests.support.redis_server import RedisServer

TEAM = "T0BENCH"
END = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
OUTCOMES = (Outcome.DONE, Outcome.DONE, Outcome.NOT_NOW, Outcome.EXPIRED)
PRACTICES = ("long-exhale", "eye-rest", "shoulder-roll", "walk-outside")


def working_days(days: int) -> list[datetime]:
    start = END - timedelta(days=days - 1)
    every = (start + timedelta(days=n) for n in range(days))
    return [day for day in every if day.weekday() < 5]


async def fill_person(store: Store, user: str, days: int) -> None:
    workdays = working_days(days)
    for n, day in enumerate(workdays):
        note = "Back-to-back until three, no lunch." if n % 3 == 0 else None
        await store.log_feeling(
            TEAM, user, FeelEntry(at=day.replace(hour=15), score=1 + n % 5, note=note)
        )
        for slot, outcome in enumerate(OUTCOMES):
            at = day.replace(hour=9 + 2 * slot)
            record = OutcomeRecord(
                key=f"reset:{at:%Y%m%dT%H%M}",
                at=at,
                outcome=outcome,
                practice=PRACTICES[slot],
                helped=None if outcome is not Outcome.DONE else slot % 2 == 0,
            )
            await store.record_outcome(TEAM, user, record)
        for practice in PRACTICES[:2]:
            await store.rate_practice(TEAM, user, practice, helped=n % 4 != 0)
        if day.weekday() == 4:
            week = f"{day.isocalendar().year}-W{day.isocalendar().week:02d}"
            answers = {"weighed": "Too many status meetings.", "helped": "The walk on Tuesday."}
            await store.save_reflection(TEAM, user, week, answers)
    for day in workdays[-10:]:  # sent-nudge records live two weeks
        for slot in range(4):
            at = day.replace(hour=9 + 2 * slot)
            nudge = Nudge(
                kind=NudgeKind.RESET,
                at=at,
                expires_at=at + timedelta(minutes=10),
                practice=PRACTICES[slot],
                text="Three slow breaths before the next call.",
                key=f"reset:{at:%Y%m%dT%H%M}",
            )
            await store.remember_sent(
                TEAM,
                user,
                SentNudge(nudge=nudge, channel="D0BENCH", ts=f"{at.timestamp()}", sent_at=at),
            )


async def measure(people: int, days: int) -> None:
    with RedisServer() as server:
        redis = Redis(host=server.host, port=server.port)
        store = Store(redis, Vault([Vault.new_key()]), retention=timedelta(days=days))
        before = int((await redis.info("memory"))["used_memory"])
        for n in range(people):
            await fill_person(store, f"U{n:06d}", days)
        after = int((await redis.info("memory"))["used_memory"])
        sample = "U000000"
        usage = {
            "feel logs": keys.feelings(TEAM, sample),
            "outcomes": keys.outcomes(TEAM, sample),
            "ratings": keys.ratings(TEAM, sample),
            "reflections": keys.reflections(TEAM, sample),
            "sent nudges": keys.sent_nudges(TEAM, sample),
        }
        print(
            f"History of {people} people over {days} days ({len(working_days(days))} working days)"
        )
        print(f"  per person          {(after - before) / people:10,.0f} B   (INFO used_memory)")
        for name, key in usage.items():
            size = await redis.memory_usage(key) or 0
            count = await _count(redis, key)
            print(f"  {name:<18}  {size:10,} B   ({count} entries, MEMORY USAGE)")
        await redis.aclose()


async def _count(redis: Redis, key: str) -> int:
    raw = await redis.type(key)
    kind = raw.decode() if isinstance(raw, bytes) else raw
    if kind == "zset":
        return int(await redis.zcard(key))
    if kind == "hash":
        return int(await redis.hlen(key))
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--days", type=int, default=180, help="the retention period")
    args = parser.parse_args()
    asyncio.run(measure(args.people, args.days))


if __name__ == "__main__":
    main()
