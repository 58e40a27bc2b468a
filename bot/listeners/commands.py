"""``/feel`` and ``/baseline``: ack at once, then answer through the response URL."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, texts
from bot.commands import (
    CommandError,
    Help,
    Later,
    Pause,
    PrivacyView,
    SetCalendar,
    SetHours,
    SetQuiet,
    SetReflection,
    Simple,
    TeamView,
    WindowAdd,
    WindowDm,
    WindowList,
    WindowRemove,
    mask_url,
    parse_baseline,
    parse_feel,
)
from bot.listeners.common import (
    ACK_BUDGET_SECONDS,
    REPLY_BUDGET_SECONDS,
    dm_channel,
    person_of,
    profile_with_zone,
    with_preferences,
    within_budget,
    zone_of,
)
from bot.listeners.team import run_team_command
from bot.models import Profile
from bot.planning import replan_quietly
from bot.store import StoreUnavailableError
from bot.sync import CalendarSync
from bot.week import week_report
from nudges.feelings import FeelEntry, Weighed, feel_trend, needs_support

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    # Its DMs and lookups outside a request use the workspace's own client (many
    # workspaces: app.client has no token); a request hands over its own.
    sync = CalendarSync(services, services.slack)

    @app.command("/feel")
    async def feel(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        # /feel answers inside the ack itself (Slack shows it to the person only): the log
        # is one Redis round trip, bounded by ACK_BUDGET_SECONDS, and answering in the ack
        # saves the extra HTTP call to the response URL (docs/architecture.md, "Decisions").
        try:
            log = parse_feel(body.get("text", ""))
        except CommandError as exc:
            await ack(**blocks.feel_usage(str(exc)).to_dict())
            return
        if log is None:
            await ack()
            # The trigger id is only good for 3 seconds: the modal opens before anything else.
            await client.views_open(trigger_id=body["trigger_id"], view=blocks.feel_modal())
            return
        team, user = person_of(body)
        try:
            logged = await within_budget(
                record_feeling(services, team, user, score=log.score, note=log.note),
                seconds=ACK_BUDGET_SECONDS,
            )
        except (StoreUnavailableError, TimeoutError):
            await ack(**blocks.storage_unavailable().to_dict())
            return
        await ack(**logged.reply.to_dict())
        if logged.offer_support:
            await offer_support(services, client, team, user)

    @app.command("/baseline")
    async def baseline(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        team, user = person_of(body)
        text = body.get("text", "")
        try:
            message = await within_budget(
                run_baseline(
                    services, client, team, user, text, sync=sync, channel=body.get("channel_id")
                ),
                # Reading a new calendar takes up to the fetch timeout; the ack is sent and
                # the answer goes to the response URL, so it may take that long.
                seconds=_budget(text, sync, now=services.clock.now()),
            )
        except CommandError as exc:
            message = blocks.error_message(str(exc))
        except (StoreUnavailableError, TimeoutError):
            message = blocks.storage_unavailable()
        except SlackApiError as exc:
            # conversations.open or a file upload refused (rate limit, Slack down): say so,
            # rather than leave the person with no answer at all.
            logger.warning("/baseline: Slack refused a call: %s", exc.response.get("error"))
            message = blocks.error_message(texts.SLACK_UNAVAILABLE)
        await respond(**message.to_dict())


@dataclass(frozen=True)
class FeelingLogged:
    reply: blocks.Message
    offer_support: bool  # the third low log in a row: send the support DM (after replying)


async def record_feeling(
    services: Services,
    team: str,
    user: str,
    *,
    score: int,
    note: str | None,
    weighed: Weighed | None = None,
) -> FeelingLogged:
    """Save one feel log; the reply carries the person's own small trend.

    Three logs in a row at 1–2 bring a private DM with the organisation's support resources,
    once per low streak; nobody else is told.
    """
    now = services.clock.now()
    entry = FeelEntry(at=now, score=score, note=note, weighed=weighed)
    # One round trip: log, then read back the two weeks the trend needs and the last three.
    recent, latest = await services.store.log_feeling_and_recent(
        team, user, entry, since=now - timedelta(days=14), end_low_streak=score > 2
    )
    offer = needs_support(latest) and await services.store.offer_support_once(team, user)
    return FeelingLogged(
        reply=blocks.feel_saved(entry, feel_trend(recent, now=now)), offer_support=offer
    )


async def offer_support(services: Services, client: AsyncWebClient, team: str, user: str) -> None:
    """Send the support DM; if Slack refuses, forget that it was offered so the next low log
    tries again (the person's log is saved and answered either way)."""
    try:
        channel = await dm_channel(services, client, team, user)
        await client.chat_postMessage(
            channel=channel,
            unfurl_links=False,
            **blocks.support_dm(services.settings.support_url).to_dict(),
        )
    except SlackApiError as exc:
        logger.warning("support DM not sent: %s", exc.response.get("error", "unknown"))
        await services.store.clear_support(team, user)


async def run_baseline(
    services: Services,
    client: AsyncWebClient,
    team: str,
    user: str,
    text: str,
    *,
    sync: CalendarSync | None = None,
    channel: str | None = None,
) -> blocks.Message:
    store = services.store
    now = services.clock.now()
    answer = _answer_without_store(text, now=now)
    if answer is not None:
        return answer
    profile = await profile_with_zone(services, client, team, user)
    # Parsed again in the person's zone: a pause's end depends on it. Help and "not yet"
    # were answered above.
    command = parse_baseline(text, tz=zone_of(profile), now=now)
    match command:
        case SetCalendar(url=None):
            sync = sync or CalendarSync(services, client)
            removed = await sync.disconnect(team, user, now=now)
            return blocks.confirmation(texts.CALENDAR_REMOVED if removed else texts.NO_CALENDAR)
        case SetCalendar(url=str(url)):
            sync = sync or CalendarSync(services, client)
            return await sync.connect(team, user, url, now=now, profile=profile, client=client)
        case SetHours(hours=hours, days=days):
            changes: dict[str, Any] = {"working_hours": hours}
            if days is not None:
                changes["working_days"] = days
            await _save(services, team, user, with_preferences(profile, **changes))
            return blocks.confirmation(
                texts.hours_set(str(hours), None if days is None else str(days))
            )
        case SetQuiet(quiet=quiet):
            await _save(services, team, user, with_preferences(profile, quiet_hours=quiet))
            return blocks.confirmation(texts.quiet_set(None if quiet is None else str(quiet)))
        case Pause(until=until):
            await _save(services, team, user, with_preferences(profile, paused_until=until))
            return blocks.confirmation(texts.paused(until, zone_of(profile)))
        case SetReflection(reflection=reflection):
            await _save(services, team, user, with_preferences(profile, reflection=reflection))
            return blocks.confirmation(texts.reflection_set(reflection))
        case Simple(name="on"):
            await _save(services, team, user, profile.model_copy(update={"opted_in": True}))
            # A calendar connected before opting in is read now, not at its next slot.
            await (sync or CalendarSync(services, client)).wake(team, user, now=now)
            return blocks.confirmation(texts.TURNED_ON)
        case Simple(name="off"):
            await _save(services, team, user, profile.model_copy(update={"opted_in": False}))
            return blocks.confirmation(texts.TURNED_OFF)
        case Simple(name="resume"):
            await _save(services, team, user, with_preferences(profile, paused_until=None))
            return blocks.confirmation(texts.RESUMED)
        case Simple(name="status"):
            calendar = await store.calendar_url(team, user)
            return blocks.status_message(
                profile,
                calendar=None if calendar is None else mask_url(calendar),
                paused_until=profile.preferences.paused_until,
                now=now,
            )
        case Simple(name="forget"):
            return blocks.forget_confirm()
        case Simple(name="export"):
            # The DM channel first, so the export lists it too (it is kept from now on).
            channel = await dm_channel(services, client, team, user)
            data = await store.export(team, user)
            await client.files_upload_v2(
                channel=channel,
                filename="baseline-export.json",
                content=json.dumps(data, ensure_ascii=False, indent=2),
                title=texts.EXPORT_TITLE,
                initial_comment=texts.EXPORT_COMMENT,
            )
            return blocks.confirmation(texts.EXPORT_SENT)
        case Simple(name="week"):
            return await week_report(services, client, team, user, profile=profile)
        case WindowAdd() | WindowList() | WindowRemove() | WindowDm() | TeamView() | PrivacyView():
            return await run_team_command(
                services, client, team, user, command, channel=channel, profile=profile
            )
    raise CommandError(texts.UNKNOWN_COMMAND)


def _budget(text: str, sync: CalendarSync, *, now: datetime) -> float:
    """How long a /baseline answer may take: connecting a calendar reads it first."""
    try:
        command = parse_baseline(text, tz=ZoneInfo("UTC"), now=now)
    except CommandError:
        return REPLY_BUDGET_SECONDS
    match command:
        case SetCalendar(url=str()):
            return sync.connect_budget_seconds
    return REPLY_BUDGET_SECONDS


def _answer_without_store(text: str, *, now: datetime) -> blocks.Message | None:
    """Help and "not yet" need nothing stored, so they answer even while Redis is away."""
    try:
        command = parse_baseline(text, tz=ZoneInfo("UTC"), now=now)
    except CommandError:
        return None
    match command:
        case Help(suggestion=suggestion):
            return blocks.help_message(suggestion)
        case Later(name=name):
            return blocks.error_message(texts.not_yet(name))
    return None


async def _save(services: Services, team: str, user: str, profile: Profile) -> None:
    await services.store.save_profile(team, user, profile)
    # Hours, quiet time, a pause or opting in/out can move or cancel what is queued.
    await replan_quietly(services, team, user)
