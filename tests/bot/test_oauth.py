"""Many workspaces (OAuth): install over real HTTP against the real aiohttp app, the fake
Slack's oauth.v2.access, installations and states in a real Redis; each workspace answered
and reached in the background with its own token; uninstalling forgets exactly one workspace."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.crc import key_slot

from bot import keys
from bot.delivery import Deliverer
from bot.installations import (
    FORGOTTEN_COUNTER,
    INSTALL_FAILED_TITLE,
    INSTALLED_TITLE,
    NOT_AUTHORIZED,
    RedisOAuthStateStore,
    forget_workspace,
)
from bot.manifest import bot_scopes
from bot.models import Profile
from bot.planning import replan
from bot.queue import DropReason
from bot.ratelimit import WorkspaceRate
from bot.windows import WindowStore, new_window_id
from config.settings import Settings, SettingsError, load_settings
from nudges.clock import BusyInterval, ClockRange, Weekdays
from nudges.feelings import FeelEntry
from nudges.preferences import Preferences
from nudges.windows import RecoveryWindow
from tests.bot.conftest import (
    ENCRYPTION_KEY,
    SIGNING_SECRET,
    START,
    RunningBot,
    deliver_due,
    serve_with,
)
from tests.support.fake_slack import FakeSlack, FakeWorkspace
from tests.support.redis_server import RedisServer
from tests.support.signing import event_callback_body

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "test-client-secret"
ALPHA = FakeWorkspace(
    team_id="T0ALPHA",
    team_name="Alpha",
    bot_token="xoxb-alpha-bot-token",
    bot_user_id="U0BOTA",
    bot_id="B0BOTA",
    installer="U0ADMINA",
)
BETA = FakeWorkspace(
    team_id="T0BETA",
    team_name="Beta",
    bot_token="xoxb-beta-bot-token",
    bot_user_id="U0BOTB",
    bot_id="B0BOTB",
    installer="U0ADMINB",
)
# A workspace whose id contains Alpha's: forgetting Alpha must not touch it.
NEIGHBOUR = "XT0ALPHA"
PERSON = "U0PERSON"
# Just after the reset that opt_in_with_a_chain plans (10:00 UTC) is due.
SEND_TIME = START.replace(hour=10, minute=0, second=5)
STATE_COOKIE = "slack-app-oauth-state"


def oauth_settings(redis_url: str, slack: FakeSlack, **overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "slack_client_id": CLIENT_ID,
        "slack_client_secret": CLIENT_SECRET,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.base_url,
        "redis_url": redis_url,
        "encryption_key": ENCRYPTION_KEY,
    }
    return Settings(**{**fields, **overrides})


@dataclass
class OAuthBot:
    """The bot serving many workspaces, and a browser to install it with."""

    running: RunningBot
    browser: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def slack(self) -> FakeSlack:
        return self.running.slack

    @property
    def redis(self) -> Any:
        return self.running.store.redis

    async def start_install(self) -> tuple[str, str]:
        """GET /slack/install; returns (where it sends the browser, the state cookie)."""
        async with self.browser.get(f"{self.url}/slack/install", allow_redirects=False) as resp:
            assert resp.status == 302
            location = resp.headers["Location"]
            cookie = resp.cookies[STATE_COOKIE].value
        return location, cookie

    async def redirect(
        self, *, code: str | None, state: str | None, cookie: str | None
    ) -> tuple[int, str]:
        """GET /slack/oauth_redirect as the browser comes back from Slack."""
        query = {k: v for k, v in (("code", code), ("state", state)) if v is not None}
        headers = {"Cookie": f"{STATE_COOKIE}={cookie}"} if cookie is not None else {}
        async with self.browser.get(
            f"{self.url}/slack/oauth_redirect", params=query, headers=headers
        ) as resp:
            return resp.status, await resp.text()

    async def install(self, workspace: FakeWorkspace) -> None:
        location, cookie = await self.start_install()
        state = parse_qs(urlsplit(location).query)["state"][0]
        status, page = await self.redirect(
            code=self.slack.issue_code(workspace), state=state, cookie=cookie
        )
        assert status == 200, page
        assert INSTALLED_TITLE in page

    async def event(self, team: str, event: dict[str, Any], *, event_id: str) -> int:
        body = event_callback_body(event, event_id=event_id, team_id=team)
        return (await self.running.post(body)).status


@asynccontextmanager
async def serve_oauth_bot(
    redis_server: RedisServer, slack: FakeSlack, **overrides: Any
) -> AsyncIterator[OAuthBot]:
    """The whole bot in OAuth mode over real HTTP on a free port."""
    settings = oauth_settings(redis_server.url, slack, **overrides)
    slack.oauth_app(CLIENT_ID, CLIENT_SECRET)
    # The state cookie is Secure (https only): the browser here sends it by hand.
    async with (
        serve_with(settings, redis_server, slack) as running,
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser,
    ):
        yield OAuthBot(running=running, browser=browser)


@pytest_asyncio.fixture(loop_scope="function")
async def oauth_bot(
    redis_server: RedisServer, redis: Redis, fake_slack: FakeSlack
) -> AsyncIterator[OAuthBot]:
    async with serve_oauth_bot(redis_server, fake_slack) as running:
        yield running


async def wait_for_counter(bot: OAuthBot, name: str, value: int) -> None:
    """Event listeners run after the ack: wait (bounded) until their work is counted."""
    for _ in range(500):
        if (await bot.running.services.counters.read()).get(name, 0) >= value:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"counter {name} never reached {value}")


# --- installing ---------------------------------------------------------------------------


async def test_install_sends_the_browser_to_slack_with_a_state_and_its_cookie(
    oauth_bot: OAuthBot, redis: Redis
) -> None:
    location, cookie = await oauth_bot.start_install()

    url = urlsplit(location)
    query = parse_qs(url.query)
    assert (url.netloc, url.path) == ("slack.com", "/oauth/v2/authorize")
    assert query["client_id"] == [CLIENT_ID]
    assert query["scope"] == [",".join(bot_scopes())]
    assert query["state"] == [cookie]
    ttl = await redis.ttl(keys.oauth_state(cookie))
    assert 0 < ttl <= 600  # it expires by itself


async def test_the_redirect_installs_the_workspace_with_its_token_encrypted(
    oauth_bot: OAuthBot, redis: Redis
) -> None:
    location, cookie = await oauth_bot.start_install()
    state = parse_qs(urlsplit(location).query)["state"][0]
    code = oauth_bot.slack.issue_code(ALPHA)

    status, page = await oauth_bot.redirect(code=code, state=state, cookie=cookie)

    assert status == 200
    assert INSTALLED_TITLE in page
    assert f"slack://app?team={ALPHA.team_id}" in page
    exchange = oauth_bot.slack.last("oauth.v2.access")
    assert exchange.params["code"] == code
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert exchange.headers["Authorization"] == f"Basic {basic}"
    assert isinstance(exchange.response, dict)
    assert exchange.response["ok"] is True
    # Bolt checks the new token once (bot id); it reaches the fake, not slack.com.
    assert [c.token for c in oauth_bot.slack.calls("auth.test")] == [ALPHA.bot_token]
    installations = oauth_bot.running.services.installations
    assert installations is not None
    bot = await installations.async_find_bot(enterprise_id=None, team_id=ALPHA.team_id)
    assert bot is not None
    assert (bot.bot_token, bot.bot_user_id, bot.bot_id) == (
        ALPHA.bot_token,
        ALPHA.bot_user_id,
        ALPHA.bot_id,
    )
    installation = await installations.async_find_installation(
        enterprise_id=None, team_id=ALPHA.team_id, user_id=ALPHA.installer
    )
    assert installation is not None
    assert installation.team_name == ALPHA.team_name
    # At rest the token is sealed: no raw value holds it.
    stored = [k async for k in redis.scan_iter(match=f"bl:{{w:{ALPHA.team_id}}}:*")]
    assert len(stored) >= 3
    for key in stored:
        raw = await redis.get(key) if await redis.type(key) == b"string" else b""
        assert isinstance(raw, bytes)
        assert ALPHA.bot_token.encode() not in raw
    # Every key of the installation is in one Redis Cluster slot.
    assert len({key_slot(k) for k in stored}) == 1
    assert not await redis.exists(keys.oauth_state(state))  # consumed


async def test_a_state_is_good_for_one_install_only(oauth_bot: OAuthBot) -> None:
    location, cookie = await oauth_bot.start_install()
    state = parse_qs(urlsplit(location).query)["state"][0]
    first = oauth_bot.slack.issue_code(ALPHA)
    second = oauth_bot.slack.issue_code(BETA)

    # The same state twice at once (a double click, a replay): exactly one goes through.
    answers = await asyncio.gather(
        oauth_bot.redirect(code=first, state=state, cookie=cookie),
        oauth_bot.redirect(code=second, state=state, cookie=cookie),
    )

    assert sorted(status for status, _ in answers) == [200, 401]
    refused = next(page for status, page in answers if status == 401)
    assert INSTALL_FAILED_TITLE in refused
    assert "/slack/install" in refused
    assert len(oauth_bot.slack.calls("oauth.v2.access")) == 1
    # And once more later: still refused, nothing exchanged.
    status, _ = await oauth_bot.redirect(
        code=oauth_bot.slack.issue_code(BETA), state=state, cookie=cookie
    )
    assert status == 401
    assert len(oauth_bot.slack.calls("oauth.v2.access")) == 1


async def test_a_forged_or_expired_state_is_refused(oauth_bot: OAuthBot, redis: Redis) -> None:
    code = oauth_bot.slack.issue_code(ALPHA)
    # Never issued (the attacker sets the cookie too).
    status, page = await oauth_bot.redirect(code=code, state="forged", cookie="forged")
    assert (status, INSTALL_FAILED_TITLE in page) == (401, True)
    # A real state, but not this browser's (no cookie).
    _, cookie = await oauth_bot.start_install()
    status, _ = await oauth_bot.redirect(code=code, state=cookie, cookie=None)
    assert status == 400
    # A real state past its expiry: Redis dropped it.
    await redis.pexpire(keys.oauth_state(cookie), 1)
    for _ in range(200):
        if not await redis.exists(keys.oauth_state(cookie)):
            break
        await asyncio.sleep(0.01)
    status, _ = await oauth_bot.redirect(code=code, state=cookie, cookie=cookie)
    assert status == 401
    assert oauth_bot.slack.calls("oauth.v2.access") == []
    assert [k async for k in redis.scan_iter(match="bl:{w:*")] == []


async def test_a_code_slack_refuses_installs_nothing(oauth_bot: OAuthBot, redis: Redis) -> None:
    location, cookie = await oauth_bot.start_install()
    state = parse_qs(urlsplit(location).query)["state"][0]

    status, page = await oauth_bot.redirect(code="made-up", state=state, cookie=cookie)

    assert status == 401
    assert INSTALL_FAILED_TITLE in page
    assert oauth_bot.slack.last("oauth.v2.access").response == {
        "ok": False,
        "error": "invalid_code",
    }
    assert [k async for k in redis.scan_iter(match="bl:{w:*")] == []


async def test_wrong_client_credentials_install_nothing(
    redis_server: RedisServer, redis: Redis, fake_slack: FakeSlack
) -> None:
    async with serve_oauth_bot(
        redis_server, fake_slack, slack_client_secret="not-the-secret"
    ) as bot:
        fake_slack.oauth_app(CLIENT_ID, CLIENT_SECRET)  # what Slack knows
        location, cookie = await bot.start_install()
        state = parse_qs(urlsplit(location).query)["state"][0]
        status, _ = await bot.redirect(
            code=fake_slack.issue_code(ALPHA), state=state, cookie=cookie
        )
    assert status == 401
    assert fake_slack.last("oauth.v2.access").response == {
        "ok": False,
        "error": "bad_client_secret",
    }
    assert [k async for k in redis.scan_iter(match="bl:{w:*")] == []


async def test_a_state_is_consumed_once_across_concurrent_callers(redis: Redis) -> None:
    states = RedisOAuthStateStore(redis, expiration_seconds=600)
    state = await states.async_issue()

    results = await asyncio.gather(*(states.async_consume(state) for _ in range(20)))

    assert results.count(True) == 1
    assert await states.async_consume("") is False
    assert await states.async_consume("x" * 65) is False


# --- requests and background work per workspace ------------------------------------------


async def test_each_workspace_is_answered_with_its_own_token(oauth_bot: OAuthBot) -> None:
    await oauth_bot.install(ALPHA)
    await oauth_bot.install(BETA)
    slack = oauth_bot.slack
    slack.requests.clear()

    assert await oauth_bot.running.command("/feel", team_id=BETA.team_id) == 200
    assert await oauth_bot.running.command("/feel", team_id=ALPHA.team_id) == 200
    assert await oauth_bot.running.command("/baseline", "status", team_id=BETA.team_id) == 200

    assert [c.token for c in slack.calls("views.open")] == [BETA.bot_token, ALPHA.bot_token]
    await slack.wait_for("users.info")
    assert slack.last("users.info").token == BETA.bot_token
    await slack.wait_for("response_url")
    assert slack.responses()[-1].params["text"] == "Your Baseline settings"


async def test_authorization_is_cached_one_auth_test_per_workspace(oauth_bot: OAuthBot) -> None:
    await oauth_bot.install(ALPHA)
    await oauth_bot.install(BETA)
    slack = oauth_bot.slack
    slack.requests.clear()

    for _ in range(5):
        for workspace in (ALPHA, BETA):
            status = await oauth_bot.running.command("/feel", "4 fine", team_id=workspace.team_id)
            assert status == 200

    tokens = [c.token or "" for c in slack.calls("auth.test")]
    assert sorted(tokens) == sorted([ALPHA.bot_token, BETA.bot_token])


async def test_a_workspace_not_installed_is_not_served(oauth_bot: OAuthBot) -> None:
    await oauth_bot.install(ALPHA)
    oauth_bot.slack.requests.clear()

    await oauth_bot.running.command("/feel", team_id=BETA.team_id)

    assert oauth_bot.slack.calls("views.open") == []
    assert oauth_bot.slack.calls("auth.test") == []
    # A kind word in Slack, not Bolt's "please reinstall".
    await oauth_bot.slack.wait_for("response_url")
    assert oauth_bot.slack.responses()[-1].params["text"] == NOT_AUTHORIZED


async def opt_in_with_a_chain(bot: OAuthBot, team: str) -> None:
    """A person of ``team`` with one reset planned for 10:00 UTC (START's day)."""
    store = bot.running.store
    prefs = Preferences.model_validate({"tz": "Europe/Berlin", "reflection": None})
    await store.save_profile(team, PERSON, Profile(opted_in=True, preferences=prefs))
    day = START.replace(hour=0, minute=0)
    await store.save_busy(
        team,
        PERSON,
        [
            BusyInterval(start=day.replace(hour=8, minute=30), end=day.replace(hour=9, minute=15)),
            BusyInterval(start=day.replace(hour=9, minute=15), end=day.replace(hour=10)),
        ],
    )
    assert await replan(bot.running.services, team, PERSON, now=START) == 1


def deliverer_of(bot: OAuthBot) -> Deliverer:
    services = bot.running.services
    rate = WorkspaceRate(bot.running.store.redis, rate=50)
    return Deliverer(services, services.slack, rate=rate, concurrency=4)


async def test_background_delivery_uses_the_workspace_s_own_token(oauth_bot: OAuthBot) -> None:
    await oauth_bot.install(ALPHA)
    await oauth_bot.install(BETA)
    await opt_in_with_a_chain(oauth_bot, BETA.team_id)
    await opt_in_with_a_chain(oauth_bot, ALPHA.team_id)
    oauth_bot.slack.requests.clear()

    claimed = await deliver_due(oauth_bot.running, deliverer_of(oauth_bot), SEND_TIME)

    assert claimed == 2
    posts = oauth_bot.slack.calls("chat.postMessage")
    assert sorted(c.token or "" for c in posts) == sorted([ALPHA.bot_token, BETA.bot_token])
    for method in ("conversations.open", "dnd.info"):
        assert {c.token for c in oauth_bot.slack.calls(method)} == {
            ALPHA.bot_token,
            BETA.bot_token,
        }
    assert (await oauth_bot.running.services.counters.read())["sent"] == 2


async def test_a_nudge_for_an_uninstalled_workspace_is_dropped_and_counted(
    oauth_bot: OAuthBot,
) -> None:
    await oauth_bot.install(ALPHA)
    await opt_in_with_a_chain(oauth_bot, ALPHA.team_id)
    installations = oauth_bot.running.services.installations
    assert installations is not None
    # Removed between planning and sending (its uninstall event not handled yet).
    await installations.delete_workspace(ALPHA.team_id)
    oauth_bot.slack.requests.clear()

    claimed = await deliver_due(oauth_bot.running, deliverer_of(oauth_bot), SEND_TIME)

    assert claimed == 1
    assert oauth_bot.slack.requests == []
    counters = await oauth_bot.running.services.counters.read()
    assert counters[f"dropped:{DropReason.UNINSTALLED}"] == 1
    assert "sent" not in counters
    assert await oauth_bot.running.services.queue.pending(ALPHA.team_id, PERSON) == []


async def test_a_token_slack_refuses_is_read_again_for_the_next_nudge(oauth_bot: OAuthBot) -> None:
    await oauth_bot.install(ALPHA)
    await opt_in_with_a_chain(oauth_bot, ALPHA.team_id)
    services = oauth_bot.running.services
    assert await services.slack.for_team(ALPHA.team_id) is not None  # cached now
    # Uninstalled on another instance: the token is dead, this instance's cache is not.
    installations = services.installations
    assert installations is not None
    await installations.delete_workspace(ALPHA.team_id)
    oauth_bot.slack.revoked.add(ALPHA.bot_token)

    await deliver_due(oauth_bot.running, deliverer_of(oauth_bot), SEND_TIME)

    counters = await services.counters.read()
    assert counters[f"dropped:{DropReason.SLACK_ERROR}"] == 1
    assert await services.slack.for_team(ALPHA.team_id) is None  # evicted, read again


async def test_readiness_checks_redis_and_no_single_token(oauth_bot: OAuthBot) -> None:
    async with oauth_bot.running.http.get(f"{oauth_bot.url}/readyz") as response:
        body = await response.json()
    assert (response.status, body) == (
        200,
        {"ok": True, "redis": True, "slack_auth": "per_workspace"},
    )
    assert oauth_bot.slack.calls("auth.test") == []
    async with oauth_bot.running.http.get(f"{oauth_bot.url}/healthz") as response:
        assert response.status == 200


# --- forgetting a workspace -----------------------------------------------------------------


async def seed_workspace(bot: OAuthBot, team: str) -> None:
    """Some of everything Baseline keeps about a workspace: people (profile, feel log, busy
    time, DM channel, queued nudge, day start, sync schedule), a channel with a recovery
    window and its members, the rate bucket, a lead group, the privacy guard's record."""
    services, store = bot.running.services, bot.running.store
    redis = store.redis
    await opt_in_with_a_chain(bot, team)
    await store.log_feeling(team, PERSON, FeelEntry(at=START, score=3, note="long day"))
    await store.remember_dm_channel(team, PERSON, f"D{PERSON}")
    await store.save_profile(team, "U0OTHER", Profile())
    shard = services.queue.shard_of(team, PERSON)
    await redis.zadd(keys.sync_schedule(shard), {f"{team}:{PERSON}": START.timestamp()})
    windows = WindowStore(redis, shards=services.queue.shards)
    window = RecoveryWindow(
        id=new_window_id(START),
        channel="C0TEAM",
        days=Weekdays(days=frozenset({2})),
        hours=ClockRange.model_validate({"start": "14:00", "end": "14:30"}),
        tz=Preferences().tz,
        lead=PERSON,
    )
    await windows.add(team, window, now=START)
    await windows.set_members(team, "C0TEAM", {PERSON, "U0OTHER"})
    await windows.claim_announcement(team, "C0TEAM", window.id, "2026-11-25", "start")
    await WorkspaceRate(redis, rate=10).take(team)
    await redis.set(keys.lead_group(team, "leads"), b"[]")
    await redis.hset(keys.answered_groups(team, "meetings"), "abc", b"[]")


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def mentions(redis: Redis, team: str) -> set[str]:
    """Every key naming ``team`` (exactly) and every member or field of a shared key that
    does: what Redis still holds of that workspace."""
    exact = re.compile(rf"(?<![A-Za-z0-9]){re.escape(team)}(?![A-Za-z0-9])")
    found: set[str] = set()
    async for raw in redis.scan_iter(match="*"):
        key = text(raw)
        if exact.search(key):
            found.add(key)
            continue
        kind = text(await redis.type(raw))
        if kind == "zset":
            members = [text(m) for m in await redis.zrange(raw, 0, -1)]
        elif kind == "hash":
            members = [text(f) for f in await redis.hkeys(raw)]
        elif kind == "set":
            members = [text(m) for m in await redis.smembers(raw)]
        else:
            members = []
        found.update(f"{key} {m}" for m in members if exact.search(m))
    return found


async def test_forget_workspace_removes_everything_of_one_workspace_only(
    oauth_bot: OAuthBot, redis: Redis
) -> None:
    await oauth_bot.install(ALPHA)
    await oauth_bot.install(BETA)
    for team in (ALPHA.team_id, BETA.team_id, NEIGHBOUR):
        await seed_workspace(oauth_bot, team)
    assert len(await mentions(redis, ALPHA.team_id)) > 20
    beta_before = await mentions(redis, BETA.team_id)
    neighbour_before = await mentions(redis, NEIGHBOUR)

    forgotten = await forget_workspace(oauth_bot.running.services, ALPHA.team_id)

    assert (forgotten.people, forgotten.channels) == (2, 1)
    assert await mentions(redis, ALPHA.team_id) == set()
    assert await mentions(redis, BETA.team_id) == beta_before
    assert await mentions(redis, NEIGHBOUR) == neighbour_before
    assert await oauth_bot.running.services.queue.pending(ALPHA.team_id, PERSON) == []
    assert len(await oauth_bot.running.services.queue.pending(BETA.team_id, PERSON)) == 1


async def test_app_uninstalled_forgets_that_workspace(oauth_bot: OAuthBot, redis: Redis) -> None:
    await oauth_bot.install(ALPHA)
    await oauth_bot.install(BETA)
    for team in (ALPHA.team_id, BETA.team_id):
        await seed_workspace(oauth_bot, team)
    beta_before = await mentions(redis, BETA.team_id)
    oauth_bot.slack.requests.clear()

    status = await oauth_bot.event(
        ALPHA.team_id, {"type": "app_uninstalled"}, event_id="EvUninstall1"
    )

    assert status == 200
    await wait_for_counter(oauth_bot, FORGOTTEN_COUNTER, 1)
    assert await mentions(redis, ALPHA.team_id) == set()
    assert await mentions(redis, BETA.team_id) == beta_before
    assert oauth_bot.slack.requests == []  # an uninstalled workspace is not called
    # Beta still works; Alpha's people are no longer served.
    assert await oauth_bot.running.command("/feel", team_id=BETA.team_id) == 200
    assert await oauth_bot.running.command("/feel", team_id=ALPHA.team_id) == 200
    assert [c.token for c in oauth_bot.slack.calls("views.open")] == [BETA.bot_token]


async def test_tokens_revoked_for_the_bot_forgets_the_workspace(
    oauth_bot: OAuthBot, redis: Redis
) -> None:
    await oauth_bot.install(ALPHA)
    await seed_workspace(oauth_bot, ALPHA.team_id)

    event = {"type": "tokens_revoked", "tokens": {"bot": [ALPHA.bot_user_id]}}
    assert await oauth_bot.event(ALPHA.team_id, event, event_id="EvRevoke1") == 200

    await wait_for_counter(oauth_bot, FORGOTTEN_COUNTER, 1)
    assert await mentions(redis, ALPHA.team_id) == set()


async def test_tokens_revoked_for_people_only_keeps_the_workspace(
    oauth_bot: OAuthBot, redis: Redis
) -> None:
    await oauth_bot.install(ALPHA)
    await seed_workspace(oauth_bot, ALPHA.team_id)
    installations = oauth_bot.running.services.installations
    assert installations is not None
    before = await mentions(redis, ALPHA.team_id)
    mine = keys.installation_of(ALPHA.team_id, ALPHA.installer)
    assert mine in before

    event = {"type": "tokens_revoked", "tokens": {"oauth": [ALPHA.installer]}}
    assert await oauth_bot.event(ALPHA.team_id, event, event_id="EvRevoke2") == 200

    for _ in range(500):
        if not await redis.exists(mine):
            break
        await asyncio.sleep(0.01)
    after = await mentions(redis, ALPHA.team_id)
    assert mine not in after
    # Their installation, and the (now empty) set of people with one of their own.
    assert after == before - {mine, keys.installation_users(ALPHA.team_id)}
    bot = await installations.async_find_bot(enterprise_id=None, team_id=ALPHA.team_id)
    assert bot is not None
    assert bot.bot_token == ALPHA.bot_token
    assert FORGOTTEN_COUNTER not in await oauth_bot.running.services.counters.read()


async def test_an_org_wide_install_is_kept_under_the_organisation(
    oauth_bot: OAuthBot, redis: Redis
) -> None:
    org = FakeWorkspace(
        team_id="T0ORGHOME",
        team_name="Org",
        bot_token="xoxb-org-bot-token",
        enterprise_id="E0ORG",
        is_enterprise_install=True,
    )
    await oauth_bot.install(org)

    installations = oauth_bot.running.services.installations
    assert installations is not None
    bot = await installations.async_find_bot(
        enterprise_id="E0ORG", team_id="T0ANYWHERE", is_enterprise_install=True
    )
    assert bot is not None
    assert bot.bot_token == org.bot_token
    assert await redis.exists(keys.installation_bot("E0ORG"))
    forgotten = await forget_workspace(
        oauth_bot.running.services, "T0ANYWHERE", enterprise_id="E0ORG", is_enterprise_install=True
    )
    assert forgotten.keys >= 3
    assert [k async for k in redis.scan_iter(match="bl:{w:*")] == []


# --- settings -------------------------------------------------------------------------------


def base_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("BASELINE_ENCRYPTION_KEY", ENCRYPTION_KEY)


def test_many_workspaces_need_no_bot_token(monkeypatch: pytest.MonkeyPatch) -> None:
    base_env(monkeypatch)
    monkeypatch.setenv("SLACK_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SLACK_CLIENT_SECRET", CLIENT_SECRET)

    settings = load_settings()

    settings.require_bot()
    assert settings.oauth
    assert CLIENT_SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SLACK_CLIENT_ID": CLIENT_ID},
            "setting SLACK_CLIENT_SECRET is missing: SLACK_CLIENT_ID needs it",
        ),
        (
            {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": "  "},
            "setting SLACK_CLIENT_SECRET is missing: SLACK_CLIENT_ID needs it",
        ),
        (
            {"SLACK_CLIENT_SECRET": CLIENT_SECRET},
            "setting SLACK_CLIENT_ID is missing: SLACK_CLIENT_SECRET needs it",
        ),
        (
            {
                "SLACK_CLIENT_ID": CLIENT_ID,
                "SLACK_CLIENT_SECRET": CLIENT_SECRET,
                "SLACK_APP_TOKEN": "xapp-1-socket",
            },
            "setting SLACK_APP_TOKEN is invalid: many workspaces (SLACK_CLIENT_ID) need "
            "HTTP mode, not Socket Mode",
        ),
        (
            {
                "SLACK_CLIENT_ID": CLIENT_ID,
                "SLACK_CLIENT_SECRET": CLIENT_SECRET,
                "BASELINE_ENCRYPTION_KEY": "",
            },
            "setting BASELINE_ENCRYPTION_KEY is missing",
        ),
    ],
)
def test_oauth_settings_mistakes_stop_start_up_in_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    base_env(monkeypatch)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError) as caught:
        load_settings().require_bot()

    assert str(caught.value) == message
    assert CLIENT_SECRET not in str(caught.value)
