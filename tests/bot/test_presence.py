"""Can the person take a nudge now? (bot.presence.unavailable) — Slack DND through the fake
Web API (cached in the real Redis), huddles and meeting statuses from the live state."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient

from bot import keys
from bot.live import STALE_AFTER, LiveSignals
from bot.presence import DND_CACHE, DndStatus, unavailable
from bot.queue import DropReason
from nudges.signals import SignalKind
from tests.bot.conftest import BOT_TOKEN, RunningBot
from tests.support import TEAM_ID, USER_ID
from tests.support.redis_server import free_port

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def web_client(bot: RunningBot) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=bot.slack.base_url)


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


async def check(bot: RunningBot, *, now: datetime = NOW) -> DropReason | None:
    return await unavailable(bot.services, web_client(bot), TEAM_ID, USER_ID, now=now)


# --- Do Not Disturb --------------------------------------------------------------------------


async def test_without_dnd_the_person_is_available_and_the_answer_is_cached(
    bot: RunningBot,
) -> None:
    assert await check(bot) is None
    [asked] = bot.slack.calls("dnd.info")
    assert asked.params["user"] == USER_ID
    assert await check(bot, now=NOW + timedelta(minutes=1)) is None
    assert len(bot.slack.calls("dnd.info")) == 1  # the second look came from Redis
    ttl = await bot.store.redis.ttl(keys.dnd(TEAM_ID, USER_ID))
    assert 0 < ttl <= DND_CACHE.total_seconds()


async def test_inside_a_dnd_window_the_person_is_in_dnd_until_it_ends(bot: RunningBot) -> None:
    bot.slack.dnd[USER_ID] = {
        "dnd_enabled": True,
        "next_dnd_start_ts": ts(NOW - timedelta(minutes=10)),
        "next_dnd_end_ts": ts(NOW + timedelta(hours=1)),
    }
    assert await check(bot) is DropReason.DND
    # The cached answer holds absolute times: the window's end is seen without asking again.
    assert await check(bot, now=NOW + timedelta(hours=1)) is None
    assert len(bot.slack.calls("dnd.info")) == 1


async def test_a_dnd_window_that_starts_later_counts_once_it_has_started(bot: RunningBot) -> None:
    bot.slack.dnd[USER_ID] = {
        "dnd_enabled": True,
        "next_dnd_start_ts": ts(NOW + timedelta(minutes=2)),
        "next_dnd_end_ts": ts(NOW + timedelta(hours=9)),
    }
    assert await check(bot) is None
    assert await check(bot, now=NOW + timedelta(minutes=2)) is DropReason.DND


async def test_a_schedule_with_dnd_switched_off_does_not_count(bot: RunningBot) -> None:
    bot.slack.dnd[USER_ID] = {
        "dnd_enabled": False,
        "next_dnd_start_ts": ts(NOW - timedelta(minutes=10)),
        "next_dnd_end_ts": ts(NOW + timedelta(hours=1)),
    }
    assert await check(bot) is None


@pytest.mark.parametrize(("minutes_left", "expected"), [(20, DropReason.DND), (-1, None)])
async def test_a_snooze_counts_until_its_end(
    bot: RunningBot, minutes_left: int, expected: DropReason | None
) -> None:
    bot.slack.dnd[USER_ID] = {
        "snooze_enabled": True,
        "snooze_endtime": ts(NOW + timedelta(minutes=minutes_left)),
        "snooze_remaining": max(0, minutes_left * 60),
    }
    assert await check(bot) is expected


async def test_a_rate_limited_dnd_info_never_holds_a_nudge_back(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot.slack.dnd[USER_ID] = {"snooze_enabled": True, "snooze_endtime": ts(NOW + timedelta(1))}
    bot.slack.rate_limit("dnd.info", retry_after=7)
    with caplog.at_level(logging.WARNING, logger="bot.presence"):
        assert await check(bot) is None
    assert [r.getMessage() for r in caplog.records] == ["dnd.info failed: ratelimited"]
    # Asked once; the failure is remembered for Slack's Retry-After, not for minutes.
    assert await check(bot) is None
    assert len(bot.slack.calls("dnd.info")) == 1
    assert 0 < await bot.store.redis.ttl(keys.dnd(TEAM_ID, USER_ID)) <= 7


async def test_a_dnd_info_error_never_holds_a_nudge_back(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot.slack.fail("dnd.info", "user_not_found")
    with caplog.at_level(logging.WARNING, logger="bot.presence"):
        assert await check(bot) is None
    assert [r.getMessage() for r in caplog.records] == ["dnd.info failed: user_not_found"]


async def test_an_unreachable_slack_never_holds_a_nudge_back(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = AsyncWebClient(token=BOT_TOKEN, base_url=f"http://127.0.0.1:{free_port()}/api/")
    with caplog.at_level(logging.WARNING, logger="bot.presence"):
        assert await unavailable(bot.services, nowhere, TEAM_ID, USER_ID, now=NOW) is None
    [record] = caplog.records
    assert record.getMessage().startswith("dnd.info failed: Client")
    assert USER_ID not in record.getMessage()


async def test_an_unreadable_cached_answer_is_asked_again(bot: RunningBot) -> None:
    await bot.store.redis.set(keys.dnd(TEAM_ID, USER_ID), b"{not json")
    assert await check(bot) is None
    assert len(bot.slack.calls("dnd.info")) == 1


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({}, DndStatus()),
        (
            {"dnd_enabled": True, "next_dnd_start_ts": 1_800_000_000, "next_dnd_end_ts": "0"},
            DndStatus(enabled=True, starts=datetime.fromtimestamp(1_800_000_000, tz=UTC)),
        ),
        ({"snooze_enabled": False, "snooze_endtime": 1_800_000_000}, DndStatus()),
        ({"dnd_enabled": "yes", "next_dnd_start_ts": None, "next_dnd_end_ts": []}, None),
        ({"next_dnd_start_ts": "soon", "next_dnd_end_ts": 10**20}, DndStatus()),
    ],
)
def test_odd_dnd_answers_are_read_without_failing(
    answer: dict[str, object], expected: DndStatus | None
) -> None:
    status = DndStatus.from_slack(answer)
    if expected is not None:
        assert status == expected
    assert status.active(NOW) is False


# --- huddles and meeting statuses ------------------------------------------------------------


async def test_in_a_huddle_means_huddle_without_asking_slack(bot: RunningBot) -> None:
    live = LiveSignals(bot.store.redis)
    await live.begin(TEAM_ID, USER_ID, SignalKind.HUDDLE, at=NOW - timedelta(minutes=5))
    assert await check(bot) is DropReason.HUDDLE
    assert bot.slack.calls("dnd.info") == []


async def test_a_meeting_status_means_in_meeting_until_it_expires(bot: RunningBot) -> None:
    live = LiveSignals(bot.store.redis)
    until = NOW + timedelta(minutes=30)
    await live.begin(
        TEAM_ID, USER_ID, SignalKind.STATUS, at=NOW - timedelta(minutes=5), until=until
    )
    assert await check(bot) is DropReason.IN_MEETING
    # The status said it would end then: a lost "cleared" event does not hold nudges back.
    assert await check(bot, now=until) is None


async def test_a_signal_whose_end_was_lost_stops_counting(bot: RunningBot) -> None:
    live = LiveSignals(bot.store.redis)
    await live.begin(TEAM_ID, USER_ID, SignalKind.HUDDLE, at=NOW - STALE_AFTER)
    assert await check(bot) is None


async def test_a_cached_look_is_two_reads_and_no_slack_call(bot: RunningBot, redis: Redis) -> None:
    assert await check(bot) is None  # fills the cache
    before = await redis.info("commandstats")
    assert await check(bot, now=NOW + timedelta(minutes=2)) is None
    after = await redis.info("commandstats")
    used = {
        name: after[name]["calls"] - before.get(name, {"calls": 0})["calls"]
        for name in after
        if name != "cmdstat_info"
    }
    assert {name: n for name, n in used.items() if n} == {"cmdstat_hgetall": 1, "cmdstat_get": 1}
    assert len(bot.slack.calls("dnd.info")) == 1


async def test_someone_else_s_signals_do_not_count(bot: RunningBot) -> None:
    live = LiveSignals(bot.store.redis)
    await live.begin(TEAM_ID, "U0OTHER", SignalKind.HUDDLE, at=NOW - timedelta(minutes=5))
    await live.begin("T0ELSE", USER_ID, SignalKind.HUDDLE, at=NOW - timedelta(minutes=5))
    assert await check(bot) is None
