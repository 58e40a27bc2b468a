"""Can the person take a nudge right now? Delivery's last look before a send: Slack's Do Not
Disturb (``dnd.info``, cached), a huddle, or a status that says they are in a meeting."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import ClientError
from pydantic import BaseModel, ConfigDict, ValidationError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.live import LiveSignals
from bot.queue import DropReason
from bot.ratelimit import retry_after
from nudges.signals import SignalKind

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

# dnd.info is Tier 3 (~50/min per workspace): one answer serves a person for a few minutes.
# Its times are absolute, so a cached answer still tells a window that starts meanwhile;
# a change (snooze now) reaches us as dnd_updated_user, which drops the cached answer.
DND_CACHE = timedelta(minutes=5)
# A failed dnd.info (rate-limited, Slack down) counts as "not in DND" for this long, or for
# Slack's Retry-After, so a burst of sends does not ask again for every nudge.
DND_FAILURE_CACHE = timedelta(seconds=30)
DND_FAILURE_CACHE_MAX = timedelta(minutes=5)
# A send waits this long for dnd.info at most; then it goes ahead.
DND_TIMEOUT_SECONDS = 3.0


class DndStatus(BaseModel):
    """The parts of a dnd.info answer that decide "in Do Not Disturb now?"."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = False
    starts: datetime | None = None
    ends: datetime | None = None
    snoozed_until: datetime | None = None

    @classmethod
    def from_slack(cls, answer: Mapping[str, Any]) -> DndStatus:
        snoozed = bool(answer.get("snooze_enabled"))
        return cls(
            enabled=bool(answer.get("dnd_enabled")),
            starts=_epoch(answer.get("next_dnd_start_ts")),
            ends=_epoch(answer.get("next_dnd_end_ts")),
            snoozed_until=_epoch(answer.get("snooze_endtime")) if snoozed else None,
        )

    def active(self, now: datetime) -> bool:
        if self.snoozed_until is not None and now < self.snoozed_until:
            return True
        return (
            self.enabled
            and self.starts is not None
            and self.ends is not None
            and self.starts <= now < self.ends
        )


async def unavailable(
    services: Services, client: AsyncWebClient, team: str, user: str, *, now: datetime
) -> DropReason | None:
    """None when the person can take a nudge now; otherwise why not (DND, HUDDLE, IN_MEETING).

    One Redis round trip when the DND answer is cached; otherwise one dnd.info call, whose
    failure never holds a nudge back.
    """
    live = LiveSignals(services.store.redis)
    snapshot = await live.snapshot(team, user)
    huddle = snapshot.marks.get(SignalKind.HUDDLE)
    if huddle is not None and huddle.running(now):
        return DropReason.HUDDLE
    status = snapshot.marks.get(SignalKind.STATUS)
    if status is not None and status.running(now):
        return DropReason.IN_MEETING
    dnd = _cached(snapshot.dnd)
    if dnd is None:
        dnd = await _ask_slack(live, client, team, user)
    return DropReason.DND if dnd.active(now) else None


def _cached(raw: bytes | None) -> DndStatus | None:
    if raw is None:
        return None
    try:
        return DndStatus.model_validate_json(raw)
    except ValidationError:
        return None  # written by another version: ask again


async def _ask_slack(live: LiveSignals, client: AsyncWebClient, team: str, user: str) -> DndStatus:
    ttl = DND_CACHE
    try:
        async with asyncio.timeout(DND_TIMEOUT_SECONDS):
            answer = await client.dnd_info(user=user)
        dnd = DndStatus.from_slack(answer.data if isinstance(answer.data, dict) else {})
    except SlackApiError as exc:
        logger.warning("dnd.info failed: %s", exc.response.get("error", "unknown"))
        dnd, ttl = DndStatus(), _retry_after(exc)
    except (ClientError, TimeoutError, ValidationError) as exc:
        logger.warning("dnd.info failed: %s", type(exc).__name__)
        dnd, ttl = DndStatus(), DND_FAILURE_CACHE
    await live.remember_dnd(team, user, dnd.model_dump_json(), ttl=ttl)
    return dnd


def _retry_after(exc: SlackApiError) -> timedelta:
    seconds = retry_after(exc)
    if seconds is None:
        seconds = DND_FAILURE_CACHE.total_seconds()
    return min(max(timedelta(seconds=seconds), timedelta(seconds=1)), DND_FAILURE_CACHE_MAX)


def _epoch(value: object) -> datetime | None:
    """A Slack timestamp (seconds, as a number or a string); 0 and missing mean none."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    if seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
