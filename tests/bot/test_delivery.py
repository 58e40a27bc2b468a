"""Delivery in one process: plan → queue → the last checks → one DM, over real Redis and the
fake Slack's HTTP API, on a clock the test moves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest_asyncio
from slack_sdk.web.async_client import AsyncWebClient

from bot import logs
from bot.delivery import Deliverer
from bot.models import Profile
from bot.planning import replan, run_day_starts
from bot.ratelimit import WorkspaceRate
from bot.worker import Worker
from nudges.clock import BusyInterval
from nudges.planner import NudgeKind
from nudges.preferences import Preferences, ReflectionTime
from tests.bot.conftest import (
    BOT_TOKEN,
    START,
    RunningBot,
    deliver_due,
    posted_reset_keys,
)
from tests.support import TEAM_ID, USER_ID

BERLIN = ZoneInfo("Europe/Berlin")


def utc(hour: int, minute: int = 0, second: int = 0, *, day: int = 0) -> datetime:
    return START.replace(hour=hour, minute=minute, second=second) + timedelta(days=day)


# Monday: 09:30–11:00 Berlin in two meetings back to back (08:30–10:00 UTC): one reset at
# the chain's end, 10:00 UTC (the chain is too short for resets between its meetings).
CHAIN = [
    BusyInterval(start=utc(8, 30), end=utc(9, 15)),
    BusyInterval(start=utc(9, 15), end=utc(10)),
]


@pytest_asyncio.fixture(loop_scope="function")
async def deliverer(bot: RunningBot) -> AsyncIterator[Deliverer]:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=bot.slack.base_url)
    rate = WorkspaceRate(bot.store.redis, rate=50)
    yield Deliverer(bot.services, client, rate=rate, concurrency=4)


async def opt_in(bot: RunningBot, **preferences: object) -> None:
    prefs = Preferences.model_validate({"tz": BERLIN, "reflection": None, **preferences})
    await bot.store.save_profile(TEAM_ID, USER_ID, Profile(opted_in=True, preferences=prefs))


async def test_a_planned_reset_is_sent_once_when_due(bot: RunningBot, deliverer: Deliverer) -> None:
    await opt_in(bot)
    await bot.store.save_busy(TEAM_ID, USER_ID, CHAIN)
    assert await replan(bot.services, TEAM_ID, USER_ID) == 1
    (nudge,) = await bot.services.queue.pending(TEAM_ID, USER_ID)
    assert (nudge.kind, nudge.at) == (NudgeKind.RESET, utc(10))

    assert await deliver_due(bot, deliverer, utc(9, 59)) == 0
    assert await deliver_due(bot, deliverer, utc(10, 0, 5)) == 1
    assert posted_reset_keys(bot.slack) == [nudge.key]
    assert await deliver_due(bot, deliverer, utc(10, 1)) == 0
    # A re-plan later that day does not bring the sent reset back.
    await replan(bot.services, TEAM_ID, USER_ID)
    assert await bot.services.queue.pending(TEAM_ID, USER_ID) == []
    counters = await bot.services.counters.read()
    assert (counters["planned"], counters["sent"]) == (1, 1)
    # Its buttons find it: the sent record is kept for the click.
    assert await bot.store.sent(TEAM_ID, USER_ID, nudge.key) is not None


async def test_a_moved_meeting_moves_its_reset(bot: RunningBot, deliverer: Deliverer) -> None:
    await opt_in(bot)
    await bot.store.save_busy(TEAM_ID, USER_ID, CHAIN)
    await replan(bot.services, TEAM_ID, USER_ID)
    # The second meeting now runs 20 minutes longer: the calendar changed before the send.
    moved = [CHAIN[0], BusyInterval(start=utc(9, 15), end=utc(10, 20))]
    await bot.store.save_busy(TEAM_ID, USER_ID, moved)
    await replan(bot.services, TEAM_ID, USER_ID)

    await deliver_due(bot, deliverer, utc(10, 1))
    await deliver_due(bot, deliverer, utc(10, 21))
    (key,) = posted_reset_keys(bot.slack)
    assert key == f"reset:{utc(10, 20).isoformat()}"


async def test_a_cancelled_meeting_drops_its_reset(bot: RunningBot, deliverer: Deliverer) -> None:
    await opt_in(bot)
    await bot.store.save_busy(TEAM_ID, USER_ID, CHAIN)
    await replan(bot.services, TEAM_ID, USER_ID)
    await bot.store.save_busy(TEAM_ID, USER_ID, CHAIN[:1])
    await replan(bot.services, TEAM_ID, USER_ID)
    assert await deliver_due(bot, deliverer, utc(10, 5)) == 0
    assert bot.slack.calls("chat.postMessage") == []


async def test_turning_off_after_planning_drops_the_nudge(
    bot: RunningBot, deliverer: Deliverer
) -> None:
    await opt_in(bot)
    await bot.store.save_busy(TEAM_ID, USER_ID, CHAIN)
    await replan(bot.services, TEAM_ID, USER_ID)
    # Written straight to the store, as an older instance might: no re-plan follows.
    await bot.store.save_profile(TEAM_ID, USER_ID, Profile(opted_in=False))
    assert await deliver_due(bot, deliverer, utc(10, 0, 5)) == 1
    assert bot.slack.calls("chat.postMessage") == []
    assert (await bot.services.counters.read())["dropped:opted_out"] == 1


async def test_a_pause_set_after_planning_holds_it_back(
    bot: RunningBot, deliverer: Deliverer
) -> None:
    await opt_in(bot)
    await bot.store.save_busy(TEAM_ID, USER_ID, CHAIN)
    await replan(bot.services, TEAM_ID, USER_ID)
    paused = Preferences(tz=BERLIN, reflection=None, paused_until=utc(12))
    await bot.store.save_profile(TEAM_ID, USER_ID, Profile(opted_in=True, preferences=paused))
    await deliver_due(bot, deliverer, utc(10, 0, 5))
    assert bot.slack.calls("chat.postMessage") == []
    assert (await bot.services.counters.read())["dropped:paused"] == 1


async def test_do_not_disturb_drops_a_reset(bot: RunningBot, deliverer: Deliverer) -> None:
    await opt_in(bot)
    await bot.store.save_busy(TEAM_ID, USER_ID, CHAIN)
    await replan(bot.services, TEAM_ID, USER_ID)
    bot.slack.dnd[USER_ID] = {"snooze_enabled": True, "snooze_endtime": int(utc(11).timestamp())}
    await deliver_due(bot, deliverer, utc(10, 0, 5))
    assert bot.slack.calls("chat.postMessage") == []
    assert (await bot.services.counters.read())["dropped:dnd"] == 1


async def test_a_nudge_claimed_after_its_deadline_is_counted_expired(
    bot: RunningBot, deliverer: Deliverer
) -> None:
    await opt_in(bot)
    await bot.store.save_busy(TEAM_ID, USER_ID, CHAIN)
    await replan(bot.services, TEAM_ID, USER_ID)
    (nudge,) = await bot.services.queue.pending(TEAM_ID, USER_ID)
    # Every instance was down until after the deadline.
    assert await deliver_due(bot, deliverer, nudge.expires_at + timedelta(seconds=1)) == 1
    assert bot.slack.calls("chat.postMessage") == []
    assert (await bot.services.counters.read())["expired"] == 1


async def test_a_429_waits_for_retry_after_then_sends(
    bot: RunningBot, deliverer: Deliverer
) -> None:
    await opt_in(bot)
    await bot.store.save_busy(TEAM_ID, USER_ID, CHAIN)
    await replan(bot.services, TEAM_ID, USER_ID)
    bot.slack.rate_limit("chat.postMessage", retry_after=30)
    await deliver_due(bot, deliverer, utc(10, 0, 5))
    assert posted_reset_keys(bot.slack) == []  # the one post was refused
    assert await deliver_due(bot, deliverer, utc(10, 0, 20)) == 0  # waiting out Retry-After
    # The workspace bucket is paused on Redis's own clock; let it run out, then go on.
    await bot.store.redis.delete(f"bl:rate:{{{TEAM_ID}}}")
    assert await deliver_due(bot, deliverer, utc(10, 0, 40)) == 1
    assert len(posted_reset_keys(bot.slack)) == 1
    counters = await bot.services.counters.read()
    assert (counters["rate_limited"], counters["sent"]) == (1, 1)


async def test_a_lasting_slack_error_is_counted_not_retried(
    bot: RunningBot, deliverer: Deliverer
) -> None:
    await opt_in(bot)
    await bot.store.save_busy(TEAM_ID, USER_ID, CHAIN)
    await replan(bot.services, TEAM_ID, USER_ID)
    bot.slack.fail("chat.postMessage", "account_inactive")
    seen = JobIds()
    logging.getLogger("bot.delivery").addHandler(seen)
    try:
        await deliver_due(bot, deliverer, utc(10, 0, 5))
    finally:
        logging.getLogger("bot.delivery").removeHandler(seen)
    assert await deliver_due(bot, deliverer, utc(10, 1)) == 0
    assert (await bot.services.counters.read())["dropped:slack_error"] == 1
    # The refusal's log line carries the job id of that one delivery.
    [job] = [j for m, j in seen.lines if m.startswith("Slack refused")]
    assert job is not None
    assert job.startswith("delivery-")


class JobIds(logging.Handler):
    """Each line's message with the job id in force when it was logged."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.getMessage(), logs.job_id.get()))


