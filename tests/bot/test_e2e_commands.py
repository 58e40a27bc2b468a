"""``/feel`` and ``/baseline`` end to end: signed requests over real HTTP, a real Redis, the
fake Slack Web API. Each test checks what was stored (through the store and in raw Redis)
and exactly what Slack was asked to do.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from bot import blocks, texts
from bot.chart import week_chart_png
from bot.commands import mask_url
from bot.models import SentNudge
from bot.week import week_summary
from nudges.catalog import PracticeTheme
from nudges.clock import BusyInterval, ClockRange, Weekdays
from nudges.feelings import FeelEntry, feel_trend
from nudges.insights import Outcome, OutcomeRecord
from nudges.planner import Nudge, NudgeKind
from nudges.preferences import ReflectionTime
from tests.bot.conftest import SIGNING_SECRET, START, RunningBot, later, serve_bot
from tests.support import TEAM_ID, USER_ID
from tests.support.fake_slack import FakeSlack, SlackCall
from tests.support.feed_server import FeedServer, calendar_feed
from tests.support.redis_server import RedisServer
from tests.support.signing import (
    FORM_CONTENT_TYPE,
    block_actions_body,
    signed_headers,
    slash_command_body,
)

OTHER = "U0OTHER"
DM = f"D{USER_ID}"
SUPPORT_URL = "https://support.example.com/wellbeing"
# A Google-style secret address: the path is the password.
SECRET_PATH = "private-5ec2e7c0ffee4a11b0b5/basic.ics"
# Served by the local feed server (FeedServer) at this path; the bot may fetch 127.0.0.1.
ICS_PATH = f"/calendar/ical/person%40example.com/{SECRET_PATH}"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")


# --- helpers ---------------------------------------------------------------------------------


async def answer_at(bot: RunningBot, response_url: str) -> dict[str, Any]:
    """The one post to ``response_url``, waiting for it to arrive."""
    seen = len(bot.slack.calls("response_url"))
    while not bot.slack.responses(response_url):
        seen += 1
        await bot.slack.wait_for("response_url", count=seen)
    [answer] = bot.slack.responses(response_url)
    return answer.params


class Conversation:
    """Sends commands and clicks one at a time, each with its own response URL, and hands back
    the answer that came to that URL."""

    def __init__(self, bot: RunningBot) -> None:
        self.bot = bot

    async def say(self, command: str, text: str = "", *, user: str = USER_ID) -> dict[str, Any]:
        """The answer: carried in the ack itself (/feel) or posted to the response URL."""
        url = self.bot.slack.response_url()
        body = slash_command_body(command=command, text=text, user_id=user, response_url=url)
        status, in_ack = await self.bot.post_for_json(body)
        assert status == 200
        return in_ack or await answer_at(self.bot, url)

    async def baseline(self, text: str = "", *, user: str = USER_ID) -> dict[str, Any]:
        return await self.say("/baseline", text, user=user)

    async def feel(self, text: str = "", *, user: str = USER_ID) -> dict[str, Any]:
        return await self.say("/feel", text, user=user)

    async def click(self, action_id: str) -> dict[str, Any]:
        url = self.bot.slack.response_url()
        body = block_actions_body(action_id=action_id, block_id="forget", response_url=url)
        assert (await self.bot.post(body)).status == 200
        return await answer_at(self.bot, url)


async def eventually(read: Callable[[], Awaitable[Any]], expected: Any) -> None:
    """Wait (5 s at most) until ``read()`` gives ``expected``: for work the bot does after
    it has answered."""
    async with asyncio.timeout(5):
        while await read() != expected:
            await asyncio.sleep(0.01)


def ephemeral(message: blocks.Message) -> dict[str, Any]:
    """What ``respond(**message.to_dict())`` posts: no response_type, so only the person sees
    it (Slack's default for a response URL is ephemeral)."""
    return message.to_dict()


def methods(bot: RunningBot) -> list[str]:
    """The Slack methods Baseline called, in order (without Bolt's own ``auth.test``)."""
    return [call.method for call in bot.slack.requests if call.method != "auth.test"]


def ok(call: SlackCall) -> bool:
    return isinstance(call.response, dict) and bool(call.response.get("ok"))


def pattern(user: str) -> str:
    return f"*{{p:{TEAM_ID}:{user}}}*"


async def keys_of(redis: Redis, user: str) -> set[bytes]:
    return {key async for key in redis.scan_iter(match=pattern(user))}


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def raw_dump(redis: Redis) -> dict[bytes, Any]:
    """Every key and its value as Redis holds it (bytes), read by type so nothing is
    compressed away the way DUMP's RDB encoding may."""
    dump: dict[bytes, Any] = {}
    async for key in redis.scan_iter():
        kind = text(await redis.type(key))
        if kind == "string":
            dump[key] = await redis.get(key)
        elif kind == "zset":
            dump[key] = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "hash":
            dump[key] = await redis.hgetall(key)
        elif kind == "set":
            dump[key] = sorted(await redis.smembers(key))
        else:
            dump[key] = kind
    return dump


def all_bytes(dump: dict[bytes, Any]) -> bytes:
    return repr(dump).encode() + b"".join(dump)


def section_texts(params: dict[str, Any]) -> str:
    """The fallback text and every text in the blocks, one per line (for "never shows X")."""
    found = [str(params.get("text", ""))]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(params.get("blocks", []))
    return "\n".join(found)


def uploaded(bot: RunningBot) -> tuple[SlackCall, SlackCall, bytes]:
    """(files.getUploadURLExternal, files.completeUploadExternal, the bytes) of one upload."""
    [asked] = bot.slack.calls("files.getUploadURLExternal")
    [completed] = bot.slack.calls("files.completeUploadExternal")
    [file] = completed.param_json("files")
    return asked, completed, bot.slack.uploads[file["id"]]


@pytest_asyncio.fixture(loop_scope="function")
async def feeds() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


@pytest_asyncio.fixture(loop_scope="function")
async def ics_url(feeds: FeedServer) -> str:
    """A Google-style secret address on the local feed server, serving two meetings today."""
    meeting = (START + timedelta(hours=2), START + timedelta(hours=3))
    return feeds.serve(ICS_PATH, calendar_feed([meeting, (meeting[1], meeting[1] + later(30))]))


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
async def support_bot(
    redis_server: RedisServer, redis: Redis, fake_slack: FakeSlack
) -> AsyncIterator[RunningBot]:
    """The bot with the organisation's support resources configured."""
    async with serve_bot(redis_server, fake_slack, support_url=SUPPORT_URL) as running:
        yield running


# --- signatures --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["forged", "stale", "unsigned"])
async def test_badly_signed_commands_are_refused_and_change_nothing(
    bot: RunningBot, redis: Redis, kind: str
) -> None:
    body = slash_command_body(
        command="/feel", text="3 tired", response_url=bot.slack.response_url()
    )
    if kind == "forged":
        headers = signed_headers("not-the-signing-secret", body)
    elif kind == "stale":
        # Correctly signed, six minutes old: Slack's window is five.
        headers = signed_headers(SIGNING_SECRET, body, timestamp=int(time.time()) - 6 * 60)
    else:
        headers = {"Content-Type": FORM_CONTENT_TYPE}

    response = await bot.post(body, headers=headers)

    assert response.status == 401
    assert await redis.dbsize() == 0
    assert bot.slack.requests == []  # not even Bolt's auth.test
    # The same body, correctly signed now, is accepted: the refusal was the signature's.
    status, answer = await bot.post_for_json(body)
    assert status == 200
    assert answer["text"]
    assert [e.score for e in await bot.store.feelings(TEAM_ID, USER_ID, since=EPOCH)] == [3]


# --- /feel -------------------------------------------------------------------------------------


async def test_feel_saves_score_and_encrypted_note_and_answers_privately_with_the_trend(
    bot: RunningBot, redis: Redis
) -> None:
    talk = Conversation(bot)

    first = await talk.feel("3 tired")

    entry = FeelEntry(at=START, score=3, note="tired")
    assert await bot.store.feelings(TEAM_ID, USER_ID, since=EPOCH) == [entry]
    assert first == ephemeral(blocks.feel_saved(entry, feel_trend([entry], now=START)))
    assert "response_type" not in first
    assert "This week 3 on average." in section_texts(first)
    dump = await raw_dump(redis)
    assert set(dump) == {f"bl:{{p:{TEAM_ID}:{USER_ID}}}:feel".encode()}
    assert b"tired" not in all_bytes(dump)

    bot.clock.advance(timedelta(hours=3))
    second = await talk.feel("5")

    later = FeelEntry(at=START + timedelta(hours=3), score=5)
    assert await bot.store.feelings(TEAM_ID, USER_ID, since=EPOCH) == [entry, later]
    assert "Your last 2 logs: ▅█ · this week 4 on average." in section_texts(second)
    assert b"tired" not in all_bytes(await raw_dump(redis))
    # Only the response URL was used: nothing posted to a channel, no profile lookup needed.
    assert methods(bot) == []  # the answer travels in the ack: no other call at all


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("9", "9 is not between 1 and 5"),
        ("0", "0 is not between 1 and 5"),
        (
            "hello",
            "start with a number from 1 (drained) to 5 (great), like `/feel 3 long morning`",
        ),
        (
            "3 " + "x" * 10_000,
            "the note is 10,000 characters; keep it under 500, or use `/feel` alone for the form",
        ),
        # More digits than Python turns into an int (4,300): still a usage reply.
        (
            "7" * 5_000,
            "start with a number from 1 (drained) to 5 (great), like `/feel 3 long morning`",
        ),
    ],
    ids=["nine", "zero", "word", "long-note", "huge-number"],
)
async def test_feel_with_unusable_text_explains_usage_and_saves_nothing(
    bot: RunningBot, redis: Redis, text: str, problem: str
) -> None:
    answer = await Conversation(bot).feel(text)

    assert answer == ephemeral(blocks.feel_usage(problem))
    assert "/feel 2 drained after four calls" in answer["text"]
    assert await redis.dbsize() == 0
    assert methods(bot) == []  # the answer travels in the ack: no other call at all


