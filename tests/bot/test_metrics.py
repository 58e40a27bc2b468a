"""/metrics, /readyz and the start-up auth check, over real HTTP against the running bot."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import create_app, create_web_app
from bot.health import AuthState, SlackAuthCheck
from bot.metrics import outcome_of, request_kind
from nudges.planner import Nudge, NudgeKind
from tests.bot.conftest import BOT_TOKEN, START, RunningBot, serve_bot
from tests.support import TEAM_ID, USER_ID
from tests.support.fake_slack import FakeSlack
from tests.support.redis_server import RedisServer
from tests.support.signing import (
    JSON_CONTENT_TYPE,
    block_actions_body,
    event_callback_body,
    signed_headers,
    slash_command_body,
    url_verification_body,
    view_submission_body,
)


async def scrape(bot: RunningBot) -> list[Sample]:
    async with bot.http.get(f"{bot.url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(samples: list[Sample], metric: str, /, **labels: str) -> float:
    found = [s.value for s in samples if s.name == metric and s.labels == labels]
    assert len(found) == 1, f"{metric}{labels}: {len(found)} samples"
    return found[0]


def names(samples: list[Sample]) -> set[str]:
    return {s.name for s in samples}


async def readyz(bot: RunningBot) -> tuple[int, dict[str, Any]]:
    async with bot.http.get(f"{bot.url}/readyz") as response:
        return response.status, await response.json()


async def settled_readyz(bot: RunningBot) -> tuple[int, dict[str, Any]]:
    """/readyz once the start-up auth check has an answer."""
    async with asyncio.timeout(5):
        while True:
            status, body = await readyz(bot)
            if body["slack_auth"] != AuthState.PENDING:
                return status, body
            await asyncio.sleep(0.01)


def due_reset(minutes_ago: int) -> Nudge:
    at = START - timedelta(minutes=minutes_ago)
    return Nudge(
        kind=NudgeKind.RESET,
        key=f"reset:{at.isoformat()}",
        at=at,
        expires_at=at + timedelta(minutes=30),
        text="Breathe out slowly.",
        practice="long-exhale",
    )


# --- requests by kind and outcome, ack latency ---------------------------------------------


async def test_requests_are_counted_by_kind_and_outcome_with_ack_latency(bot: RunningBot) -> None:
    assert await bot.command("/feel", "3 fine") == 200
    assert await bot.command("/baseline", "help") == 200
    forged = slash_command_body(command="/feel", text="2", response_url=bot.slack.response_url())
    response = await bot.post(forged, headers=signed_headers("not-the-secret", forged))
    assert response.status == 401
    assert await bot.click("no_such_button") == 404
    assert await bot.event({"type": "app_mention", "user": USER_ID, "text": "hi"}) in (200, 404)
    challenge = url_verification_body("abc")
    await bot.post(challenge, headers=signed_headers("test-signing-secret", challenge))

    samples = await scrape(bot)

    requests = "baseline_slack_requests_total"
    assert value(samples, requests, kind="command", outcome="ok") == 2
    assert value(samples, requests, kind="command", outcome="rejected") == 1
    assert value(samples, requests, kind="action", outcome="unhandled") == 1
    assert sum(s.value for s in samples if s.name == requests and s.labels["kind"] == "event") == 1
    assert sum(s.value for s in samples if s.name == requests and s.labels["kind"] == "other") == 1
    assert value(samples, "baseline_slack_ack_seconds_count", kind="command") == 3
    assert value(samples, "baseline_slack_ack_seconds_bucket", kind="command", le="+Inf") == 3
    assert value(samples, "baseline_slack_ack_seconds_sum", kind="command") > 0
    # Scrapes, probes and other paths are not Slack requests.
    await readyz(bot)
    again = await scrape(bot)
    assert value(again, "baseline_slack_ack_seconds_count", kind="command") == 3
    assert "process_cpu_seconds_total" in names(again)


# --- the shared counters and the queue, read from Redis at scrape time ---------------------


async def test_shared_counters_and_queue_depth_and_lag(bot: RunningBot) -> None:
    counters = bot.services.counters
    for name, by in [
        ("sent", 3),
        ("planned", 5),
        ("dropped:dnd", 1),
        ("dropped:quiet_hours", 2),
        ("sync:ok", 4),
        ("sync:fetch_failed", 1),
        ("rate_limited", 2),
        ("signal:huddle", 1),
        ("lease_lost", 1),
        ("mystery", 7),
    ]:
        await counters.incr(name, by)
    queue = bot.services.queue
    # One reset due 5 minutes ago (moved to ready, not claimed) and one still to come.
    await queue.replace(TEAM_ID, USER_ID, [due_reset(5), due_reset(-40)], now=START)
    for shard in range(queue.shards):
        await queue.claim(shard, now=START, limit=0)

    samples = await scrape(bot)

    assert value(samples, "baseline_redis_up") == 1
    assert value(samples, "baseline_slack_auth_ok") == 1
    nudges = "baseline_nudges_total"
    assert value(samples, nudges, outcome="sent") == 3
    assert value(samples, nudges, outcome="planned") == 5 + 2
    assert value(samples, nudges, outcome="expired") == 0  # known series start at zero
    dropped = "baseline_nudges_dropped_total"
    assert value(samples, dropped, reason="dnd") == 1
    assert value(samples, dropped, reason="quiet_hours") == 2
    assert value(samples, dropped, reason="opted_out") == 0
    assert value(samples, "baseline_calendar_syncs_total", result="ok") == 4
    assert value(samples, "baseline_calendar_syncs_total", result="fetch_failed") == 1
    assert value(samples, "baseline_slack_rate_limited_total") == 2
    assert value(samples, "baseline_live_signals_total", kind="huddle") == 1
    assert value(samples, "baseline_queue_events_total", event="lease_lost") == 1
    assert value(samples, "baseline_other_counters_total", name="mystery") == 7
    assert value(samples, "baseline_queue_jobs", state="scheduled") == 1
    assert value(samples, "baseline_queue_jobs", state="ready") == 1
    assert value(samples, "baseline_queue_jobs", state="leased") == 0
    assert value(samples, "baseline_queue_lag_seconds") == 5 * 60
    # The lag is measured on the bot's clock.
    bot.clock.advance(timedelta(minutes=1))
    assert value(await scrape(bot), "baseline_queue_lag_seconds") == 6 * 60


async def test_an_empty_queue_has_no_lag(bot: RunningBot) -> None:
    samples = await scrape(bot)
    assert value(samples, "baseline_queue_lag_seconds") == 0
    assert value(samples, "baseline_queue_jobs", state="ready") == 0
    assert value(samples, "baseline_slack_rate_limited_total") == 0
    assert "baseline_other_counters_total" not in names(samples)


async def test_each_web_app_has_its_own_registry(bot: RunningBot) -> None:
    # A second app in the same process registers the same metric names without a clash.
    app = create_app(bot.services)
    create_web_app(app, store=bot.store, services=bot.services)
    create_web_app(app, store=bot.store)
    assert await bot.command("/baseline", "help") == 200
    samples = await scrape(bot)
    assert value(samples, "baseline_slack_requests_total", kind="command", outcome="ok") == 1


# --- readiness -----------------------------------------------------------------------------


async def test_readyz_follows_redis_and_metrics_say_when_redis_is_down(
    bot: RunningBot, redis: Redis
) -> None:
    assert await settled_readyz(bot) == (
        200,
        {"ok": True, "redis": True, "slack_auth": "ok"},
    )
    await bot.services.counters.incr("sent")
    bot.redis_server.stop()
    try:
        assert await readyz(bot) == (503, {"ok": False, "redis": False, "slack_auth": "ok"})
        async with bot.http.get(f"{bot.url}/healthz") as alive:
            assert alive.status == 200  # alive, just not ready
        samples = await scrape(bot)
        assert value(samples, "baseline_redis_up") == 0
        assert "baseline_nudges_total" not in names(samples)  # absent, not a false zero
        assert "baseline_queue_jobs" not in names(samples)
    finally:
        bot.redis_server.start()
    assert await readyz(bot) == (200, {"ok": True, "redis": True, "slack_auth": "ok"})
    assert value(await scrape(bot), "baseline_redis_up") == 1


async def test_readyz_is_503_when_slack_refuses_the_token(
    redis_server: RedisServer, redis: Redis, fake_slack: FakeSlack
) -> None:
    fake_slack.fail("auth.test", "invalid_auth")
    async with serve_bot(redis_server, fake_slack) as bot:
        status, body = await settled_readyz(bot)
        assert (status, body) == (503, {"ok": False, "redis": True, "slack_auth": "refused"})
        assert value(await scrape(bot), "baseline_slack_auth_ok") == 0
        # Refused is final: probes do not ask Slack again.
        await readyz(bot)
        assert bot.slack.calls("auth.test") == []


async def test_auth_check_retries_until_slack_answers(fake_slack: FakeSlack) -> None:
    fake_slack.fail("auth.test", "internal_error", times=2)
    check = SlackAuthCheck(
        AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.base_url), retry_delays=(0,)
    )
    assert not check.ok  # pending until Slack answers
    await check.run()
    assert check.state is AuthState.OK
    assert check.team_id == TEAM_ID
    assert len(fake_slack.calls("auth.test")) == 3


async def test_auth_check_stops_at_a_refused_token(fake_slack: FakeSlack) -> None:
    fake_slack.fail("auth.test", "token_revoked")
    check = SlackAuthCheck(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.base_url))
    await check.run()
    assert (check.state, check.error) == (AuthState.REFUSED, "token_revoked")
    assert len(fake_slack.calls("auth.test")) == 1


# --- pure parts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        (
            slash_command_body(command="/feel", text="3"),
            "application/x-www-form-urlencoded",
            "command",
        ),
        (block_actions_body(action_id="reset_done"), "application/x-www-form-urlencoded", "action"),
        (
            view_submission_body(callback_id="feel_modal", values={}),
            "application/x-www-form-urlencoded",
            "view",
        ),
        (
            b"payload=%7B%22type%22%3A%22block_suggestion%22%7D",
            "application/x-www-form-urlencoded",
            "options",
        ),
        (
            b"payload=%7B%22type%22%3A%22shortcut%22%7D",
            "application/x-www-form-urlencoded",
            "shortcut",
        ),
        (event_callback_body({"type": "app_home_opened"}), JSON_CONTENT_TYPE, "event"),
        (url_verification_body("x"), JSON_CONTENT_TYPE, "other"),
        (b"payload=not-json", "application/x-www-form-urlencoded", "other"),
        (b"[1, 2]", JSON_CONTENT_TYPE, "other"),
        (b"\xff\xfe", "application/x-www-form-urlencoded", "other"),
        (b"", "application/x-www-form-urlencoded", "other"),
    ],
)
def test_request_kind(body: bytes, content_type: str, kind: str) -> None:
    assert request_kind(body, content_type) == kind


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "ok"),
        (204, "ok"),
        (401, "rejected"),
        (400, "rejected"),
        (404, "unhandled"),
        (500, "error"),
        (503, "error"),
    ],
)
def test_outcome_of(status: int, outcome: str) -> None:
    assert outcome_of(status) == outcome
