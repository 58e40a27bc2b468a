"""A fake Slack Web API over real HTTP: serves the methods Baseline calls and records every call.

It can also answer a method with HTTP 429 + Retry-After, or with `{"ok": false, "error": ...}`,
for the next few calls. Start it with `async with FakeSlack() as fake:` (or the `fake_slack`
fixture) and give `fake.base_url` to the Web API client.

It serves one workspace (`tests.support.TEAM_ID`) to any token, and more through OAuth:
`fake.oauth_app(client_id, secret)`, then `code = fake.issue_code(FakeWorkspace(...))` is what
Slack's consent screen would hand the browser; `oauth.v2.access` trades it for the workspace's
bot token once, and `auth.test` answers for that workspace when called with it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import math
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from tests.support import API_APP_ID, BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, USER_ID

JsonObject = dict[str, Any]

RESPONSE_URL_METHOD = "response_url"
"""`SlackCall.method` of a POST to a response URL (`FakeSlack.response_url()`)."""
FILE_UPLOAD_METHOD = "file_upload"
"""`SlackCall.method` of the file bytes posted to an upload URL from files.getUploadURLExternal."""

_MAX_BODY = 32 * 1024 * 1024


@dataclass(frozen=True)
class SlackCall:
    """One request the fake received and what it answered."""

    method: str
    params: dict[str, Any]
    """Query string and form fields (strings) merged with the JSON body, as sent."""
    headers: CIMultiDictProxy[str]
    path: str
    status: int
    response: JsonObject | str
    received_at: float = 0.0
    """When the request arrived, as a Unix timestamp (`time.time()`)."""

    @property
    def token(self) -> str | None:
        """The token the call was made with (Bearer header or `token` field), if any."""
        authorization = self.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            return authorization.removeprefix("Bearer ").strip() or None
        token = self.params.get("token")
        return str(token) if token else None

    def param_json(self, name: str) -> Any:
        """A parameter that may have been sent as a JSON string (form) or as JSON (body)."""
        value = self.params[name]
        return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class FakeWorkspace:
    """A workspace that installs the app through OAuth, and the bot token Slack gives it."""

    team_id: str
    team_name: str
    bot_token: str
    bot_user_id: str = BOT_USER_ID
    bot_id: str = BOT_ID
    installer: str = USER_ID
    scopes: str = "chat:write,commands,im:write,users:read,users:read.email,dnd:read"
    enterprise_id: str | None = None
    is_enterprise_install: bool = False


@dataclass
class _RateCap:
    """A token bucket: `per_second` calls a second, bursts up to `burst`."""

    per_second: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take one token (returns 0), or return the seconds until one is free."""
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_second


@dataclass(frozen=True)
class _ScriptedAnswer:
    status: int
    body: JsonObject
    headers: dict[str, str]


