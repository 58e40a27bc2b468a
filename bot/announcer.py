"""Window edges, exactly once across instances: the start and end announcements in the
channel, the start DMs to members who asked for them, and the lead's weekly overlap digest.

Each window's next edge sits in a sharded sorted set (``keys.window_edges``). Any instance
claims due edges with a lease (a crashed one's claim comes back when the lease runs out);
before posting, a ``SET NX`` marker per (window, occurrence, edge) makes sure that even a
claim taken over after a lease ran out does not post twice. An edge found more than
``STALE`` late (every instance was down) is skipped, not announced late.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, texts
from bot.installations import SlackClients, as_clients
from bot.listeners.common import dm_channel
from bot.store import reachable
from bot.team_view import min_group, window_overlap
from bot.windows import WindowStore
from nudges.windows import Edge, RecoveryWindow, WindowEdge, edge_at

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

EDGE_LEASE = timedelta(minutes=2)
STALE = timedelta(minutes=10)


async def run_window_edges(
    services: Services,
    client: AsyncWebClient | SlackClients,
    *,
    now: datetime,
    limit: int = 100,
) -> int:
    """Announce every due window edge; returns how many edges were claimed. ``client``: one
    workspace's client, or where each workspace's comes from."""
    store = WindowStore(services.store.redis, shards=services.settings.queue_shards)
    claimed = 0
    async with reachable():
        claimed = await _run(services, as_clients(client), store, now=now, limit=limit)
    return claimed


async def _run(
    services: Services, clients: SlackClients, store: WindowStore, *, now: datetime, limit: int
) -> int:
    claimed = 0
    for shard in range(store.shards):
        due = await store.claim_edges(shard, now=now, lease_until=now + EDGE_LEASE, limit=limit)
        for team, channel, window_id, at in due:
            claimed += 1
            window = await store.window(team, channel, window_id)
            if window is None:
                await store.unschedule(team, channel, window_id)
                continue
            edge = edge_at(window, at)
            if edge is not None and now - edge.at <= STALE:
                day = edge.day.isoformat()
                client = await clients.for_team(team)
                if client is None:
                    # Uninstalled meanwhile: forgetting the workspace drops its windows.
                    logger.info("window %s not announced: workspace not installed", edge.edge)
                elif await store.claim_announcement(team, channel, window.id, day, edge.edge):
                    await _announce(services, client, team, window, edge, store=store)
            await store.schedule(team, window, after=max(at, now - STALE))
    return claimed


async def _announce(
    services: Services,
    client: AsyncWebClient,
    team: str,
    window: RecoveryWindow,
    edge: WindowEdge,
    *,
    store: WindowStore,
) -> None:
    try:
        if edge.edge is Edge.START:
            await client.chat_postMessage(
                channel=window.channel, **blocks.window_started(window).to_dict()
            )
            await _start_dms(services, client, team, window, edge, store=store)
        elif edge.edge is Edge.END:
            await client.chat_postMessage(
                channel=window.channel, **blocks.window_ended(window).to_dict()
            )
        else:
            members = await store.members(team, window.channel)
            report = await window_overlap(services, team, window, members)
            overlap = texts.window_overlap(report, minimum=min_group(services))
            lead_dm = await dm_channel(services, client, team, window.lead)
            await client.chat_postMessage(
                channel=lead_dm,
                **blocks.window_digest(window, channel=window.channel, overlap=overlap).to_dict(),
            )
    except SlackApiError as exc:
        # At most once: the marker stays, so this edge is not tried again.
        logger.warning("window %s not announced: %s", edge.edge, exc.response.get("error"))


async def _start_dms(
    services: Services,
    client: AsyncWebClient,
    team: str,
    window: RecoveryWindow,
    edge: WindowEdge,
    *,
    store: WindowStore,
) -> None:
    spans = window.on(edge.day)
    for user in sorted(await store.members(team, window.channel)):
        profile = await services.store.profile(team, user)
        if not (profile.opted_in and profile.preferences.window_start_dm) or spans is None:
            continue
        try:
            channel = await dm_channel(services, client, team, user)
            await client.chat_postMessage(
                channel=channel,
                **blocks.window_start_dm(
                    window, channel=window.channel, end=spans[1], tz=profile.preferences.tz
                ).to_dict(),
            )
        except SlackApiError as exc:
            logger.warning("window start DM not sent: %s", exc.response.get("error"))