async def test_a_passing_slack_error_is_tried_again(bot: RunningBot, deliverer: Deliverer) -> None:
    await opt_in(bot)
    await bot.store.save_busy(TEAM_ID, USER_ID, CHAIN)
    await replan(bot.services, TEAM_ID, USER_ID)
    bot.slack.fail("chat.postMessage", "internal_error")
    await deliver_due(bot, deliverer, utc(10, 0, 5))
    await deliver_due(bot, deliverer, utc(10, 0, 15))
    assert len(posted_reset_keys(bot.slack)) == 1


async def test_the_weekly_reflection_is_delivered_with_its_prompts(
    bot: RunningBot, deliverer: Deliverer
) -> None:
    await opt_in(bot, reflection=ReflectionTime(weekday=0, at="16:00"))
    await replan(bot.services, TEAM_ID, USER_ID)
    (nudge,) = await bot.services.queue.pending(TEAM_ID, USER_ID)
    assert nudge.kind is NudgeKind.REFLECTION
    await deliver_due(bot, deliverer, nudge.at)
    call = bot.slack.last("chat.postMessage")
    assert "reflect" in str(call.param_json("blocks")).lower()
    assert await bot.store.sent(TEAM_ID, USER_ID, nudge.key) is not None


async def test_each_new_day_is_planned_at_its_start(bot: RunningBot, deliverer: Deliverer) -> None:
    await opt_in(bot)
    await replan(bot.services, TEAM_ID, USER_ID)
    assert await bot.services.queue.pending(TEAM_ID, USER_ID) == []
    # Tuesday's meetings arrive (a sync would write them); the day start plans them.
    tuesday = [
        BusyInterval(start=utc(8, 30, day=1), end=utc(9, 15, day=1)),
        BusyInterval(start=utc(9, 15, day=1), end=utc(10, day=1)),
    ]
    await bot.store.save_busy(TEAM_ID, USER_ID, tuesday)
    assert await run_day_starts(bot.services, now=utc(12)) == 0  # not Tuesday yet in Berlin
    # Berlin's midnight is 23:00 UTC; the day start is a minute later.
    assert await run_day_starts(bot.services, now=utc(23, 2)) == 1
    (nudge,) = await bot.services.queue.pending(TEAM_ID, USER_ID)
    assert nudge.at == utc(10, day=1)
    # Claimed once: a second instance looking at the same moment finds nothing due.
    assert await run_day_starts(bot.services, now=utc(23, 2)) == 0