async def test_feel_alone_opens_the_modal_with_the_requests_trigger_id(
    bot: RunningBot, redis: Redis
) -> None:
    trigger = "1700000001.000000042.feedface"

    assert await bot.command("/feel", "   ", trigger_id=trigger) == 200

    [opened] = await bot.slack.wait_for("views.open")
    assert opened.params["trigger_id"] == trigger
    assert opened.param_json("view") == blocks.feel_modal().to_dict()
    assert methods(bot) == ["views.open"]
    assert await redis.dbsize() == 0


async def test_three_low_logs_bring_one_private_support_dm_and_nothing_anywhere_else(
    support_bot: RunningBot, redis: Redis
) -> None:
    bot = support_bot
    talk = Conversation(bot)
    await talk.feel("2 rough night")
    bot.clock.advance(timedelta(hours=2))
    await talk.feel("1")
    assert bot.slack.calls("chat.postMessage") == []
    assert await redis.exists(f"bl:{{p:{TEAM_ID}:{USER_ID}}}:support") == 0

    bot.clock.advance(timedelta(hours=2))
    await talk.feel("2 still low")
    # The offer goes out after the answer (it is two Slack calls): wait for it.
    await bot.slack.wait_for("chat.postMessage")

    [opened] = bot.slack.calls("conversations.open")
    assert opened.params["users"] == USER_ID
    [dm] = bot.slack.calls("chat.postMessage")
    assert dm.params["channel"] == DM
    assert {"text": dm.params["text"], "blocks": dm.param_json("blocks")} == (
        blocks.support_dm(SUPPORT_URL).to_dict()
    )
    assert f"<{SUPPORT_URL}|support resources>" in section_texts(dm.params)
    assert await bot.store.dm_channel(TEAM_ID, USER_ID) == DM

    # A fourth low log in the same streak does not bring a second offer.
    bot.clock.advance(timedelta(hours=2))
    await talk.feel("1")
    assert len(bot.slack.calls("chat.postMessage")) == 1
    assert [e.score for e in await bot.store.feelings(TEAM_ID, USER_ID, since=EPOCH)] == [
        2,
        1,
        2,
        1,
    ]
    # Nobody else is told: no ephemeral or channel post, the replies are private, and the
    # only message went to the person's own DM.
    assert set(methods(bot)) == {"conversations.open", "chat.postMessage"}
    assert bot.slack.responses() == []  # the /feel answers themselves came in the acks

    # A better log ends the streak; three more low ones bring one new offer.
    for text in ("4", "2", "2", "1"):
        bot.clock.advance(timedelta(hours=2))
        await talk.feel(text)
    await bot.slack.wait_for("chat.postMessage", count=2)
    assert [call.params["channel"] for call in bot.slack.calls("chat.postMessage")] == [DM, DM]
    # The DM channel is remembered: conversations.open (Tier 3) only once.
    assert len(bot.slack.calls("conversations.open")) == 1


