"""The Slack app factory: ``build_services(settings, store=..., clock=...)`` gathers what
listeners and the worker share, ``create_app(services)`` builds a Bolt app with every
listener registered, and ``create_web_app`` wraps it for HTTP mode.

Nothing connects at import time. Listeners get their services from :class:`Services`,
built once here and passed to each ``register``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.error import BoltUnhandledRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot import health, logs, metrics
from bot.clock import Clock
from bot.listeners import actions, commands, events, home, signals, team, views
from bot.queue import Counters, DueQueue
from bot.replies import PooledRespond, SharedHttp
from bot.store import Store
from config.catalog import load_catalog
from config.settings import Settings
from nudges.catalog import Catalog

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """What listeners need, in one object: no globals, easy to build in tests."""

    settings: Settings
    store: Store
    clock: Clock
    catalog: Catalog
    queue: DueQueue

    @property
    def counters(self) -> Counters:
        return self.queue.counters


def build_services(
    settings: Settings,
    *,
    store: Store,
    clock: Clock,
    catalog: Catalog | None = None,
    queue: DueQueue | None = None,
) -> Services:
    """Everything the listeners and the worker share, built from one Settings."""
    return Services(
        settings=settings,
        store=store,
        clock=clock,
        catalog=catalog or load_catalog(settings.catalog_path),
        queue=queue or build_queue(settings, store),
    )


def create_app(
    services: Services,
    *,
    client: AsyncWebClient | None = None,
    http: SharedHttp | None = None,
) -> AsyncApp:
    """A Bolt app with all of Baseline's listeners. Needs the bot token and signing secret."""
    settings = services.settings
    settings.require_bot()
    assert settings.slack_bot_token is not None  # noqa: S101 - checked by require_bot
    assert settings.slack_signing_secret is not None  # noqa: S101 - checked by require_bot
    token = settings.slack_bot_token.get_secret_value()
    client = client or slack_client(settings)
    app = AsyncApp(
        token=token,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        client=client,
        # Requests no listener claims still get a 404, not a silent 200.
        raise_error_for_unhandled_request=True,
    )
    replies_http = http or SharedHttp()

    @app.middleware
    async def respond_over_shared_session(
        context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        if context.response_url:
            context["respond"] = PooledRespond(response_url=context.response_url, http=replies_http)
        await next()

    commands.register(app, services)
    actions.register(app, services)
    views.register(app, services)
    events.register(app, services)
    home.register(app, services)
    signals.register(app, services)
    team.register(app, services)

    @app.error
    async def _on_error(error: Exception, body: dict[str, Any]) -> None:
        # One place for what slipped through: the type and the request kind, never the
        # payload (it may hold notes or tokens).
        if isinstance(error, BoltUnhandledRequestError):
            logger.info("no listener for a %s request", body.get("type", "command"))
            return
        logger.error(
            "listener failed on a %s request: %s",
            body.get("type", "command"),
            type(error).__name__,
            exc_info=error,
        )

    return app


def slack_client(settings: Settings) -> AsyncWebClient:
    settings.require_bot()
    assert settings.slack_bot_token is not None  # noqa: S101 - checked by require_bot
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )


def build_queue(settings: Settings, store: Store) -> DueQueue:
    return DueQueue(
        store.redis,
        shards=settings.queue_shards,
        lease=timedelta(seconds=settings.delivery_lease_seconds),
    )


def create_web_app(
    app: AsyncApp,
    *,
    store: Store,
    http: SharedHttp | None = None,
    services: Services | None = None,
) -> web.Application:
    """HTTP mode: ``POST /slack/events`` (signed), ``GET /healthz``, ``GET /readyz``,
    ``GET /metrics`` (queue depth and lag need ``services``)."""
    web_app = app.web_app(path="/slack/events")
    slack_auth = health.SlackAuthCheck(app.client)  # auth.test once, from start-up
    slack_auth.attach(web_app)
    web_app.middlewares.append(logs.tag_requests)  # a request id on every line
    metrics.BaselineMetrics(
        redis=store.redis,
        queue=services.queue if services else None,
        clock=services.clock if services else None,
        slack_auth=slack_auth,
    ).attach(web_app)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    if http is not None:

        async def close_http(_app: web.Application) -> None:
            await http.close()

        web_app.on_cleanup.append(close_http)
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", health.readyz(store, slack_auth))
    return web_app
