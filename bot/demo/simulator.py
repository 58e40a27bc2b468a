"""A Slack for one sample team, inside the demo's process.

Both sides of Slack: the Web API the bot calls (on 127.0.0.1 at a free port: every method
Baseline uses, response URLs and file uploads), and the people's Slack clients, which send
the bot signed slash commands, button clicks, modal submissions and Home-tab events over
real HTTP, as Slack would. What a person would see (a DM, a reply only they can see, a
modal, the Home tab, a file) arrives as an :class:`Arrival` for the terminal to show.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bot.clock import Clock
from bot.demo.loopback import serve_on_loopback
from bot.demo.team import TEAM_CHANNEL, TEAM_CHANNEL_NAME, TEAM_DOMAIN, TEAM_ID, Person

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]

BOT_USER_ID = "U0DEMOBOT"
BOT_ID = "B0DEMOBOT"
API_APP_ID = "A0DEMOAPP"
# Slack's legacy verification token: sent in every payload, checked by nobody nowadays.
VERIFICATION_TOKEN = "demo-verification-token"  # noqa: S105 - not a secret, a fixed test value
_MAX_BODY = 8 * 1024 * 1024


class SurfaceKind(StrEnum):
    DM = "dm"  # a message in the person's DM with Baseline
    CHANNEL = "channel"  # a message in the team's channel
    REPLY = "reply"  # only the person sees it: an ack, a response URL, chat.postEphemeral
    MODAL = "modal"
    HOME = "home"
    FILE = "file"  # a file shared into a DM


@dataclass(frozen=True)
class Surface:
    """Something a person sees, as it is now. ``key`` stays the same through updates."""

    key: str
    kind: SurfaceKind
    user: str | None  # who sees it; None: everyone in the channel
    channel: str | None
    text: str
    blocks: tuple[JsonObject, ...] = ()
    ts: str | None = None
    view: JsonObject | None = None  # a modal's or the Home tab's whole view
    answers: str = ""  # what it answers: "/baseline calendar", "a button", "" for news
    file_name: str | None = None
    file_size: int = 0


class ArrivalKind(StrEnum):
    NEW = "new"
    UPDATED = "updated"
    REMOVED = "removed"


@dataclass(frozen=True)
class Arrival:
    at: datetime  # simulated time
    kind: ArrivalKind
    surface: Surface


@dataclass(frozen=True)
class Button:
    """One button, where it is: enough to click it."""

    surface_key: str
    block_id: str
    action_id: str
    label: str
    value: str | None
    confirm: JsonObject | None


@dataclass
class _ResponseTarget:
    user: str
    channel: str
    answers: str
    origin: str | None  # the surface a click came from (replace_original replaces it)
    answered: asyncio.Future[Surface]


@dataclass
class _Scheduled:
    post_at: datetime
    channel: str
    text: str
    blocks: tuple[JsonObject, ...]


@dataclass
class Ack:
    """What the bot's HTTP endpoint answered."""

    status: int
    body: JsonObject = field(default_factory=dict)
    answered: asyncio.Future[Surface] | None = None  # the reply, when one is coming

    async def reply(self, timeout: float) -> Surface | None:
        """The reply the person got (from the ack or the response URL), or None."""
        if self.answered is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(self.answered), timeout)
        except TimeoutError:
            return None


