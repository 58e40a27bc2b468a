"""Many workspaces (OAuth): where each workspace's installation is kept, the OAuth ``state``
store, the Slack client background work uses for a workspace, and forgetting a workspace that
removed Baseline.

Installations live in Redis under one hash tag per workspace (``bl:{w:<team>}:…``; an
org-wide install is keyed by its enterprise id), encrypted with the :class:`~bot.vault.Vault`:
they hold bot tokens. A ``state`` is a ``SET … EX`` consumed by ``GETDEL``: once, atomically,
on whichever instance the browser comes back to.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from logging import Logger
from time import monotonic
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError
from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.response import BoltResponse
from slack_sdk.oauth import OAuthStateUtils
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from bot import keys
from bot.planning import forget_plans
from bot.store import RedisClient, StoreUnavailableError, reachable
from bot.vault import Vault, VaultError
from bot.windows import WindowStore

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

# How long background work reuses a workspace's client before reading its installation again.
# An uninstall on this instance evicts at once; on another instance, Slack refuses the old
# token meanwhile (the nudge is dropped, not sent twice), and this bounds how long.
CLIENT_CACHE_SECONDS = 60.0
# People of a forgotten workspace whose plans are cleared at the same time.
FORGET_CONCURRENCY = 16
# Counted in ``bl:stats`` when a workspace's data is gone (uninstall, bot token revoked).
FORGOTTEN_COUNTER = "workspaces_forgotten"


def workspace_id(
    *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None
) -> str | None:
    """The id an installation is kept under: the organisation's for an org-wide install,
    else the workspace's (``None`` when the request names neither)."""
    if is_enterprise_install and enterprise_id:
        return enterprise_id
    return team_id or enterprise_id or None


