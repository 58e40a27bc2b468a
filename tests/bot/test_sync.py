"""Calendar sync (bot/sync.py): connecting through signed ``/baseline calendar`` commands, the
schedule and its leased claims, conditional fetches, broken and recovered feeds. Real HTTP
(a local feed server and the fake Slack), a real Redis; pure scheduling maths as tables.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient

from bench.feeds import heavy_feed
from bot import blocks, keys, texts
from bot.app import build_services
from bot.clock import ManualClock
from bot.commands import mask_url
from bot.models import Profile
from bot.parse_worker import FeedParser, ParserFailedError
from bot.store import Store, SyncState, decode_busy, encode_busy
from bot.sync import (
    BACKOFF_CAP,
    CalendarSync,
    SyncResult,
    backoff,
    merge_busy,
    next_sync_at,
)
from bot.vault import Vault
from nudges.calendar import CalendarLimits
from nudges.clock import BusyInterval, ClockRange, Weekdays, local_instant, parse_clock
from nudges.outlook import CalendarOutlook, calendar_outlook
from nudges.preferences import PlanningPolicy, Preferences
from tests.bot.conftest import BOT_TOKEN, ENCRYPTION_KEY, START, RunningBot, serve_bot
from tests.support import TEAM_ID, USER_ID
from tests.support.fake_slack import FakeSlack
from tests.support.feed_server import FeedServer, calendar_feed
from tests.support.redis_server import RedisServer
from tests.support.signing import slash_command_body

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 11, 23)  # START is this Monday, 08:30 in Berlin
DM = f"D{USER_ID}"
SECRET = "private-9f1e2d3c4b5a6978"
FEED = f"/calendar/ical/{SECRET}/basic.ics"


# --- helpers -------------------------------------------------------------------------------


def at(day_offset: int, clock: str) -> datetime:
    """A Berlin wall-clock time, ``day_offset`` days from Monday 23 November 2026."""
    return local_instant(MONDAY + timedelta(days=day_offset), parse_clock(clock), BERLIN)


def spans(*given: tuple[int, str]) -> list[tuple[datetime, datetime]]:
    out = []
    for offset, text in given:
        start, end = text.split("-")
        out.append((at(offset, start), at(offset, end)))
    return out


# A working week: a back-to-back chain on Wednesday morning, single meetings around it (the
# last one is past the days a sync reads, so it is never stored).
WEEK = spans(
    (0, "13:00-15:00"),  # long enough for a reset after it
    (1, "09:00-09:30"),
    (2, "10:00-11:00"),
    (2, "11:00-12:00"),
    (2, "12:00-12:30"),
    (3, "16:00-17:00"),
    (9, "10:00-11:00"),  # past the seven days: not counted
)
WEEK_FEED = calendar_feed(WEEK)
# The same week, with the Thursday meeting moved to Monday afternoon, back to back.
MOVED_FEED = calendar_feed([*WEEK[:-2], *spans((0, "15:00-16:00"), (9, "10:00-11:00"))])


def busy_of(pairs: list[tuple[datetime, datetime]]) -> list[BusyInterval]:
    return [BusyInterval(start=s.astimezone(UTC), end=e.astimezone(UTC)) for s, e in pairs]


class CountingParser(FeedParser):
    """The real parser, counting how often it runs (in this process)."""

    def __init__(self) -> None:
        super().__init__(0)
        self.parses = 0

    async def busy(self, body: bytes, **options: Any) -> list[BusyInterval]:
        self.parses += 1
        return await super().busy(body, **options)


async def ask(bot: RunningBot, text: str, *, user: str = USER_ID) -> dict[str, Any]:
    """Send a signed ``/baseline <text>`` and return what came back to its response URL."""
    url = bot.slack.response_url()
    body = slash_command_body(command="/baseline", text=text, user_id=user, response_url=url)
    assert (await bot.post(body)).status == 200
    seen = len(bot.slack.calls("response_url"))
    while not bot.slack.responses(url):
        seen += 1
        await bot.slack.wait_for("response_url", count=seen)
    [answer] = bot.slack.responses(url)
    return answer.params


async def opt_in(bot: RunningBot, user: str = USER_ID, **preferences: Any) -> None:
    await bot.store.save_profile(
        TEAM_ID,
        user,
        Profile(
            opted_in=True, preferences=Preferences(tz=BERLIN, **preferences), tz_from_slack=True
        ),
    )


def dms(bot: RunningBot) -> list[str]:
    return [call.params["text"] for call in bot.slack.calls("chat.postMessage")]


async def schedule_score(redis: Redis, sync: CalendarSync, user: str = USER_ID) -> float | None:
    shard = sync.services.queue.shard_of(TEAM_ID, user)
    score = await redis.zscore(keys.sync_schedule(shard), f"{TEAM_ID}:{user}")
    return None if score is None else float(score)


@pytest_asyncio.fixture(loop_scope="function")
async def feeds() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


@pytest_asyncio.fixture(loop_scope="function")
async def calendar_bot(
    redis_server: RedisServer, redis: Redis, fake_slack: FakeSlack
) -> AsyncIterator[RunningBot]:
    """The bot, allowed to read calendars on 127.0.0.1 (the local feed server)."""
    async with serve_bot(
        redis_server, fake_slack, calendar_allow_private=True, calendar_parse_workers=0
    ) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="function")
async def slack_client(fake_slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.base_url)


@pytest.fixture
def parser() -> CountingParser:
    return CountingParser()


@pytest.fixture
def sync(
    calendar_bot: RunningBot, slack_client: AsyncWebClient, parser: CountingParser
) -> CalendarSync:
    return CalendarSync(calendar_bot.services, slack_client, parser=parser, rng=random.Random(4))  # noqa: S311


# --- /baseline calendar <url>, end to end ----------------------------------------------------


async def test_connect_answers_with_the_week_ahead_and_starts_syncing(
    calendar_bot: RunningBot, feeds: FeedServer, redis: Redis, sync: CalendarSync
) -> None:
    bot = calendar_bot
    url = feeds.serve(FEED, WEEK_FEED)
    await ask(bot, "on")

    answer = await ask(bot, f"calendar {url}")

    masked = mask_url(url)
    assert answer["text"] == (
        f"✓ Calendar connected: {masked}. 6 meetings in the next 7 days; the next "
        "back-to-back chain is Wednesday 10:00–12:30."
    )
    assert (
        answer
        == blocks.calendar_connected(
            masked,
            calendar_outlook(busy_of(WEEK[:-1]), now=START, policy=PlanningPolicy()),
            now=START,
            tz=BERLIN,
            every_minutes=10,
            idle_minutes=60,
        ).to_dict()
    )
    assert SECRET not in str(answer)
    assert feeds.hits() == 1
    # Stored: the address (sealed), the busy time, the sync state; the person is scheduled.
    assert await bot.store.calendar_url(TEAM_ID, USER_ID) == url
    assert await bot.store.busy(TEAM_ID, USER_ID) == busy_of(WEEK[:-1])
    state = await bot.store.sync_state(TEAM_ID, USER_ID)
    assert state.etag == feeds.feeds[FEED].etag_value
    assert state.last_modified == feeds.feeds[FEED].last_modified_value
    assert state.window == "2026-11-23 Europe/Berlin"
    assert state.failures == 0
    assert not state.broken
    assert await bot.store.sync_email(TEAM_ID, USER_ID) == f"{USER_ID.lower()}@example.com"
    # Before work (08:30): the next sync comes just before 09:00.
    score = await schedule_score(redis, sync)
    assert score is not None
    assert at(0, "08:40").timestamp() <= score <= at(0, "08:52").timestamp()
    # Re-planned: the Wednesday chain's resets are more than 24 h away, Monday's meeting not.
    pending = await bot.services.queue.pending(TEAM_ID, USER_ID)
    assert pending
    assert all(n.at < START + timedelta(hours=24) for n in pending)
    counters = await bot.services.counters.read()
    assert counters.get("sync:connected") == 1

    removed = await ask(bot, "calendar off")

    assert removed == blocks.confirmation(texts.CALENDAR_REMOVED).to_dict()
    assert await bot.store.calendar_url(TEAM_ID, USER_ID) is None
    assert await bot.store.busy(TEAM_ID, USER_ID) == []
    assert await bot.store.sync_state(TEAM_ID, USER_ID) == SyncState()
    assert await schedule_score(redis, sync) is None
    assert await bot.services.queue.pending(TEAM_ID, USER_ID) == []


async def test_a_private_address_is_refused_without_a_connection(
    bot: RunningBot, feeds: FeedServer, redis: Redis
) -> None:
    # The ordinary bot: calendar_allow_private is off.
    url = feeds.serve(FEED, WEEK_FEED)

    answer = await ask(bot, f"calendar {url}")

    assert answer["text"] == (
        "Couldn't connect that calendar: that address points inside a private network, "
        "which Baseline never fetches. Nothing was saved."
    )
    assert feeds.hits() == 0
    assert await redis.keys("bl:{p:*") == [b"bl:{p:T0TEST:U0USER}:profile"]
    assert await redis.keys("bl:sync:*") == []


@pytest.mark.parametrize(
    ("feed", "reason"),
    [
        pytest.param({"status": 404}, "the calendar server said 404", id="404"),
        pytest.param({"status": 401}, "the calendar server said 401", id="401"),
        pytest.param(
            {"body": b"<!doctype html><html>Sign in</html>", "content_type": "text/html"},
            "that is not a calendar",
            id="not-a-calendar",
        ),
        pytest.param(
            {"body": b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART:nonsense\r\n"},
            "the calendar",
            id="unreadable",
        ),
        pytest.param({"endless": True}, "the calendar is too big (the limit is 5 MB)", id="big"),
    ],
)
async def test_a_calendar_that_cannot_be_read_is_not_saved(
    calendar_bot: RunningBot, feeds: FeedServer, redis: Redis, feed: dict[str, Any], reason: str
) -> None:
    url = feeds.serve(FEED, **feed)

    answer = await ask(calendar_bot, f"calendar {url}")

    assert answer["text"].startswith(f"Couldn't connect that calendar: {reason}")
    assert answer["text"].endswith(". Nothing was saved.")
    assert await calendar_bot.store.calendar_url(TEAM_ID, USER_ID) is None
    assert await redis.keys("bl:{p:*:calendar") == []
    assert await redis.keys("bl:{p:*:sync") == []
    assert await redis.keys("bl:sync:*") == []


async def test_a_failed_new_address_keeps_the_calendar_connected_before(
    calendar_bot: RunningBot, feeds: FeedServer
) -> None:
    good = feeds.serve(FEED, WEEK_FEED)
    await ask(calendar_bot, f"calendar {good}")
    gone = feeds.serve("/old-link.ics", status=410)

    answer = await ask(calendar_bot, f"calendar {gone}")

    assert answer["text"].endswith(
        "Nothing was saved. Your calendar connected before stays connected."
    )
    assert await calendar_bot.store.calendar_url(TEAM_ID, USER_ID) == good
    assert await calendar_bot.store.busy(TEAM_ID, USER_ID) == busy_of(WEEK[:-1])


async def test_connect_follows_redirects(calendar_bot: RunningBot, feeds: FeedServer) -> None:
    feeds.serve(FEED, WEEK_FEED)
    moved = feeds.serve("/old/address.ics", redirect_to=FEED)

    answer = await ask(calendar_bot, f"calendar {moved}")

    assert answer["text"].startswith("✓ Calendar connected")
    assert [r.status for r in feeds.requests] == [302, 200]
    assert await calendar_bot.store.calendar_url(TEAM_ID, USER_ID) == moved


async def test_connect_may_take_longer_than_other_answers(
    redis_server: RedisServer, redis: Redis, fake_slack: FakeSlack, feeds: FeedServer
) -> None:
    # Other /baseline answers get 2.5 s; reading a calendar gets the fetch timeout and more.
    async with serve_bot(
        redis_server,
        fake_slack,
        calendar_allow_private=True,
        calendar_parse_workers=0,
        calendar_timeout_seconds=6,
    ) as bot:
        url = feeds.serve(FEED, WEEK_FEED, delay=3)

        answer = await ask(bot, f"calendar {url}")

        assert answer["text"].startswith("✓ Calendar connected")


@pytest.mark.parametrize(
    "slow",
    [pytest.param({"delay": 5}, id="never-answers"), pytest.param({"trickle": 0.2}, id="trickle")],
)
async def test_a_server_that_times_out_is_saved_and_tried_again(
    redis_server: RedisServer,
    redis: Redis,
    fake_slack: FakeSlack,
    feeds: FeedServer,
    slow: dict[str, Any],
) -> None:
    async with serve_bot(
        redis_server,
        fake_slack,
        calendar_allow_private=True,
        calendar_parse_workers=0,
        calendar_timeout_seconds=0.5,
    ) as bot:
        url = feeds.serve(FEED, WEEK_FEED, **slow)

        answer = await ask(bot, f"calendar {url}")

        assert answer["text"].startswith(
            f"Saved {mask_url(url)}, but it couldn't be read just now: the calendar server "
            "did not answer within 0.5 seconds. Baseline tries again in about "
        )
        assert await bot.store.calendar_url(TEAM_ID, USER_ID) == url
        assert await bot.store.busy(TEAM_ID, USER_ID) == []
        state = await bot.store.sync_state(TEAM_ID, USER_ID)
        assert (state.failures, state.reason, state.broken) == (1, "timeout", False)
        slack_client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.base_url)
        sync = CalendarSync(bot.services, slack_client, parser=CountingParser())
        score = await schedule_score(redis, sync)
        assert score is not None
        assert 7 * 60 <= score - START.timestamp() <= 13 * 60

        # The server answers again: the next sync reads it.
        feeds.change(FEED, delay=0, trickle=None)
        await opt_in(bot)
        outcome = await sync.sync_person(TEAM_ID, USER_ID, now=START + timedelta(minutes=10))
        assert outcome.result is SyncResult.CHANGED
        assert await bot.store.busy(TEAM_ID, USER_ID) == busy_of(WEEK[:-1])
        assert not dms(bot)  # never reported broken, so no "works again" either


# --- conditional fetches: unchanged feeds are not parsed again ---------------------------------


async def test_an_unchanged_feed_is_neither_parsed_nor_replanned(
    calendar_bot: RunningBot, feeds: FeedServer, sync: CalendarSync, parser: CountingParser
) -> None:
    bot = calendar_bot
    await opt_in(bot)
    url = feeds.serve(FEED, WEEK_FEED)
    await sync.connect(TEAM_ID, USER_ID, url, now=START)
    assert parser.parses == 1
    planned = await bot.services.queue.pending(TEAM_ID, USER_ID)
    now = START + timedelta(minutes=20)

    # 304: the validators went along and nothing was parsed.
    outcome = await sync.sync_person(TEAM_ID, USER_ID, now=now)
    assert outcome.result is SyncResult.NOT_MODIFIED
    last = feeds.requests[-1]
    assert (last.if_none_match, last.status) == (feeds.feeds[FEED].etag_value, 304)
    assert last.if_modified_since == feeds.feeds[FEED].last_modified_value
    assert parser.parses == 1

    # A server without validators sends the same bytes: the content hash says "same".
    feeds.change(FEED, etag=False, last_modified=False)
    outcome = await sync.sync_person(TEAM_ID, USER_ID, now=now + timedelta(minutes=10))
    assert outcome.result is SyncResult.SAME_HASH
    assert feeds.requests[-1].status == 200
    assert parser.parses == 1
    assert await bot.services.queue.pending(TEAM_ID, USER_ID) == planned

    # A real change is parsed, stored and re-planned: Monday now has a chain at 13:00–16:00.
    feeds.change(FEED, body=MOVED_FEED, etag=True, last_modified=True)
    outcome = await sync.sync_person(TEAM_ID, USER_ID, now=now + timedelta(minutes=20))
    assert outcome.result is SyncResult.CHANGED
    assert parser.parses == 2
    assert busy_of(spans((0, "15:00-16:00")))[0] in await bot.store.busy(TEAM_ID, USER_ID)
    assert await bot.services.queue.pending(TEAM_ID, USER_ID) != planned

    outcome = await sync.sync_person(TEAM_ID, USER_ID, now=now + timedelta(minutes=30))
    assert outcome.result is SyncResult.NOT_MODIFIED
    assert parser.parses == 2
    counters = await bot.services.counters.read()
    assert {k: v for k, v in counters.items() if k.startswith("sync:")} == {
        "sync:connected": 1,
        "sync:not_modified": 2,
        "sync:same_hash": 1,
        "sync:changed": 1,
    }


async def test_a_new_local_day_reads_the_whole_feed_again(
    calendar_bot: RunningBot, feeds: FeedServer, sync: CalendarSync, parser: CountingParser
) -> None:
    await opt_in(calendar_bot)
    url = feeds.serve(FEED, WEEK_FEED)
    await sync.connect(TEAM_ID, USER_ID, url, now=START)

    # Tuesday 00:05 in Berlin: the window moved, so no validators and a fresh parse.
    outcome = await sync.sync_person(TEAM_ID, USER_ID, now=at(1, "00:05"))

    assert feeds.requests[-1].if_none_match is None
    assert feeds.requests[-1].if_modified_since is None
    assert outcome.result is SyncResult.PARSED  # same meetings: nothing to re-plan
    assert parser.parses == 2
    state = await calendar_bot.store.sync_state(TEAM_ID, USER_ID)
    assert state.window == "2026-11-24 Europe/Berlin"


async def test_past_weeks_are_kept_for_the_week_view_and_old_ones_dropped(
    calendar_bot: RunningBot, feeds: FeedServer, sync: CalendarSync
) -> None:
    bot = calendar_bot
    await opt_in(bot)
    url = feeds.serve(FEED, WEEK_FEED)
    await sync.connect(TEAM_ID, USER_ID, url, now=START)
    history = busy_of(spans((-14, "10:00-11:00"), (-40, "10:00-11:00")))
    await bot.store.save_busy(TEAM_ID, USER_ID, [*history, *busy_of(WEEK[:-1])])
    feeds.change(FEED, body=MOVED_FEED)

    await sync.sync_person(TEAM_ID, USER_ID, now=START + timedelta(minutes=20))

    busy = await bot.store.busy(TEAM_ID, USER_ID)
    assert busy[0] == history[0]  # two weeks ago: kept
    assert history[1] not in busy  # forty days ago: dropped
    assert busy[1:] == sorted(
        busy_of([*WEEK[:-2], *spans((0, "15:00-16:00"))]), key=lambda b: b.start
    )


# --- broken feeds: one DM, and one when it works again ---------------------------------------


async def test_a_broken_feed_brings_one_dm_and_one_more_when_it_works_again(
    calendar_bot: RunningBot, feeds: FeedServer, sync: CalendarSync, redis: Redis
) -> None:
    bot = calendar_bot
    await opt_in(bot)
    url = feeds.serve(FEED, WEEK_FEED)
    await sync.connect(TEAM_ID, USER_ID, url, now=START)
    feeds.change(FEED, status=404)

    now = START
    results = []
    for _ in range(5):
        now += timedelta(minutes=30)
        outcome = await sync.sync_person(TEAM_ID, USER_ID, now=now)
        results.append(outcome.result)

    assert results == [SyncResult.BROKEN] + [SyncResult.FAILED] * 4
    assert dms(bot) == [texts.CALENDAR_BROKEN_FALLBACK]
    [dm] = bot.slack.calls("chat.postMessage")
    assert dm.params["channel"] == DM
    shown = str(dm.params["blocks"])
    assert "the calendar server said 404" in shown
    assert "/baseline calendar" in shown
    assert SECRET not in shown
    # What was read before stays until the feed works again.
    assert await bot.store.busy(TEAM_ID, USER_ID) == busy_of(WEEK[:-1])

    feeds.change(FEED, status=200)
    for _ in range(3):
        now += timedelta(minutes=30)
        outcome = await sync.sync_person(TEAM_ID, USER_ID, now=now)
        assert outcome.result in {SyncResult.NOT_MODIFIED, SyncResult.PARSED}

    assert dms(bot) == [texts.CALENDAR_BROKEN_FALLBACK, texts.CALENDAR_RECOVERED]
    state = await bot.store.sync_state(TEAM_ID, USER_ID)
    assert (state.broken, state.failures, state.reason) == (False, 0, None)
    counters = await bot.services.counters.read()
    assert counters["sync:broken"] == 1
    assert counters["sync:recovered"] == 1


async def test_a_broken_feed_dm_that_slack_refused_is_sent_on_the_next_failure(
    calendar_bot: RunningBot, feeds: FeedServer, sync: CalendarSync
) -> None:
    bot = calendar_bot
    await opt_in(bot)
    url = feeds.serve(FEED, WEEK_FEED)
    await sync.connect(TEAM_ID, USER_ID, url, now=START)
    feeds.change(FEED, status=401)
    bot.slack.fail("chat.postMessage", "ratelimited")

    first = await sync.sync_person(TEAM_ID, USER_ID, now=START + timedelta(minutes=10))
    assert first.result is SyncResult.FAILED
    assert not (await bot.store.sync_state(TEAM_ID, USER_ID)).broken

    second = await sync.sync_person(TEAM_ID, USER_ID, now=START + timedelta(minutes=30))
    assert second.result is SyncResult.BROKEN
    refused, sent = bot.slack.calls("chat.postMessage")
    assert "ratelimited" in str(refused.response)
    assert "ratelimited" not in str(sent.response)


async def test_failures_that_may_pass_are_reported_only_after_an_hour(
    calendar_bot: RunningBot, feeds: FeedServer, sync: CalendarSync
) -> None:
    bot = calendar_bot
    await opt_in(bot)
    url = feeds.serve(FEED, WEEK_FEED)
    await sync.connect(TEAM_ID, USER_ID, url, now=START)
    feeds.change(FEED, status=503)

    first = now = START + timedelta(minutes=10)
    attempts = []
    while not dms(bot):
        outcome = await sync.sync_person(TEAM_ID, USER_ID, now=now)
        attempts.append((now - first, outcome.result))
        assert outcome.next_at is not None
        now = outcome.next_at
        assert len(attempts) < 10

    *before, (waited, result) = attempts
    assert result is SyncResult.BROKEN
    assert waited >= timedelta(hours=1)
    assert len(attempts) >= 3
    assert all(r is SyncResult.FAILED and w < timedelta(hours=1) for w, r in before)
    assert "the calendar server said 503" in str(bot.slack.last("chat.postMessage").params)


async def test_back_off_grows_with_each_failure_up_to_a_cap(
    calendar_bot: RunningBot, feeds: FeedServer, sync: CalendarSync, redis: Redis
) -> None:
    await opt_in(calendar_bot)
    url = feeds.serve(FEED, WEEK_FEED)
    await sync.connect(TEAM_ID, USER_ID, url, now=START)
    feeds.change(FEED, status=500)

    now = START
    waits = []
    for _ in range(9):
        outcome = await sync.sync_person(TEAM_ID, USER_ID, now=now)
        assert outcome.next_at is not None
        assert await schedule_score(redis, sync) == outcome.next_at.timestamp()
        waits.append(outcome.next_at - now)
        now = outcome.next_at

    growing = waits[:6]  # 10 min doubling: 10, 20, 40, 80, 160, 320 min (± jitter)
    assert all(a < b for a, b in pairwise(growing))
    assert waits[0] <= timedelta(minutes=13)
    assert all(w <= BACKOFF_CAP for w in waits)
    assert waits[-1] >= BACKOFF_CAP * 0.75


async def test_people_who_have_not_opted_in_are_not_synced_or_told(
    calendar_bot: RunningBot, feeds: FeedServer, sync: CalendarSync
) -> None:
    url = feeds.serve(FEED, WEEK_FEED)
    await sync.connect(TEAM_ID, USER_ID, url, now=START)  # connected, never opted in
    feeds.change(FEED, status=404)
    hits = feeds.hits()

    outcome = await sync.sync_person(TEAM_ID, USER_ID, now=START + timedelta(minutes=10))

    assert outcome.result is SyncResult.OPTED_OUT
    assert outcome.next_at == START + timedelta(minutes=70)
    assert feeds.hits() == hits
    assert not dms(calendar_bot)


# --- the schedule: leased claims, several instances ------------------------------------------


async def test_two_instances_sync_each_person_once(
    redis_server: RedisServer,
    redis: Redis,
    fake_slack: FakeSlack,
    feeds: FeedServer,
    slack_client: AsyncWebClient,
) -> None:
    people = [f"U{n:04d}" for n in range(40)]
    async with serve_bot(
        redis_server,
        fake_slack,
        calendar_allow_private=True,
        calendar_parse_workers=0,
        calendar_sync_concurrency=3,
    ) as bot:
        first = CalendarSync(bot.services, slack_client, parser=CountingParser())
        for user in people:
            await opt_in(bot, user)
            url = feeds.serve(f"/{user}.ics", WEEK_FEED)
            await first.connect(TEAM_ID, user, url, now=START)
        # A second instance: its own Redis connection, store and services.
        other_redis = Redis(host=redis_server.host, port=redis_server.port)
        other_services = build_services(
            bot.services.settings,
            store=Store(other_redis, Vault([ENCRYPTION_KEY]), retention=timedelta(days=180)),
            clock=ManualClock(START),
        )
        second = CalendarSync(other_services, slack_client, parser=CountingParser())
        before = len(feeds.requests)
        later = START + timedelta(hours=2)

        claimed = await asyncio.gather(
            first.run_due(now=later, limit=100), second.run_due(now=later, limit=100)
        )

        fetched = [r.path for r in feeds.requests[before:]]
        assert sorted(fetched) == sorted(f"/{user}.ics" for user in people)
        assert sum(claimed) == len(people)
        assert all(claimed)  # both took part
        # Everyone is back on the schedule, due later.
        for user in people:
            score = await schedule_score(redis, first, user)
            assert score is not None
            assert score > later.timestamp()
        assert await first.run_due(now=later, limit=100) == 0
        counters = await bot.services.counters.read()
        assert counters["sync:not_modified"] == len(people)
        await other_redis.aclose()


async def test_a_crashed_instances_claims_come_back_after_the_lease(
    calendar_bot: RunningBot, feeds: FeedServer, sync: CalendarSync, redis: Redis
) -> None:
    await opt_in(calendar_bot)
    url = feeds.serve(FEED, WEEK_FEED)
    await sync.connect(TEAM_ID, USER_ID, url, now=START)
    due = START + timedelta(hours=1)
    # An instance claims the person, then dies before syncing.
    [claim] = await sync._claim_due(due, 10)
    assert claim.member == f"{TEAM_ID}:{USER_ID}"
    hits = feeds.hits()

    assert await sync.run_due(now=due + sync.lease - timedelta(seconds=1)) == 0
    assert feeds.hits() == hits

    assert await sync.run_due(now=due + sync.lease + timedelta(seconds=1)) == 1
    assert feeds.hits() == hits + 1
    score = await schedule_score(redis, sync)
    assert score is not None
    assert score > (due + sync.lease).timestamp()


async def test_a_sync_that_outlives_a_new_connect_writes_nothing(
    calendar_bot: RunningBot, feeds: FeedServer, sync: CalendarSync, redis: Redis
) -> None:
    bot = calendar_bot
    await opt_in(bot)
    old = feeds.serve("/old.ics", WEEK_FEED)
    await sync.connect(TEAM_ID, USER_ID, old, now=START)
    feeds.change("/old.ics", body=MOVED_FEED, delay=0.5)
    new = feeds.serve("/new.ics", calendar_feed(spans((1, "13:00-14:00"))))

    slow = asyncio.create_task(sync.sync_person(TEAM_ID, USER_ID, now=START))
    await asyncio.sleep(0.1)
    await sync.connect(TEAM_ID, USER_ID, new, now=START)
    outcome = await slow

    assert outcome.result is SyncResult.SUPERSEDED
    assert await bot.store.calendar_url(TEAM_ID, USER_ID) == new
    assert await bot.store.busy(TEAM_ID, USER_ID) == busy_of(spans((1, "13:00-14:00")))
    assert await schedule_score(redis, sync) is not None


async def test_calendars_connected_before_sync_existed_are_scheduled(
    calendar_bot: RunningBot, sync: CalendarSync, redis: Redis
) -> None:
    await calendar_bot.store.set_calendar(TEAM_ID, USER_ID, "https://calendar.example.com/x")
    await calendar_bot.store.set_calendar(TEAM_ID, "U0OTHER", "https://calendar.example.com/y")

    assert await sync.schedule_existing(now=START) == 2
    assert await sync.schedule_existing(now=START) == 0
    assert await schedule_score(redis, sync) == START.timestamp()


async def test_nothing_logged_names_the_address(
    calendar_bot: RunningBot,
    feeds: FeedServer,
    sync: CalendarSync,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await opt_in(calendar_bot)
    url = feeds.serve(FEED, WEEK_FEED)
    await sync.connect(TEAM_ID, USER_ID, url, now=START)
    feeds.change(FEED, status=404)
    await sync.sync_person(TEAM_ID, USER_ID, now=START + timedelta(minutes=10))
    feeds.change(FEED, status=200, body=MOVED_FEED)
    await sync.sync_person(TEAM_ID, USER_ID, now=START + timedelta(minutes=20))

    assert "127.0.0.1" in caplog.text  # the host is named…
    assert SECRET not in caplog.text  # …never the address
    assert "Private meeting" not in caplog.text


PARSE_OPTIONS: dict[str, Any] = {
    "first_day": MONDAY,
    "last_day": MONDAY + timedelta(days=7),
    "tz": BERLIN,
    "email": None,
    "limits": CalendarLimits(),
}


async def test_parsing_in_worker_processes_gives_what_parsing_inline_gives() -> None:
    pool = FeedParser(2)
    try:
        inline = await FeedParser(0).busy(WEEK_FEED, **PARSE_OPTIONS)
        results = await asyncio.gather(*(pool.busy(WEEK_FEED, **PARSE_OPTIONS) for _ in range(6)))
        assert results == [inline] * 6
        assert len(pool.pids) == 2
        with pytest.raises(ValueError, match="calendar"):
            await pool.busy(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:x\r\n", **PARSE_OPTIONS)
    finally:
        await pool.aclose()


async def test_a_parse_worker_that_dies_fails_its_feed_and_is_replaced() -> None:
    pool = FeedParser(1)
    try:
        await pool.start()
        [pid] = pool.pids
        heavy = heavy_feed(MONDAY)
        parsing = asyncio.ensure_future(pool.busy(heavy, **PARSE_OPTIONS))
        await asyncio.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

        with pytest.raises(ParserFailedError):
            await parsing
        assert await pool.busy(WEEK_FEED, **PARSE_OPTIONS) == busy_of(WEEK[:-1])
        assert pool.pids != [pid]
    finally:
        await pool.aclose()


# --- pure scheduling maths -------------------------------------------------------------------


OFFICE = Preferences(tz=BERLIN)  # 09:00-18:00, mon-fri
EVERY, IDLE = timedelta(minutes=10), timedelta(minutes=60)


@pytest.mark.parametrize(
    ("now", "preferences", "low", "high"),
    [
        pytest.param(at(0, "10:00"), OFFICE, at(0, "10:09"), at(0, "10:11"), id="working"),
        pytest.param(at(0, "20:00"), OFFICE, at(0, "20:54"), at(0, "21:06"), id="evening"),
        pytest.param(at(0, "08:20"), OFFICE, at(0, "08:50"), at(0, "08:50"), id="before-work"),
        pytest.param(at(0, "08:55"), OFFICE, at(0, "08:56"), at(0, "08:56"), id="just-before"),
        pytest.param(at(0, "17:59"), OFFICE, at(0, "18:08"), at(0, "18:10"), id="last-minute"),
        pytest.param(at(5, "10:00"), OFFICE, at(5, "10:54"), at(5, "11:06"), id="saturday"),
        pytest.param(at(6, "23:30"), OFFICE, at(7, "00:24"), at(7, "00:36"), id="sunday-night"),
        pytest.param(
            at(1, "02:00"),
            Preferences(
                tz=BERLIN,
                working_hours=ClockRange(start=time(22, 0), end=time(6, 0)),
                working_days=Weekdays(days=frozenset({0})),
            ),
            at(1, "02:09"),
            at(1, "02:11"),
            id="night-shift-from-monday",
        ),
    ],
)
def test_next_sync_at(
    now: datetime, preferences: Preferences, low: datetime, high: datetime
) -> None:
    for seed in range(20):
        got = next_sync_at(now, preferences, every=EVERY, idle=IDLE, rng=random.Random(seed))  # noqa: S311
        assert low <= got <= high


def test_backoff_doubles_with_jitter_and_stops_at_the_cap() -> None:
    rng = random.Random(0)  # noqa: S311 - jitter, not secrets
    base = timedelta(minutes=10)
    for failures in range(1, 30):
        wait = backoff(failures, base=base, rng=rng)
        ideal = base * 2 ** (failures - 1)
        assert min(ideal * 0.75, BACKOFF_CAP) <= wait <= min(ideal * 1.25, BACKOFF_CAP)


def test_merge_busy_keeps_history_and_takes_the_window_from_the_parse() -> None:
    window = at(-1, "00:00")
    stored = busy_of(
        [
            *spans((-40, "10:00-11:00"), (-5, "10:00-11:00")),
            (at(-2, "23:00"), at(-1, "01:00")),  # runs into the window
            *spans((0, "10:00-11:00")),  # inside the window: the parse decides
        ]
    )
    parsed = busy_of(spans((-1, "00:00-01:00"), (0, "12:00-13:00")))

    merged = merge_busy(stored, parsed, window_start=window, keep_after=at(-28, "00:00"))

    assert merged == busy_of(
        [
            *spans((-5, "10:00-11:00")),
            (at(-2, "23:00"), window),
            *spans((-1, "00:00-01:00"), (0, "12:00-13:00")),
        ]
    )


_INSTANTS = st.integers(min_value=1_700_000_000, max_value=1_900_000_000)


@given(
    st.lists(
        st.tuples(_INSTANTS, st.integers(min_value=1, max_value=10 * 3600), st.booleans()),
        max_size=60,
    )
)
def test_busy_encoding_round_trips(given_spans: list[tuple[int, int, bool]]) -> None:
    busy = [
        BusyInterval(
            start=datetime.fromtimestamp(start // 60 * 60 if minutes else start, tz=UTC),
            end=datetime.fromtimestamp(
                (start // 60 * 60 if minutes else start) + length * (60 if minutes else 1), tz=UTC
            ),
        )
        for start, length, minutes in given_spans
    ]
    assert decode_busy(encode_busy(busy)) == sorted(busy, key=lambda b: (b.start, b.end))


def test_busy_encoding_is_compact_and_reads_the_old_json() -> None:
    week = busy_of(WEEK) * 5  # 35 meetings
    assert len(encode_busy(week)) < 4 * len(week) + 8
    old = '[["2026-11-23T09:00:00+00:00", "2026-11-23T10:00:00+00:00"]]'
    assert decode_busy(old) == busy_of(
        [(datetime(2026, 11, 23, 9, tzinfo=UTC), datetime(2026, 11, 23, 10, tzinfo=UTC))]
    )


@pytest.mark.parametrize(
    ("outlook", "text"),
    [
        pytest.param(
            CalendarOutlook(meetings=0, days=7, next_chain=None),
            "No meetings in the next 7 days.",
            id="none",
        ),
        pytest.param(
            CalendarOutlook(meetings=1, days=7, next_chain=None),
            "1 meeting in the next 7 days, and no back-to-back chains.",
            id="one",
        ),
        pytest.param(
            calendar_outlook(
                busy_of(spans((0, "09:00-10:00"), (0, "10:00-10:30"))),
                now=START,
                policy=PlanningPolicy(),
            ),
            "2 meetings in the next 7 days; the next back-to-back chain is today 09:00–10:30.",
            id="today",
        ),
        pytest.param(
            calendar_outlook(
                busy_of(spans((1, "09:00-10:00"), (1, "10:05-10:30"))),
                now=START,
                policy=PlanningPolicy(),
            ),
            "2 meetings in the next 7 days; the next back-to-back chain is tomorrow 09:00–10:30.",
            id="tomorrow",
        ),
        pytest.param(
            calendar_outlook(
                busy_of(spans((7, "08:00-08:20"), (7, "08:20-08:29"))),
                now=START,
                policy=PlanningPolicy(),
            ),
            "2 meetings in the next 7 days; the next back-to-back chain is next Monday "
            "08:00–08:29.",
            id="a-week-on",
        ),
    ],
)
def test_outlook_wording(outlook: CalendarOutlook, text: str) -> None:
    assert texts.calendar_outlook(outlook, now=START, tz=BERLIN) == text