class RefusedError(Exception):
    """The simulated Slack refuses a call: answered as ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class SlackSimulator:
    """``async with SlackSimulator(team, clock=..., token=..., signing_secret=...) as slack``;
    give ``slack.api_url`` to the bot, set ``slack.app_url`` once the bot listens."""

    def __init__(
        self,
        team: Sequence[Person],
        *,
        clock: Clock,
        token: str,
        signing_secret: str,
    ) -> None:
        self.team = list(team)
        self.people = {p.user_id: p for p in team}
        self.app_url = ""
        self._clock = clock
        self._token = token
        self._signer = SignatureVerifier(signing_secret)
        self._surfaces: dict[str, Surface] = {}
        self._listeners: list[Callable[[Arrival], None]] = []
        self.arrivals: list[Arrival] = []
        self._waiters: set[asyncio.Future[None]] = set()
        self._responses: dict[str, _ResponseTarget] = {}
        self._triggers: dict[str, str] = {}
        self._scheduled: list[_Scheduled] = []
        self._uploads: dict[str, tuple[str, int]] = {}
        self.unknown_methods: list[str] = []
        self.calls: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._base = ""
        self._methods: dict[str, Callable[[JsonObject], JsonObject]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.scheduleMessage": self._schedule_message,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "users.info": self._users_info,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "dnd.info": self._dnd_info,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "usergroups.list": lambda _params: {"usergroups": []},
            "usergroups.users.list": self._usergroup_users,
        }

    # --- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{response_id}", self._response_url)
        self._runner, self._base = await serve_on_loopback(app)
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self._base}/api/"

    def now(self) -> datetime:
        """Simulated time, as the people see it."""
        return self._clock.now()

    def subscribe(self, listener: Callable[[Arrival], None]) -> None:
        self._listeners.append(listener)

    def surface(self, key: str) -> Surface | None:
        return self._surfaces.get(key)

    def dm_of(self, user: str) -> str:
        """The person's DM channel with Baseline."""
        return "D" + user.removeprefix("U")

    def open_modal(self, user: str) -> Surface | None:
        """The modal the person has open, if any (the newest)."""
        for surface in reversed(list(self._surfaces.values())):
            if surface.kind is SurfaceKind.MODAL and surface.user == user:
                return surface
        return None

    async def wait_for(self, matches: Callable[[Arrival], bool], *, timeout: float) -> Arrival:
        """The first arrival (past or to come) that ``matches``; TimeoutError after
        ``timeout`` real seconds."""
        seen = 0
        async with asyncio.timeout(timeout):
            while True:
                for arrival in self.arrivals[seen:]:
                    if matches(arrival):
                        return arrival
                seen = len(self.arrivals)
                waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._waiters.add(waiter)
                try:
                    await waiter
                finally:
                    self._waiters.discard(waiter)

    # --- what people see ----------------------------------------------------------------

    def _show(self, surface: Surface, kind: ArrivalKind = ArrivalKind.NEW) -> None:
        if kind is ArrivalKind.REMOVED:
            self._surfaces.pop(surface.key, None)
        else:
            self._surfaces[surface.key] = surface
        arrival = Arrival(at=self._clock.now(), kind=kind, surface=surface)
        self.arrivals.append(arrival)
        for listener in self._listeners:
            listener(arrival)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _next_ts(self) -> str:
        return f"{int(self._clock.now().timestamp())}.{next(self._ids):06d}"

    # --- scheduled messages (a snoozed reset) -------------------------------------------

    def next_scheduled(self) -> datetime | None:
        return min((s.post_at for s in self._scheduled), default=None)

    def post_scheduled(self, now: datetime) -> int:
        """Post every scheduled message that is due, as Slack does at its post_at."""
        due = [s for s in self._scheduled if s.post_at <= now]
        self._scheduled = [s for s in self._scheduled if s.post_at > now]
        for scheduled in due:
            self._post(scheduled.channel, scheduled.text, scheduled.blocks)
        return len(due)

    # --- the Web API --------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls[method] = self.calls.get(method, 0) + 1
        if request.headers.get("Authorization") != f"Bearer {self._token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        params: JsonObject = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        handler = self._methods.get(method)
        if handler is None:
            self.unknown_methods.append(method)
            logger.warning("the Slack simulator does not know %s", method)
            return web.json_response({"ok": False, "error": "unknown_method"})
        try:
            answer = handler(params)
        except RefusedError as failure:
            return web.json_response({"ok": False, "error": failure.error})
        return web.json_response({"ok": True, **answer})

    def _auth_test(self, _params: JsonObject) -> JsonObject:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Baseline demo",
            "user": "baseline",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }

    def _channel_of(self, channel: str) -> tuple[SurfaceKind, str | None]:
        """Where a channel id posts to: a person's DM, or the team channel."""
        if channel == TEAM_CHANNEL:
            return SurfaceKind.CHANNEL, None
        user = "U" + channel.removeprefix("D") if channel.startswith("D") else channel
        if user in self.people:
            return SurfaceKind.DM, user
        raise RefusedError("channel_not_found")

    def _post(self, channel: str, text: str, blocks: Sequence[JsonObject]) -> JsonObject:
        kind, user = self._channel_of(channel)
        channel_id = TEAM_CHANNEL if kind is SurfaceKind.CHANNEL else self.dm_of(str(user))
        ts = self._next_ts()
        self._show(
            Surface(
                key=f"msg:{channel_id}:{ts}",
                kind=kind,
                user=user,
                channel=channel_id,
                text=text,
                blocks=tuple(blocks),
                ts=ts,
            )
        )
        return {"channel": channel_id, "ts": ts, "message": {"text": text, "ts": ts}}

    def _post_message(self, params: JsonObject) -> JsonObject:
        return self._post(str(params.get("channel", "")), *_content(params))

    def _update(self, params: JsonObject) -> JsonObject:
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        key = f"msg:{channel}:{ts}"
        current = self._surfaces.get(key)
        if current is None:
            raise RefusedError("message_not_found")
        text, blocks = _content(params)
        self._show(replace(current, text=text, blocks=tuple(blocks)), ArrivalKind.UPDATED)
        return {"channel": channel, "ts": ts, "text": text}

    def _post_ephemeral(self, params: JsonObject) -> JsonObject:
        user = str(params.get("user", ""))
        if user not in self.people:
            raise RefusedError("user_not_in_channel")
        text, blocks = _content(params)
        ts = self._next_ts()
        channel = str(params.get("channel", ""))
        self._show(
            Surface(
                key=f"reply:{ts}",
                kind=SurfaceKind.REPLY,
                user=user,
                channel=channel,
                text=text,
                blocks=tuple(blocks),
                ts=ts,
            )
        )
        return {"message_ts": ts}

    def _schedule_message(self, params: JsonObject) -> JsonObject:
        channel = str(params.get("channel", ""))
        self._channel_of(channel)
        post_at = datetime.fromtimestamp(int(str(params.get("post_at", "0"))), tz=UTC)
        if post_at <= self._clock.now():
            raise RefusedError("time_in_past")
        text, blocks = _content(params)
        self._scheduled.append(_Scheduled(post_at, channel, text, tuple(blocks)))
        return {
            "channel": channel,
            "scheduled_message_id": f"Q{next(self._ids):08d}",
            "post_at": int(post_at.timestamp()),
        }

    def _conversations_open(self, params: JsonObject) -> JsonObject:
        user = str(params.get("users", "")).split(",")[0]
        if user not in self.people:
            raise RefusedError("user_not_found")
        return {"channel": {"id": self.dm_of(user)}}

    def _conversations_info(self, params: JsonObject) -> JsonObject:
        channel = str(params.get("channel", ""))
        if channel == TEAM_CHANNEL:
            creator = next((p.user_id for p in self.team if p.lead), "")
            return {
                "channel": {
                    "id": channel,
                    "name": TEAM_CHANNEL_NAME,
                    "is_channel": True,
                    "creator": creator,
                }
            }
        kind, user = self._channel_of(channel)
        return {"channel": {"id": channel, "is_im": kind is SurfaceKind.DM, "user": user}}

    def _conversations_members(self, params: JsonObject) -> JsonObject:
        if params.get("channel") != TEAM_CHANNEL:
            raise RefusedError("channel_not_found")
        return {
            "members": [p.user_id for p in self.team],
            "response_metadata": {"next_cursor": ""},
        }

    def _users_info(self, params: JsonObject) -> JsonObject:
        person = self.people.get(str(params.get("user", "")))
        if person is None:
            raise RefusedError("user_not_found")
        offset = self._clock.now().astimezone(person.tz).utcoffset()
        return {
            "user": {
                "id": person.user_id,
                "team_id": TEAM_ID,
                "name": person.first_name.lower(),
                "real_name": person.name,
                "tz": person.tz.key,
                "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
                "is_admin": False,
                "is_owner": False,
                "is_bot": False,
                "profile": {
                    "real_name": person.name,
                    "display_name": person.first_name,
                    "email": person.email,
                },
            }
        }

    def _dnd_info(self, params: JsonObject) -> JsonObject:
        person = self.people.get(str(params.get("user", "")))
        if person is None:
            raise RefusedError("user_not_found")
        if person.dnd is None:
            return {"dnd_enabled": False, "snooze_enabled": False}
        day = self._clock.now().astimezone(person.tz).date()
        start, end = (
            datetime.combine(day, moment, tzinfo=person.tz).timestamp() for moment in person.dnd
        )
        return {
            "dnd_enabled": True,
            "next_dnd_start_ts": int(start),
            "next_dnd_end_ts": int(end),
            "snooze_enabled": False,
        }

    def _views_open(self, params: JsonObject) -> JsonObject:
        user = self._triggers.pop(str(params.get("trigger_id", "")), None)
        if user is None:
            raise RefusedError("invalid_trigger_id")
        view = {**_json(params.get("view")), "id": f"V{next(self._ids):08d}"}
        self._show(self._view_surface(f"view:{view['id']}", SurfaceKind.MODAL, user, view))
        return {"view": view}

    def _views_update(self, params: JsonObject) -> JsonObject:
        key = f"view:{params.get('view_id', '')}"
        current = self._surfaces.get(key)
        if current is None or current.view is None or current.user is None:
            raise RefusedError("not_found")
        view = {**_json(params.get("view")), "id": current.view["id"]}
        self._show(
            self._view_surface(key, SurfaceKind.MODAL, current.user, view), ArrivalKind.UPDATED
        )
        return {"view": view}

    def _views_publish(self, params: JsonObject) -> JsonObject:
        user = str(params.get("user_id", ""))
        if user not in self.people:
            raise RefusedError("user_not_found")
        key = f"home:{user}"
        view = {**_json(params.get("view")), "id": f"VHOME{user}"}
        kind = ArrivalKind.UPDATED if key in self._surfaces else ArrivalKind.NEW
        self._show(self._view_surface(key, SurfaceKind.HOME, user, view), kind)
        return {"view": view}

    @staticmethod
    def _view_surface(key: str, kind: SurfaceKind, user: str, view: JsonObject) -> Surface:
        title = view.get("title") or {}
        return Surface(
            key=key,
            kind=kind,
            user=user,
            channel=None,
            text=str(title.get("text", "")) if isinstance(title, dict) else "",
            blocks=tuple(view.get("blocks") or ()),
            view=view,
        )

    def _get_upload_url(self, params: JsonObject) -> JsonObject:
        file_id = f"F{next(self._ids):08d}"
        self._uploads[file_id] = (str(params.get("filename", "file")), 0)
        return {"upload_url": f"{self._base}/upload/{file_id}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self._uploads:
            raise web.HTTPNotFound()
        body = await request.read()
        self._uploads[file_id] = (self._uploads[file_id][0], len(body))
        return web.Response(text=f"OK - {len(body)}")

    def _complete_upload(self, params: JsonObject) -> JsonObject:
        files = _json_list(params.get("files"))
        channel = str(params.get("channel_id", ""))
        kind, user = self._channel_of(channel)
        done = []
        for entry in files:
            file_id = str(entry.get("id", ""))
            if file_id not in self._uploads:
                raise RefusedError("file_not_found")
            name, size = self._uploads[file_id]
            title = str(entry.get("title") or name)
            self._show(
                Surface(
                    key=f"file:{file_id}",
                    kind=SurfaceKind.FILE if kind is SurfaceKind.DM else SurfaceKind.CHANNEL,
                    user=user,
                    channel=channel,
                    text=str(params.get("initial_comment") or ""),
                    answers=title,
                    file_name=name,
                    file_size=size,
                )
            )
            done.append({"id": file_id, "title": title, "name": name})
        return {"files": done}

    def _usergroup_users(self, _params: JsonObject) -> JsonObject:
        raise RefusedError("no_such_subteam")

    async def _response_url(self, request: web.Request) -> web.Response:
        target = self._responses.get(request.match_info["response_id"])
        if target is None:
            raise web.HTTPNotFound()
        body = await request.json()
        text, blocks = _content(body)
        origin = self._surfaces.get(target.origin) if target.origin else None
        if body.get("delete_original") and origin is not None:
            self._show(origin, ArrivalKind.REMOVED)
            surface = origin
        elif body.get("replace_original") and origin is not None:
            surface = replace(origin, text=text, blocks=tuple(blocks))
            self._show(surface, ArrivalKind.UPDATED)
        else:
            in_channel = body.get("response_type") == "in_channel"
            surface = Surface(
                key=f"reply:{self._next_ts()}",
                kind=SurfaceKind.CHANNEL if in_channel else SurfaceKind.REPLY,
                user=None if in_channel else target.user,
                channel=target.channel,
                text=text,
                blocks=tuple(blocks),
                answers=target.answers,
            )
            self._show(surface)
        if not target.answered.done():
            target.answered.set_result(surface)
        return web.Response(text="ok")

    # --- people's Slack clients: what they send the bot ---------------------------------

    def _response_url_for(
        self, user: str, channel: str, *, answers: str, origin: str | None = None
    ) -> tuple[str, asyncio.Future[Surface]]:
        response_id = f"R{next(self._ids):08d}"
        answered: asyncio.Future[Surface] = asyncio.get_running_loop().create_future()
        self._responses[response_id] = _ResponseTarget(user, channel, answers, origin, answered)
        return f"{self._base}/response/{response_id}", answered

    def _trigger(self, user: str) -> str:
        trigger = f"{next(self._ids)}.{int(time.time())}.demo"
        self._triggers[trigger] = user
        return trigger

    async def command(
        self, user: str, command: str, text: str, *, channel: str | None = None
    ) -> Ack:
        """``/feel 3 tired`` typed by ``user`` (in their DM with Baseline unless ``channel``)."""
        channel = channel or self.dm_of(user)
        words = text.split()
        answers = f"{command} {words[0]}" if words and command == "/baseline" else command
        response_url, answered = self._response_url_for(user, channel, answers=answers)
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel,
            "channel_name": TEAM_CHANNEL_NAME if channel == TEAM_CHANNEL else "directmessage",
            "user_id": user,
            "user_name": self.people[user].first_name.lower(),
            "command": command,
            "text": text,
            "api_app_id": API_APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": self._trigger(user),
        }
        ack = await self._send(urlencode(fields), "application/x-www-form-urlencoded")
        if ack.body.get("text") or ack.body.get("blocks"):
            # Slack shows an ack's body to the person, as a reply only they see.
            text_, blocks = _content(ack.body)
            surface = Surface(
                key=f"reply:{self._next_ts()}",
                kind=SurfaceKind.REPLY,
                user=user,
                channel=channel,
                text=text_,
                blocks=tuple(blocks),
                answers=answers,
            )
            self._show(surface)
            answered.set_result(surface)
        ack.answered = answered
        return ack

    async def click(self, user: str, button: Button) -> Ack:
        """The person clicks ``button`` where it is now."""
        surface = self._surfaces.get(button.surface_key)
        if surface is None:
            return Ack(status=0)
        action: JsonObject = {
            "type": "button",
            "action_id": button.action_id,
            "block_id": button.block_id,
            "text": {"type": "plain_text", "text": button.label, "emoji": True},
            "action_ts": f"{time.time():.6f}",
        }
        if button.value is not None:
            action["value"] = button.value
        payload: JsonObject = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": API_APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self._trigger(user),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "actions": [action],
        }
        answered: asyncio.Future[Surface] | None = None
        if surface.view is not None:
            payload["container"] = {"type": "view", "view_id": surface.view["id"]}
            payload["view"] = {**surface.view, "state": {"values": view_state(surface.view)}}
        else:
            channel = surface.channel or self.dm_of(user)
            payload["container"] = {
                "type": "message",
                "message_ts": surface.ts,
                "channel_id": channel,
                "is_ephemeral": surface.kind is SurfaceKind.REPLY,
            }
            payload["channel"] = {"id": channel, "name": _channel_name(channel)}
            payload["message"] = {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "ts": surface.ts,
                "text": surface.text,
                "blocks": list(surface.blocks),
            }
            payload["state"] = {"values": {}}
            response_url, answered = self._response_url_for(
                user, channel, answers=button.label, origin=surface.key
            )
            payload["response_url"] = response_url
        ack = await self._send(urlencode({"payload": json.dumps(payload)}), _FORM)
        ack.answered = answered
        return ack

    async def submit(
        self, user: str, modal: Surface, values: Mapping[str, Mapping[str, JsonObject]]
    ) -> Ack:
        """The person submits ``modal`` with ``values`` (``view.state.values``). The modal
        closes unless the bot answers with errors."""
        view = dict(modal.view or {})
        view["state"] = {"values": {block: dict(actions) for block, actions in values.items()}}
        payload: JsonObject = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "user": self._user(user),
            "api_app_id": API_APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self._trigger(user),
            "view": view,
            "response_urls": [],
            "enterprise": None,
            "is_enterprise_install": False,
        }
        ack = await self._send(urlencode({"payload": json.dumps(payload)}), _FORM)
        if ack.status == 200 and ack.body.get("response_action") != "errors":
            self.close(modal)
        return ack

    def close(self, modal: Surface) -> None:
        if modal.key in self._surfaces:
            self._show(modal, ArrivalKind.REMOVED)

    async def open_home(self, user: str) -> Ack:
        """The person opens Baseline's Home tab."""
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "api_app_id": API_APP_ID,
            "type": "event_callback",
            "event_id": f"Ev{next(self._ids):010d}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": self.dm_of(user),
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            },
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
        return await self._send(json.dumps(envelope), "application/json")

    def _user(self, user: str) -> JsonObject:
        name = self.people[user].first_name.lower()
        return {"id": user, "username": name, "name": name, "team_id": TEAM_ID}

    async def _send(self, body: str, content_type: str) -> Ack:
        """POST a signed request to the bot, as Slack does."""
        assert self._http is not None  # noqa: S101 - set on entering
        timestamp = str(int(time.time()))
        signature = self._signer.generate_signature(timestamp=timestamp, body=body)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature or "",
        }
        async with self._http.post(
            f"{self.app_url}/slack/events", data=body.encode(), headers=headers
        ) as response:
            raw = await response.text()
            try:
                parsed = json.loads(raw) if raw.strip().startswith("{") else {}
            except json.JSONDecodeError:
                parsed = {}
            return Ack(status=response.status, body=parsed)