async def test_nobody_is_planned_for_before_opting_in(bot: RunningBot) -> None:
    await bot.store.save_busy(TEAM_ID, USER_ID, CHAIN)
    assert await replan(bot.services, TEAM_ID, USER_ID) == 0
    assert await bot.services.queue.pending(TEAM_ID, USER_ID) == []


async def test_the_worker_outlives_a_redis_outage_and_delivers_after_it(bot: RunningBot) -> None:
    """redis-py's connection errors are neither OSError nor TimeoutError; before they were
    caught, the first pass during an outage ended the whole worker, silently."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=bot.slack.base_url)
    stop = asyncio.Event()
    running = asyncio.create_task(Worker(bot.services, client).run(stop))
    try:
        bot.redis_server.stop()
        # Long enough for several delivery passes and a calendar-sync pass to fail.
        await asyncio.sleep(2.5)
        assert not running.done()
        bot.redis_server.start()  # back, and empty (the tests' Redis keeps nothing)

        await opt_in(bot)
        await bot.store.save_busy(TEAM_ID, USER_ID, CHAIN)
        await replan(bot.services, TEAM_ID, USER_ID)
        bot.clock.set(utc(10, 0, 5))
        await bot.slack.wait_for("chat.postMessage")
        assert len(posted_reset_keys(bot.slack)) == 1
    finally:
        stop.set()
        await running