async def test_support_dm_without_a_configured_url_still_offers_help(
    bot: RunningBot,
) -> None:
    talk = Conversation(bot)
    for score in ("1", "1", "2"):
        bot.clock.advance(timedelta(minutes=30))
        await talk.feel(score)

    [dm] = bot.slack.calls("chat.postMessage")
    assert dm.params["channel"] == DM
    assert dm.param_json("blocks") == blocks.support_dm(None).to_dict()["blocks"]


async def test_support_dm_that_slack_refuses_is_offered_again_and_the_log_is_answered(
    support_bot: RunningBot,
) -> None:
    bot = support_bot
    talk = Conversation(bot)
    bot.slack.fail("chat.postMessage", "ratelimited")
    for score in ("2", "2"):
        bot.clock.advance(timedelta(minutes=30))
        await talk.feel(score)
    bot.clock.advance(timedelta(minutes=30))

    third = await talk.feel("1")
    # The offer is tried after the answer; once Slack refuses it, the marker is cleared.
    await bot.slack.wait_for("chat.postMessage")
    await eventually(lambda: bot.store.redis.exists(f"bl:{{p:{TEAM_ID}:{USER_ID}}}:support"), 0)

    # The log is saved and answered even though the DM failed...
    entries = await bot.store.feelings(TEAM_ID, USER_ID, since=EPOCH)
    assert [e.score for e in entries] == [2, 2, 1]
    assert third == ephemeral(
        blocks.feel_saved(entries[-1], feel_trend(entries, now=entries[-1].at))
    )
    # ...and the offer was not marked as made, so the next low log tries again.
    bot.clock.advance(timedelta(minutes=30))
    await talk.feel("1")
    later_entry = FeelEntry(at=bot.clock.now(), score=1)
    await bot.slack.wait_for("chat.postMessage", count=2)
    assert [ok(c) for c in bot.slack.calls("chat.postMessage")] == [False, True]
    assert [c.params["channel"] for c in bot.slack.calls("chat.postMessage")] == [DM, DM]
    assert await bot.store.feelings(TEAM_ID, USER_ID, since=EPOCH) == [*entries, later_entry]


