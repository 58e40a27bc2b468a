"""Logging for ``baseline run``: plain lines for a terminal or JSON lines (``LOG_FORMAT=json``),
each tagged with the Slack request (or background job) it is about, and scrubbed of secrets.

What is never logged: Slack tokens, the path or query of any address (ICS addresses are
secrets: the path is the password), credentials in a URL, and feel entries (notes, moods).
Baseline's own code never passes those to a logger; :class:`Redact` is the second line of
defence, and it also stops libraries' DEBUG lines, which carry whole request and response
bodies, from reaching the output.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any, Final

from aiohttp import web

from config.settings import Settings
from nudges.feelings import FeelEntry, Weighed

# The Slack request being handled. Set around each POST /slack/events; the tasks Bolt and the
# listeners start inherit it, so the lines of a reply sent later still carry it.
request_id: ContextVar[str | None] = ContextVar("baseline_request_id", default=None)
# A background pass (delivery, sync, planning) that is not about one Slack request.
job_id: ContextVar[str | None] = ContextVar("baseline_job_id", default=None)

REQUEST_ID_HEADER: Final = "X-Request-Id"
SLACK_PATH: Final = "/slack/events"
# Loggers whose DEBUG lines are ours; everyone else's DEBUG is dropped (see Redact).
OWN_LOGGERS: Final = ("bot", "nudges", "config", "bench")
# Libraries that would log every request and response body at DEBUG.
QUIET_LIBRARIES: Final = ("slack_bolt", "slack_sdk", "aiohttp", "asyncio", "redis", "urllib3")

_TOKEN = re.compile(r"\b(xox[a-z]|xapp|xoxe\.xox[a-z])-[A-Za-z0-9-]+")
# Any address: keep the scheme and the host (no credentials), drop path, query and fragment.
_URL = re.compile(
    r"\b((?:https?|wss?|webcals?|redis|rediss)://)(?:[^\s/?#@]*@)?([^\s/?#'\"<>),]*)"
    r"([/?#][^\s'\"<>]*)?",
    re.IGNORECASE,
)
# Libraries quote whole request bodies in some lines (Bolt, on a bad signature, at INFO):
# everything from such a label on is cut.
_PAYLOAD = re.compile(r"\b(body|payload|params|json|data)(\s*[:=]\s*)\S.*", re.DOTALL)
# pydantic quotes the value it refused, which may be a note.
_INPUT_VALUE = re.compile(r"input_value=.*?(, input_type=|$)", re.MULTILINE)
PRIVATE = "[private]"
# Values that are a person's private words or moods: never formatted into a line.
_PRIVATE_TYPES: Final = (FeelEntry, Weighed)


def redact(text: str) -> str:
    """Tokens → ``xoxb-[redacted]``; ``https://host/secret/basic.ics?x`` → ``https://host/…``;
    the value in a pydantic error → ``input_value=[redacted]``."""
    text = _TOKEN.sub(lambda m: f"{m[1]}-[redacted]", text)
    text = _INPUT_VALUE.sub(r"input_value=[redacted]\1", text)
    return _URL.sub(lambda m: f"{m[1]}{m[2]}{'/…' if m[3] else ''}", text)


class Redact(logging.Filter):
    """On the output handler: drops other libraries' DEBUG lines and cuts the bodies they
    quote, blanks private values, scrubs tokens and addresses from the message and any
    traceback, then tags the record with the request or job id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO and not _is_own(record.name):
            return False
        if record.args:
            record.args = _private_args(record.args)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad %-format: keep the line, not the arguments
            message = f"{record.msg} [unformattable arguments]"
        if not _is_own(record.name):
            message = _PAYLOAD.sub(r"\1\2[redacted]", message)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record.request_id = request_id.get()
        record.job_id = job_id.get()
        return True


class PlainFormatter(logging.Formatter):
    """``2026-11-23 09:00:00,123 INFO bot.sync [1763888400-3fa9c2]: message``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(tag)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        tag = getattr(record, "request_id", None) or getattr(record, "job_id", None)
        record.tag = f" [{tag}]" if tag else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id (and job_id, exc)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        job = getattr(record, "job_id", None)
        if job is not None:
            line["job_id"] = job
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


class _BaselineHandler(logging.StreamHandler):  # type: ignore[type-arg]  # generic only in typeshed
    """The handler configure_logging installs (marked, so a second call replaces it)."""


def configure_logging(settings: Settings, *, stream: IO[str] | None = None) -> logging.Handler:
    """Send every log line to ``stream`` (stderr) in ``settings.log_format``, at
    ``settings.log_level`` for Baseline's own loggers and INFO or above for libraries."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _BaselineHandler)]:
        root.removeHandler(old)
        old.close()
    handler = _BaselineHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(Redact())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else PlainFormatter())
    root.addHandler(handler)
    level = logging.getLevelName(settings.log_level)
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        # Also spares slack_sdk building its DEBUG strings (it checks its own level first).
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    return handler


def new_request_id(timestamp: str | None) -> str:
    """Slack's request timestamp (when it sent it) and 6 random hex digits: sortable, unique."""
    stamp = timestamp if timestamp and timestamp.isdigit() else str(int(time.time()))
    return f"{stamp}-{secrets.token_hex(3)}"


@web.middleware
async def tag_requests(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """aiohttp middleware: every line logged while handling POST /slack/events (and by the
    tasks it starts) carries one request id, which the response echoes as X-Request-Id."""
    if request.path != SLACK_PATH:
        return await handler(request)
    rid = new_request_id(request.headers.get("X-Slack-Request-Timestamp"))
    token = request_id.set(rid)
    try:
        response = await handler(request)
        if not response.prepared:
            response.headers[REQUEST_ID_HEADER] = rid
        return response
    finally:
        request_id.reset(token)


@contextmanager
def job(kind: str) -> Iterator[str]:
    """Tag the lines of one background pass: ``with job("delivery"): ...``."""
    jid = f"{kind}-{secrets.token_hex(3)}"
    token = job_id.set(jid)
    try:
        yield jid
    finally:
        job_id.reset(token)


def _is_own(name: str) -> bool:
    return name.split(".", 1)[0] in OWN_LOGGERS


def _private_args(args: tuple[object, ...] | Any) -> tuple[object, ...] | Any:
    if isinstance(args, tuple):
        return tuple(PRIVATE if isinstance(a, _PRIVATE_TYPES) else a for a in args)
    if isinstance(args, dict):
        return {k: PRIVATE if isinstance(v, _PRIVATE_TYPES) else v for k, v in args.items()}
    return args
