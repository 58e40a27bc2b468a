"""Sending a planned nudge to the person as a DM, and re-sending a snoozed reset."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks
from bot.listeners.common import dm_channel
from bot.models import SentNudge
from bot.week import week_summary
from nudges.catalog import Practice
from nudges.planner import Nudge, NudgeKind

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)


async def send_nudge(
    services: Services, client: AsyncWebClient, team: str, user: str, nudge: Nudge
) -> SentNudge:
    """Post ``nudge`` to the person's DM and remember it (for its buttons)."""
    profile = await services.store.profile(team, user)
    message = _render(services, team, user, nudge, profile.preferences.tz)
    return await _post_and_remember(
        services, client, team=team, user=user, nudge=nudge, message=message
    )


async def _post_and_remember(
    services: Services,
    client: AsyncWebClient,
    *,
    team: str,
    user: str,
    nudge: Nudge,
    message: blocks.Message,
) -> SentNudge:
    """One chat.postMessage to the person's DM; remembered so its buttons find it."""
    channel = await dm_channel(services, client, team, user)
    response = await client.chat_postMessage(channel=channel, **message.to_dict())
    sent = SentNudge(
        nudge=nudge,
        channel=str(response["channel"]),
        ts=str(response["ts"]),
        sent_at=services.clock.now(),
    )
    await services.store.remember_sent(team, user, sent)
    return sent


def _render(services: Services, team: str, user: str, nudge: Nudge, tz: ZoneInfo) -> blocks.Message:
    if nudge.kind is NudgeKind.RESET:
        practice = services.catalog.practice(nudge.practice or "")
        if practice is None:
            raise ValueError(f"practice {nudge.practice!r} is not in the catalog")
        return blocks.reset_dm(nudge, practice, tz=tz)
    if nudge.kind is NudgeKind.HEAVY_DAY:
        return blocks.heavy_day_dm(nudge)
    raise ValueError("reflections are sent with send_reflection (they need the week's summary)")


async def reschedule(
    client: AsyncWebClient, sent: SentNudge, practice: Practice, *, at: datetime, tz: ZoneInfo
) -> None:
    """Snooze: Slack posts the same reset again at ``at`` (chat.scheduleMessage).

    The copy stays useful for as long as the original was from its send time, so it never
    arrives already "useful until" the minute it lands.
    """
    window = max(sent.nudge.expires_at - sent.nudge.at, timedelta(0))
    expires_at = max(sent.nudge.expires_at, at + window)
    again = sent.nudge.model_copy(update={"at": at, "expires_at": expires_at})
    message = blocks.reset_dm(again, practice, tz=tz)
    await client.chat_scheduleMessage(
        channel=sent.channel, post_at=int(at.timestamp()), **message.to_dict()
    )


async def send_reflection(
    services: Services, client: AsyncWebClient, team: str, user: str, nudge: Nudge
) -> SentNudge:
    """The weekly reflection DM: the week from the person's own data, and three prompts."""
    profile = await services.store.profile(team, user)
    tz = profile.preferences.tz
    summary = await week_summary(services, team, user, profile=profile, now=services.clock.now())
    # In the nudge's order: the modal behind "Reflect" asks them in that order too.
    by_id = {p.id: p for p in services.catalog.prompts}
    prompts = [by_id[i] for i in nudge.prompts if i in by_id]
    message = blocks.reflection_dm(nudge, summary, prompts, tz=tz)
    return await _post_and_remember(
        services, client, team=team, user=user, nudge=nudge, message=message
    )