# --- /baseline: help and small words -----------------------------------------------------------


@pytest.mark.parametrize("text", ["", "help", "  HELP  "])
async def test_baseline_help(bot: RunningBot, text: str) -> None:
    answer = await Conversation(bot).baseline(text)

    assert answer == ephemeral(blocks.help_message())
    assert "`/baseline pause 2h`" in section_texts(answer)


async def test_unknown_word_gets_help_with_a_suggestion_and_changes_nothing(
    bot: RunningBot,
) -> None:
    answer = await Conversation(bot).baseline("pasue 2h")

    assert answer == ephemeral(blocks.help_message("pause"))
    assert answer["text"] == "Did you mean `/baseline pause`?"
    assert (await bot.store.profile(TEAM_ID, USER_ID)).preferences.paused_until is None


async def test_on_and_off(bot: RunningBot) -> None:
    talk = Conversation(bot)
    assert not (await bot.store.profile(TEAM_ID, USER_ID)).opted_in

    assert await talk.baseline("on") == ephemeral(blocks.confirmation(texts.TURNED_ON))
    assert (await bot.store.profile(TEAM_ID, USER_ID)).opted_in

    assert await talk.baseline("off") == ephemeral(blocks.confirmation(texts.TURNED_OFF))
    assert not (await bot.store.profile(TEAM_ID, USER_ID)).opted_in

    refused = await talk.baseline("on please")
    assert refused == ephemeral(blocks.error_message("`/baseline on` takes nothing after it."))
    assert not (await bot.store.profile(TEAM_ID, USER_ID)).opted_in


# --- /baseline calendar --------------------------------------------------------------------------


async def test_calendar_address_is_stored_encrypted_and_shown_only_masked(
    calendar_bot: RunningBot, redis: Redis, ics_url: str
) -> None:
    bot = calendar_bot
    talk = Conversation(bot)

    saved = await talk.baseline(f"calendar {ics_url}")

    assert await bot.store.calendar_url(TEAM_ID, USER_ID) == ics_url
    masked = mask_url(ics_url)
    assert masked == "http://127.0.0.1/….ics"
    assert saved["text"] == (
        f"✓ Calendar connected: {masked}. 2 meetings in the next 7 days; the next "
        "back-to-back chain is today 10:30–12:00."
    )
    stored = all_bytes(await raw_dump(redis))
    for part in ("127.0.0.1", "5ec2e7c0ffee4a11b0b5", "person%40example.com"):
        assert part.encode() not in stored
    for secret in ("5ec2e7c0ffee4a11b0b5", "person%40example.com", "/calendar/ical/"):
        assert secret not in section_texts(saved)

    status = await talk.baseline("status")
    assert masked in section_texts(status)
    assert "5ec2e7c0ffee4a11b0b5" not in section_texts(status)

    removed = await talk.baseline("calendar off")
    assert removed == ephemeral(blocks.confirmation(texts.CALENDAR_REMOVED))
    assert await bot.store.calendar_url(TEAM_ID, USER_ID) is None
    for kind in ("calendar", "busy", "sync"):
        assert await redis.exists(f"bl:{{p:{TEAM_ID}:{USER_ID}}}:{kind}") == 0

    again = await talk.baseline("calendar off")
    assert again == ephemeral(blocks.confirmation(texts.NO_CALENDAR))


