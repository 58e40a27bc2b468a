"""Small pieces every listener kind shares: who is asking, their profile and zone, their DM."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.models import Profile
from bot.planning import replan_quietly
from nudges.preferences import Preferences

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Every reply must land inside Slack's 3-second window even when Redis hangs: the whole
# store round trip of one request gets this long before the person is told.
REPLY_BUDGET_SECONDS = 2.5
# A reply carried in the ack itself must leave room for the network inside Slack's 3 s.
ACK_BUDGET_SECONDS = 2.0


def person_of(body: dict[str, Any]) -> tuple[str, str]:
    """(team id, user id) from a command, action, view or event payload."""
    team = (
        body.get("team_id")
        or (body.get("team") or {}).get("id")
        or body.get("user", {}).get("team_id", "")
    )
    user = (
        body.get("user_id")
        or (body.get("user") or {}).get("id")
        or body.get("event", {}).get("user", "")
    )
    return str(team), str(user)


async def profile_with_zone(
    services: Services, client: AsyncWebClient, team: str, user: str, *, refresh: bool = False
) -> Profile:
    """The person's profile; the first time (or with ``refresh``), their zone is read from
    Slack and kept. Home refreshes it, so someone who travels is followed there."""
    profile = await services.store.profile(team, user)
    if profile.tz_from_slack and not refresh:
        return profile
    zone = await slack_zone(client, user)
    if zone is None or (profile.tz_from_slack and zone == profile.preferences.tz):
        return profile
    updated = profile.model_copy(
        update={
            "preferences": profile.preferences.model_copy(update={"tz": zone}),
            "tz_from_slack": True,
        }
    )
    await services.store.save_profile(team, user, updated)
    # Local hours moved with the zone: so does everything queued.
    await replan_quietly(services, team, user)
    return updated


async def slack_zone(client: AsyncWebClient, user: str) -> ZoneInfo | None:
    """The IANA zone Slack has for the person (not tz_offset, which is a DST snapshot)."""
    try:
        response = await client.users_info(user=user)
    except SlackApiError as exc:
        logger.warning("users.info failed: %s", exc.response.get("error", "unknown"))
        return None
    name = (response.get("user") or {}).get("tz")
    if not name:
        return None
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("Slack gave an unknown time zone; keeping the previous one")
        return None


async def dm_channel(services: Services, client: AsyncWebClient, team: str, user: str) -> str:
    """The person's DM channel id, cached (conversations.open is Tier 3)."""
    cached = await services.store.dm_channel(team, user)
    if cached:
        return cached
    response = await client.conversations_open(users=user)
    channel = str(response["channel"]["id"])
    await services.store.remember_dm_channel(team, user, channel)
    return channel


def zone_of(profile: Profile) -> ZoneInfo:
    return profile.preferences.tz


def with_preferences(profile: Profile, **changes: Any) -> Profile:
    preferences = Preferences.model_validate({**profile.preferences.model_dump(), **changes})
    return profile.model_copy(update={"preferences": preferences})


async def within_budget(work: Awaitable[T], *, seconds: float = REPLY_BUDGET_SECONDS) -> T:
    """Run a store round trip, giving up after the reply budget (raises TimeoutError)."""
    async with asyncio.timeout(seconds):
        return await work
