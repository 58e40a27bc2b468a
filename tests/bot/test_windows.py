"""Recovery windows end to end: who may set them, what the reply says, members' own zones,
announcements exactly once across two instances, re-plans without resets inside a window,
restarts, and the channel going away."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient

from bot.announcer import run_window_edges
from bot.app import build_services
from bot.listeners import team as team_listeners
from bot.models import Profile
from bot.planning import forget_plans, replan
from bot.store import Store
from bot.vault import Vault
from nudges.clock import BusyInterval
from nudges.planner import Nudge, NudgeKind
from nudges.preferences import Preferences
from tests.bot.conftest import BOT_TOKEN, ENCRYPTION_KEY, RunningBot, serve_bot
from tests.support import BOT_USER_ID, TEAM_ID
from tests.support.redis_server import RedisServer
from tests.support.signing import slash_command_body
from tests.support.team_slack import TeamSlack, team_slack

CHANNEL = "C0TEAM"
LEAD = "U0LEAD"
MEMBERS = [LEAD, "U0M1", "U0M2", "U0M3", "U0M4", "U0M5"]


@pytest_asyncio.fixture(loop_scope="function")
async def slack() -> AsyncIterator[TeamSlack]:
    async with TeamSlack() as fake:
        fake.channel_members[CHANNEL] = list(MEMBERS)
        fake.channel_creator[CHANNEL] = "U0CREATOR"
        fake.admins.add(LEAD)
        yield fake


@pytest_asyncio.fixture(loop_scope="function")
async def bot(
    redis_server: RedisServer, redis: Redis, slack: TeamSlack
) -> AsyncIterator[RunningBot]:
    async with serve_bot(redis_server, slack, window_leads="U0NAMED, @leads") as running:
        yield running
        await team_listeners.settle()


async def say(
    bot: RunningBot, text: str, *, user: str = LEAD, channel: str = CHANNEL
) -> dict[str, Any]:
    url = bot.slack.response_url()
    body = slash_command_body(text=text, user_id=user, channel_id=channel, response_url=url)
    assert (await bot.post(body)).status == 200
    seen = len(bot.slack.calls("response_url"))
    while not bot.slack.responses(url):
        seen += 1
        await bot.slack.wait_for("response_url", count=seen)
    [answer] = bot.slack.responses(url)
    return answer.params


def words(answer: dict[str, Any]) -> str:
    return repr(answer.get("blocks", [])) + str(answer["text"])


@pytest.mark.parametrize(
    ("user", "setup"),
    [
        ("U0ADMIN", lambda s: s.admins.add("U0ADMIN")),
        ("U0OWNER", lambda s: s.owners.add("U0OWNER")),
        ("U0CREATOR", lambda s: None),
        ("U0NAMED", lambda s: None),
        ("U0GROUPIE", lambda s: s.usergroups.update({"leads": ("S1", ["U0GROUPIE"])})),
    ],
    ids=["admin", "owner", "creator", "named", "user-group"],
)
async def test_each_lead_role_may_add_a_window(bot: RunningBot, user: str, setup: Any) -> None:
    setup(bot.slack)
    answer = await say(bot, "window add wed 14:00-14:30 Focus", user=user)
    assert "Recovery window added" in words(answer)
    assert "Europe/Berlin" in words(answer)  # the lead's zone, said in the reply


async def test_anyone_else_is_refused_politely_and_nothing_changes(bot: RunningBot) -> None:
    team_slack(bot.slack).usergroups["leads"] = ("S1", ["U0GROUPIE"])
    answer = await say(bot, "window add wed 14:00-14:30", user="U0M1")
    assert "Sorry, only workspace admins" in words(answer)
    assert "Sorry, only workspace admins" in words(await say(bot, "team", user="U0M1"))
    assert "no recovery windows yet" in words(await say(bot, "window list", user="U0M1"))


async def test_in_a_dm_it_says_where_windows_belong(bot: RunningBot) -> None:
    answer = await say(bot, "window add wed 14:00-14:30", channel="D0DM")
    assert "run this in the channel" in words(answer)


async def connect(bot: RunningBot, users: list[str], busy: list[BusyInterval]) -> None:
    for user in users:
        await bot.store.set_calendar(TEAM_ID, user, f"https://cal.example.com/{user}.ics")
        await bot.store.save_busy(TEAM_ID, user, busy)


# Wednesday 25 Nov, 14:00–14:30 Berlin is 13:00–13:30 UTC.
OVER = [
    BusyInterval(
        start=datetime(2026, 11, 25, 12, 30, tzinfo=UTC),
        end=datetime(2026, 11, 25, 13, 15, tzinfo=UTC),
    )
]
CLEAR = [
    BusyInterval(
        start=datetime(2026, 11, 25, 9, tzinfo=UTC), end=datetime(2026, 11, 25, 10, tzinfo=UTC)
    )
]


async def test_overlap_needs_five_calendars_and_never_names_anyone(bot: RunningBot) -> None:
    await connect(bot, MEMBERS[1:3], OVER)
    await connect(bot, MEMBERS[3:5], CLEAR)
    four = await say(bot, "window add wed 14:00-14:30")
    assert "Too few members have a calendar connected" in words(four)
    await connect(bot, MEMBERS[5:], OVER)
    five = await say(bot, "window add wed 14:00-14:30 Again")
    assert "Of the 5 members with a calendar connected, 3 have a meeting" in words(five)
    assert not any(m in words(five) for m in MEMBERS[1:])


async def test_members_see_windows_in_their_own_zone(bot: RunningBot) -> None:
    bot.slack.user_tz["U0M1"] = "America/New_York"
    await say(bot, "window add wed 14:00-14:30")
    listed = words(await say(bot, "window list", user="U0M1"))
    assert "Wed 14:00–14:30 (Europe/Berlin)" in listed
    assert "next: Wed 25 Nov 08:00–08:30 your time (America/New_York)" in listed


async def test_resets_skip_the_window_and_come_back_when_it_is_removed(bot: RunningBot) -> None:
    member = "U0M1"
    profile = Profile(
        opted_in=True,
        preferences=Preferences(tz=ZoneInfo("Europe/Berlin")),
        tz_from_slack=True,
    )
    await bot.store.save_profile(TEAM_ID, member, profile)
    # Two meetings ending 14:00 Berlin on Monday: the reset would come at 14:00.
    monday = [
        BusyInterval(
            start=datetime(2026, 11, 23, 11, tzinfo=UTC), end=datetime(2026, 11, 23, 12, tzinfo=UTC)
        ),
        BusyInterval(
            start=datetime(2026, 11, 23, 12, tzinfo=UTC), end=datetime(2026, 11, 23, 13, tzinfo=UTC)
        ),
    ]
    await bot.store.save_busy(TEAM_ID, member, monday)
    await replan(bot.services, TEAM_ID, member)
    at = datetime(2026, 11, 23, 13, tzinfo=UTC)

    def resets(nudges: list[Nudge]) -> list[datetime]:
        return [n.at for n in nudges if n.kind is NudgeKind.RESET]

    assert at in resets(await bot.services.queue.pending(TEAM_ID, member))

    await say(bot, "window add mon 14:00-14:30")
    await team_listeners.settle()
    assert at not in resets(await bot.services.queue.pending(TEAM_ID, member))

    await say(bot, "window remove 1")
    await team_listeners.settle()
    assert at in resets(await bot.services.queue.pending(TEAM_ID, member))


async def test_announcements_go_out_exactly_once_with_two_instances(
    bot: RunningBot, redis_server: RedisServer
) -> None:
    dm_member = "U0M2"
    await bot.store.save_profile(
        TEAM_ID, dm_member, Profile(opted_in=True, preferences=Preferences(window_start_dm=True))
    )
    await say(bot, "window add mon 09:00-09:30 Quiet start")
    settings = bot.services.settings
    other_redis = Redis(host=redis_server.host, port=redis_server.port)
    other = build_services(
        settings,
        store=Store(other_redis, Vault([ENCRYPTION_KEY]), retention=timedelta(days=180)),
        clock=bot.clock,
    )
    client = AsyncWebClient(token=BOT_TOKEN, base_url=bot.slack.base_url)
    bot.slack.requests.clear()
    try:
        # 09:00 Berlin on Monday 23 Nov: the window starts. Both instances look at once.
        bot.clock.set(datetime(2026, 11, 23, 8, 0, 5, tzinfo=UTC))
        now = bot.clock.now()
        await asyncio.gather(
            run_window_edges(bot.services, client, now=now),
            run_window_edges(other, client, now=now),
            run_window_edges(bot.services, client, now=now),
        )
        posts = bot.slack.calls("chat.postMessage")
        in_channel = [p for p in posts if p.params["channel"] == CHANNEL]
        assert len(in_channel) == 1
        assert "starts now" in in_channel[0].params["text"]
        dms = [p for p in posts if p.params["channel"] != CHANNEL]
        assert len(dms) == 1  # only the member who opted in and asked for it
        assert dms[0].params["channel"] == bot.slack.dm_channel_id(dm_member)

        # A lease that ran out (a stuck instance) still cannot post the start twice.
        bot.clock.set(datetime(2026, 11, 23, 8, 3, tzinfo=UTC))
        await run_window_edges(other, client, now=bot.clock.now())
        assert len(bot.slack.calls("chat.postMessage")) == 2

        bot.clock.set(datetime(2026, 11, 23, 8, 30, 1, tzinfo=UTC))
        await asyncio.gather(
            run_window_edges(bot.services, client, now=bot.clock.now()),
            run_window_edges(other, client, now=bot.clock.now()),
        )
        ends = [p for p in bot.slack.calls("chat.postMessage") if "is over" in p.params["text"]]
        assert len(ends) == 1
    finally:
        await other_redis.aclose()


async def test_windows_survive_a_restart(
    bot: RunningBot, redis_server: RedisServer, slack: TeamSlack
) -> None:
    await say(bot, "window add daily 16:45-17:00 Wind down")
    async with serve_bot(redis_server, slack) as again:
        listed = words(await say(again, "window list"))
    assert "daily 16:45–17:00 · Wind down" in listed


@pytest.mark.parametrize(
    "event",
    [
        {"type": "channel_archive", "channel": CHANNEL, "user": LEAD},
        {"type": "group_archive", "channel": CHANNEL},
        {"type": "member_left_channel", "channel": CHANNEL, "user": BOT_USER_ID, "team": TEAM_ID},
    ],
    ids=["archived", "private-archived", "bot-removed"],
)
async def test_windows_disappear_with_the_channel(
    bot: RunningBot, redis: Redis, event: dict[str, Any]
) -> None:
    await say(bot, "window add wed 14:00-14:30")
    assert await bot.event(event) == 200
    await asyncio.sleep(0.1)
    await team_listeners.settle()
    assert "no recovery windows yet" in words(await say(bot, "window list"))
    leftovers = [k async for k in redis.scan_iter(match=b"bl:*C0TEAM*")]
    assert leftovers == []
    assert [k async for k in redis.scan_iter(match=b"bl:wm:*")] == []
    assert [k async for k in redis.scan_iter(match=b"bl:we:*")] == []


async def test_members_joining_and_leaving_follow_the_index(bot: RunningBot, redis: Redis) -> None:
    await say(bot, "window add wed 14:00-14:30")
    windows = team_listeners.window_store(bot.services)
    assert (
        await bot.event(
            {"type": "member_left_channel", "channel": CHANNEL, "user": "U0M1", "team": TEAM_ID}
        )
        == 200
    )
    await asyncio.sleep(0.1)
    assert await windows.person_windows(TEAM_ID, "U0M1") == []
    assert (
        await bot.event(
            {"type": "member_joined_channel", "channel": CHANNEL, "user": "U0NEW", "team": TEAM_ID}
        )
        == 200
    )
    await asyncio.sleep(0.1)
    assert len(await windows.person_windows(TEAM_ID, "U0NEW")) == 1


async def test_window_dm_is_a_personal_choice(bot: RunningBot) -> None:
    assert "short DM" in words(await say(bot, "window dm on", user="U0M1"))
    assert (await bot.store.profile(TEAM_ID, "U0M1")).preferences.window_start_dm
    await say(bot, "window dm off", user="U0M1")
    assert not (await bot.store.profile(TEAM_ID, "U0M1")).preferences.window_start_dm


async def test_forget_leaves_no_trace_in_the_window_index(bot: RunningBot, redis: Redis) -> None:
    await say(bot, "window add wed 14:00-14:30")
    windows = team_listeners.window_store(bot.services)
    assert len(await windows.person_windows(TEAM_ID, "U0M2")) == 1
    await forget_plans(bot.services, TEAM_ID, "U0M2")
    assert await windows.person_windows(TEAM_ID, "U0M2") == []
    assert "U0M2" not in await windows.members(TEAM_ID, CHANNEL)
    leftovers = [key async for key in redis.scan_iter() if b"U0M2" in key]
    assert leftovers == []


def _wednesday_meetings(*days: int) -> list[BusyInterval]:
    """A meeting over the 14:00 Berlin window on each of these December Wednesdays."""
    return [
        BusyInterval(
            start=datetime(2026, 12, day, 12, 30, tzinfo=UTC),
            end=datetime(2026, 12, day, 13, 15, tzinfo=UTC),
        )
        for day in days
    ]


async def test_the_lead_gets_a_weekly_digest_that_counts_and_never_names(
    bot: RunningBot,
) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=bot.slack.base_url)
    booked = _wednesday_meetings(2, 9)
    await connect(bot, MEMBERS[1:4], booked)
    await connect(bot, MEMBERS[4:5], CLEAR)
    await say(bot, "window add wed 14:00-14:30")
    lead_dm = bot.slack.dm_channel_id(LEAD)

    async def week(*moments: datetime) -> list[str]:
        bot.slack.requests.clear()
        for moment in moments:
            bot.clock.set(moment)
            await run_window_edges(bot.services, client, now=moment)
        return [
            str(p.params["text"]) + repr(p.params.get("blocks", ""))
            for p in bot.slack.calls("chat.postMessage")
            if p.params["channel"] == lead_dm
        ]

    # Wednesday's start and end, then Monday 08:00 Berlin: one digest, four calendars only.
    first = await week(
        datetime(2026, 11, 25, 13, 0, 5, tzinfo=UTC),
        datetime(2026, 11, 25, 13, 30, 5, tzinfo=UTC),
        datetime(2026, 11, 30, 7, 0, 5, tzinfo=UTC),
    )
    assert len(first) == 1
    assert "Too few members have a calendar connected" in first[0]

    # A fifth calendar: next Monday's digest counts the members booked over the window.
    await connect(bot, MEMBERS[5:], booked)
    second = await week(
        datetime(2026, 12, 2, 13, 0, 5, tzinfo=UTC),
        datetime(2026, 12, 2, 13, 30, 5, tzinfo=UTC),
        datetime(2026, 12, 7, 7, 0, 5, tzinfo=UTC),
    )
    assert len(second) == 1
    assert "Of the 5 members with a calendar connected, 4 have a meeting" in second[0]
    assert not any(member in second[0] for member in MEMBERS[1:])
