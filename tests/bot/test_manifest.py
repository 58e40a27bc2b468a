"""The Slack app manifest: the bundled template is sound, every request URL is filled (or
dropped for Socket Mode), and bad public URLs are refused with one clear line."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
import yaml

from bot.manifest import base_url, bot_scopes, render_manifest
from tests.bot.conftest import RunningBot

URL = "https://baseline.example.com"
EVENTS = f"{URL}/slack/events"
COMMANDS = {"/feel", "/baseline"}
SCOPES = {
    "chat:write",
    "commands",
    "im:write",
    "users:read",
    "users:read.email",
    "dnd:read",
    "files:write",
    "channels:read",
    "groups:read",
    "usergroups:read",
}
EVENTS_SUBSCRIBED = {
    "app_home_opened",
    "user_huddle_changed",
    "user_status_changed",
    "dnd_updated_user",
    "channel_archive",
    "group_archive",
    "member_joined_channel",
    "member_left_channel",
    "app_uninstalled",
    "tokens_revoked",
}
BASELINE_SUBCOMMANDS = [
    *("help", "on", "off", "calendar", "hours", "quiet", "pause", "resume"),
    *("reflection", "week", "export", "forget", "status", "window", "team", "privacy"),
]


def parse(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def request_urls(manifest: dict[str, Any]) -> list[str | None]:
    settings = manifest["settings"]
    return [
        *(c.get("url") for c in manifest["features"]["slash_commands"]),
        settings["event_subscriptions"].get("request_url"),
        settings["interactivity"].get("request_url"),
    ]


def test_the_bundled_template_is_valid_yaml_with_placeholders() -> None:
    raw = resources.files("config").joinpath("manifest.yaml").read_text(encoding="utf-8")
    template = parse(raw)
    assert request_urls(template) == ["https://HOST/slack/events"] * 4
    assert template["oauth_config"]["redirect_urls"] == ["https://HOST/slack/oauth_redirect"]


def test_http_mode_fills_every_request_url() -> None:
    text = render_manifest(URL)
    manifest = parse(text)
    assert request_urls(manifest) == [EVENTS] * 4
    assert manifest["oauth_config"]["redirect_urls"] == [f"{URL}/slack/oauth_redirect"]
    assert "HOST" not in text
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["org_deploy_enabled"] is False
    assert settings["token_rotation_enabled"] is False


def test_every_slash_command_is_there_with_its_hint() -> None:
    commands = {c["command"]: c for c in parse(render_manifest(URL))["features"]["slash_commands"]}
    assert set(commands) == COMMANDS
    assert commands["/feel"]["usage_hint"] == "1-5 [what's on your mind]"
    hint = commands["/baseline"]["usage_hint"]
    assert [part.split()[0] for part in hint.split(" | ")] == BASELINE_SUBCOMMANDS
    assert "calendar <ics-url>" in hint
    for command in commands.values():
        assert command["should_escape"] is False
        assert command["description"]  # Slack requires one


def test_app_home_bot_user_scopes_and_events() -> None:
    manifest = parse(render_manifest(URL))
    features = manifest["features"]
    assert features["app_home"] == {
        "home_tab_enabled": True,
        "messages_tab_enabled": True,
        "messages_tab_read_only_enabled": True,
    }
    assert features["bot_user"] == {"display_name": "baseline", "always_online": False}
    bot_scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert set(bot_scopes) == SCOPES
    assert len(bot_scopes) == len(SCOPES)  # no duplicates
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert set(events) == EVENTS_SUBSCRIBED
    assert len(events) == len(EVENTS_SUBSCRIBED)


def test_fields_fit_slack_limits() -> None:
    # Limits from Slack's manifest reference (and its JSON schema on schemastore.org).
    manifest = parse(render_manifest(URL))
    assert set(manifest) <= {
        "_metadata",
        "display_information",
        "features",
        "oauth_config",
        "settings",
    }
    display = manifest["display_information"]
    assert 0 < len(display["name"]) <= 35
    assert 0 < len(display["description"]) <= 140
    assert 174 <= len(display["long_description"]) <= 4000
    assert re.fullmatch(r"#(?:[0-9a-fA-F]{3}){1,2}", display["background_color"])
    assert re.fullmatch(r"[\w\-.]+", manifest["features"]["bot_user"]["display_name"])
    for command in manifest["features"]["slash_commands"]:
        assert re.fullmatch(r"/[a-z0-9_-]{1,31}", command["command"])
        assert len(command["description"]) <= 2000
        assert len(command["usage_hint"]) <= 1000


def test_socket_mode_drops_request_urls_and_turns_socket_mode_on() -> None:
    text = render_manifest(None, socket_mode=True)
    manifest = parse(text)
    assert request_urls(manifest) == [None] * 4
    assert "HOST" not in text
    assert "http" not in text.replace("https://HOST", "")  # no URL of any kind left
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"] == {"is_enabled": True}
    assert set(settings["event_subscriptions"]["bot_events"]) == EVENTS_SUBSCRIBED
    assert {c["command"] for c in manifest["features"]["slash_commands"]} == COMMANDS
    # Everything but the URLs and the mode is the same as in HTTP mode; no OAuth redirect
    # (installing in many workspaces needs HTTP mode).
    http = parse(render_manifest(URL))
    assert "redirect_urls" not in manifest["oauth_config"]
    assert manifest["oauth_config"]["scopes"] == http["oauth_config"]["scopes"]
    assert manifest["display_information"] == http["display_information"]


def test_rendering_does_not_change_the_next_render() -> None:
    socket = render_manifest(None, socket_mode=True)
    assert request_urls(parse(render_manifest(URL))) == [EVENTS] * 4
    assert render_manifest(None, socket_mode=True) == socket


def test_the_mode_and_the_url_must_agree() -> None:
    with pytest.raises(ValueError, match="HTTP mode"):
        render_manifest(None)
    with pytest.raises(ValueError, match="not both"):
        render_manifest(URL, socket_mode=True)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://baseline.example.com", "https://baseline.example.com"),
        ("https://baseline.example.com/", "https://baseline.example.com"),
        ("  https://Baseline.Example.com/  ", "https://baseline.example.com"),
        ("HTTPS://baseline.example.com", "https://baseline.example.com"),
        ("https://baseline.example.com:8443", "https://baseline.example.com:8443"),
        ("https://203.0.113.7", "https://203.0.113.7"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://localhost/", "http://localhost"),
    ],
)
def test_good_urls_are_normalised(given: str, expected: str) -> None:
    assert base_url(given) == expected
    manifest = parse(render_manifest(given))
    assert request_urls(manifest) == [f"{expected}/slack/events"] * 4
    assert manifest["oauth_config"]["redirect_urls"] == [f"{expected}/slack/oauth_redirect"]


def test_an_oauth_install_asks_for_the_manifest_s_bot_scopes() -> None:
    assert bot_scopes() == parse(render_manifest(URL))["oauth_config"]["scopes"]["bot"]
    assert set(bot_scopes()) == SCOPES


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("baseline.example.com", "https://"),
        ("ftp://baseline.example.com", "https://"),
        ("http://baseline.example.com", "only for http://localhost"),
        ("http://127.0.0.1:3000", "only for http://localhost"),
        ("https://", "no host"),
        ("https:///slack", "no host"),
        ("https://baseline.example.com/slack/events", "without a path"),
        ("https://baseline.example.com//", "without a path"),
        ("https://baseline.example.com/app", "without a path"),
        ("https://baseline.example.com?x=1", "query"),
        ("https://baseline.example.com/?", "query"),
        ("https://baseline.example.com#top", "fragment"),
        ("https://baseline.example.com:99999", "not a valid URL"),
        ("https://baseline.example.com:port", "not a valid URL"),
        ("https://baseline.example.com:0", "port"),
        ("https://base line.example.com", "spaces"),
        ("https://baseline\n.example.com", "control"),
        ("https://baseline\x07.example.com", "control"),
        ("https://-baseline.example.com", "valid host"),
        ("https://baseline_bot.example.com", "valid host"),
        ("https://bäseline.example.com", "valid host"),
    ],
)
def test_bad_urls_are_refused_in_one_line(given: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)) as caught:
        render_manifest(given)
    assert "\n" not in str(caught.value)


def test_a_password_in_the_url_is_not_repeated_back() -> None:
    for given in ("https://admin:hunter2@baseline.example.com", "https://a:hunter2@b.c:99999"):
        with pytest.raises(ValueError, match=r"user name or password|not a valid URL") as caught:
            render_manifest(given)
        assert "hunter2" not in str(caught.value)


async def test_every_subscribed_event_has_a_listener(bot: RunningBot) -> None:
    """An event nobody handles is answered 404, and Slack may turn off a subscription whose
    deliveries keep failing: subscribe only to what is handled."""
    manifest = parse(render_manifest("https://baseline.example.com"))
    subscribed = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert set(subscribed) == EVENTS_SUBSCRIBED
    for index, name in enumerate(subscribed):
        event = {"type": name, "user": {"id": "U0NOBODY", "profile": {}}, "tab": "messages"}
        if name == "app_home_opened":
            event["user"] = "U0NOBODY"
        assert await bot.event(event, event_id=f"Ev{index:04d}") == 200, name
