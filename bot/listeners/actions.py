"""Buttons: a reset's Done / Snooze / Not now / Fewer like this / 👍 👎, Reflect, and Forget.

Each click updates the message in place and is recorded; a snooze is not a skip.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, texts
from bot.listeners.common import person_of, within_budget
from bot.models import SentNudge
from bot.nudge_dm import reschedule
from bot.planning import forget_plans
from bot.store import StoreUnavailableError, person_seed
from nudges.catalog import Practice
from nudges.insights import Outcome, OutcomeRecord
from nudges.planner import reflection_prompts

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

SNOOZE = timedelta(minutes=10)
# A reset's buttons and what each one records (a snooze is not a skip).
CLOSING_BUTTONS = {
    "reset_done": Outcome.DONE,
    "reset_not_now": Outcome.NOT_NOW,
    "reset_fewer": Outcome.FEWER,
    "reset_snooze": Outcome.SNOOZED,
}


def register(app: AsyncApp, services: Services) -> None:
    def closes_with(outcome: Outcome) -> Callable[..., Awaitable[None]]:
        async def close(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            await _close_reset(services, client, body, outcome)

        return close

    for action_id, outcome in CLOSING_BUTTONS.items():
        app.action(action_id)(closes_with(outcome))

    @app.action("reset_helped")
    async def helped(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await _rate(services, client, body, helped=True)

    @app.action("reset_unhelpful")
    async def unhelpful(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await _rate(services, client, body, helped=False)

    @app.action("reflect_open")
    async def reflect(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        week = _value(body)
        team, user = person_of(body)
        prompts = reflection_prompts(services.catalog, week=week, seed=person_seed(team, user))
        await client.views_open(
            trigger_id=body["trigger_id"], view=blocks.reflection_modal(prompts, week=week)
        )

    @app.action("forget_confirm")
    async def forget(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        team, user = person_of(body)
        try:
            count = await within_budget(services.store.forget(team, user))
            await within_budget(forget_plans(services, team, user))
        except (StoreUnavailableError, TimeoutError):
            await respond(replace_original=True, **blocks.storage_unavailable().to_dict())
            return
        await respond(replace_original=True, **blocks.forgotten(count).to_dict())

    @app.action("forget_cancel")
    async def keep(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        await respond(replace_original=True, **blocks.forget_cancelled().to_dict())


def _value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value", ""))


async def _sent_and_practice(
    services: Services, body: dict[str, Any]
) -> tuple[str, str, SentNudge | None, Practice | None]:
    team, user = person_of(body)
    sent = await services.store.sent(team, user, _value(body))
    practice = (
        None if sent is None or sent.practice is None else services.catalog.practice(sent.practice)
    )
    return team, user, sent, practice


async def _close_reset(
    services: Services, client: AsyncWebClient, body: dict[str, Any], outcome: Outcome
) -> None:
    try:
        team, user, sent, practice = await within_budget(_sent_and_practice(services, body))
        if sent is None or practice is None:
            logger.info("a reset button for an unknown or expired nudge")
            return
        profile = await within_budget(services.store.profile(team, user))
    except (StoreUnavailableError, TimeoutError):
        await _tell(client, body, blocks.storage_unavailable())
        return
    tz = profile.preferences.tz
    now = services.clock.now()
    snooze_until = now + SNOOZE if outcome is Outcome.SNOOZED else None
    if snooze_until is not None:
        # Scheduled before anything is recorded: a snooze Slack refused is no snooze, and the
        # reset keeps its buttons.
        try:
            await reschedule(client, sent, practice, at=snooze_until, tz=tz)
        except SlackApiError as exc:
            logger.warning("chat.scheduleMessage failed: %s", exc.response.get("error", "unknown"))
            await _tell(client, body, blocks.error_message(texts.SNOOZE_FAILED))
            return
    try:
        await within_budget(
            services.store.record_outcome(
                team,
                user,
                OutcomeRecord(key=sent.key, at=now, outcome=outcome, practice=practice.id),
            )
        )
        if outcome is Outcome.FEWER:
            await within_budget(services.store.ask_fewer(team, user, practice.theme))
    except (StoreUnavailableError, TimeoutError):
        await _tell(client, body, blocks.storage_unavailable())
        return
    if outcome is Outcome.DONE:
        message = blocks.reset_after_done(sent.nudge, practice)
    else:
        message = blocks.reset_closed(
            practice, outcome=outcome, helped=None, snooze_until=snooze_until, tz=tz
        )
    await client.chat_update(channel=sent.channel, ts=_message_ts(body, sent), **message.to_dict())


async def _rate(
    services: Services, client: AsyncWebClient, body: dict[str, Any], *, helped: bool
) -> None:
    try:
        team, user, sent, practice = await within_budget(_sent_and_practice(services, body))
        if sent is None or practice is None:
            return
        profile = await within_budget(services.store.profile(team, user))
        await within_budget(services.store.rate_practice(team, user, practice.id, helped=helped))
        await within_budget(
            services.store.record_outcome(
                team,
                user,
                OutcomeRecord(
                    key=sent.key,
                    at=services.clock.now(),
                    outcome=Outcome.DONE,
                    practice=practice.id,
                    helped=helped,
                ),
            )
        )
    except (StoreUnavailableError, TimeoutError):
        await _tell(client, body, blocks.storage_unavailable())
        return
    message = blocks.reset_closed(
        practice, outcome=Outcome.DONE, helped=helped, snooze_until=None, tz=profile.preferences.tz
    )
    await client.chat_update(channel=sent.channel, ts=_message_ts(body, sent), **message.to_dict())


def _message_ts(body: dict[str, Any], sent: SentNudge) -> str:
    """The clicked message: a snoozed reset comes back as a new message with the same key."""
    return str((body.get("message") or {}).get("ts") or sent.ts)


async def _tell(client: AsyncWebClient, body: dict[str, Any], message: blocks.Message) -> None:
    """An ephemeral note to the person who clicked, where they clicked."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    if not channel:
        return
    await client.chat_postEphemeral(channel=channel, user=person_of(body)[1], **message.to_dict())
