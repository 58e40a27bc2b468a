"""Events API plumbing: retries of one event are handled once (dedupe on ``event_id``); a
workspace that removes Baseline (``app_uninstalled``, or its bot token revoked) is forgotten."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse

from bot.installations import forget_installers, forget_workspace
from bot.store import StoreUnavailableError

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    @app.middleware
    async def handle_each_event_once(
        body: dict[str, Any],
        next: Callable[[], Awaitable[None]],
    ) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id:
            try:
                first = await services.store.first_delivery(str(event_id))
            except StoreUnavailableError:
                # Better twice than never: without Redis the event is handled anyway.
                first = True
            if not first:
                logger.info("skipped a retried event delivery")
                return BoltResponse(status=200, body="")
        await next()
        return None

    async def forget(team: str, context: AsyncBoltContext) -> None:
        await forget_workspace(
            services,
            team,
            enterprise_id=context.enterprise_id,
            is_enterprise_install=bool(context.is_enterprise_install),
        )

    @app.event("app_uninstalled")
    async def uninstalled(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        team = _team(body, context)
        if team:
            await forget(team, context)

    @app.event("tokens_revoked")
    async def tokens_revoked(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        team = _team(body, context)
        event = body.get("event")
        tokens = event.get("tokens") if isinstance(event, dict) else None
        if not team or not isinstance(tokens, dict):
            return
        if tokens.get("bot"):
            # Without its bot token Baseline can do nothing there: as good as uninstalled.
            await forget(team, context)
            return
        users = tokens.get("oauth")
        if isinstance(users, list) and users:
            await forget_installers(
                services, team, [str(u) for u in users], enterprise_id=context.enterprise_id
            )


def _team(body: dict[str, Any], context: AsyncBoltContext) -> str | None:
    team = body.get("team_id") or context.team_id
    return str(team) if team else None
