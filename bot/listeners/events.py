"""Events API plumbing: retries of one event are handled once (dedupe on ``event_id``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

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