@pytest.mark.parametrize("scheme", ["webcal", "WEBCAL"])
async def test_webcal_address_is_read_over_https(
    calendar_bot: RunningBot, redis: Redis, scheme: str
) -> None:
    # The feed server speaks only HTTPS, with a certificate nobody trusts: the refusal says
    # the address was read over https, as webcal:// means.
    async with FeedServer(tls=True) as feeds:
        feeds.serve("/published/2/abc123", calendar_feed([]))
        given = f"{scheme}://127.0.0.1:{feeds.port}/published/2/abc123"

        answer = await Conversation(calendar_bot).baseline(f"calendar <{given}>")

    assert "security certificate is not valid" in answer["text"]
    assert answer["text"].endswith("Nothing was saved.")
    assert await calendar_bot.store.calendar_url(TEAM_ID, USER_ID) is None
    assert await redis.exists(f"bl:{{p:{TEAM_ID}:{USER_ID}}}:calendar") == 0


@pytest.mark.parametrize("text", ["calendar ftp://x", "calendar", "calendar file:///etc/passwd"])
async def test_calendar_that_is_not_a_web_address_is_refused(
    bot: RunningBot, redis: Redis, text: str
) -> None:
    answer = await Conversation(bot).baseline(text)

    assert answer["text"].startswith(("That is not a web address", "Paste your calendar"))
    assert await bot.store.calendar_url(TEAM_ID, USER_ID) is None
    assert await redis.exists(f"bl:{{p:{TEAM_ID}:{USER_ID}}}:calendar") == 0


# --- /baseline hours, quiet, pause, resume, reflection ---------------------------------------


async def test_hours_and_quiet_hours(bot: RunningBot) -> None:
    talk = Conversation(bot)

    hours = await talk.baseline("hours 09:00-17:30 mon-thu")

    prefs = (await bot.store.profile(TEAM_ID, USER_ID)).preferences
    assert prefs.working_hours == ClockRange.parse("09:00-17:30")
    assert prefs.working_days == Weekdays(days=frozenset({0, 1, 2, 3}))
    assert hours == ephemeral(blocks.confirmation("Working hours set to 09:00-17:30, mon-thu."))

    quiet = await talk.baseline("quiet 22:00-07:00")
    prefs = (await bot.store.profile(TEAM_ID, USER_ID)).preferences
    assert prefs.quiet_hours == ClockRange.parse("22:00-07:00")
    assert prefs.working_days == Weekdays(days=frozenset({0, 1, 2, 3}))  # kept
    assert quiet == ephemeral(
        blocks.confirmation("Quiet hours set to 22:00-07:00. No messages from Baseline then.")
    )

    off = await talk.baseline("quiet off")
    assert (await bot.store.profile(TEAM_ID, USER_ID)).preferences.quiet_hours is None
    assert off == ephemeral(blocks.confirmation("Quiet hours are off."))

    refused = await talk.baseline("hours 09:00-09:00")
    assert refused["text"] == (
        "`09:00-09:00` is not a time range: try `/baseline hours 09:00-17:30 mon-fri`."
    )
    prefs = (await bot.store.profile(TEAM_ID, USER_ID)).preferences
    assert prefs.working_hours == ClockRange.parse("09:00-17:30")


async def test_pause_ends_at_exact_instants_in_the_persons_slack_zone(
    bot: RunningBot,
) -> None:
    bot.slack.user_tz[USER_ID] = "America/New_York"
    talk = Conversation(bot)

    # START is Monday 23 Nov 2026, 07:30 UTC = 02:30 in New York.
    two_hours = await talk.baseline("pause 2h")
    profile = await bot.store.profile(TEAM_ID, USER_ID)
    assert profile.preferences.tz == NEW_YORK
    assert profile.preferences.paused_until == datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    assert two_hours["text"] == (
        "✓ Paused until Mon 23 Nov 04:30. `/baseline resume` ends the pause early."
    )

    monday = await talk.baseline("pause until monday")
    # Already Monday there: the next one, at local midnight (EST, UTC-5).
    until = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    assert (await bot.store.profile(TEAM_ID, USER_ID)).preferences.paused_until == until
    assert monday == ephemeral(blocks.confirmation(texts.paused(until, NEW_YORK)))
    assert "Mon 30 Nov 00:00" in monday["text"]

    await talk.baseline("pause until 2026-12-01")
    assert (await bot.store.profile(TEAM_ID, USER_ID)).preferences.paused_until == datetime(
        2026, 12, 1, 5, 0, tzinfo=UTC
    )

    refused = await talk.baseline("pause 200 days")
    assert refused == ephemeral(
        blocks.error_message("a pause can last up to 90 days; `/baseline off` stops everything")
    )
    assert (await bot.store.profile(TEAM_ID, USER_ID)).preferences.paused_until == datetime(
        2026, 12, 1, 5, 0, tzinfo=UTC
    )

    resumed = await talk.baseline("resume")
    assert resumed == ephemeral(blocks.confirmation(texts.RESUMED))
    assert (await bot.store.profile(TEAM_ID, USER_ID)).preferences.paused_until is None
    assert len(bot.slack.calls("users.info")) == 1