class RedisInstallationStore(AsyncInstallationStore):
    """Installations and bots in Redis, encrypted at rest; every key of one workspace shares
    its hash tag, so each save or delete is one MULTI/EXEC in one Redis Cluster slot."""

    def __init__(self, redis: RedisClient, vault: Vault) -> None:
        self._redis = redis
        self._vault = vault

    @property
    def logger(self) -> Logger:
        return logger

    async def async_save(self, installation: Installation) -> None:
        workspace = _workspace_of(installation)
        # json of __dict__ is what slack_sdk's own stores keep; it round-trips Installation(**…).
        sealed = self._vault.seal(json.dumps(installation.__dict__))
        try:
            async with reachable(), self._redis.pipeline(transaction=True) as pipe:
                pipe.set(keys.installation_latest(workspace), sealed)
                if installation.user_id:
                    pipe.set(keys.installation_of(workspace, installation.user_id), sealed)
                    pipe.sadd(keys.installation_users(workspace), installation.user_id)
                if installation.bot_token:
                    bot = self._vault.seal(json.dumps(installation.to_bot().__dict__))
                    pipe.set(keys.installation_bot(workspace), bot)
                await pipe.execute()
        except (StoreUnavailableError, RedisError) as exc:
            # Bolt turns a BoltError into its "storage_error" page instead of a bare 500.
            raise BoltError("the installation could not be saved: Redis is unreachable") from exc
        logger.info("installation saved for workspace %s", workspace)

    async def async_save_bot(self, bot: Bot) -> None:
        workspace = _workspace_of(bot)
        sealed = self._vault.seal(json.dumps(bot.__dict__))
        async with reachable():
            await self._redis.set(keys.installation_bot(workspace), sealed)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        workspace = workspace_id(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        if workspace is None:
            return None
        data = await self._read(keys.installation_bot(workspace))
        return None if data is None else Bot(**data)

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        workspace = workspace_id(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        if workspace is None:
            return None
        key = (
            keys.installation_latest(workspace)
            if user_id is None
            else keys.installation_of(workspace, user_id)
        )
        data = await self._read(key)
        if data is None:
            return None
        installation = Installation(**data)
        if user_id is not None or installation.bot_token is None:
            # A person's own installation may be older than the workspace's bot: the bot
            # token is always the newest one (as in slack_sdk's own stores).
            bot = await self.async_find_bot(
                enterprise_id=enterprise_id,
                team_id=team_id,
                is_enterprise_install=is_enterprise_install,
            )
            if bot is not None:
                installation.bot_id = bot.bot_id
                installation.bot_user_id = bot.bot_user_id
                installation.bot_token = bot.bot_token
                installation.bot_scopes = bot.bot_scopes
                installation.bot_refresh_token = bot.bot_refresh_token
                installation.bot_token_expires_at = bot.bot_token_expires_at
        return installation

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        workspace = workspace_id(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=team_id is None
        )
        if workspace is not None:
            async with reachable():
                await self._redis.delete(keys.installation_bot(workspace))

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        """One person's installation (their user token was revoked), or, without
        ``user_id``, every installation of the workspace but its bot."""
        workspace = workspace_id(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=team_id is None
        )
        if workspace is None:
            return
        if user_id is None:
            await self._delete_installations(workspace, with_bot=False)
            return
        latest = await self._read(keys.installation_latest(workspace))
        async with reachable(), self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.installation_of(workspace, user_id))
            pipe.srem(keys.installation_users(workspace), user_id)
            if latest is not None and latest.get("user_id") == user_id and latest.get("user_token"):
                # The latest installation carries its installer's user token too: it goes.
                for name in ("user_token", "user_refresh_token", "user_token_expires_at"):
                    latest[name] = None
                latest["user_scopes"] = []
                pipe.set(keys.installation_latest(workspace), self._vault.seal(json.dumps(latest)))
            await pipe.execute()

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        workspace = workspace_id(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=team_id is None
        )
        if workspace is not None:
            await self.delete_workspace(workspace)

    async def delete_workspace(self, workspace: str) -> int:
        """Every installation key of one workspace; returns how many were deleted."""
        return await self._delete_installations(workspace, with_bot=True)

    async def _delete_installations(self, workspace: str, *, with_bot: bool) -> int:
        # One DEL: every key shares the workspace's hash tag, so it is one slot on a cluster.
        async with reachable():
            users = [
                _text(u) for u in await self._redis.smembers(keys.installation_users(workspace))
            ]
            return int(
                await self._redis.delete(
                    *([keys.installation_bot(workspace)] if with_bot else []),
                    keys.installation_latest(workspace),
                    keys.installation_users(workspace),
                    *(keys.installation_of(workspace, u) for u in users),
                )
            )

    async def _read(self, key: str) -> dict[str, Any] | None:
        async with reachable():
            raw = await self._redis.get(key)
        if raw is None:
            return None
        try:
            data = json.loads(self._vault.open(raw if isinstance(raw, bytes) else raw.encode()))
        except (VaultError, ValueError) as exc:
            # A key that no longer decrypts is no installation: the workspace reinstalls.
            logger.warning("an installation could not be read: %s", type(exc).__name__)
            return None
        return data if isinstance(data, dict) else None


class RedisOAuthStateStore(AsyncOAuthStateStore):
    """OAuth ``state`` values: issued with an expiry, consumed once (``GETDEL`` is atomic, so
    a replayed or doubly-submitted redirect finds nothing, on any instance)."""

    def __init__(self, redis: RedisClient, *, expiration_seconds: int) -> None:
        self._redis = redis
        self.expiration_seconds = expiration_seconds

    @property
    def logger(self) -> Logger:
        return logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        async with reachable():
            await self._redis.set(keys.oauth_state(state), b"1", ex=self.expiration_seconds)
        return state

    async def async_consume(self, state: str) -> bool:
        # token_urlsafe(24) is 32 characters; anything else was never issued here.
        if not state or len(state) > 64:
            return False
        try:
            async with reachable():
                return await self._redis.getdel(keys.oauth_state(state)) is not None
        except StoreUnavailableError:
            # The browser gets the "try again" page; a state is never accepted unchecked.
            logger.warning("an OAuth state could not be checked: Redis is unreachable")
            return False


class SlackClients:
    """The Slack client for a workspace, for work outside a request (delivery, sync DMs,
    window announcements). One workspace: the one bot token's client. Many: the workspace's
    installed bot token, read from Redis and kept for ``CLIENT_CACHE_SECONDS``; ``None``
    when the workspace has no installation (it removed Baseline)."""

    def __init__(
        self,
        *,
        client: AsyncWebClient | None = None,
        installations: RedisInstallationStore | None = None,
        base_url: str | None = None,
        cache_seconds: float = CLIENT_CACHE_SECONDS,
    ) -> None:
        if (client is None) == (installations is None):
            raise ValueError("give either the one client or the installation store")
        self._client = client
        self._installations = installations
        self._base_url = base_url
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, AsyncWebClient]] = {}

    @classmethod
    def single(cls, client: AsyncWebClient) -> SlackClients:
        return cls(client=client)

    @classmethod
    def installed(cls, installations: RedisInstallationStore, *, base_url: str) -> SlackClients:
        return cls(installations=installations, base_url=base_url)

    @property
    def default(self) -> AsyncWebClient | None:
        """The one client of a single-workspace install (None with many workspaces)."""
        return self._client

    async def for_team(self, team: str) -> AsyncWebClient | None:
        if self._client is not None:
            return self._client
        assert self._installations is not None  # noqa: S101 - one of the two, checked in __init__
        cached = self._cache.get(team)
        if cached is not None and cached[0] > monotonic():
            return cached[1]
        bot = await self._installations.async_find_bot(enterprise_id=None, team_id=team)
        if bot is None or not bot.bot_token:
            self._cache.pop(team, None)
            return None
        client = AsyncWebClient(token=bot.bot_token, base_url=self._base_url or "")
        self._cache[team] = (monotonic() + self._cache_seconds, client)
        return client

    def forget(self, team: str) -> None:
        """Drop this instance's cached client for ``team`` (uninstalled, token refused)."""
        self._cache.pop(team, None)


