"""Requests as Slack sends them to the bot: signed (v0), with the bodies of commands, actions,
view submissions and events.

    body = slash_command_body(text="pause 2h", response_url=fake_slack.response_url())
    await session.post(url, data=body, headers=signed_headers(SECRET, body))
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from tests.support import (
    API_APP_ID,
    BOT_ID,
    BOT_USER_ID,
    CHANNEL_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    USER_ID,
    VERIFICATION_TOKEN,
)

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"

_sequence = itertools.count(1)


def signed_headers(
    secret: str,
    body: bytes,
    timestamp: int | None = None,
    *,
    content_type: str | None = None,
) -> dict[str, str]:
    """`X-Slack-Signature` (v0 HMAC-SHA256 of `v0:{ts}:{body}`), `X-Slack-Request-Timestamp`
    (now unless given) and `Content-Type` (JSON if the body starts with `{`, else a form)."""
    ts = int(time.time()) if timestamp is None else timestamp
    base = b"v0:%d:%s" % (ts, body)
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if content_type is None:
        content_type = JSON_CONTENT_TYPE if body.lstrip().startswith(b"{") else FORM_CONTENT_TYPE
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": content_type,
    }


def new_trigger_id() -> str:
    """A fresh trigger_id in Slack's shape."""
    n = next(_sequence)
    return f"{1_700_000_000 + n}.{n:09d}.{n:032x}"


def slash_command_body(
    *,
    command: str = "/baseline",
    text: str = "",
    user_id: str = USER_ID,
    channel_id: str = CHANNEL_ID,
    team_id: str = TEAM_ID,
    response_url: str = "https://hooks.slack.com/commands/T0TEST/1/test",
    trigger_id: str | None = None,
    **extra: str,
) -> bytes:
    """A slash command as Slack posts it (form-encoded); `extra` adds or overrides fields."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": "directmessage" if channel_id.startswith("D") else "general",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
        **extra,
    }
    return urlencode(fields).encode()


def interactive_body(payload: Mapping[str, Any]) -> bytes:
    """An interactivity request: the form field `payload` holding the JSON payload."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def _user(user_id: str, team_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id}


def block_actions_payload(
    *,
    action_id: str,
    value: str | None = None,
    block_id: str = "actions",
    action_type: str = "button",
    user_id: str = USER_ID,
    team_id: str = TEAM_ID,
    channel_id: str | None = None,
    message_ts: str | None = None,
    view: Mapping[str, Any] | None = None,
    response_url: str | None = None,
    trigger_id: str | None = None,
    action_extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A block_actions payload: one action, from a message (`channel_id` + `message_ts`) or
    from a view (`view`, e.g. the Home tab or a modal). `action_extra` adds to the action
    (e.g. `selected_option` for a select)."""
    action: dict[str, Any] = {
        "type": action_type,
        "action_id": action_id,
        "block_id": block_id,
        "action_ts": f"{time.time():.6f}",
    }
    if value is not None:
        action["value"] = value
    action.update(action_extra or {})
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "state": {"values": {}},
        "actions": [action],
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id", "V0VIEW")}
        payload["view"] = dict(view)
    elif channel_id is not None:
        ts = message_ts or "1700000000.000100"
        payload["container"] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel_id, "name": "directmessage"}
        payload["message"] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "ts": ts,
            "text": "",
        }
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def block_actions_body(**fields: Any) -> bytes:
    """`interactive_body(block_actions_payload(**fields))`."""
    return interactive_body(block_actions_payload(**fields))


def view_submission_payload(
    *,
    callback_id: str,
    values: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    private_metadata: str = "",
    user_id: str = USER_ID,
    team_id: str = TEAM_ID,
    view_id: str = "V0MODAL",
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A view_submission payload; `values` is `view.state.values`:
    `{block_id: {action_id: {"type": "plain_text_input", "value": "..."}}}`."""
    view = {
        "id": view_id,
        "team_id": team_id,
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": private_metadata,
        "title": {"type": "plain_text", "text": "Baseline"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [],
        "state": {"values": {block: dict(actions) for block, actions in (values or {}).items()}},
        "hash": "1700000000.hash",
        "clear_on_close": False,
        "notify_on_close": False,
        "root_view_id": view_id,
        "previous_view_id": None,
        "app_id": API_APP_ID,
        "external_id": "",
        "app_installed_team_id": team_id,
        "bot_id": BOT_ID,
    }
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": view,
        "response_urls": [],
        "enterprise": None,
        "is_enterprise_install": False,
    }


def view_submission_body(**fields: Any) -> bytes:
    """`interactive_body(view_submission_payload(**fields))`."""
    return interactive_body(view_submission_payload(**fields))


def event_callback_body(
    event: Mapping[str, Any],
    *,
    event_id: str | None = None,
    event_time: int | None = None,
    team_id: str = TEAM_ID,
) -> bytes:
    """An Events API `event_callback` (JSON) wrapping `event`; a fresh `event_id` unless given
    (pass the same one twice to test deduplication)."""
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": API_APP_ID,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_sequence):010d}",
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    return json.dumps(envelope).encode()


def url_verification_body(challenge: str) -> bytes:
    """The Events API handshake Slack sends when the request URL is set."""
    body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    return json.dumps(body).encode()