_FORM = "application/x-www-form-urlencoded"


def _channel_name(channel: str) -> str:
    return TEAM_CHANNEL_NAME if channel == TEAM_CHANNEL else "directmessage"


def _json(value: object) -> JsonObject:
    """A parameter sent as JSON text (a form field) or as JSON (a JSON body)."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    return value if isinstance(value, dict) else {}


def _json_list(value: object) -> list[JsonObject]:
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _content(params: Mapping[str, Any]) -> tuple[str, list[JsonObject]]:
    blocks = params.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks) if blocks.strip() else []
    listed = [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []
    return str(params.get("text") or ""), listed


def buttons_of(surface: Surface) -> list[Button]:
    """Every button on a surface, in reading order."""
    found = []
    for block in surface.blocks:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements") or ():
            if element.get("type") != "button":
                continue
            label = (element.get("text") or {}).get("text", "")
            found.append(
                Button(
                    surface_key=surface.key,
                    block_id=str(block.get("block_id", "")),
                    action_id=str(element.get("action_id", "")),
                    label=str(label),
                    value=element.get("value"),
                    confirm=element.get("confirm"),
                )
            )
    return found


def view_state(view: Mapping[str, Any]) -> dict[str, dict[str, JsonObject]]:
    """``state.values`` of a view as first shown: every input at its initial value."""
    values: dict[str, dict[str, JsonObject]] = {}
    for block in view.get("blocks") or ():
        if block.get("type") != "input":
            continue
        element = block.get("element") or {}
        action_id = str(element.get("action_id", ""))
        kind = str(element.get("type", ""))
        state: JsonObject = {"type": kind}
        if kind == "timepicker":
            state["selected_time"] = element.get("initial_time")
        elif kind == "checkboxes":
            state["selected_options"] = element.get("initial_options") or []
        elif kind in ("static_select", "radio_buttons"):
            state["selected_option"] = element.get("initial_option")
        elif kind == "plain_text_input":
            state["value"] = element.get("initial_value")
        values[str(block.get("block_id", ""))] = {action_id: state}
    return values