class _SlackError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class FakeSlack:
    """The Slack Web API on 127.0.0.1 at a free port, for one test."""

    def __init__(
        self,
        *,
        user_tz: Mapping[str, str] | None = None,
        default_tz: str = "Europe/Berlin",
    ) -> None:
        self.user_tz: dict[str, str] = dict(user_tz or {})
        """users.info's `tz` per user id; others get `default_tz`."""
        self.default_tz = default_tz
        self.user_email: dict[str, str] = {}
        """users.info's `profile.email` per user id; others get `<user id>@example.com`."""
        self.dnd: dict[str, JsonObject] = {}
        """Fields dnd.info returns per user id, over `{"dnd_enabled": False, ...}`."""
        self.uploads: dict[str, bytes] = {}
        """Bytes posted to each upload URL, by file id."""
        self.requests: list[SlackCall] = []
        self.workspaces: dict[str, FakeWorkspace] = {}
        """Installed workspaces by bot token: `auth.test` with one answers for it."""
        self.revoked: set[str] = set()
        """Tokens every method refuses with `token_revoked` (an uninstalled app's)."""
        self._oauth_client: tuple[str, str] | None = None
        self._codes: dict[str, FakeWorkspace] = {}
        self._scripts: dict[str, deque[_ScriptedAnswer]] = {}
        self._every: dict[str, tuple[int, int]] = {}
        self._every_seen: dict[str, int] = {}
        self._caps: dict[str, tuple[_RateCap, int | None]] = {}
        self._upload_names: dict[str, str] = {}
        self._open_dms: set[str] = set()
        self._sequence = itertools.count(1)
        self._arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._methods: dict[str, Callable[[dict[str, Any]], JsonObject]] = {
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "dnd.info": self._dnd_info,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_post("/response/{response_id}", self._handle_response_url)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        self._runner = runner
        return self

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def origin(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """The Web API base URL, ending in `/api/` (slack_sdk appends the method name)."""
        return f"{self.origin}/api/"

    # -- scripting -------------------------------------------------------------------------------

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls of `method` (a Web API method, or `RESPONSE_URL_METHOD`)
        with HTTP 429, `Retry-After: retry_after` and `{"ok": false, "error": "ratelimited"}`."""
        answer = _ScriptedAnswer(
            status=429,
            body={"ok": False, "error": "ratelimited"},
            headers={"Retry-After": str(retry_after)},
        )
        self._scripts.setdefault(method, deque()).extend([answer] * times)

    def rate_limit_every(self, method: str, every: int, *, retry_after: int = 1) -> None:
        """From now on answer every `every`-th call of `method` with HTTP 429 and
        `Retry-After: retry_after` (after any answers scripted with `rate_limit` or `fail`)."""
        if every < 1:
            raise ValueError("every must be at least 1")
        self._every[method] = (every, retry_after)
        self._every_seen[method] = 0

    def cap_rate(
        self,
        method: str,
        per_second: float,
        *,
        burst: float | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Enforce a rate on `method`, as Slack does: a token bucket of `per_second` calls a
        second holding at most `burst` (default: one second's worth); a call above it gets
        HTTP 429 with `Retry-After` (given, or the whole seconds until a token is free, at
        least 1). Refused calls take no token."""
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        size = max(1.0, burst if burst is not None else per_second)
        bucket = _RateCap(per_second=per_second, burst=size, tokens=size, updated=time.monotonic())
        self._caps[method] = (bucket, retry_after)

    def rate_limited_calls(self, method: str | None = None) -> list[SlackCall]:
        """Recorded calls answered with HTTP 429 (of `method` only, if given)."""
        return [call for call in self.calls(method) if call.status == 429]

    def fail(self, method: str, error: str, *, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with `{"ok": false, "error": error}`."""
        answer = _ScriptedAnswer(status=200, body={"ok": False, "error": error}, headers={})
        self._scripts.setdefault(method, deque()).extend([answer] * times)

    def oauth_app(self, client_id: str, client_secret: str) -> None:
        """The app's credentials that `oauth.v2.access` accepts."""
        self._oauth_client = (client_id, client_secret)

    def issue_code(self, workspace: FakeWorkspace) -> str:
        """A one-time code for `oauth.v2.access`, as Slack's consent screen would hand the
        browser after `workspace` approved the install."""
        code = f"{next(self._sequence)}.{workspace.team_id}.code"
        self._codes[code] = workspace
        return code

    def dm_channel_id(self, user_id: str) -> str:
        """The D… channel conversations.open (and chat.postMessage to a user id) gives a user."""
        return f"D{user_id}"

    def response_url(self, response_id: str | None = None) -> str:
        """A response_url served by this fake; posts to it are recorded as `response_url`."""
        return f"{self.origin}/response/{response_id or f'R{next(self._sequence):06d}'}"

    # -- inspection ------------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[SlackCall]:
        """Recorded calls, oldest first; only those of `method` if given."""
        return [call for call in self.requests if method is None or call.method == method]

    def last(self, method: str) -> SlackCall:
        """The most recent call of `method`; fails the test if there was none."""
        calls = self.calls(method)
        assert calls, f"no {method} call; calls so far: {self._summary()}"
        return calls[-1]

    def responses(self, response_url: str | None = None) -> list[SlackCall]:
        """Posts to response URLs (to the given one only, if passed), oldest first."""
        return [
            call
            for call in self.calls(RESPONSE_URL_METHOD)
            if response_url is None or f"{self.origin}{call.path}" == response_url
        ]

    async def wait_for(
        self, method: str, *, count: int = 1, timeout: float = 5.0
    ) -> list[SlackCall]:
        """Wait until `method` has been called `count` times; fails the test after `timeout` s."""
        try:
            async with asyncio.timeout(timeout):
                while len(self.calls(method)) < count:
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            raise AssertionError(
                f"expected {count} {method} call(s) within {timeout} s, got "
                f"{len(self.calls(method))}; calls so far: {self._summary()}"
            ) from None
        return self.calls(method)

    def clear(self) -> None:
        """Forget recorded calls, uploads and scripted answers."""
        self.requests.clear()
        self.uploads.clear()
        self._scripts.clear()
        self._every.clear()
        self._every_seen.clear()
        self._caps.clear()

    def _next_scripted(self, method: str) -> _ScriptedAnswer | None:
        queue = self._scripts.get(method)
        if queue:
            return queue.popleft()
        return self._throttled(method)

    def _throttled(self, method: str) -> _ScriptedAnswer | None:
        """A 429 from `rate_limit_every` or `cap_rate`, or None to answer normally."""
        retry_after: int | None = None
        if method in self._every:
            every, after = self._every[method]
            self._every_seen[method] += 1
            if self._every_seen[method] % every == 0:
                retry_after = after
        if retry_after is None and method in self._caps:
            bucket, fixed = self._caps[method]
            wait = bucket.take(time.monotonic())
            if wait > 0:
                retry_after = fixed if fixed is not None else max(1, math.ceil(wait))
        if retry_after is None:
            return None
        return _ScriptedAnswer(
            status=429,
            body={"ok": False, "error": "ratelimited"},
            headers={"Retry-After": str(retry_after)},
        )

    def _summary(self) -> list[str]:
        return [call.method for call in self.requests]

    def _record(
        self,
        request: web.Request,
        *,
        method: str,
        params: dict[str, Any],
        status: int,
        response: JsonObject | str,
    ) -> None:
        headers = CIMultiDictProxy(CIMultiDict(request.headers))
        call = SlackCall(
            method=method,
            params=params,
            headers=headers,
            path=request.path,
            status=status,
            response=response,
            received_at=time.time(),
        )
        self.requests.append(call)
        self._arrived.set()

    # -- HTTP handlers ---------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _read_params(request)
        answer = self._next_scripted(method)
        if answer is not None:
            self._record(
                request, method=method, params=params, status=answer.status, response=answer.body
            )
            return web.json_response(answer.body, status=answer.status, headers=answer.headers)
        try:
            if method == "oauth.v2.access":
                # Authenticated by the app's client id and secret, not by a token.
                body = {"ok": True, **self._oauth_v2_access(request, params)}
            else:
                token = _token(request, params)
                if not token:
                    raise _SlackError("not_authed")
                if token in self.revoked:
                    raise _SlackError("token_revoked")
                if method == "auth.test":
                    body = {"ok": True, **self._auth_test(token)}
                else:
                    handler = self._methods.get(method)
                    if handler is None:
                        raise _SlackError("unknown_method")
                    body = {"ok": True, **handler(params)}
        except _SlackError as error:
            body = {"ok": False, "error": error.error}
        self._record(request, method=method, params=params, status=200, response=body)
        return web.json_response(body)

    async def _handle_upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        params: dict[str, Any] = {"file_id": file_id, "size": len(data)}
        if file_id not in self._upload_names:
            self._record(
                request, method=FILE_UPLOAD_METHOD, params=params, status=404, response="not found"
            )
            return web.Response(status=404, text="not found")
        self.uploads[file_id] = data
        text = f"OK - {len(data)}"
        self._record(request, method=FILE_UPLOAD_METHOD, params=params, status=200, response=text)
        return web.Response(text=text)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        params = await _read_params(request)
        answer = self._next_scripted(RESPONSE_URL_METHOD)
        status, body = (answer.status, answer.body) if answer else (200, {"ok": True})
        self._record(
            request, method=RESPONSE_URL_METHOD, params=params, status=status, response=body
        )
        return web.json_response(body, status=status, headers=answer.headers if answer else None)

    # -- Web API methods -------------------------------------------------------------------------

    def _next_ts(self) -> str:
        n = next(self._sequence)
        return f"{1_700_000_000 + n}.{n:06d}"

    def _channel_for(self, channel: str) -> str:
        # Posting to a user id lands in the DM with that user, as on Slack.
        return self.dm_channel_id(channel) if channel[:1] in {"U", "W"} else channel

    def _message(self, params: dict[str, Any], ts: str) -> JsonObject:
        message: JsonObject = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": API_APP_ID,
            "team": TEAM_ID,
            "text": params.get("text", ""),
            "ts": ts,
        }
        # Form-encoded clients send these as JSON strings.
        for name in ("blocks", "attachments", "metadata"):
            if params.get(name) is not None:
                message[name] = _maybe_json(params[name])
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        return message

    def _auth_test(self, token: str) -> JsonObject:
        workspace = self.workspaces.get(token)
        if workspace is not None:
            answer: JsonObject = {
                "url": f"https://{workspace.team_id.lower()}.slack.com/",
                "team": workspace.team_name,
                "user": "baseline",
                "team_id": workspace.team_id,
                "user_id": workspace.bot_user_id,
                "bot_id": workspace.bot_id,
                "is_enterprise_install": workspace.is_enterprise_install,
            }
            if workspace.enterprise_id is not None:
                answer["enterprise_id"] = workspace.enterprise_id
            return answer
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Baseline Test",
            "user": "baseline",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _oauth_v2_access(self, request: web.Request, params: dict[str, Any]) -> JsonObject:
        client_id, client_secret = _client_credentials(request, params)
        if self._oauth_client is None or client_id != self._oauth_client[0]:
            raise _SlackError("invalid_client_id")
        if client_secret != self._oauth_client[1]:
            raise _SlackError("bad_client_secret")
        # A code works once, as on Slack.
        workspace = self._codes.pop(str(params.get("code") or ""), None)
        if workspace is None:
            raise _SlackError("invalid_code")
        self.workspaces[workspace.bot_token] = workspace
        enterprise = (
            None
            if workspace.enterprise_id is None
            else {"id": workspace.enterprise_id, "name": f"Org {workspace.enterprise_id}"}
        )
        return {
            "access_token": workspace.bot_token,
            "token_type": "bot",
            "scope": workspace.scopes,
            "bot_user_id": workspace.bot_user_id,
            "app_id": API_APP_ID,
            "team": (
                None
                if workspace.is_enterprise_install
                else {"id": workspace.team_id, "name": workspace.team_name}
            ),
            "enterprise": enterprise,
            "is_enterprise_install": workspace.is_enterprise_install,
            "authed_user": {"id": workspace.installer},
        }

    def _chat_post_message(self, params: dict[str, Any]) -> JsonObject:
        if not params.get("channel"):
            raise _SlackError("channel_not_found")
        if not any(params.get(name) for name in ("text", "blocks", "attachments")):
            raise _SlackError("no_text")
        ts = self._next_ts()
        channel = self._channel_for(params["channel"])
        return {"channel": channel, "ts": ts, "message": self._message(params, ts)}

    def _chat_update(self, params: dict[str, Any]) -> JsonObject:
        _require(params, "channel", "ts")
        ts = params["ts"]
        channel = self._channel_for(params["channel"])
        return {
            "channel": channel,
            "ts": ts,
            "text": params.get("text", ""),
            "message": self._message(params, ts),
        }

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> JsonObject:
        _require(params, "channel", "user")
        return {"message_ts": self._next_ts()}

    def _conversations_open(self, params: dict[str, Any]) -> JsonObject:
        if params.get("channel"):
            return {"channel": {"id": params["channel"]}, "already_open": True}
        _require(params, "users")
        users = str(params["users"]).split(",")
        if len(users) != 1:
            raise _SlackError("not_supported_by_fake")
        channel = self.dm_channel_id(users[0])
        already_open = channel in self._open_dms
        self._open_dms.add(channel)
        return {"channel": {"id": channel}, "already_open": already_open}

    def _users_info(self, params: dict[str, Any]) -> JsonObject:
        _require(params, "user")
        user_id = str(params["user"])
        tz = self.user_tz.get(user_id, self.default_tz)
        local_now = datetime.now(UTC).astimezone(ZoneInfo(tz))
        offset = local_now.utcoffset()
        name = user_id.lower()
        email = self.user_email.get(user_id, f"{name}@example.com")
        return {
            "user": {
                "id": user_id,
                "team_id": TEAM_ID,
                "name": name,
                "real_name": f"User {user_id}",
                "deleted": False,
                "is_bot": False,
                "is_app_user": False,
                "tz": tz,
                "tz_label": local_now.tzname(),
                "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
                "profile": {
                    "real_name": f"User {user_id}",
                    "display_name": name,
                    "email": email,
                    "team": TEAM_ID,
                },
            }
        }

    def _view(self, view: Any, *, view_id: str | None = None) -> JsonObject:
        if not isinstance(view, dict):
            raise _SlackError("invalid_arguments")
        n = next(self._sequence)
        view_id = view_id or f"V{n:08d}"
        return {
            **view,
            "id": view_id,
            "team_id": TEAM_ID,
            "app_id": API_APP_ID,
            "bot_id": BOT_ID,
            "app_installed_team_id": TEAM_ID,
            "state": {"values": {}},
            "hash": f"{1_700_000_000 + n}.h{n:06d}",
            "root_view_id": view_id,
            "previous_view_id": None,
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
        }

    def _views_open(self, params: dict[str, Any]) -> JsonObject:
        _require(params, "trigger_id", "view")
        return {"view": self._view(_maybe_json(params["view"]))}

    def _views_update(self, params: dict[str, Any]) -> JsonObject:
        _require(params, "view")
        if not (params.get("view_id") or params.get("external_id")):
            raise _SlackError("invalid_arguments")
        return {"view": self._view(_maybe_json(params["view"]), view_id=params.get("view_id"))}

    def _views_publish(self, params: dict[str, Any]) -> JsonObject:
        _require(params, "user_id", "view")
        view = _maybe_json(params["view"])
        if not isinstance(view, dict) or view.get("type") != "home":
            raise _SlackError("invalid_arguments")
        return {"view": self._view(view, view_id=f"VH{params['user_id']}")}

    def _dnd_info(self, params: dict[str, Any]) -> JsonObject:
        user_id = str(params.get("user") or BOT_USER_ID)
        defaults: JsonObject = {
            "dnd_enabled": False,
            "next_dnd_start_ts": 1,
            "next_dnd_end_ts": 1,
            "snooze_enabled": False,
        }
        return {**defaults, **self.dnd.get(user_id, {})}

    def _files_get_upload_url_external(self, params: dict[str, Any]) -> JsonObject:
        _require(params, "filename", "length")
        file_id = f"F{next(self._sequence):08d}"
        self._upload_names[file_id] = str(params["filename"])
        return {"upload_url": f"{self.origin}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, params: dict[str, Any]) -> JsonObject:
        _require(params, "files")
        files = _maybe_json(params["files"])
        if not isinstance(files, list) or not files:
            raise _SlackError("invalid_arguments")
        channel = params.get("channel_id")
        completed = []
        for entry in files:
            file_id = entry.get("id") if isinstance(entry, dict) else None
            if file_id not in self.uploads:
                raise _SlackError("file_not_found")
            name = self._upload_names[file_id]
            completed.append(
                {
                    "id": file_id,
                    "name": name,
                    "title": entry.get("title") or name,
                    "size": len(self.uploads[file_id]),
                    "user": BOT_USER_ID,
                    "channels": [channel] if channel else [],
                }
            )
        return {"files": completed}


async def _read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return params
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
    elif request.content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        form = await request.post()
        params.update({name: value for name, value in form.items() if isinstance(value, str)})
    return params


def _token(request: web.Request, params: Mapping[str, Any]) -> str:
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        return authorization.removeprefix("Bearer ").strip()
    return str(params.get("token") or "")


def _client_credentials(request: web.Request, params: Mapping[str, Any]) -> tuple[str, str]:
    """The app's client id and secret: HTTP Basic auth (what slack_sdk sends) or form fields."""
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Basic "):
        try:
            decoded = base64.b64decode(authorization.removeprefix("Basic ")).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return str(params.get("client_id") or ""), str(params.get("client_secret") or "")


def _require(params: Mapping[str, Any], *names: str) -> None:
    if any(params.get(name) in (None, "") for name in names):
        raise _SlackError("invalid_arguments")


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
