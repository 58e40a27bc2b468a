"""The background work of one instance: delivery, day-start planning and calendar sync.

Every instance may run it (``BASELINE_WORKER``, on by default); they share the work through
Redis (leased claims), so adding instances adds throughput and a crashed one's work is taken
over after its leases run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import Deliverer
from bot.planning import run_day_starts
from bot.ratelimit import WorkspaceRate
from bot.store import StoreUnavailableError

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

# How often the slower loops look for due work.
DAY_START_SECONDS = 30.0


class Worker:
    def __init__(self, services: Services, client: AsyncWebClient) -> None:
        settings = services.settings
        self.services = services
        self.client = client
        self.rate = WorkspaceRate(services.store.redis, rate=settings.slack_rate)
        self.deliverer = Deliverer(
            services, client, rate=self.rate, concurrency=settings.delivery_concurrency
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set; in-flight sends finish first."""
        await asyncio.gather(
            self.deliverer.run(stop),
            _every(DAY_START_SECONDS, stop, self._day_starts, "day-start planning"),
        )

    async def _day_starts(self) -> None:
        await run_day_starts(self.services, now=self.services.clock.now())


async def _every(
    seconds: float, stop: asyncio.Event, work: Callable[[], Awaitable[None]], name: str
) -> None:
    while not stop.is_set():
        try:
            await work()
        except (StoreUnavailableError, OSError, TimeoutError) as exc:
            logger.warning("%s failed: %s", name, type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
