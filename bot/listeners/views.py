"""Modal submissions: the /feel form and the weekly reflection."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, texts
from bot.blocks import MAX_ANSWER
from bot.listeners.commands import offer_support, record_feeling
from bot.listeners.common import dm_channel, person_of, within_budget
from bot.store import StoreUnavailableError
from nudges.feelings import MAX_NOTE, Weighed

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    @app.view("feel_modal")
    async def feel_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        values = _values(body)
        score_text = values.get("score") or ""
        note = values.get("note")
        errors: dict[str, str] = {}
        if not score_text.isdigit() or not 1 <= int(score_text) <= 5:
            errors["score"] = texts.FEEL_PICK_SCORE
        if note is not None and len(note) > MAX_NOTE:
            errors["note"] = texts.note_too_long(MAX_NOTE)
        weighed_text = values.get("weighed")
        if weighed_text is not None and weighed_text not in Weighed.__members__.values():
            errors["weighed"] = texts.FEEL_PICK_WEIGHED
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        team, user = person_of(body)
        offer = False
        try:
            logged = await within_budget(
                record_feeling(
                    services,
                    team,
                    user,
                    score=int(score_text),
                    note=note,
                    weighed=None if weighed_text is None else Weighed(weighed_text),
                )
            )
            message, offer = logged.reply, logged.offer_support
        except (StoreUnavailableError, TimeoutError):
            message = blocks.storage_unavailable()
        channel = await _dm(services, client, team, user)
        await client.chat_postMessage(channel=channel, **message.to_dict())
        if offer:
            await offer_support(services, client, team, user)

    @app.view("reflection_modal")
    async def reflection_submitted(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        values = _values(body)
        too_long = {
            k: texts.note_too_long(MAX_ANSWER)
            for k, v in values.items()
            if v and len(v) > MAX_ANSWER
        }
        if too_long:
            await ack(response_action="errors", errors=too_long)
            return
        await ack()
        team, user = person_of(body)
        week = str(body.get("view", {}).get("private_metadata", ""))[:16]
        answers = {k: v for k, v in values.items() if v}
        try:
            await within_budget(services.store.save_reflection(team, user, week, answers))
            message = blocks.reflection_saved()
        except (StoreUnavailableError, TimeoutError):
            message = blocks.storage_unavailable()
        channel = await _dm(services, client, team, user)
        await client.chat_postMessage(channel=channel, **message.to_dict())


def _values(body: dict[str, Any]) -> dict[str, str | None]:
    """block_id → the submitted value (text, or a selected option's value)."""
    out: dict[str, str | None] = {}
    state = body.get("view", {}).get("state", {}).get("values", {})
    for block_id, actions in state.items():
        for element in actions.values():
            selected = element.get("selected_option")
            if selected is not None:
                out[block_id] = str(selected.get("value"))
            elif element.get("value") is not None:
                out[block_id] = str(element["value"])
            else:
                out.setdefault(block_id, None)
    return out


async def _dm(services: Services, client: AsyncWebClient, team: str, user: str) -> str:
    try:
        return await within_budget(dm_channel(services, client, team, user))
    except (StoreUnavailableError, TimeoutError):
        logger.warning("could not reach Redis for the DM channel; opening it without the cache")
        response = await client.conversations_open(users=user)
        return str(response["channel"]["id"])
