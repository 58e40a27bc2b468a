"""The Slack app manifest for an install: the bundled ``config/manifest.yaml`` with its
request URLs and OAuth redirect pointed at this deployment (HTTP mode), or removed (Socket
Mode); and the bot scopes it asks for, which the OAuth install asks for too."""

from __future__ import annotations

import ipaddress
import re
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import yaml

MANIFEST_FILE = "manifest.yaml"
EVENTS_PATH = "/slack/events"
REDIRECT_PATH = "/slack/oauth_redirect"
# Plain http is accepted only for a local development server.
HTTP_HOSTS = frozenset({"localhost"})
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_USERINFO = re.compile(r"(?<=://)[^/?#@]*@")
_SHOWN = 80  # how much of a rejected URL an error message repeats


def render_manifest(url: str | None, *, socket_mode: bool = False) -> str:
    """The manifest as YAML: every request URL set to ``<url>/slack/events``, or, with
    ``socket_mode=True`` (and no ``url``), no request URLs and Socket Mode switched on.

    ``url`` is the deployment's public base URL (``https://baseline.example.com``, an
    optional port, an optional trailing slash); anything else raises ValueError.
    """
    manifest = _load()
    oauth = _section(manifest, "oauth_config")
    if socket_mode:
        if url is not None:
            raise ValueError("Socket Mode needs no public URL: pass a URL or socket mode, not both")
        _set_request_urls(manifest, None)
        # Installing in many workspaces needs HTTP mode (Baseline refuses OAuth + Socket Mode).
        oauth.pop("redirect_urls", None)
        _section(manifest, "settings")["socket_mode_enabled"] = True
    else:
        if url is None:
            raise ValueError("a public https URL is needed for HTTP mode (or use Socket Mode)")
        base = base_url(url)
        _set_request_urls(manifest, base + EVENTS_PATH)
        oauth["redirect_urls"] = [base + REDIRECT_PATH]
        _section(manifest, "settings")["socket_mode_enabled"] = False
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True, width=4096)


def bot_scopes() -> list[str]:
    """The bot scopes the manifest asks for: an OAuth install asks for exactly these."""
    scopes = _section(_section(_load(), "oauth_config"), "scopes").get("bot")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise TypeError(f"bundled {MANIFEST_FILE} has no list of bot scopes")
    return list(scopes)


def base_url(url: str) -> str:
    """``url`` checked and normalised to ``scheme://host[:port]`` (no trailing slash)."""
    masked = _USERINFO.sub("…@", url)  # never repeat a password back
    shown = repr(masked if len(masked) <= _SHOWN else masked[:_SHOWN] + "…")
    text = url.strip()
    if not text:
        raise ValueError("the public URL is empty; give one like https://baseline.example.com")
    if any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError(f"{shown} is not a URL: it contains spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{shown} is not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in ("https", "http"):
        raise ValueError(f"{shown} must start with https:// (e.g. https://baseline.example.com)")
    if parts.username is not None or parts.password is not None:
        # Not repeated back: the part before the @ may be a password.
        raise ValueError("the public URL must not contain a user name or password")
    if not host:
        raise ValueError(f"{shown} has no host name (e.g. https://baseline.example.com)")
    if scheme == "http" and host not in HTTP_HOSTS:
        raise ValueError(f"{shown} must use https:// (plain http:// only for http://localhost)")
    if parts.path not in ("", "/"):
        raise ValueError(
            f"{shown} must be the base URL only, without a path: {EVENTS_PATH} is added for you"
        )
    if "?" in text or "#" in text:
        raise ValueError(f"{shown} must not have a query (?…) or fragment (#…)")
    if port == 0:
        raise ValueError(f"{shown} has an invalid port (0)")
    if not _valid_host(host):
        raise ValueError(f"{shown} does not name a valid host")
    netloc = f"[{host}]" if ":" in host else host
    return f"{scheme}://{netloc}" + (f":{port}" if port is not None else "")


def _valid_host(host: str) -> bool:
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.removesuffix(".").split(".")
        return len(host) <= 253 and all(_LABEL.match(label) for label in labels)
    return True


def _load() -> dict[str, Any]:
    source = resources.files("config").joinpath(MANIFEST_FILE)
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise TypeError(f"bundled {MANIFEST_FILE} is not a YAML mapping")
    return data


def _section(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise TypeError(f"bundled {MANIFEST_FILE} has no '{key}' section")
    return value


def _set_request_urls(manifest: dict[str, Any], url: str | None) -> None:
    """Point every request URL (slash commands, events, interactivity) at ``url``, or remove
    them all when ``url`` is None."""
    settings = _section(manifest, "settings")
    targets = [
        (command, "url")
        for command in _section(manifest, "features").get("slash_commands", [])
        if isinstance(command, dict)
    ]
    targets.append((_section(settings, "event_subscriptions"), "request_url"))
    targets.append((_section(settings, "interactivity"), "request_url"))
    for target, key in targets:
        if url is None:
            target.pop(key, None)
        else:
            target[key] = url
