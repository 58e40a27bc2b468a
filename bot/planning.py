"""Re-planning a person's next 24 hours into the due queue.

Every change that can move a nudge re-plans: a calendar sync that changed busy time, a
preference change, opting in or out, a recovery window, and the start of each local day. A
re-plan *replaces* the person's pending nudges (``DueQueue.replace``): a moved meeting moves
its reset (new key), a cancelled one drops it, and a nudge already sent is never queued
again (its key is in the idempotency record).

The day-start re-plans are a sorted set per shard (member ``<team>:<user>``, score the next
local midnight); any instance claims due members with a lease (``run_day_starts``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from bot import keys
from bot.schedule import Schedule
from bot.store import TRANSIENT_ERRORS
from bot.windows import WindowStore
from nudges.clock import local_instant
from nudges.planner import Nudge, plan_day
from nudges.windows import blocked_spans

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

HORIZON = timedelta(hours=24)
# A claimed day start that is not finished by then (the instance died) is claimed again.
DAY_START_LEASE = timedelta(minutes=2)
# Just after midnight, so the new day's plan sees the new date everywhere.
DAY_START_OFFSET = timedelta(minutes=1)


async def replan(services: Services, team: str, user: str, *, now: datetime | None = None) -> int:
    """Plan the person's next 24 h and make it their pending nudges; returns how many.

    Nobody is planned for until they opt in; opting out (or never having opted in) clears
    whatever was pending and the day-start schedule.
    """
    now = now or services.clock.now()
    store, queue = services.store, services.queue
    profile = await store.profile(team, user)
    schedule = keys.day_starts(queue.shard_of(team, user))
    member = f"{team}:{user}"
    if not profile.opted_in:
        await store.redis.zrem(schedule, member)
        await queue.clear(team, user)
        return 0
    busy = await store.busy(team, user)
    history = await store.practice_history(team, user)
    preferences = profile.preferences
    tz = preferences.tz
    today = now.astimezone(tz).date()
    # The team recovery windows of the person's channels get no resets.
    windows = await WindowStore(store.redis, shards=queue.shards).person_windows(team, user)
    blocked = blocked_spans(windows, now - 2 * HORIZON, now + 3 * HORIZON)
    nudges: dict[str, Nudge] = {}
    # Yesterday too: a shift that starts before midnight belongs to the day it starts on.
    for offset in (-1, 0, 1):
        day = today + timedelta(days=offset)
        plan = plan_day(
            day,
            busy,
            preferences=preferences,
            policy=services.settings.planning,
            catalog=services.catalog,
            now=now,
            history=history,
            blocked=blocked,
        )
        for nudge in plan.nudges:
            if nudge.at < now + HORIZON and nudge.expires_at > now:
                nudges.setdefault(nudge.key, nudge)
    pending = await queue.replace(team, user, sorted(nudges.values(), key=lambda n: n.at), now=now)
    next_day = local_instant(today + timedelta(days=1), time(0, 0), tz) + DAY_START_OFFSET
    await store.redis.zadd(schedule, {member: next_day.timestamp()})
    return pending


async def replan_quietly(services: Services, team: str, user: str) -> None:
    """Re-plan after a change the person already got an answer for: a failure is logged,
    never shown (the next day start or sync plans again)."""
    try:
        await replan(services, team, user)
    except TRANSIENT_ERRORS as exc:
        logger.warning("re-plan after a change failed: %s", type(exc).__name__)


async def forget_plans(services: Services, team: str, user: str) -> None:
    """The person asked to be forgotten: nothing pending, no schedule, no send records."""
    queue = services.queue
    await queue.clear(team, user, forget=True)
    member, shard = f"{team}:{user}", queue.shard_of(team, user)
    await services.store.redis.zrem(keys.day_starts(shard), member)
    await services.store.redis.zrem(keys.sync_schedule(shard), member)
    await WindowStore(services.store.redis, shards=queue.shards).forget_person(team, user)


async def run_day_starts(services: Services, *, now: datetime, limit: int = 200) -> int:
    """Re-plan everyone whose local day has begun since their last plan; returns how many."""
    schedule = Schedule(services.store.redis)
    lease_until = repr((now + DAY_START_LEASE).timestamp())
    done = 0
    for shard in range(services.queue.shards):
        members = await schedule.claim_due(
            keys.day_starts(shard), now=now.timestamp(), limit=limit, lease_until=lease_until
        )
        people = [_person(m) for m in members]
        await _replan_all(services, people, now=now)
        done += len(people)
    return done


async def _replan_all(
    services: Services, people: Sequence[tuple[str, str]], *, now: datetime
) -> None:
    results = await asyncio.gather(
        *(replan(services, team, user, now=now) for team, user in people),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            logger.warning("day-start re-plan failed: %s", type(result).__name__)


def _person(member: bytes | str) -> tuple[str, str]:
    text = member.decode() if isinstance(member, bytes) else member
    team, _, user = text.partition(":")
    return team, user
