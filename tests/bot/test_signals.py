"""Live signals end to end: signed ``user_huddle_changed`` / ``user_status_changed`` /
``dnd_updated_user`` events into the real app (real Redis, fake Slack), and what they leave
behind: the person's live state, a queued reset, the counters.

The clock is Monday 23 Nov 2026, 10:00 in Berlin (09:00 UTC), inside working hours.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot import keys
from bot.delivery import Deliverer
from bot.listeners.signals import apply_change, huddle_change, status_change
from bot.live import LiveSignals
from bot.models import Profile
from bot.planning import replan
from bot.presence import unavailable
from bot.queue import DropReason
from bot.ratelimit import WorkspaceRate
from nudges.clock import BusyInterval
from nudges.planner import Nudge, NudgeKind
from nudges.preferences import Preferences
from nudges.signals import KEY_PREFIX, SignalKind
from tests.bot.conftest import BOT_TOKEN, RunningBot, deliver_due, posted_reset_keys
from tests.support import TEAM_ID, USER_ID

BERLIN = ZoneInfo("Europe/Berlin")
TEN = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
OTHER_USER = "U0OTHER"
OPTED_IN = Profile(opted_in=True, preferences=Preferences(tz=BERLIN), tz_from_slack=True)


# --- payloads, as Slack sends them -----------------------------------------------------------


def person(user: str = USER_ID, **profile: Any) -> dict[str, Any]:
    return {
        "id": user,
        "team_id": TEAM_ID,
        "name": user.lower(),
        "real_name": f"User {user}",
        "deleted": False,
        "is_bot": False,
        "tz": "Europe/Berlin",
        "profile": {
            "real_name": f"User {user}",
            "display_name": user.lower(),
            "status_text": "",
            "status_emoji": "",
            "status_expiration": 0,
            "huddle_state": "default_unset",
            "huddle_state_expiration_ts": 0,
            "team": TEAM_ID,
            **profile,
        },
    }


def huddle(state: str, *, user: str = USER_ID) -> dict[str, Any]:
    return {
        "type": "user_huddle_changed",
        "user": person(user, huddle_state=state),
        "cache_ts": 1_700_000_000,
        "event_ts": "1700000000.000100",
    }


def status(text: str, emoji: str = "", *, expires: int = 0, user: str = USER_ID) -> dict[str, Any]:
    return {
        "type": "user_status_changed",
        "user": person(user, status_text=text, status_emoji=emoji, status_expiration=expires),
        "cache_ts": 1_700_000_000,
        "event_ts": "1700000000.000200",
    }


# --- helpers ---------------------------------------------------------------------------------


async def settled() -> None:
    """Wait until every event listener Bolt started after its ack has finished."""
    async with asyncio.timeout(5):
        while True:
            running = [
                task
                for task in asyncio.all_tasks()
                if not task.done()
                and "run_ack_function_asynchronously" in task.get_coro().__qualname__  # type: ignore[union-attr]
            ]
            if not running:
                return
            await asyncio.wait(running)


async def send(bot: RunningBot, event: dict[str, Any], *, event_id: str | None = None) -> None:
    assert await bot.event(event, event_id=event_id) == 200
    await settled()


async def opt_in(bot: RunningBot, user: str = USER_ID) -> None:
    await bot.store.save_profile(TEAM_ID, user, OPTED_IN)


async def live_state(bot: RunningBot, user: str = USER_ID) -> dict[Any, Any]:
    return await bot.store.redis.hgetall(keys.live(TEAM_ID, user))


async def signal_counts(bot: RunningBot) -> dict[str, int]:
    counts = await bot.services.counters.read()
    return {name: n for name, n in counts.items() if name.startswith(("signal:", "planned"))}


def planned_reset(moment: datetime) -> Nudge:
    return Nudge(
        kind=NudgeKind.RESET,
        key=f"reset:{moment.isoformat()}",
        at=moment,
        expires_at=moment + timedelta(minutes=30),
        text="A planned reset.",
        practice="long-exhale",
    )


@pytest.fixture
def at_ten(bot: RunningBot) -> RunningBot:
    bot.clock.set(TEN)
    return bot


# --- huddles ---------------------------------------------------------------------------------


async def test_a_huddle_start_is_remembered_and_holds_nudges_back(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    await send(bot, huddle("in_a_huddle"))
    assert await live_state(bot) == {b"huddle": f"{TEN.timestamp():.3f}".encode()}
    client = _client(bot)
    assert await unavailable(bot.services, client, TEAM_ID, USER_ID, now=TEN) is DropReason.HUDDLE


async def test_a_short_huddle_earns_no_reset(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    await send(bot, huddle("in_a_huddle"))
    bot.clock.advance(timedelta(minutes=20))
    await send(bot, huddle("default_unset"))
    assert await live_state(bot) == {}
    assert await bot.services.queue.pending(TEAM_ID, USER_ID) == []
    assert await signal_counts(bot) == {}


async def test_a_long_huddle_queues_one_reset_when_it_ends(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    await send(bot, huddle("in_a_huddle"))
    bot.clock.advance(timedelta(minutes=40))
    await send(bot, huddle("default_unset"))
    [reset] = await bot.services.queue.pending(TEAM_ID, USER_ID)
    ended = TEN + timedelta(minutes=40)
    assert reset.kind is NudgeKind.RESET
    assert reset.key == f"{KEY_PREFIX}{ended.isoformat()}"
    assert reset.at == ended
    assert reset.expires_at == ended + timedelta(minutes=30)
    assert bot.services.catalog.practice(reset.practice or "") is not None
    assert await signal_counts(bot) == {"planned": 1, "signal:huddle": 1}
    assert await live_state(bot) == {}
    # No Slack call for any of it: the reset goes out through delivery.
    assert [c.method for c in bot.slack.requests if c.method != "auth.test"] == []


async def test_a_retried_event_does_not_make_a_second_reset(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    await send(bot, huddle("in_a_huddle"), event_id="EvHUDDLEON")
    bot.clock.advance(timedelta(minutes=40))
    await send(bot, huddle("default_unset"), event_id="EvHUDDLEOFF")
    await send(bot, huddle("default_unset"), event_id="EvHUDDLEOFF")  # Slack's retry
    bot.clock.advance(timedelta(minutes=1))
    await send(bot, huddle("default_unset"), event_id="EvHUDDLEOFF")  # and its last one
    assert len(await bot.services.queue.pending(TEAM_ID, USER_ID)) == 1
    assert await signal_counts(bot) == {"planned": 1, "signal:huddle": 1}


async def test_a_repeated_end_without_the_event_id_dedupe_still_makes_one_reset(
    at_ten: RunningBot,
) -> None:
    # Redis dedupe lost (a new event id for the same end): the live state was taken once.
    bot = at_ten
    await opt_in(bot)
    await send(bot, huddle("in_a_huddle"))
    bot.clock.advance(timedelta(minutes=40))
    await asyncio.gather(
        send(bot, huddle("default_unset")),
        send(bot, huddle("default_unset")),
        apply_change(bot.services, huddle_change(_body(huddle("default_unset")))),
    )
    assert len(await bot.services.queue.pending(TEAM_ID, USER_ID)) == 1


async def test_a_huddle_start_repeated_keeps_its_first_start(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    await send(bot, huddle("in_a_huddle"))
    bot.clock.advance(timedelta(minutes=25))
    await send(bot, huddle("in_a_huddle"))
    bot.clock.advance(timedelta(minutes=10))
    await send(bot, huddle("default_unset"))
    assert len(await bot.services.queue.pending(TEAM_ID, USER_ID)) == 1  # 35 minutes in all


# --- statuses --------------------------------------------------------------------------------


async def test_a_meeting_status_that_ends_queues_one_reset(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    ends = TEN + timedelta(minutes=45)
    await send(bot, status("In a meeting", ":spiral_calendar_pad:", expires=int(ends.timestamp())))
    assert await unavailable(
        bot.services, _client(bot), TEAM_ID, USER_ID, now=TEN + timedelta(minutes=1)
    ) is (DropReason.IN_MEETING)
    bot.clock.set(ends)
    await send(bot, status(""))
    [reset] = await bot.services.queue.pending(TEAM_ID, USER_ID)
    assert reset.at == ends
    assert await signal_counts(bot) == {"planned": 1, "signal:status": 1}


async def test_back_to_back_meeting_statuses_are_one_stack(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    await send(bot, status("In a meeting", ":calendar:"))
    bot.clock.advance(timedelta(minutes=20))
    await send(bot, status("On a Zoom call", ":zoom:"))  # the next one, no clear in between
    bot.clock.advance(timedelta(minutes=20))
    await send(bot, status("Lunch", ":sandwich:"))
    [reset] = await bot.services.queue.pending(TEAM_ID, USER_ID)
    assert reset.at == TEN + timedelta(minutes=40)


async def test_a_status_that_is_no_meeting_is_not_remembered(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    await send(bot, status("Commuting", ":bus:"))
    await send(bot, status("On call this week", ":pager:"))
    assert await live_state(bot) == {}


async def test_a_meeting_status_that_already_expired_is_not_a_meeting(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    await send(bot, status("In a meeting", expires=int((TEN - timedelta(minutes=1)).timestamp())))
    assert await live_state(bot) == {}


async def test_a_status_cleared_long_after_it_expired_is_too_late_for_a_reset(
    at_ten: RunningBot,
) -> None:
    bot = at_ten
    await opt_in(bot)
    ends = TEN + timedelta(minutes=45)
    await send(bot, status("In a meeting", expires=int(ends.timestamp())))
    bot.clock.set(ends + timedelta(hours=2))
    await send(bot, status(""))
    assert await bot.services.queue.pending(TEAM_ID, USER_ID) == []


async def test_a_huddle_ending_inside_a_meeting_status_waits_for_the_status(
    at_ten: RunningBot,
) -> None:
    bot = at_ten
    await opt_in(bot)
    await send(bot, status("In a meeting"))
    await send(bot, huddle("in_a_huddle"))
    bot.clock.advance(timedelta(minutes=50))
    await send(bot, huddle("default_unset"))
    assert await bot.services.queue.pending(TEAM_ID, USER_ID) == []  # still in the meeting
    bot.clock.advance(timedelta(minutes=10))
    await send(bot, status(""))
    assert len(await bot.services.queue.pending(TEAM_ID, USER_ID)) == 1
    assert await signal_counts(bot) == {"planned": 1, "signal:status": 1}


# --- with a calendar -------------------------------------------------------------------------


async def test_a_planned_reset_pending_nearby_means_no_second_one(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    planned = planned_reset(TEN + timedelta(minutes=50))
    await bot.services.queue.replace(TEAM_ID, USER_ID, [planned], now=TEN)
    await send(bot, status("In a meeting", ":spiral_calendar_pad:"))
    bot.clock.advance(timedelta(minutes=45))
    await send(bot, status(""))
    assert [n.key for n in await bot.services.queue.pending(TEAM_ID, USER_ID)] == [planned.key]
    assert await signal_counts(bot) == {"planned": 1}


async def test_a_live_reset_survives_a_re_plan(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    await send(bot, huddle("in_a_huddle"))
    bot.clock.advance(timedelta(minutes=40))
    await send(bot, huddle("default_unset"))
    await bot.services.queue.replace(TEAM_ID, USER_ID, [], now=bot.clock.now())
    assert len(await bot.services.queue.pending(TEAM_ID, USER_ID)) == 1


# --- who is listened to ----------------------------------------------------------------------


async def test_someone_not_opted_in_leaves_nothing_behind(at_ten: RunningBot) -> None:
    bot = at_ten
    await send(bot, huddle("in_a_huddle"))
    await send(bot, status("In a meeting"))
    bot.clock.advance(timedelta(minutes=40))
    await send(bot, huddle("default_unset"))
    await send(bot, status(""))
    assert await bot.store.person_keys(TEAM_ID, USER_ID) == []
    assert await bot.services.queue.pending(TEAM_ID, USER_ID) == []
    assert await signal_counts(bot) == {}


async def test_someone_who_opts_out_mid_huddle_gets_nothing(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    await send(bot, huddle("in_a_huddle"))
    await bot.store.save_profile(TEAM_ID, USER_ID, Profile(opted_in=False))
    bot.clock.advance(timedelta(minutes=40))
    await send(bot, huddle("default_unset"))
    assert await bot.services.queue.pending(TEAM_ID, USER_ID) == []
    assert await live_state(bot) == {}


async def test_bots_are_ignored(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    event = huddle("in_a_huddle")
    event["user"]["is_bot"] = True
    await send(bot, event)
    assert await live_state(bot) == {}


async def test_signals_are_kept_per_person(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    await opt_in(bot, OTHER_USER)
    await send(bot, huddle("in_a_huddle", user=OTHER_USER))
    assert await live_state(bot) == {}
    assert set(await live_state(bot, OTHER_USER)) == {b"huddle"}


MALFORMED: list[dict[str, Any]] = [
    {"type": "user_huddle_changed"},
    {"type": "user_huddle_changed", "user": USER_ID},
    {"type": "user_huddle_changed", "user": {"id": USER_ID}},
    {"type": "user_huddle_changed", "user": {"id": USER_ID, "profile": {}}},
    {"type": "user_huddle_changed", "user": {"id": USER_ID, "profile": "in_a_huddle"}},
    {"type": "user_huddle_changed", "user": {"id": USER_ID, "profile": {"huddle_state": 1}}},
    {"type": "user_huddle_changed", "user": {"profile": {"huddle_state": "in_a_huddle"}}},
    {"type": "user_huddle_changed", "user": {"id": 7, "profile": {"huddle_state": "in_a_huddle"}}},
    {"type": "user_status_changed", "user": {"id": USER_ID}},
    {"type": "user_status_changed", "user": {"id": USER_ID, "profile": {}}},
    {"type": "user_status_changed", "user": {"id": USER_ID, "profile": {"status_text": None}}},
    {
        "type": "user_status_changed",
        "user": {
            "id": USER_ID,
            "profile": {"status_text": "In a meeting", "status_expiration": "soon"},
        },
    },
    {
        "type": "user_status_changed",
        "user": {
            "id": USER_ID,
            "profile": {"status_emoji": ":calendar:", "status_expiration": 1e30},
        },
    },
    {"type": "dnd_updated_user"},
    {"type": "dnd_updated_user", "user": None},
]


async def test_malformed_events_are_acked_and_cause_no_error(
    at_ten: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = at_ten
    await opt_in(bot)
    with caplog.at_level(logging.INFO):
        for event in MALFORMED:
            await send(bot, event)
    failures = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert failures == []
    assert not any("no listener" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("event", "change"),
    [
        (MALFORMED[0], None),
        (MALFORMED[3], None),
        (MALFORMED[6], None),
        (MALFORMED[11], (SignalKind.STATUS, True, None)),  # an unreadable expiry: none
        (MALFORMED[12], (SignalKind.STATUS, True, None)),  # text missing: the emoji decides
        (huddle("in_a_huddle"), (SignalKind.HUDDLE, True, None)),
        (huddle("default_unset"), (SignalKind.HUDDLE, False, None)),
        (huddle("something_new"), (SignalKind.HUDDLE, False, None)),
    ],
)
def test_payloads_are_read_defensively(
    event: dict[str, Any], change: tuple[SignalKind, bool, datetime | None] | None
) -> None:
    read = huddle_change if event["type"] == "user_huddle_changed" else status_change
    found = read(_body(event))
    if change is None:
        assert found is None
    else:
        assert found is not None
        assert (found.kind, found.active, found.until) == change
        assert (found.team, found.user) == (TEAM_ID, USER_ID)


def test_the_team_comes_from_the_envelope_first() -> None:
    body = _body(huddle("in_a_huddle"))
    body["team_id"] = "T0ENVELOPE"
    found = huddle_change(body)
    assert found is not None
    assert found.team == "T0ENVELOPE"
    del body["team_id"]
    found = huddle_change(body)
    assert found is not None
    assert found.team == TEAM_ID


# --- DND changes -----------------------------------------------------------------------------


async def test_a_dnd_change_drops_the_cached_answer(at_ten: RunningBot) -> None:
    bot = at_ten
    client = _client(bot)
    assert await unavailable(bot.services, client, TEAM_ID, USER_ID, now=TEN) is None
    bot.slack.dnd[USER_ID] = {
        "snooze_enabled": True,
        "snooze_endtime": int((TEN + timedelta(minutes=30)).timestamp()),
    }
    assert await unavailable(bot.services, client, TEAM_ID, USER_ID, now=TEN) is None  # cached
    await send(
        bot,
        {
            "type": "dnd_updated_user",
            "user": USER_ID,
            "dnd_status": {"dnd_enabled": False, "next_dnd_start_ts": 1, "next_dnd_end_ts": 1},
            "event_ts": "1700000000.000300",
        },
    )
    assert await unavailable(bot.services, client, TEAM_ID, USER_ID, now=TEN) is DropReason.DND
    assert len(bot.slack.calls("dnd.info")) == 2


async def test_live_state_is_forgotten_with_the_person(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    await send(bot, huddle("in_a_huddle"))
    await unavailable(bot.services, _client(bot), TEAM_ID, USER_ID, now=TEN)
    await LiveSignals(bot.store.redis).remember_dnd(TEAM_ID, USER_ID, "{}", ttl=timedelta(1))
    await bot.store.forget(TEAM_ID, USER_ID)
    assert await live_state(bot) == {}
    assert await bot.store.redis.exists(keys.dnd(TEAM_ID, USER_ID)) == 0


def _client(bot: RunningBot) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=bot.slack.base_url)


def _body(event: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event_callback", "team_id": TEAM_ID, "event": event, "event_id": "Ev1"}


# --- through delivery: one DM, never during the meeting --------------------------------------

# 09:30–11:00 in Berlin, two meetings back to back: the plan has one reset, at 11:00 (10:00 UTC).
CHAIN = [
    BusyInterval(start=TEN - timedelta(minutes=30), end=TEN + timedelta(minutes=15)),
    BusyInterval(start=TEN + timedelta(minutes=15), end=TEN + timedelta(hours=1)),
]
CHAIN_END = TEN + timedelta(hours=1)


def deliverer(bot: RunningBot) -> Deliverer:
    return Deliverer(bot.services, _client(bot), rate=WorkspaceRate(bot.store.redis, rate=50))


async def deliver_at(bot: RunningBot, moment: datetime) -> None:
    await deliver_due(bot, deliverer(bot), moment)


async def test_a_live_reset_is_delivered_once(at_ten: RunningBot) -> None:
    bot = at_ten
    await opt_in(bot)
    await send(bot, huddle("in_a_huddle"))
    bot.clock.advance(timedelta(minutes=40))
    await send(bot, huddle("default_unset"))
    await deliver_at(bot, TEN + timedelta(minutes=40, seconds=1))
    ended = TEN + timedelta(minutes=40)
    assert posted_reset_keys(bot.slack) == [f"{KEY_PREFIX}{ended.isoformat()}"]
    # A meeting status that ends a minute later is the same stretch: no second DM.
    bot.clock.set(TEN)
    await send(bot, status("In a meeting"))
    bot.clock.set(ended + timedelta(minutes=1))
    await send(bot, status(""))
    await deliver_at(bot, ended + timedelta(minutes=2))
    assert len(posted_reset_keys(bot.slack)) == 1
    counts = await bot.services.counters.read()
    assert (counts["sent"], counts["signal:huddle"]) == (1, 1)
    assert "signal:status" not in counts


async def test_a_calendar_reset_held_back_by_a_meeting_status_comes_when_it_clears(
    at_ten: RunningBot,
) -> None:
    # The calendar app clears the status a little after the meeting ends (and set no
    # expiry): at 11:00 delivery sees "in a meeting" and holds the planned reset back; the
    # clear brings a live one instead. One DM, and not during the meeting.
    bot = at_ten
    await opt_in(bot)
    await bot.store.save_busy(TEAM_ID, USER_ID, CHAIN)
    assert await replan(bot.services, TEAM_ID, USER_ID) == 1
    await send(bot, status("In a meeting", ":spiral_calendar_pad:"))
    await deliver_at(bot, CHAIN_END + timedelta(seconds=5))
    assert posted_reset_keys(bot.slack) == []
    bot.clock.set(CHAIN_END + timedelta(seconds=40))
    await send(bot, status(""))
    await deliver_at(bot, CHAIN_END + timedelta(seconds=41))
    assert posted_reset_keys(bot.slack) == [f"{KEY_PREFIX}{CHAIN_END.isoformat()}"]
    counts = await bot.services.counters.read()
    assert counts[f"dropped:{DropReason.IN_MEETING}"] == 1
    assert (counts["sent"], counts["signal:status"]) == (1, 1)


async def test_a_calendar_reset_that_went_out_is_not_doubled_by_the_status_clearing(
    at_ten: RunningBot,
) -> None:
    # This calendar app gives the status an expiry at the meeting's end: the planned reset
    # goes out on time, and the clear that follows adds nothing.
    bot = at_ten
    await opt_in(bot)
    await bot.store.save_busy(TEAM_ID, USER_ID, CHAIN)
    assert await replan(bot.services, TEAM_ID, USER_ID) == 1
    [planned] = await bot.services.queue.pending(TEAM_ID, USER_ID)
    await send(bot, status("In a meeting", ":calendar:", expires=int(CHAIN_END.timestamp())))
    await deliver_at(bot, CHAIN_END + timedelta(seconds=5))
    assert posted_reset_keys(bot.slack) == [planned.key]
    bot.clock.set(CHAIN_END + timedelta(seconds=40))
    await send(bot, status(""))
    await deliver_at(bot, CHAIN_END + timedelta(seconds=41))
    assert posted_reset_keys(bot.slack) == [planned.key]
    assert "signal:status" not in await bot.services.counters.read()
