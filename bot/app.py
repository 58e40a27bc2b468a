"""The Slack app factory: ``build_services(settings, store=..., clock=...)`` gathers what
listeners and the worker share, ``create_app(services)`` builds a Bolt app with every
listener registered, and ``create_web_app`` wraps it for HTTP mode.

One workspace: the app runs on ``SLACK_BOT_TOKEN``. Many (``SLACK_CLIENT_ID`` and
``SLACK_CLIENT_SECRET``): each workspace installs through ``/slack/install``, its bot token is
kept in Redis (:mod:`bot.installations`) and every request is authorized with it.

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
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth import OAuthStateUtils
from slack_sdk.web.async_client import AsyncWebClient

from bot import health, logs, metrics
from bot.clock import Clock
from bot.installations import (
    NOT_AUTHORIZED,
    RedisInstallationStore,
    RedisOAuthStateStore,
    SlackClients,
    install_pages,
)
from bot.listeners import actions, commands, events, home, signals, team, views
from bot.manifest import REDIRECT_PATH, bot_scopes
from bot.queue import Counters, DueQueue
from bot.replies import PooledRespond, SharedHttp
from bot.store import Store
from bot.vault import Vault
from config.catalog import load_catalog
from config.settings import Settings
from nudges.catalog import Catalog

logger = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
# How long an install link's state is good for: Slack's consent screen, then back.
STATE_SECONDS = 600


@dataclass(frozen=True)
class Services:
    """What listeners need, in one object: no globals, easy to build in tests."""

    settings: Settings
    store: Store
    clock: Clock
    catalog: Catalog
    queue: DueQueue
    slack: SlackClients
    """The Slack client of a workspace, for work outside a request."""
    installations: RedisInstallationStore | None = None
    """Many workspaces only: where installations are kept."""

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
    client: AsyncWebClient | None = None,
) -> Services:
    """Everything the listeners and the worker share, built from one Settings.

    One workspace: ``client`` (or one made from ``SLACK_BOT_TOKEN``) serves all background
    work. Many: the installation store, and clients made from each workspace's installation.
    """
    installations = None
    if settings.oauth:
        settings.require_bot()  # the encryption key seals the installations' tokens
        installations = RedisInstallationStore(store.redis, Vault(settings.fernet_keys()))
        slack = SlackClients.installed(installations, base_url=settings.slack_api_url)
    else:
        slack = SlackClients.single(client or _bot_client(settings))
    return Services(
        settings=settings,
        store=store,
        clock=clock,
        catalog=catalog or load_catalog(settings.catalog_path),
        queue=queue or build_queue(settings, store),
        slack=slack,
        installations=installations,
    )


def create_app(
    services: Services,
    *,
    client: AsyncWebClient | None = None,
    http: SharedHttp | None = None,
) -> AsyncApp:
    """A Bolt app with all of Baseline's listeners. Needs the signing secret, and the bot
    token (one workspace) or the client id and secret (many)."""
    settings = services.settings
    settings.require_bot()
    assert settings.slack_signing_secret is not None  # noqa: S101 - checked by require_bot
    signing_secret = settings.slack_signing_secret.get_secret_value()
    if services.installations is not None:
        app = _oauth_app(services, services.installations, signing_secret=signing_secret)
    else:
        client = client or services.slack.default or slack_client(settings)
        app = AsyncApp(
            signing_secret=signing_secret,
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


def _oauth_app(
    services: Services, installations: RedisInstallationStore, *, signing_secret: str
) -> AsyncApp:
    """Many workspaces: the install and redirect routes, installations and states in Redis,
    and each workspace's authorization cached in the process (no auth.test per request)."""
    settings = services.settings
    assert settings.slack_client_id is not None  # noqa: S101 - settings.oauth says so
    assert settings.slack_client_secret is not None  # noqa: S101 - settings.oauth says so
    client_id = settings.slack_client_id.strip()
    client_secret = settings.slack_client_secret.get_secret_value().strip()
    # No token: each request's client gets its workspace's. The base URL carries over to
    # them and to the OAuth flow's own calls (oauth.v2.access, auth.test).
    client = AsyncWebClient(base_url=settings.slack_api_url)
    state_utils = OAuthStateUtils(expiration_seconds=STATE_SECONDS)
    oauth_settings = AsyncOAuthSettings(
        client_id=client_id,
        client_secret=client_secret,
        scopes=bot_scopes(),
        user_scopes=[],
        install_path=INSTALL_PATH,
        # Straight to Slack's own consent screen: it shows the workspace and the scopes.
        install_page_rendering_enabled=False,
        redirect_uri_path=REDIRECT_PATH,
        callback_options=install_pages(state_utils, install_path=INSTALL_PATH),
        installation_store=installations,
        # Baseline asks for bot scopes only: one Redis read per request authorizes it.
        installation_store_bot_only=True,
        state_store=RedisOAuthStateStore(services.store.redis, expiration_seconds=STATE_SECONDS),
        state_expiration_seconds=STATE_SECONDS,
        logger=logger,
    )
    authorize = AsyncInstallationStoreAuthorize(
        logger=logger,
        installation_store=installations,
        client_id=client_id,
        client_secret=client_secret,
        bot_only=True,
        # auth.test once per bot token and process, not once per request (Bolt's default).
        cache_enabled=True,
        client=client,
    )
    return AsyncApp(
        signing_secret=signing_secret,
        client=client,
        # Bolt takes an AsyncAuthorize instance as it is (isinstance), though its annotation
        # only names plain callables.
        authorize=authorize,  # type: ignore[arg-type]
        oauth_settings=oauth_settings,
        installation_store_bot_only=True,
        user_facing_authorize_error_message=NOT_AUTHORIZED,
        raise_error_for_unhandled_request=True,
    )


def slack_client(settings: Settings) -> AsyncWebClient:
    """The one workspace's client (``SLACK_BOT_TOKEN``)."""
    settings.require_bot()
    return _bot_client(settings)


def _bot_client(settings: Settings) -> AsyncWebClient:
    # Without a token (settings made for a test of something else) the client exists, and
    # Slack refuses its calls.
    token = settings.slack_bot_token
    return AsyncWebClient(
        token=None if token is None else token.get_secret_value(),
        base_url=settings.slack_api_url,
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
    # With OAuth configured, Bolt adds GET /slack/install and GET /slack/oauth_redirect.
    web_app = app.web_app(path="/slack/events")
    slack_auth: health.SlackAuthCheck | None = None
    if app.oauth_flow is None:
        # One token: auth.test once, from start-up. Many workspaces have no one token to check.
        slack_auth = health.SlackAuthCheck(app.client)
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
