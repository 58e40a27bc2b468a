"""Who may set a channel's recovery windows and see its team view: workspace admins and
owners, the channel's creator, and the people ``BASELINE_WINDOW_LEADS`` names (user ids and
/or a user group handle, whose members are read from Slack and cached for a few minutes)."""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import keys

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

GROUP_CACHE_SECONDS = 300
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")


def named_leads(setting: str) -> tuple[frozenset[str], frozenset[str]]:
    """``"U1, U2, @team-leads"`` → ({user ids}, {group handles})."""
    ids, handles = set(), set()
    for word in (w.strip() for w in setting.split(",")):
        if not word:
            continue
        if _USER_ID.fullmatch(word):
            ids.add(word)
        else:
            handles.add(word.removeprefix("@").lower())
    return frozenset(ids), frozenset(handles)


async def is_lead(
    services: Services, client: AsyncWebClient, team: str, user: str, *, channel: str
) -> bool:
    ids, handles = named_leads(services.settings.window_leads)
    if user in ids:
        return True
    if await _is_admin(client, user) or await _created(client, user, channel):
        return True
    for handle in sorted(handles):
        if user in await _group_members(services, client, team, handle):
            return True
    return False


async def _is_admin(client: AsyncWebClient, user: str) -> bool:
    try:
        response = await client.users_info(user=user)
    except SlackApiError as exc:
        logger.warning("users.info failed: %s", exc.response.get("error", "unknown"))
        return False
    info = response.get("user") or {}
    return any(bool(info.get(flag)) for flag in ("is_admin", "is_owner", "is_primary_owner"))


async def _created(client: AsyncWebClient, user: str, channel: str) -> bool:
    try:
        response = await client.conversations_info(channel=channel)
    except SlackApiError as exc:
        logger.warning("conversations.info failed: %s", exc.response.get("error", "unknown"))
        return False
    return (response.get("channel") or {}).get("creator") == user


async def _group_members(
    services: Services, client: AsyncWebClient, team: str, handle: str
) -> frozenset[str]:
    redis = services.store.redis
    cached = await redis.get(keys.lead_group(team, handle))
    if cached is not None:
        return frozenset(json.loads(cached))
    members: list[str] = []
    try:
        groups = await client.usergroups_list()
        found = [g for g in groups.get("usergroups") or [] if g.get("handle") == handle]
        if found:
            listed = await client.usergroups_users_list(usergroup=str(found[0]["id"]))
            members = [str(u) for u in listed.get("users") or []]
    except SlackApiError as exc:
        # Not cached: the next command asks again.
        logger.warning("user group lookup failed: %s", exc.response.get("error", "unknown"))
        return frozenset()
    await redis.set(keys.lead_group(team, handle), json.dumps(members), ex=GROUP_CACHE_SECONDS)
    return frozenset(members)
