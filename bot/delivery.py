"""Delivery: claim due nudges from the queue, look once more, and post each at most once.

One :class:`Deliverer` runs in every instance. Each pass walks the queue's shards, claims
the due nudges with the closest deadlines (leased, so a crashed instance's claims return to
the queue), and sends them with bounded concurrency. For each claim, right before sending:

1. deadline passed → ``expired``; the workspace has no installation any more (it removed
   Baseline) → ``dropped:uninstalled``;
2. still opted in, not paused, not in quiet hours, inside working time, and (for a reset)
   not inside a recovery window of one of their channels → else ``dropped:<reason>``
   (the person may have changed their mind since it was planned);
3. in Slack DND, a huddle, or a meeting their status names → ``dropped:<reason>``
   (:func:`bot.presence.unavailable`);
4. a token from the workspace's bucket (:class:`~bot.ratelimit.WorkspaceRate`), waiting if
   need be; a wait past the deadline gives the nudge up as ``expired``;
5. the once-only gate (``DueQueue.begin_send``), then ``chat.postMessage``.

A 429 pauses the whole workspace for its Retry-After and puts the nudge back (its key is
released: Slack did not post it); ``rate_limited`` counts them.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import logs, presence
from bot.installations import SlackClients, as_clients
from bot.listeners.common import dm_channel
from bot.nudge_dm import send_nudge, send_reflection
from bot.queue import Claim, DropReason
from bot.ratelimit import WorkspaceRate
from bot.ratelimit import retry_after as retry_after_header
from bot.store import TRANSIENT_ERRORS
from bot.windows import WindowStore
from nudges.planner import NudgeKind, held_back
from nudges.windows import inside

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

# Idle passes this far apart: a due nudge waits at most about this long to be claimed.
POLL_SECONDS = 0.2
# Slack errors worth one more try (the message was not posted).
_TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
_HELD_BACK = {
    "paused": DropReason.PAUSED,
    "quiet_hours": DropReason.QUIET_HOURS,
    "outside_hours": DropReason.OUTSIDE_HOURS,
}
# Slack errors that say the workspace's token is no longer good (uninstalled, revoked).
_TOKEN_REFUSED = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})


class Deliverer:
    """Sends due nudges; ``await run(stop)`` until ``stop`` is set."""

    def __init__(
        self,
        services: Services,
        client: AsyncWebClient | SlackClients,
        *,
        rate: WorkspaceRate,
        concurrency: int = 16,
    ) -> None:
        """``client``: one workspace's client, or where each workspace's comes from."""
        self._services = services
        self._clients = as_clients(client)
        self._rate = rate
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_shard = 0
        # Set when a send finishes: with every slot busy, the next pass starts as soon as
        # one frees up rather than after a whole idle poll (that capped one instance's rate).
        self._slot_freed = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                claimed = await self.pass_once()
            except TRANSIENT_ERRORS as exc:
                logger.warning("delivery pass failed: %s", type(exc).__name__)
                claimed = 0
            except Exception:
                # Keep delivering: a bug in one pass must not end delivery for everyone.
                logger.exception("delivery pass failed unexpectedly")
                claimed = 0
            if not claimed:
                await self._pause(stop)
        await self.drain()

    async def _pause(self, stop: asyncio.Event) -> None:
        """Wait for the stop, a free slot (when all are busy), or the next idle poll."""
        self._slot_freed.clear()
        waiters = [asyncio.ensure_future(stop.wait())]
        if len(self._tasks) >= self._concurrency:
            waiters.append(asyncio.ensure_future(self._slot_freed.wait()))
        try:
            await asyncio.wait(waiters, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def pass_once(self) -> int:
        """Claim what is due on every shard (as many as there are free slots) and start
        sending it; returns how many were claimed."""
        queue = self._services.queue
        claimed = 0
        for step in range(queue.shards):
            free = self._concurrency - len(self._tasks)
            if free <= 0:
                break
            shard = (self._next_shard + step) % queue.shards
            # A fair share of the free slots per shard, so one busy shard cannot starve others.
            share = max(1, free // max(1, queue.shards - step))
            now = self._services.clock.now()
            for claim in await queue.claim(shard, now=now, limit=share):
                task = asyncio.create_task(self._deliver_in_slot(claim))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                claimed += 1
        self._next_shard = (self._next_shard + 1) % queue.shards
        return claimed

    async def drain(self) -> None:
        """Wait for the sends in flight (used at shutdown and by tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver_in_slot(self, claim: Claim) -> None:
        # One job id per nudge: its drop, refusal or failure lines can be told apart.
        async with self._slots:
            with logs.job("delivery"):
                try:
                    await self.deliver(claim)
                except TRANSIENT_ERRORS as exc:
                    # The lease runs out and another pass (here or elsewhere) tries again.
                    logger.warning(
                        "delivery of a %s failed: %s", claim.nudge.kind, type(exc).__name__
                    )
                except Exception:
                    # Same recovery (the lease runs out); logged loudly, it is a bug.
                    logger.exception("delivery of a %s failed unexpectedly", claim.nudge.kind)
                finally:
                    self._slot_freed.set()

    async def deliver(self, claim: Claim) -> None:
        services, queue = self._services, self._services.queue
        counters = queue.counters
        now = services.clock.now()
        if claim.nudge.expires_at <= now:
            await queue.finish(claim, sent=False, now=now)
            await counters.incr("expired")
            return
        client = await self._clients.for_team(claim.team)
        if client is None:
            # Uninstalled since it was planned: forgetting the workspace clears its queue, and
            # this one was claimed in between.
            await queue.finish(claim, sent=False, now=now)
            await counters.incr(f"dropped:{DropReason.UNINSTALLED}")
            return
        reason = await self._held_back(claim, client, now=now)
        if reason is not None:
            await queue.finish(claim, sent=False, now=now)
            await counters.incr(f"dropped:{reason}")
            return
        try:
            # Resolved (and cached) before the rate token is taken, so the token is spent
            # right before the post it pays for: a token taken early is Slack's refill wasted.
            await dm_channel(services, client, claim.team, claim.user)
        except SlackApiError as exc:
            await self._slack_refused(claim, exc)
            return
        if not await self._wait_for_token(claim):
            return
        now = services.clock.now()
        if claim.nudge.expires_at <= now:
            await queue.finish(claim, sent=False, now=now)
            await counters.incr("expired")
            return
        if not await queue.begin_send(claim, now=now):
            return
        try:
            await self._post(claim, client)
        except SlackApiError as exc:
            await self._slack_refused(claim, exc)
            return
        except aiohttp.ClientConnectorError:
            # Nothing reached Slack: release the key and let the lease bring it back.
            await queue.retry(claim, at=now + timedelta(seconds=2), release=True)
            return
        except (aiohttp.ClientError, TimeoutError):
            # The request may have reached Slack: at most once, so give it up and count it.
            await queue.finish(claim, sent=False, now=now)
            await counters.incr(f"dropped:{DropReason.UNCERTAIN}")
            return
        await queue.finish(claim, sent=True, now=services.clock.now())
        await counters.incr("sent")

    async def _held_back(
        self, claim: Claim, client: AsyncWebClient, *, now: datetime
    ) -> DropReason | None:
        profile = await self._services.store.profile(claim.team, claim.user)
        if not profile.opted_in:
            return DropReason.OPTED_OUT
        held = held_back(profile.preferences, now)
        if held is not None:
            return _HELD_BACK[held]
        if claim.nudge.kind is NudgeKind.RESET and await self._in_recovery_window(claim, now=now):
            return DropReason.RECOVERY_WINDOW
        if claim.nudge.kind is NudgeKind.REFLECTION:
            # The weekly reflection is read later, not in the moment: DND holds it back
            # only if Slack would notify, which it does not do in DND anyway.
            return None
        return await presence.unavailable(self._services, client, claim.team, claim.user, now=now)

    async def _in_recovery_window(self, claim: Claim, *, now: datetime) -> bool:
        """A window added after the plan was made: its resets are dropped here."""
        windows = await WindowStore(
            self._services.store.redis, shards=self._services.queue.shards
        ).person_windows(claim.team, claim.user)
        return inside(windows, now)

    async def _wait_for_token(self, claim: Claim) -> bool:
        """Reserve a rate token and wait for it; False when the claim was handed back (the
        wait is longer than a claim should hold its lease) or given up (its deadline would
        pass first)."""
        services, queue = self._services, self._services.queue
        token = await self._rate.take(claim.team)
        now = services.clock.now()
        if now + timedelta(seconds=token.wait) >= claim.nudge.expires_at:
            await queue.finish(claim, sent=False, now=now)
            await queue.counters.incr("expired")
            return False
        if not token.reserved:
            await queue.retry(claim, at=now + timedelta(seconds=token.wait))
            return False
        if token.wait > 0:
            await asyncio.sleep(token.wait)
        return True

    async def _post(self, claim: Claim, client: AsyncWebClient) -> None:
        send = send_reflection if claim.nudge.kind is NudgeKind.REFLECTION else send_nudge
        await send(self._services, client, claim.team, claim.user, claim.nudge)

    async def _slack_refused(self, claim: Claim, exc: SlackApiError) -> None:
        queue = self._services.queue
        now = self._services.clock.now()
        error = str(exc.response.get("error", "unknown"))
        if exc.response.status_code == 429:
            retry_after = max(1.0, retry_after_header(exc) or 1.0)
            await self._rate.pause(claim.team, retry_after)
            await queue.counters.incr("rate_limited")
            await queue.retry(claim, at=now + timedelta(seconds=retry_after), release=True)
            logger.info("Slack said 429: workspace paused for %.0f s", retry_after)
            return
        if error in _TRANSIENT_ERRORS and now + timedelta(seconds=5) < claim.nudge.expires_at:
            await queue.retry(claim, at=now + timedelta(seconds=5), release=True)
            logger.info("Slack refused a nudge (%s): trying again shortly", error)
            return
        if error in _TOKEN_REFUSED:
            # The workspace's token is gone (removed on another instance, or revoked): the
            # next nudge reads its installation again instead of trying the old token.
            self._clients.forget(claim.team)
        await queue.finish(claim, sent=False, now=now)
        await queue.counters.incr(f"dropped:{DropReason.SLACK_ERROR}")
        logger.warning("Slack refused a nudge: %s", error)
