"""``baseline run``: build the real services from Settings and serve Slack.

Socket Mode when ``SLACK_APP_TOKEN`` is set (no public URL needed), otherwise HTTP mode on
``PORT`` with ``POST /slack/events``, ``GET /healthz`` and ``GET /readyz`` (and, with
``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET``, ``GET /slack/install`` and
``GET /slack/oauth_redirect`` for many workspaces).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.app import Services, build_services, create_app, create_web_app, slack_client
from bot.clock import SystemClock
from bot.replies import SharedHttp
from bot.store import Store, connect_redis
from bot.vault import Vault
from bot.worker import Worker
from config.settings import Settings

logger = logging.getLogger(__name__)


def build_store(settings: Settings) -> Store:
    return Store(
        connect_redis(settings),
        Vault(settings.fernet_keys()),
        retention=timedelta(days=settings.retention_days),
    )


async def serve(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT; then stop taking work, let sends in flight finish
    (their claims would otherwise wait out their leases) and close."""
    settings.require_bot()
    store = build_store(settings)
    http = SharedHttp()
    # One workspace: one client for requests and background work alike. Many: each
    # workspace's client comes from its installation (services.slack).
    client = None if settings.oauth else slack_client(settings)
    services = build_services(settings, store=store, clock=SystemClock(), client=client)
    app = create_app(services, client=client, http=http)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    background: asyncio.Task[None] | None = None
    if settings.worker:
        background = asyncio.create_task(Worker(services, services.slack).run(stop))
        logger.info("worker started: delivery, day-start planning, calendar sync")
    try:
        if settings.slack_app_token is not None:
            await _serve_socket_mode(settings, app, stop)
        else:
            await _serve_http(settings, app, stop, store=store, http=http, services=services)
    finally:
        stop.set()
        if background is not None:
            await background
        await store.redis.aclose()
        logger.info("stopped")


async def _serve_socket_mode(settings: Settings, app: AsyncApp, stop: asyncio.Event) -> None:
    assert settings.slack_app_token is not None  # noqa: S101 - the caller checked
    logger.info("starting in Socket Mode")
    handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
    await handler.connect_async()  # type: ignore[no-untyped-call]  # untyped in slack_bolt
    try:
        await stop.wait()
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]  # untyped in slack_bolt


async def _serve_http(
    settings: Settings,
    app: AsyncApp,
    stop: asyncio.Event,
    *,
    store: Store,
    http: SharedHttp,
    services: Services,
) -> None:
    # No per-request access log: it costs CPU on every request and says nothing we need.
    runner = web.AppRunner(
        create_web_app(app, store=store, http=http, services=services), access_log=None
    )
    await runner.setup()
    site = web.TCPSite(runner, host="0.0.0.0", port=settings.port)  # noqa: S104 - a server listens on all interfaces
    await site.start()
    logger.info(
        "listening on port %d (HTTP mode: POST /slack/events%s)",
        settings.port,
        ", GET /slack/install for each workspace" if settings.oauth else "",
    )
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