def as_clients(client: AsyncWebClient | SlackClients) -> SlackClients:
    """Callers may still hand over one client (one workspace, tests)."""
    return client if isinstance(client, SlackClients) else SlackClients.single(client)


# --- forgetting a workspace ----------------------------------------------------------------


@dataclass
class WorkspaceKeys:
    """What a SCAN found of one workspace, sorted by owner (each group shares a hash tag)."""

    people: defaultdict[str, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    channels: defaultdict[str, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    installation: list[bytes] = field(default_factory=list)
    team: list[bytes] = field(default_factory=list)  # rate bucket, lead groups, answered groups
    indexes: list[bytes] = field(default_factory=list)  # person → channels indexes


@dataclass(frozen=True)
class WorkspaceForgotten:
    """Counts only: what forgetting one workspace removed."""

    people: int
    channels: int
    keys: int


async def forget_workspace(
    services: Services,
    team: str,
    *,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> WorkspaceForgotten:
    """The workspace removed Baseline (``app_uninstalled``, or its bot token revoked): its
    installation first (no request is authorized and no background send finds a token from
    then on), then every person's keys, their queued nudges and schedules, the channels'
    recovery windows, and the workspace's own keys. Logs counts only."""
    redis = services.store.redis
    removed = 0
    workspace = workspace_id(
        enterprise_id=enterprise_id, team_id=team, is_enterprise_install=is_enterprise_install
    )
    if services.installations is not None and workspace is not None:
        removed += await services.installations.delete_workspace(workspace)
    services.slack.forget(team)
    found = await _scan_workspace(redis, team)
    people = set(found.people)
    slots = asyncio.Semaphore(FORGET_CONCURRENCY)

    async def forget_person(user: str) -> int:
        async with slots:
            await forget_plans(services, team, user)
            owned = found.people.get(user, [])
            if not owned:
                return 0
            async with reachable():
                return int(await redis.delete(*owned))  # one person: one hash tag, one slot

    removed += sum(await asyncio.gather(*(forget_person(u) for u in sorted(people))))
    windows = WindowStore(redis, shards=services.queue.shards)
    for channel, owned in sorted(found.channels.items()):
        await windows.drop_channel(team, channel)
        async with reachable():
            # Announcement markers and anything else under the channel's tag.
            removed += int(await redis.delete(*owned))
    for key in [*found.installation, *found.team, *found.indexes]:
        async with reachable():
            removed += int(await redis.delete(key))
    await services.counters.incr(FORGOTTEN_COUNTER)
    forgotten = WorkspaceForgotten(people=len(people), channels=len(found.channels), keys=removed)
    logger.info(
        "workspace %s forgotten: %d people, %d channels, %d keys",
        team,
        forgotten.people,
        forgotten.channels,
        forgotten.keys,
    )
    return forgotten


async def forget_installers(
    services: Services,
    team: str,
    users: Iterable[str],
    *,
    enterprise_id: str | None = None,
) -> int:
    """Only people's own tokens were revoked (``tokens_revoked`` without the bot): their
    installations go, the workspace stays. Returns how many people."""
    if services.installations is None:
        return 0
    count = 0
    for user in users:
        await services.installations.async_delete_installation(
            enterprise_id=enterprise_id, team_id=team, user_id=user
        )
        count += 1
    logger.info("user tokens revoked in workspace %s: %d installations removed", team, count)
    return count


async def _scan_workspace(redis: RedisClient, team: str) -> WorkspaceKeys:
    """Every key of ``team``, found with one SCAN (on a Redis Cluster, redis-py's scan_iter
    walks every primary) and sorted out exactly: the pattern over-matches other ids."""
    t = re.escape(team)
    person = re.compile(rf"^{keys.PREFIX}:\{{p:{t}:(?P<user>[^}}]+)\}}:")
    channel = re.compile(rf"^{keys.PREFIX}:\{{c:{t}:(?P<channel>[^}}]+)\}}:")
    installation = re.compile(rf"^{keys.PREFIX}:\{{w:{t}\}}:")
    team_keys = re.compile(rf"^{keys.PREFIX}:(?:rate|leads|answered):\{{{t}\}}(?::|$)")
    index = re.compile(rf"^{keys.PREFIX}:wm:\{{{t}\}}:(?P<user>.+)$")
    queued = re.compile(rf"^{keys.PREFIX}:q:\{{q\d+\}}:(?:p|done):{t}:(?P<user>.+)$")
    found = WorkspaceKeys()
    async with reachable():
        async for raw in redis.scan_iter(match=keys.workspace_pattern(team), count=1000):
            key = raw if isinstance(raw, bytes) else str(raw).encode()
            text = key.decode(errors="replace")
            if (m := person.match(text)) and keys.is_person_key(team, m["user"], text):
                found.people[m["user"]].append(key)
            elif m := channel.match(text):
                found.channels[m["channel"]].append(key)
            elif installation.match(text):
                found.installation.append(key)
            elif team_keys.match(text):
                found.team.append(key)
            elif m := index.match(text):
                found.indexes.append(key)
                found.people.setdefault(m["user"], [])
            elif m := queued.match(text):
                # Queued work of someone whose own keys are gone: forget_plans clears it.
                found.people.setdefault(m["user"], [])
    return found


def _workspace_of(installation: Installation | Bot) -> str:
    workspace = workspace_id(
        enterprise_id=installation.enterprise_id,
        team_id=installation.team_id,
        is_enterprise_install=installation.is_enterprise_install,
    )
    if workspace is None:
        raise BoltError("an installation without a workspace or organisation id")
    return workspace


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# --- the pages a browser sees after installing ----------------------------------------------
# Kept here, next to the flow that shows them: they are web pages, not Slack messages.

# Said in Slack when a request's workspace has no usable installation. Slack sends nothing from
# a workspace that removed the app, so this is almost always Redis being away for a moment:
# no "please reinstall" (Bolt's default), which would send an admin off for nothing.
NOT_AUTHORIZED = (
    ":hourglass: Baseline couldn't check this workspace just now. Nothing was changed; "
    "please try again in a moment."
)
INSTALLED_TITLE = "Baseline is installed"
INSTALLED_TEXT = (
    "Thank you. Open Slack and type <code>/baseline on</code> to start; "
    "<code>/baseline</code> shows everything else."
)
INSTALL_FAILED_TITLE = "That install did not finish"
INSTALL_FAILED_TEXT = (
    "Nothing was changed. The link may have expired or been used already. "
    'Please <a href="{install_path}">start the install again</a>.'
)


def _page(title: str, body: str, *, link: str | None = None) -> str:
    more = f'<p><a href="{html.escape(link)}">Open Slack</a></p>' if link else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;"
        "padding:0 1rem;line-height:1.5;color:#2f4858}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{body}</p>{more}</body></html>"
    )


def install_pages(state_utils: OAuthStateUtils, *, install_path: str) -> AsyncCallbackOptions:
    """Short, kind pages for the end of an install; both clear the state cookie."""

    def headers() -> dict[str, str | Sequence[str]]:
        return {
            "Content-Type": "text/html; charset=utf-8",
            "Set-Cookie": [state_utils.build_set_cookie_for_deletion()],
        }

    async def success(args: AsyncSuccessArgs) -> BoltResponse:
        installation = args.installation
        link = (
            f"slack://app?team={installation.team_id}&id={installation.app_id}"
            if installation.team_id and installation.app_id
            else "slack://open"
        )
        return BoltResponse(
            status=200, body=_page(INSTALLED_TITLE, INSTALLED_TEXT, link=link), headers=headers()
        )

    async def failure(args: AsyncFailureArgs) -> BoltResponse:
        # The reason names the check that failed (invalid_state, invalid_code…), no secret.
        logger.info("an install did not finish: %s", args.reason)
        body = INSTALL_FAILED_TEXT.format(install_path=html.escape(install_path))
        return BoltResponse(
            status=args.suggested_status_code,
            body=_page(INSTALL_FAILED_TITLE, body),
            headers=headers(),
        )

    return AsyncCallbackOptions(success=success, failure=failure)