async def test_reflection_time_and_off(bot: RunningBot) -> None:
    talk = Conversation(bot)

    off = await talk.baseline("reflection off")
    assert (await bot.store.profile(TEAM_ID, USER_ID)).preferences.reflection is None
    assert off == ephemeral(blocks.confirmation("Weekly reflection turned off."))

    on = await talk.baseline("reflection fri 16:00")
    assert (await bot.store.profile(TEAM_ID, USER_ID)).preferences.reflection == ReflectionTime(
        weekday=4, at=wall_time(16, 0)
    )
    assert on == ephemeral(
        blocks.confirmation("Your weekly reflection will come on Fridays at 16:00.")
    )

    await talk.baseline("reflection wednesday 09:30")
    assert (await bot.store.profile(TEAM_ID, USER_ID)).preferences.reflection == ReflectionTime(
        weekday=2, at=wall_time(9, 30)
    )


async def test_status_shows_the_settings(calendar_bot: RunningBot, ics_url: str) -> None:
    bot = calendar_bot
    bot.slack.user_tz[USER_ID] = "America/New_York"
    talk = Conversation(bot)
    await talk.baseline("on")
    await talk.baseline("hours 08:00-16:00 mon-fri")
    await talk.baseline(f"calendar {ics_url}")
    await talk.baseline("pause until 2026-12-01")

    status = await talk.baseline("status")

    profile = await bot.store.profile(TEAM_ID, USER_ID)
    assert status == ephemeral(
        blocks.status_message(
            profile,
            calendar=mask_url(ics_url),
            paused_until=profile.preferences.paused_until,
            now=START,
        )
    )
    lines = section_texts(status)
    assert "*Baseline is on for you.*" in lines
    assert "*Time zone:* America/New_York" in lines
    assert "*Working hours:* 08:00-16:00, mon-fri" in lines
    assert "*Paused:* until Tue 1 Dec 00:00" in lines


# --- /baseline week and export ---------------------------------------------------------------


async def test_week_uploads_a_png_chart_to_the_dm_and_answers_with_text(bot: RunningBot) -> None:
    talk = Conversation(bot)
    await talk.feel("2 long day")
    bot.clock.advance(timedelta(hours=26))  # Tuesday
    await talk.feel("4")

    answer = await talk.baseline("week")

    asked, completed, png = uploaded(bot)
    assert png.startswith(PNG_MAGIC)
    assert asked.params["filename"] == "baseline-week-2026-11-23.png"
    assert completed.params["channel_id"] == DM
    assert bot.slack.last("conversations.open").params["users"] == USER_ID
    profile = await bot.store.profile(TEAM_ID, USER_ID)
    now = bot.clock.now()
    summary = await week_summary(bot.services, TEAM_ID, USER_ID, profile=profile, now=now)
    assert png == week_chart_png(summary, tz_name="Europe/Berlin")
    entries = await bot.store.feelings(TEAM_ID, USER_ID, since=EPOCH)
    assert answer == ephemeral(
        blocks.week_message(summary, feel_trend(entries, now=now), tz=profile.preferences.tz)
    )
    assert "*How you felt:* 3 out of 5 on average, from your /feel logs." in section_texts(answer)
    assert not bot.slack.calls("chat.postMessage")


async def test_export_sends_only_this_persons_data_decrypted_to_their_dm(
    calendar_bot: RunningBot, feeds: FeedServer, ics_url: str
) -> None:
    bot = calendar_bot
    talk = Conversation(bot)
    await talk.feel("3 tired after standup")
    await talk.baseline(f"calendar {ics_url}")
    await talk.feel("1 other person's secret note", user=OTHER)
    theirs = feeds.serve("/their-own-0th3r.ics", calendar_feed([]))
    await talk.baseline(f"calendar {theirs}", user=OTHER)

    answer = await talk.baseline("export")

    assert answer == ephemeral(blocks.confirmation(texts.EXPORT_SENT))
    asked, completed, raw = uploaded(bot)
    assert asked.params["filename"] == "baseline-export.json"
    assert completed.params["channel_id"] == DM
    assert completed.params["initial_comment"] == texts.EXPORT_COMMENT
    data = json.loads(raw)
    assert data["user"] == USER_ID
    assert data["team"] == TEAM_ID
    assert data["calendar"] == {"connected": True, "address": ics_url}
    assert data["feelings"] == [
        {"at": "2026-11-23T07:30:00Z", "score": 3, "weighed": None, "note": "tired after standup"}
    ]
    assert data["dm_channel"] == DM
    assert data["profile"]["preferences"]["tz"] == "Europe/Berlin"
    for other in (OTHER.encode(), b"secret note", b"0th3r"):
        assert other not in raw


