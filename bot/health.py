"""Readiness: ``GET /readyz`` answers 200 when Redis answers and Slack accepted the bot token.

With many workspaces there is no one token: each workspace's is checked (once per process) on
its first request, so readiness is Redis alone and ``slack_auth`` says ``per_workspace``.

The token is checked with ``auth.test`` once, at start-up (then cached), not on every probe:
a probe every few seconds per instance must not spend Slack's rate limit. A network error
is retried with backoff; a refused token (revoked, invalid) is final until a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from enum import StrEnum
from typing import Final

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.store import Store

logger = logging.getLogger(__name__)

# Slack errors that say the token itself is wrong: retrying cannot help.
REFUSED: Final = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "team_access_not_granted",
    }
)
RETRY_DELAYS: Final = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class AuthState(StrEnum):
    PENDING = "pending"  # not answered yet (start-up, or Slack unreachable so far)
    OK = "ok"
    REFUSED = "refused"  # Slack refused the token


class SlackAuthCheck:
    """``auth.test`` once, in the background from start-up, with the answer kept."""

    def __init__(
        self, client: AsyncWebClient, *, retry_delays: Sequence[float] = RETRY_DELAYS
    ) -> None:
        self._client = client
        self._delays = tuple(retry_delays)
        self.state = AuthState.PENDING
        self.team_id: str | None = None
        self.error: str | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def ok(self) -> bool:
        return self.state is AuthState.OK

    async def run(self) -> None:
        """Ask until Slack answers; then the state is OK or REFUSED for good."""
        attempt = 0
        while True:
            try:
                answer = await self._client.auth_test()
            except SlackApiError as exc:
                error = str(exc.response.get("error", "unknown"))
                if error in REFUSED:
                    self.state, self.error = AuthState.REFUSED, error
                    logger.error("Slack refused the bot token (auth.test: %s)", error)
                    return
                self.error = error
                logger.warning("auth.test failed: %s; trying again", error)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                self.error = type(exc).__name__
                logger.warning("auth.test failed: %s; trying again", self.error)
            else:
                self.state, self.error = AuthState.OK, None
                self.team_id = answer.get("team_id")
                logger.info("Slack auth checked: workspace %s", self.team_id)
                return
            await asyncio.sleep(self._delays[min(attempt, len(self._delays) - 1)])
            attempt += 1

    def attach(self, web_app: web.Application) -> None:
        """Start the check when the server starts; stop it (if still asking) at shutdown."""

        async def start(_app: web.Application) -> None:
            self._task = asyncio.create_task(self.run(), name="slack-auth-check")

        async def stop(_app: web.Application) -> None:
            if self._task is not None and not self._task.done():
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)

        web_app.on_startup.append(start)
        web_app.on_cleanup.append(stop)


PER_WORKSPACE: Final = "per_workspace"


def readyz(store: Store, slack_auth: SlackAuthCheck | None) -> Handler:
    """``GET /readyz``: 200 ``{"ok": true, ...}`` only when Redis answers and the token is
    good; ``slack_auth`` None means many workspaces (no one token to check)."""

    async def handler(_request: web.Request) -> web.Response:
        redis = await store.ping()
        ready = redis and (slack_auth is None or slack_auth.ok)
        auth = PER_WORKSPACE if slack_auth is None else slack_auth.state.value
        return web.json_response(
            {"ok": ready, "redis": redis, "slack_auth": auth}, status=200 if ready else 503
        )

    return handler
