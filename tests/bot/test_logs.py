"""Logs: a full run through the real HTTP app at DEBUG never writes a secret or a private word,
JSON mode writes one object per line, and every line about a Slack request carries its id."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, quote_plus

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from bot.logs import (
    OWN_LOGGERS,
    QUIET_LIBRARIES,
    REQUEST_ID_HEADER,
    Redact,
    configure_logging,
    job,
    redact,
    request_id,
)
from config.settings import Settings, SettingsError, load_settings
from nudges.feelings import FeelEntry, Weighed
from tests.bot.conftest import (
    BOT_TOKEN,
    ENCRYPTION_KEY,
    SIGNING_SECRET,
    START,
    RunningBot,
    serve_bot,
)
from tests.support.fake_slack import FakeSlack
from tests.support.feed_server import FeedServer, calendar_feed
from tests.support.redis_server import RedisServer
from tests.support.signing import signed_headers, slash_command_body

# A Google-style secret address: the path is the password.
ICS_PATH = "/calendar/ical/person%40example.com/private-77c0ffee5ecre7/basic.ics"
NOTE = "dreading the budget review with Morgan"
MODAL_NOTE = "slept four hours, kid was ill"
ANSWER = "Said no to the offsite planning call"
WEIGHED = Weighed.SLEEP
REQUEST_ID = re.compile(r"^\d+-[0-9a-f]{6}$")
LogFormat = Literal["plain", "json"]


class Captured:
    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    def lines(self) -> list[str]:
        return self._stream.getvalue().splitlines()

    def objects(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]


@pytest.fixture
def capture() -> Iterator[Callable[[LogFormat], Captured]]:
    """``capture("json")``: configure_logging at DEBUG into a buffer; undone afterwards."""
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in QUIET_LIBRARIES}
    handlers: list[logging.Handler] = []

    def start(log_format: LogFormat) -> Captured:
        stream = io.StringIO()
        settings = Settings(log_level="DEBUG", log_format=log_format)
        handlers.append(configure_logging(settings, stream=stream))
        return Captured(stream)

    try:
        yield start
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)


@pytest_asyncio.fixture(loop_scope="function")
async def feeds() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


def feel_state(score: str, *, weighed: str, note: str) -> dict[str, Any]:
    def picked(value: str, kind: str) -> dict[str, Any]:
        option = {"value": value, "text": {"type": "plain_text", "text": value}}
        return {"type": kind, "selected_option": option}

    return {
        "score": {"score": picked(score, "radio_buttons")},
        "weighed": {"weighed": picked(weighed, "static_select")},
        "note": {"note": {"type": "plain_text_input", "value": note}},
    }


async def full_run(bot: RunningBot, ics_url: str) -> str:
    """Logs, a modal, a reflection, a calendar (with a Slack failure), the week, an export and
    a forged request; returns the X-Request-Id of the signed /feel."""
    body = slash_command_body(
        command="/feel", text=f"2 {NOTE}", response_url=bot.slack.response_url()
    )
    response = await bot.post(body)
    assert response.status == 200
    feel_id = response.headers[REQUEST_ID_HEADER]
    submitted = await bot.submit(
        "feel_modal", feel_state("1", weighed=WEIGHED.value, note=MODAL_NOTE)
    )
    assert submitted.status == 200
    await bot.slack.wait_for("chat.postMessage")
    answer = {"progress-moved": {"answer": {"type": "plain_text_input", "value": ANSWER}}}
    assert await bot.submit_json("reflection_modal", answer, private_metadata="2026-W48") == {}
    await bot.slack.wait_for("chat.postMessage", count=2)
    bot.slack.fail("users.info", "user_not_found")  # a warning, logged while connecting
    assert await bot.command("/baseline", f"calendar {ics_url}") == 200
    for text in ("status", "week", "export"):
        assert await bot.command("/baseline", text) == 200
    await bot.slack.wait_for("files.completeUploadExternal")
    # A forged request: Bolt quotes the refused body in its log line.
    forged = slash_command_body(command="/feel", text=f"1 {NOTE}", response_url="x")
    assert (await bot.post(forged, headers=signed_headers("wrong", forged))).status == 401
    return feel_id


SECRETS = {
    "bot token": BOT_TOKEN,
    "signing secret": SIGNING_SECRET,
    "encryption key": ENCRYPTION_KEY,
    "ICS path": "private-77c0ffee5ecre7",
    "ICS address": "person%40example.com",
    "note": "budget review",
    "modal note": "four hours",
    "reflection answer": "offsite planning",
    "mood": WEIGHED.value,
}


def leaks(lines: list[str]) -> list[tuple[str, str]]:
    """Each secret as it is, and as it looks inside a form or an address."""
    forms = {(what, f) for what, s in SECRETS.items() for f in (s, quote_plus(s), quote(s))}
    return [(what, line) for line in lines for what, f in forms if f in line]


@pytest.fixture(params=["json", "plain"])
def run_log(
    request: pytest.FixtureRequest, capture: Callable[[LogFormat], Captured]
) -> tuple[LogFormat, Captured]:
    log_format: LogFormat = request.param
    return log_format, capture(log_format)


@pytest_asyncio.fixture(loop_scope="function")
async def logged_bot(
    run_log: tuple[LogFormat, Captured],
    redis_server: RedisServer,
    redis: Redis,
    fake_slack: FakeSlack,
) -> AsyncIterator[RunningBot]:
    """The bot, started after logging is configured (so every line of its life is seen),
    allowed to read calendars on 127.0.0.1 (the local feed server)."""
    async with serve_bot(
        redis_server, fake_slack, calendar_allow_private=True, calendar_parse_workers=0
    ) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="function")
async def ics_url(feeds: FeedServer) -> str:
    meeting = (START + timedelta(hours=2), START + timedelta(hours=3))
    return feeds.serve(ICS_PATH, calendar_feed([meeting]))


async def test_a_full_run_at_debug_logs_no_secret_and_tags_requests(
    run_log: tuple[LogFormat, Captured], logged_bot: RunningBot, ics_url: str
) -> None:
    log_format, captured = run_log
    feel_id = await full_run(logged_bot, ics_url)

    lines = captured.lines()
    for name in ("bot.health", "bot.metrics", "bot.sync", "bot.listeners.common", "slack_bolt"):
        assert any(f" {name}" in line or f'"{name}' in line for line in lines), name
    assert leaks(lines) == []
    if log_format == "plain":
        assert any(f" [{feel_id}]: command request answered 200" in line for line in lines)
        return
    logged = captured.objects()
    for line in logged:
        assert {"time", "level", "logger", "message", "request_id"} <= line.keys()
        assert datetime.fromisoformat(line["time"]).tzinfo == UTC
    by_request = [line for line in logged if line["request_id"] is not None]
    assert all(REQUEST_ID.match(line["request_id"]) for line in by_request)
    answered = [line for line in logged if line["logger"] == "bot.metrics"]
    assert len(answered) == 8  # one per Slack request, each with its own id
    assert all(line["request_id"] for line in answered)
    assert len({line["request_id"] for line in answered}) == len(answered)
    [feel_line] = [line for line in answered if line["request_id"] == feel_id]
    assert feel_line["message"].startswith("command request answered 200 in ")
    # Lines logged while a request's work goes on after its ack (connecting the calendar,
    # a Slack call failing on the way) carry that request's id.
    connected = [line for line in logged if line["message"].startswith("calendar connected")]
    assert connected
    assert all(line["request_id"] for line in connected)
    assert "127.0.0.1" in connected[0]["message"]  # the host is fine to log
    [refused] = [line for line in logged if "user_not_found" in line["message"]]
    assert refused["request_id"] == connected[0]["request_id"]
    [forged] = [line for line in logged if "Invalid request signature" in line["message"]]
    assert forged["message"].endswith("body: [redacted]")
    # Libraries' DEBUG lines carry whole payloads: none reach the output.
    assert not [
        line
        for line in logged
        if line["level"] == "DEBUG" and line["logger"].split(".")[0] not in OWN_LOGGERS
    ]


# --- the filter, line by line --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("token xoxb-123-456-abcDEF in use", "token xoxb-[redacted] in use"),
        ("user xoxp-1-2-3 app xapp-1-A0-99-ff", "user xoxp-[redacted] app xapp-[redacted]"),
        ("refresh xoxe.xoxp-1-abc", "refresh xoxe.xoxp-[redacted]"),
        (
            "GET https://calendar.google.com/calendar/ical/a%40b.com/private-x/basic.ics failed",
            "GET https://calendar.google.com/… failed",
        ),
        ("webcal://p01-caldav.icloud.com/published/2/AbC?x=1", "webcal://p01-caldav.icloud.com/…"),
        ("at https://user:pw@example.com:8443/x.", "at https://example.com:8443/…"),
        ("redis://:hunter2@redis:6379/0 down", "redis://redis:6379/… down"),
        ("url='https://hooks.slack.com/commands/T1/2/abc'", "url='https://hooks.slack.com/…'"),
        ("just https://slack.com", "just https://slack.com"),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_redact(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_private_values_exceptions_and_tags(capture: Callable[[LogFormat], Captured]) -> None:
    captured = capture("json")
    log = logging.getLogger("bot.test_logs")
    entry = FeelEntry(at=START, score=2, weighed=Weighed.PEOPLE, note="my manager again")
    log.info("entry %s weighed %s score %d", entry, Weighed.PEOPLE, 2)
    log.info("dict form %(entry)s", {"entry": entry})
    token = request_id.set("1700000000-abcdef")
    try:
        raise RuntimeError(f"fetch https://cal.example.com/secret/feed.ics with {BOT_TOKEN}")
    except RuntimeError:
        log.exception("calendar sync failed")
    finally:
        request_id.reset(token)
    with job("delivery") as jid:
        log.warning("delivery pass failed: %s", "TimeoutError")
    logging.getLogger("slack_sdk.web").debug("Sending a request - body %s", NOTE)
    logging.getLogger("slack_bolt.AsyncApp").warning("url %s", "https://x.example/secret")

    lines = captured.objects()
    text = "\n".join(captured.lines())
    assert "my manager" not in text
    assert "people" not in text
    assert "secret" not in text
    assert BOT_TOKEN not in text
    assert NOTE not in text
    assert lines[0]["message"] == "entry [private] weighed [private] score 2"
    assert lines[1]["message"] == "dict form [private]"
    assert lines[2]["request_id"] == "1700000000-abcdef"
    assert "https://cal.example.com/…" in lines[2]["exc"]
    assert "xoxb-[redacted]" in lines[2]["exc"]
    assert lines[3] | {"time": ""} == {
        "time": "",
        "level": "WARNING",
        "logger": "bot.test_logs",
        "message": "delivery pass failed: TimeoutError",
        "request_id": None,
        "job_id": jid,
    }
    assert jid.startswith("delivery-")
    assert [line["logger"] for line in lines] == ["bot.test_logs"] * 4 + ["slack_bolt.AsyncApp"]
    assert lines[4]["message"] == "url https://x.example/…"


def test_a_bad_format_keeps_the_line_but_not_its_arguments() -> None:
    record = logging.LogRecord(
        "bot.x", logging.INFO, __file__, 1, "score %d for %s", ("high", NOTE), None
    )
    assert Redact().filter(record)
    assert record.getMessage() == "score %d for %s [unformattable arguments]"


def test_library_lines_lose_the_bodies_they_quote() -> None:
    record = logging.LogRecord(
        "slack_bolt.RequestVerification",
        logging.INFO,
        __file__,
        1,
        "Invalid request signature detected (signature: v0=ab, timestamp: 1, body: %s)",
        (f"text=1+{NOTE}",),
        None,
    )
    assert Redact().filter(record)
    assert record.getMessage() == (
        "Invalid request signature detected (signature: v0=ab, timestamp: 1, body: [redacted]"
    )


def test_plain_lines_show_the_id_only_when_there_is_one(
    capture: Callable[[LogFormat], Captured],
) -> None:
    captured = capture("plain")
    log = logging.getLogger("bot.test_logs")
    log.info("outside")
    token = request_id.set("1700000000-0a0b0c")
    try:
        log.info("inside")
    finally:
        request_id.reset(token)
    outside, inside = captured.lines()
    assert outside.endswith(" INFO bot.test_logs: outside")
    assert inside.endswith(" INFO bot.test_logs [1700000000-0a0b0c]: inside")


def test_configure_logging_twice_keeps_one_handler(
    capture: Callable[[LogFormat], Captured],
) -> None:
    first = capture("plain")
    second = capture("json")
    logging.getLogger("bot.test_logs").warning("once")
    assert first.lines() == []
    assert [line["message"] for line in second.objects()] == ["once"]
    assert logging.getLogger("slack_sdk").level == logging.INFO  # DEBUG is for our code only


@pytest.mark.parametrize(
    ("env", "level", "fmt"),
    [
        ({}, "INFO", "plain"),
        ({"LOG_LEVEL": "debug", "LOG_FORMAT": "JSON"}, "DEBUG", "json"),
        ({"LOG_LEVEL": "WARNING", "LOG_FORMAT": "plain"}, "WARNING", "plain"),
    ],
)
def test_log_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], level: str, fmt: str
) -> None:
    for name in ("LOG_LEVEL", "LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert (settings.log_level, settings.log_format) == (level, fmt)


def test_a_bad_log_setting_is_named_without_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match=r"^setting LOG_FORMAT is invalid: "):
        load_settings()
