"""The bot under test: the real aiohttp app on a free port, a real Redis, the fake Slack.

``bot`` gives a :class:`RunningBot`: ``await bot.command("/feel", "3 tired")`` sends a
signed request over real HTTP and returns the HTTP status; what the bot said comes back
through ``bot.slack`` (the fake Web API and response URLs).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp import web
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.app import Services, build_services, create_app, create_web_app
from bot.clock import ManualClock
from bot.delivery import Deliverer
from bot.replies import SharedHttp
from bot.store import Store
from bot.vault import Vault
from config.settings import Settings
from tests.support import TEAM_ID, USER_ID
from tests.support.fake_slack import FakeSlack
from tests.support.redis_server import RedisServer, free_port
from tests.support.signing import (
    block_actions_body,
    event_callback_body,
    signed_headers,
    slash_command_body,
    view_submission_body,
)

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
ENCRYPTION_KEY = "hD3t4l0l2l3o4tq3Q5cHh0ZxXx9xXb4T3p2E1n0a9mM="  # a fixed valid test key
# A Monday morning in Berlin, before work.
START = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)


@dataclass
class RunningBot:
    url: str
    slack: FakeSlack
    store: Store
    clock: ManualClock
    services: Services
    http: aiohttp.ClientSession
    redis_server: RedisServer

    async def post(
        self, body: bytes, *, headers: Mapping[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        sent = dict(headers) if headers is not None else signed_headers(SIGNING_SECRET, body)
        async with self.http.post(f"{self.url}/slack/events", data=body, headers=sent) as response:
            await response.read()
            return response

    async def post_for_json(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """Send a signed body; returns the HTTP status and the ack's JSON body ({} if empty)."""
        headers = signed_headers(SIGNING_SECRET, body)
        async with self.http.post(
            f"{self.url}/slack/events", data=body, headers=headers
        ) as response:
            raw = await response.text()
            return response.status, json.loads(raw) if raw.strip().startswith("{") else {}

    async def command(
        self, command: str, text: str = "", *, user: str = USER_ID, **extra: str
    ) -> int:
        """Send a slash command; the bot's answer arrives at ``self.slack.responses()``."""
        body = slash_command_body(
            command=command,
            text=text,
            user_id=user,
            response_url=self.slack.response_url(),
            **extra,
        )
        return (await self.post(body)).status

    async def click(self, action_id: str, value: str | None = None, **fields: Any) -> int:
        body = block_actions_body(
            action_id=action_id, value=value, response_url=self.slack.response_url(), **fields
        )
        return (await self.post(body)).status

    async def submit(
        self, callback_id: str, values: dict[str, Any], **fields: Any
    ) -> aiohttp.ClientResponse:
        body = view_submission_body(callback_id=callback_id, values=values, **fields)
        sent = signed_headers(SIGNING_SECRET, body)
        async with self.http.post(f"{self.url}/slack/events", data=body, headers=sent) as response:
            await response.read()
            return response

    async def submit_json(self, callback_id: str, values: dict[str, Any], **fields: Any) -> Any:
        """Submit a modal and return the JSON body of the ack ({} when it just closes)."""
        body = view_submission_body(callback_id=callback_id, values=values, **fields)
        sent = signed_headers(SIGNING_SECRET, body)
        async with self.http.post(f"{self.url}/slack/events", data=body, headers=sent) as response:
            text = await response.text()
            return json.loads(text) if text else {}

    async def event(self, event: dict[str, Any], *, event_id: str | None = None) -> int:
        body = event_callback_body(event, event_id=event_id, team_id=TEAM_ID)
        return (await self.post(body)).status


def bot_settings(redis_url: str, slack: FakeSlack, **overrides: Any) -> Settings:
    return Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.base_url,
        redis_url=redis_url,
        encryption_key=ENCRYPTION_KEY,
        **overrides,
    )


@asynccontextmanager
async def serve_bot(
    redis_server: RedisServer, slack: FakeSlack, **overrides: Any
) -> AsyncIterator[RunningBot]:
    """The whole bot over real HTTP on a free port, with optional settings overrides."""
    settings = bot_settings(redis_server.url, slack, **overrides)
    async with serve_with(settings, redis_server, slack) as running:
        # Start-up's own auth.test (for /readyz) is part of starting: tests see what follows it.
        await slack.wait_for("auth.test")
        slack.requests.clear()
        yield running


@asynccontextmanager
async def serve_with(
    settings: Settings, redis_server: RedisServer, slack: FakeSlack
) -> AsyncIterator[RunningBot]:
    """The whole bot built from ``settings`` (one workspace or many) over real HTTP."""
    # No retries and short timeouts: a test that stops Redis sees the failure at once.
    client = Redis(
        host=redis_server.host,
        port=redis_server.port,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        retry=Retry(NoBackoff(), 0),
    )
    store = Store(
        client, Vault([ENCRYPTION_KEY]), retention=timedelta(days=settings.retention_days)
    )
    clock = ManualClock(START)
    replies = SharedHttp()
    services = build_services(settings, store=store, clock=clock)
    app = create_app(services, http=replies)
    runner = web.AppRunner(create_web_app(app, store=store, http=replies, services=services))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, host="127.0.0.1", port=port).start()
    async with aiohttp.ClientSession() as http:
        try:
            yield RunningBot(
                url=f"http://127.0.0.1:{port}",
                slack=slack,
                store=store,
                clock=clock,
                services=services,
                http=http,
                redis_server=redis_server,
            )
        finally:
            if not redis_server.is_running:
                redis_server.start()
            await runner.cleanup()
            await client.aclose()


@pytest_asyncio.fixture(loop_scope="function")
async def bot(
    redis_server: RedisServer, redis: Redis, fake_slack: FakeSlack
) -> AsyncIterator[RunningBot]:
    """The whole bot over real HTTP; Redis flushed before and after (via ``redis``)."""
    async with serve_bot(redis_server, fake_slack) as running:
        yield running


def later(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


def posted_reset_keys(slack: FakeSlack) -> list[str]:
    """The nudge keys of the reset DMs Slack accepted, oldest first (a reset DM's buttons
    carry its key; a refused post is not counted: nothing was posted)."""
    keys = []
    for call in slack.calls("chat.postMessage"):
        if not (isinstance(call.response, dict) and call.response.get("ok")):
            continue
        for block in call.param_json("blocks"):
            for element in block.get("elements", []):
                if element.get("action_id") == "reset_done":
                    keys.append(element["value"])
    return keys


async def deliver_due(bot: RunningBot, deliverer: Deliverer, moment: datetime) -> int:
    """Move the clock to ``moment``, run one delivery pass and wait for its sends; returns
    how many nudges were claimed."""
    bot.clock.set(moment)
    claimed = await deliverer.pass_once()
    await deliverer.drain()
    return claimed