@pytest.mark.parametrize(
    ("subcommand", "refused"),
    [("export", "conversations.open"), ("week", "files.getUploadURLExternal")],
)
async def test_week_and_export_say_so_when_slack_refuses_the_dm(
    bot: RunningBot, subcommand: str, refused: str
) -> None:
    talk = Conversation(bot)
    await talk.feel("3 a note")
    bot.slack.fail(refused, "ratelimited")

    answer = await talk.baseline(subcommand)

    assert answer == ephemeral(blocks.error_message(texts.SLACK_UNAVAILABLE))
    assert bot.slack.calls("files.completeUploadExternal") == []
    assert bot.slack.uploads == {}


# --- /baseline forget ------------------------------------------------------------------------


# Every kind of key Baseline keeps for a person (keys.py), one each.
PERSON_KEY_KINDS = {
    "profile",
    "feel",
    "calendar",
    "dm",
    "busy",
    "outcomes",
    "ratings",
    "fewer",
    "reflections",
    "sent",
    "support",
    "sync",
    "email",
}


async def _two_people_with_data(bot: RunningBot, talk: Conversation, ics_url: str) -> None:
    """Both people have one of every kind of key: through commands where there is one, else
    written the way the calendar sync, the reset buttons and the reflection modal write them."""
    store = bot.store
    nudge = Nudge(
        kind=NudgeKind.RESET,
        key="reset:2026-11-23:1",
        at=START,
        expires_at=START + timedelta(minutes=30),
        text="A short reset",
        practice="box-breathing",
    )
    for user in (USER_ID, OTHER):
        await talk.baseline("on", user=user)
        await talk.feel("2 meh", user=user)
        await talk.baseline(f"calendar {ics_url}", user=user)
        await talk.baseline("export", user=user)  # caches the DM channel too
        await store.save_busy(
            TEAM_ID, user, [BusyInterval(start=START, end=START + timedelta(hours=1))]
        )
        record = OutcomeRecord(key=nudge.key, at=START, outcome=Outcome.DONE, practice="x")
        await store.record_outcome(TEAM_ID, user, record)
        await store.rate_practice(TEAM_ID, user, "box-breathing", helped=True)
        await store.ask_fewer(TEAM_ID, user, PracticeTheme.WALK)
        await store.save_reflection(TEAM_ID, user, "2026-W48", {"q": "a quiet week"})
        sent = SentNudge(nudge=nudge, channel=f"D{user}", ts="1700000000.000100", sent_at=START)
        await store.remember_sent(TEAM_ID, user, sent)
        assert await store.offer_support_once(TEAM_ID, user)


def kinds(found: set[bytes]) -> set[str]:
    return {key.decode().rpartition(":")[2] for key in found}


async def test_forget_asks_first_and_cancel_keeps_everything(
    calendar_bot: RunningBot, redis: Redis, ics_url: str
) -> None:
    bot = calendar_bot
    talk = Conversation(bot)
    await _two_people_with_data(bot, talk, ics_url)
    before = await raw_dump(redis)

    question = await talk.baseline("forget")

    assert question == ephemeral(blocks.forget_confirm())
    actions = question["blocks"][1]["elements"]
    assert [button["action_id"] for button in actions] == ["forget_confirm", "forget_cancel"]
    assert await raw_dump(redis) == before

    kept = await talk.click("forget_cancel")
    assert kept == {"replace_original": True, **blocks.forget_cancelled().to_dict()}
    assert await raw_dump(redis) == before


async def test_forget_confirmed_deletes_every_key_of_the_person_only(
    calendar_bot: RunningBot, redis: Redis, ics_url: str
) -> None:
    bot = calendar_bot
    talk = Conversation(bot)
    await _two_people_with_data(bot, talk, ics_url)
    mine, theirs = await keys_of(redis, USER_ID), await keys_of(redis, OTHER)
    assert kinds(mine) == kinds(theirs) == PERSON_KEY_KINDS
    assert len(mine) == len(PERSON_KEY_KINDS)
    others_data = {k: v for k, v in (await raw_dump(redis)).items() if k in theirs}

    await talk.baseline("forget")
    done = await talk.click("forget_confirm")

    assert done == {"replace_original": True, **blocks.forgotten(len(mine)).to_dict()}
    assert await keys_of(redis, USER_ID) == set()
    after = await raw_dump(redis)
    assert {k: v for k, v in after.items() if k.startswith(b"bl:{p:")} == others_data
    # Nor is the person named anywhere else: not in the queue, schedules or send records.
    assert USER_ID not in repr(after)
    assert [e.note for e in await bot.store.feelings(TEAM_ID, OTHER, since=EPOCH)] == ["meh"]
    assert await bot.store.calendar_url(TEAM_ID, OTHER) == ics_url

    # A second confirm (e.g. a double click) finds nothing and says so.
    again = await talk.click("forget_confirm")
    assert again == {"replace_original": True, **blocks.forgotten(0).to_dict()}


