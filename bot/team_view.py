"""The team view and the window overlap: aggregates over a channel's members, each shown only
when enough people contribute and the group is not too close to one already shown.

The differencing guard (docs/architecture.md, "Privacy"): every figure remembers, per
workspace, the groups of people (hashed ids) it was shown for. A new group is answered only
if it equals one of them or differs from each by at least the minimum group size, so the
difference of any two answers is itself about a group that large. Check and record are one
optimistic transaction (WATCH), so two instances cannot both slip a close group through.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from redis.exceptions import WatchError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import keys
from bot.store import reachable
from nudges.team import (
    MIN_GROUP,
    WEEK,
    ChainShare,
    FeelAverage,
    MeetingLoad,
    ResetCounts,
    chain_share,
    far_enough,
    feel_average,
    meeting_load,
    reset_counts,
)
from nudges.windows import Overlap, RecoveryWindow, overlap

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

# conversations.members pages read at most (1,000 people a page).
MAX_MEMBER_PAGES = 20
# Groups remembered per figure and workspace; the oldest go first past this.
MAX_ANSWERED = 2000


@dataclass(frozen=True)
class TeamFigures:
    """Each figure, or None when it is "too few to show"."""

    members: int
    meetings: MeetingLoad | None
    chains: ChainShare | None
    resets: ResetCounts | None
    feel: FeelAverage | None
    held_back: bool  # some figure was withheld by the differencing guard


def min_group(services: Services) -> int:
    return max(MIN_GROUP, services.settings.team_min_group)


async def channel_members(client: AsyncWebClient, channel: str) -> set[str]:
    """Everyone in the channel (paged, bounded)."""
    members: set[str] = set()
    cursor: str | None = None
    for _ in range(MAX_MEMBER_PAGES):
        response = await client.conversations_members(channel=channel, limit=1000, cursor=cursor)
        members.update(str(m) for m in response.get("members") or [])
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            break
    return members


async def team_figures(services: Services, team: str, members: Iterable[str]) -> TeamFigures:
    store = services.store
    now = services.clock.now()
    people = sorted(set(members))
    k = min_group(services)
    async with reachable():
        connected = await asyncio.gather(*(store.calendar_url(team, u) for u in people))
        with_calendar = [u for u, url in zip(people, connected, strict=True) if url is not None]
        calendars = await asyncio.gather(*(store.busy(team, u) for u in with_calendar))
        outcomes = await asyncio.gather(
            *(store.outcomes(team, u, since=now - WEEK) for u in people)
        )
        feelings = await asyncio.gather(
            *(store.feelings(team, u, since=now - 2 * WEEK) for u in people)
        )
    gap = timedelta(minutes=services.settings.planning.chain_gap_minutes)
    held = False

    async def shown(figure: str, group: list[str]) -> bool:
        nonlocal held
        if len(group) < k:
            return False
        allowed = await guard(services, team, figure, group)
        held = held or not allowed
        return allowed

    resets = reset_counts(outcomes)
    reset_group = [u for u, rs in zip(people, outcomes, strict=True) if rs]
    feel = feel_average(feelings, now=now)
    feel_group = [
        u
        for u, entries in zip(people, feelings, strict=True)
        if feel_average([entries], now=now).people
    ]
    meetings_ok = await shown("meetings", with_calendar)
    return TeamFigures(
        members=len(people),
        meetings=meeting_load(calendars, now=now) if meetings_ok else None,
        chains=chain_share(calendars, now=now, chain_gap=gap) if meetings_ok else None,
        resets=resets if await shown("resets", reset_group) else None,
        feel=feel if await shown("feel", feel_group) else None,
        held_back=held,
    )


async def window_overlap(
    services: Services, team: str, window: RecoveryWindow, members: Iterable[str]
) -> Overlap | None:
    """How many members with a calendar have a meeting over the window in the next 7 days;
    None when too few have a calendar (or the group is too close to one already shown)."""
    store = services.store
    people = sorted(set(members))
    async with reachable():
        connected = await asyncio.gather(*(store.calendar_url(team, u) for u in people))
        with_calendar = [u for u, url in zip(people, connected, strict=True) if url is not None]
        if len(with_calendar) < min_group(services):
            return None
        if not await guard(services, team, "overlap", with_calendar):
            return None
        calendars = await asyncio.gather(*(store.busy(team, u) for u in with_calendar))
    return overlap(calendars, window, now=services.clock.now())


async def guard(services: Services, team: str, figure: str, group: Iterable[str]) -> bool:
    """May ``figure`` be shown for ``group``? Records the group when it may."""
    hashed = sorted({_hashed(team, u) for u in group})
    digest = hashlib.blake2b("\n".join(hashed).encode(), digest_size=12).hexdigest()
    key = keys.answered_groups(team, figure)
    redis = services.store.redis
    for _ in range(5):
        async with reachable(), redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                stored = await pipe.hgetall(key)
                if digest.encode() in stored:
                    return True
                seen = [frozenset(json.loads(v)) for v in stored.values()]
                # Forgetting a group would weaken the guard: past the cap, refuse new ones.
                if len(stored) >= MAX_ANSWERED or not far_enough(
                    frozenset(hashed), seen, k=min_group(services)
                ):
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
                pipe.hset(key, digest, json.dumps(hashed))
                pipe.expire(key, timedelta(days=services.settings.retention_days))
                await pipe.execute()
                return True
            except WatchError:
                continue
    return False


def _hashed(team: str, user: str) -> str:
    return hashlib.blake2b(f"{team}:{user}".encode(), digest_size=8).hexdigest()


async def members_or_none(client: AsyncWebClient, channel: str) -> set[str] | None:
    try:
        return await channel_members(client, channel)
    except SlackApiError as exc:
        logger.warning("conversations.members failed: %s", exc.response.get("error", "unknown"))
        return None
