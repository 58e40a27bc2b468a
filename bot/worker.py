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

from bot import logs
from bot.announcer import run_window_edges
from bot.delivery import Deliverer
from bot.installations import SlackClients, as_clients
from bot.planning import run_day_starts
from bot.ratelimit import WorkspaceRate
from bot.store import TRANSIENT_ERRORS
from bot.sync import CalendarSync

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

# How often the slower loops look for due work.
DAY_START_SECONDS = 30.0
SYNC_SECONDS = 2.0
WINDOW_EDGE_SECONDS = 15.0


class Worker:
    def __init__(self, services: Services, client: AsyncWebClient | SlackClients) -> None:
        """``client``: one workspace's client, or where each workspace's comes from."""
        settings = services.settings
        self.services = services
        self.clients = as_clients(client)
        self.rate = WorkspaceRate(services.store.redis, rate=settings.slack_rate)
        self.deliverer = Deliverer(
            services, self.clients, rate=self.rate, concurrency=settings.delivery_concurrency
        )
        self.sync = CalendarSync(services, self.clients)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set; in-flight sends finish first."""
        try:
            # Calendars connected before sync existed join the schedule (safe every start).
            await self.sync.schedule_existing(now=self.services.clock.now())
        except TRANSIENT_ERRORS as exc:
            logger.warning("could not schedule existing calendars: %s", type(exc).__name__)
        try:
            await asyncio.gather(
                self.deliverer.run(stop),
                _every(DAY_START_SECONDS, stop, self._day_starts, "day-starts"),
                _every(WINDOW_EDGE_SECONDS, stop, self._window_edges, "window-edges"),
                _every(SYNC_SECONDS, stop, self._sync, "calendar-sync"),
            )
        finally:
            await self.sync.parser.aclose()

    async def _sync(self) -> None:
        await self.sync.run_due(now=self.services.clock.now())

    async def _window_edges(self) -> None:
        await run_window_edges(self.services, self.clients, now=self.services.clock.now())

    async def _day_starts(self) -> None:
        await run_day_starts(self.services, now=self.services.clock.now())


async def _every(
    seconds: float, stop: asyncio.Event, work: Callable[[], Awaitable[None]], job: str
) -> None:
    """Run ``work`` every ``seconds`` until ``stop``; each pass's log lines carry one job id
    (``calendar-sync-3fa9c2``), so the lines of one pass can be found together."""
    while not stop.is_set():
        with logs.job(job):
            try:
                await work()
            except TRANSIENT_ERRORS as exc:
                logger.warning("%s pass failed: %s", job, type(exc).__name__)
            except Exception:
                # A bug in one pass must not stop the loop (and with it, the whole worker):
                # log it with its traceback and try again next time.
                logger.exception("%s pass failed unexpectedly", job)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