# --- Redis going away --------------------------------------------------------------------------


async def test_when_redis_is_down_commands_are_acked_and_say_nothing_changed(
    bot: RunningBot, redis: Redis
) -> None:
    talk = Conversation(bot)
    await talk.feel("4 before the outage")
    await talk.baseline("hours 10:00-18:00")
    before = await raw_dump(redis)
    # Persist what is there now so a restarted server comes back with it.
    await redis.save()
    directory = (await redis.config_get("dir"))["dir"]
    assert isinstance(directory, str)
    dump_file = Path(directory) / "dump.rdb"
    try:
        bot.redis_server.stop()

        feel = await talk.feel("3 x")
        hours = await talk.baseline("hours 08:00-16:00")
        status = await talk.baseline("status")

        unavailable = ephemeral(blocks.storage_unavailable())
        assert feel == unavailable
        assert hours == unavailable
        assert status == unavailable
        assert "couldn't save that just now, so nothing has changed" in feel["text"]
        # What needs nothing stored still answers properly.
        assert await talk.baseline("help") == ephemeral(blocks.help_message())
        assert await talk.baseline("pasue 2h") == ephemeral(blocks.help_message("pause"))
        # The team view reads everyone's data: without Redis it says so, like the rest.
        assert await talk.baseline("team") == unavailable

        bot.redis_server.start()
        assert await raw_dump(redis) == before
        prefs = (await bot.store.profile(TEAM_ID, USER_ID)).preferences
        assert prefs.working_hours == ClockRange.parse("10:00-18:00")
        entries = await bot.store.feelings(TEAM_ID, USER_ID, since=EPOCH)
        assert [(e.score, e.note) for e in entries] == [(4, "before the outage")]

        # And the bot works again without a restart of its own.
        bot.clock.advance(timedelta(minutes=5))
        await talk.feel("3 x")
        entries = await bot.store.feelings(TEAM_ID, USER_ID, since=EPOCH)
        assert [(e.score, e.note) for e in entries] == [(4, "before the outage"), (3, "x")]
    finally:
        # Later tests restart this server too: they must not load this snapshot.
        dump_file.unlink(missing_ok=True)


# --- time zone ---------------------------------------------------------------------------------


async def test_when_users_info_fails_the_zone_stays_utc_and_is_asked_again_next_time(
    bot: RunningBot,
) -> None:
    bot.slack.user_tz[USER_ID] = "Asia/Tokyo"
    bot.slack.fail("users.info", "ratelimited")
    talk = Conversation(bot)

    await talk.baseline("pause until tomorrow")

    profile = await bot.store.profile(TEAM_ID, USER_ID)
    assert not profile.tz_from_slack
    assert profile.preferences.tz == ZoneInfo("UTC")
    assert profile.preferences.paused_until == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)

    await talk.baseline("status")
    assert len(bot.slack.calls("users.info")) == 2
    profile = await bot.store.profile(TEAM_ID, USER_ID)
    assert profile.tz_from_slack
    assert profile.preferences.tz == ZoneInfo("Asia/Tokyo")


async def test_zone_is_read_from_slack_on_the_first_command_and_later_slack_changes_are_ignored(
    bot: RunningBot,
) -> None:
    bot.slack.user_tz[USER_ID] = "Asia/Tokyo"
    talk = Conversation(bot)

    await talk.baseline("status")

    [info] = bot.slack.calls("users.info")
    assert info.params["user"] == USER_ID
    profile = await bot.store.profile(TEAM_ID, USER_ID)
    assert profile.preferences.tz == ZoneInfo("Asia/Tokyo")
    assert profile.tz_from_slack

    bot.slack.user_tz[USER_ID] = "America/Los_Angeles"
    await talk.baseline("pause until tomorrow")

    assert len(bot.slack.calls("users.info")) == 1
    profile = await bot.store.profile(TEAM_ID, USER_ID)
    assert profile.preferences.tz == ZoneInfo("Asia/Tokyo")
    # 07:30 UTC Monday is 16:30 in Tokyo: "tomorrow" is Tuesday 00:00 there.
    assert profile.preferences.paused_until == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
