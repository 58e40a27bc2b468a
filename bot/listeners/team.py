"""Team features: ``/baseline window …``, ``/baseline team``, ``/baseline privacy`` (called
from :mod:`bot.listeners.commands`), and the channel events that keep windows honest
(archived channel or bot removed → windows gone; members joining and leaving)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, texts
from bot.commands import (
    CommandError,
    PrivacyView,
    TeamView,
    WindowAdd,
    WindowCommand,
    WindowDm,
    WindowList,
    WindowRemove,
)
from bot.leads import is_lead
from bot.listeners.common import with_preferences, zone_of
from bot.models import Profile
from bot.planning import replan_quietly
from bot.store import reachable
from bot.team_view import channel_members, min_group, team_figures, window_overlap
from bot.windows import MAX_WINDOWS, WindowStore, new_window_id
from nudges.windows import RecoveryWindow

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

# Re-plans after a window change run in the background, this many at a time.
REPLAN_CONCURRENCY = 16
_background: set[asyncio.Task[None]] = set()


def window_store(services: Services) -> WindowStore:
    return WindowStore(services.store.redis, shards=services.settings.queue_shards)


async def run_team_command(
    services: Services,
    client: AsyncWebClient,
    team: str,
    user: str,
    command: WindowCommand | TeamView | PrivacyView,
    *,
    channel: str | None,
    profile: Profile,
) -> blocks.Message:
    in_channel = channel is not None and channel[:1] in ("C", "G")
    match command:
        case WindowDm(on=on):
            updated = with_preferences(profile, window_start_dm=on)
            await services.store.save_profile(team, user, updated)
            return blocks.confirmation(texts.window_dm_set(on))
        case PrivacyView():
            if channel is None or not in_channel:
                return blocks.privacy_message(None, minimum=min_group(services))
            members = await _members(client, channel)
            figures = await team_figures(services, team, members)
            return blocks.privacy_message(figures, minimum=min_group(services))
    if channel is None or not in_channel:
        return blocks.error_message(
            texts.TEAM_IN_DM if isinstance(command, TeamView) else texts.WINDOW_IN_DM
        )
    store = window_store(services)
    match command:
        case WindowList():
            async with reachable():
                windows = await store.windows(team, channel)
            return blocks.window_list(windows, tz=zone_of(profile), now=services.clock.now())
    if not await is_lead(services, client, team, user, channel=channel):
        return blocks.error_message(texts.NOT_A_LEAD)
    match command:
        case TeamView():
            members = await _members(client, channel)
            figures = await team_figures(services, team, members)
            return blocks.team_view(figures, minimum=min_group(services))
        case WindowAdd():
            return await _add(
                services, client, team, user, channel=channel, profile=profile, command=command
            )
        case WindowRemove(number=number):
            async with reachable():
                windows = await store.windows(team, channel)
                if not 1 <= number <= len(windows):
                    return blocks.error_message(texts.window_not_found(number))
                window = windows[number - 1]
                members = await store.members(team, channel)
                await store.remove(team, channel, window.id)
            replan_in_background(services, team, members)
            return blocks.confirmation(texts.window_removed(window))
    raise CommandError(texts.UNKNOWN_COMMAND)


async def _add(
    services: Services,
    client: AsyncWebClient,
    team: str,
    user: str,
    *,
    channel: str,
    profile: Profile,
    command: WindowAdd,
) -> blocks.Message:
    store = window_store(services)
    now = services.clock.now()
    async with reachable():
        if len(await store.windows(team, channel)) >= MAX_WINDOWS:
            return blocks.error_message(texts.WINDOW_TOO_MANY)
    members = await _members(client, channel)
    window = RecoveryWindow(
        id=new_window_id(now),
        channel=channel,
        days=command.days,
        hours=command.hours,
        tz=zone_of(profile),
        lead=user,
        name=command.name,
    )
    async with reachable():
        await store.add(team, window, now=now)
        await store.set_members(team, channel, members)
    report = await window_overlap(services, team, window, members)
    replan_in_background(services, team, members)
    return blocks.window_added(window, texts.window_overlap(report, minimum=min_group(services)))


async def _members(client: AsyncWebClient, channel: str) -> set[str]:
    try:
        return await channel_members(client, channel)
    except SlackApiError as exc:
        logger.warning("conversations.members failed: %s", exc.response.get("error", "unknown"))
        raise CommandError(texts.WINDOW_CHANNEL_UNREADABLE) from exc


def replan_in_background(services: Services, team: str, people: set[str]) -> None:
    """Re-plan everyone a window change touches, after the reply (a channel may be big)."""
    if not people:
        return
    task = asyncio.create_task(replan_opted_in(services, team, people))
    _background.add(task)
    task.add_done_callback(_background.discard)


async def replan_opted_in(services: Services, team: str, people: set[str]) -> None:
    slots = asyncio.Semaphore(REPLAN_CONCURRENCY)

    async def one(user: str) -> None:
        async with slots:
            try:
                profile = await services.store.profile(team, user)
            except (OSError, TimeoutError, RuntimeError) as exc:
                logger.warning("re-plan after a window change failed: %s", type(exc).__name__)
                return
            if profile.opted_in:
                await replan_quietly(services, team, user)

    await asyncio.gather(*(one(u) for u in sorted(people)))


async def settle() -> None:
    """Wait for background re-plans (tests, shutdown)."""
    while _background:
        await asyncio.gather(*list(_background), return_exceptions=True)


def register(app: AsyncApp, services: Services) -> None:
    store = window_store(services)

    async def channel_gone(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        event = body.get("event") or {}
        team, channel = str(body.get("team_id", "")), str(event.get("channel", ""))
        members = await store.drop_channel(team, channel)
        replan_in_background(services, team, members)

    app.event("channel_archive")(channel_gone)
    app.event("group_archive")(channel_gone)

    @app.event("member_left_channel")
    async def member_left(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        event = body.get("event") or {}
        team = str(event.get("team") or body.get("team_id", ""))
        channel, user = str(event.get("channel", "")), str(event.get("user", ""))
        if user and user == context.bot_user_id:
            # The bot was removed: it can no longer announce there, so the windows go.
            members = await store.drop_channel(team, channel)
            replan_in_background(services, team, members)
        elif await store.left(team, channel, user):
            replan_in_background(services, team, {user})

    @app.event("member_joined_channel")
    async def member_joined(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        event = body.get("event") or {}
        team = str(event.get("team") or body.get("team_id", ""))
        channel, user = str(event.get("channel", "")), str(event.get("user", ""))
        if user and await store.joined(team, channel, user):
            replan_in_background(services, team, {user})
