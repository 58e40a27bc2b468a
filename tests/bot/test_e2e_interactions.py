"""End to end: nudge DMs, their buttons, the reflection and /feel modals, App Home, events,
and a Redis outage, each through the real app over signed HTTP (real Redis, fake Slack).

The day used throughout is Monday 23 Nov 2026 in Berlin, planned by the real planner with
the bundled catalog: a heavy-day heads-up, five resets and (reflection moved to Mondays)
the weekly reflection. Button clicks carry the sent message's channel and ts, as Slack's do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, keys, texts
from bot.models import Profile, SentNudge
from bot.nudge_dm import send_nudge, send_reflection
from bot.store import StoreUnavailableError
from bot.week import week_summary
from nudges.catalog import Practice, PracticeFeedback, ReflectionPrompt
from nudges.clock import BusyInterval, ClockRange, Weekdays
from nudges.feelings import FeelEntry, Weighed, feel_trend
from nudges.insights import Outcome, OutcomeRecord
from nudges.planner import DayPlan, Nudge, NudgeKind, plan_day
from nudges.preferences import Preferences, ReflectionTime
from tests.bot.conftest import BOT_TOKEN, SIGNING_SECRET, RunningBot
from tests.support import TEAM_ID, USER_ID
from tests.support.fake_slack import FakeSlack, SlackCall
from tests.support.signing import event_callback_body, signed_headers

BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2026, 11, 23)  # the conftest clock's Monday (07:30 UTC = 08:30 in Berlin)
DM = "DU0USER"  # the fake's DM channel with USER_ID
OTHER_USER = "U0OTHER"
SNOOZE = timedelta(minutes=10)


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 23, hour, minute, tzinfo=BERLIN)


# A 3.5-hour morning chain (a heavy day), a lunch gap, then two back-to-back hours.
BUSY = [
    BusyInterval(start=_at(9, 30), end=_at(10, 30)),
    BusyInterval(start=_at(10, 30), end=_at(11, 30)),
    BusyInterval(start=_at(11, 30), end=_at(12, 30)),
    BusyInterval(start=_at(12, 30), end=_at(13, 0)),
    BusyInterval(start=_at(14, 0), end=_at(15, 0)),
    BusyInterval(start=_at(15, 0), end=_at(16, 0)),
]
# What the person has after opening Home once (zone from Slack), with the reflection on
# Mondays so that one day holds every kind of nudge.
PROFILE = Profile(
    opted_in=True,
    preferences=Preferences(tz=BERLIN, reflection=ReflectionTime(weekday=0, at=time(17, 0))),
    tz_from_slack=True,
)


# --- helpers -----------------------------------------------------------------------------------


def web_client(bot: RunningBot) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=bot.slack.base_url)


def allow_scheduling(slack: FakeSlack) -> None:
    """The fake has no chat.scheduleMessage; answer it as Slack does."""

    def schedule(params: dict[str, Any]) -> dict[str, Any]:
        assert params.get("channel")
        assert params.get("post_at")
        return {
            "channel": params["channel"],
            "scheduled_message_id": "Q0000000001",
            "post_at": params["post_at"],
            "message": {"text": params.get("text", ""), "blocks": params.get("blocks")},
        }

    slack._methods["chat.scheduleMessage"] = schedule


async def plan(bot: RunningBot, profile: Profile = PROFILE) -> DayPlan:
    return plan_day(
        DAY,
        BUSY,
        preferences=profile.preferences,
        policy=bot.services.settings.planning,
        catalog=bot.services.catalog,
        now=bot.clock.now(),
        history=await bot.store.practice_history(TEAM_ID, USER_ID),
    )


def resets(day: DayPlan) -> list[Nudge]:
    return [n for n in day.nudges if n.kind is NudgeKind.RESET]


def practice_of(bot: RunningBot, nudge: Nudge) -> Practice:
    practice = bot.services.catalog.practice(nudge.practice or "")
    assert practice is not None
    return practice


def prompts_of(bot: RunningBot, nudge: Nudge) -> list[ReflectionPrompt]:
    by_id = {p.id: p for p in bot.services.catalog.prompts}
    return [by_id[i] for i in nudge.prompts]


async def sent_reset(bot: RunningBot, index: int = 0) -> tuple[SentNudge, Practice]:
    """The day's ``index``-th reset, planned and sent as a DM at its time (the clock moves)."""
    await bot.store.save_profile(TEAM_ID, USER_ID, PROFILE)
    nudge = resets(await plan(bot))[index]
    bot.clock.set(nudge.at)
    sent = await send_nudge(bot.services, web_client(bot), TEAM_ID, USER_ID, nudge)
    return sent, practice_of(bot, nudge)


async def click_on(bot: RunningBot, action_id: str, sent: SentNudge) -> int:
    return await bot.click(action_id, sent.key, channel_id=sent.channel, message_ts=sent.ts)


def message(call: SlackCall) -> dict[str, Any]:
    """What a chat.* call sent, comparable with ``blocks.Message.to_dict()``."""
    return {"text": call.params["text"], "blocks": call.param_json("blocks")}


async def outcomes(bot: RunningBot) -> list[OutcomeRecord]:
    return await bot.store.outcomes(TEAM_ID, USER_ID, since=bot.clock.now() - timedelta(days=1))


async def drain(bot: RunningBot) -> None:
    """Wait for a later request's own effect, so the listeners of earlier ones have run.

    Listeners run after the ack; this is how a test knows that a click that should do
    nothing has finished: another person opens Home and their view is published."""
    assert await open_home(bot, OTHER_USER) == 200
    await bot.slack.wait_for("views.publish")


def home_view(bot: RunningBot, profile: Profile, **overrides: Any) -> dict[str, Any]:
    """The Home tab the builders make for ``profile`` with no calendar connected."""
    fields: dict[str, Any] = {
        "profile": profile,
        "shape": None,
        "load": [],
        "resets_today": 0,
        "calendar": None,
        "errors": None,
        "now": bot.clock.now(),
        **overrides,
    }
    return blocks.home_view(**fields).to_dict()


def joined(values: Iterable[object]) -> bytes:
    """Raw Redis values (bytes: the store's client does not decode) as one bytes string."""
    return b"".join(v if isinstance(v, bytes) else str(v).encode() for v in values)


def publishes(bot: RunningBot, user: str = USER_ID) -> list[SlackCall]:
    return [c for c in bot.slack.calls("views.publish") if c.params["user_id"] == user]


def time_state(value: str | None) -> dict[str, Any]:
    return {"type": "timepicker", "selected_time": value}


def options_state(*values: str) -> dict[str, Any]:
    return {
        "type": "checkboxes",
        "selected_options": [
            {"value": v, "text": {"type": "plain_text", "text": v}} for v in values
        ],
    }


def select_state(value: str) -> dict[str, Any]:
    return {
        "type": "static_select",
        "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}},
    }


def home_form(**fields: dict[str, Any]) -> dict[str, Any]:
    """A Home view as Slack sends it with a click: its state, block_id → {action_id: ...}."""
    return {
        "id": f"VH{USER_ID}",
        "type": "home",
        "blocks": [],
        "state": {"values": {block: {block: state} for block, state in fields.items()}},
    }


HOME_OPENED = {
    "type": "app_home_opened",
    "user": USER_ID,
    "channel": DM,
    "tab": "home",
    "event_ts": "1700000000.000200",
}


async def open_home(bot: RunningBot, user: str = USER_ID, *, event_id: str | None = None) -> int:
    return await bot.event({**HOME_OPENED, "user": user, "channel": f"D{user}"}, event_id=event_id)


def error_under(view: dict[str, Any], block_id: str) -> str | None:
    """The text of the context block right under input ``block_id``, if it is one."""
    ids = [b.get("block_id") for b in view["blocks"]]
    following = view["blocks"][ids.index(block_id) + 1]
    if following["type"] != "context":
        return None
    return str(following["elements"][0]["text"])


# --- nudge DMs -------------------------------------------------------------------------------


async def test_every_planned_kind_is_sent_once_to_the_cached_dm(bot: RunningBot) -> None:
    await bot.store.save_profile(TEAM_ID, USER_ID, PROFILE)
    day = await plan(bot)
    assert {n.kind for n in day.nudges} == set(NudgeKind)
    client = web_client(bot)
    for count, nudge in enumerate(day.nudges, start=1):
        if nudge.kind is NudgeKind.REFLECTION:
            summary = await week_summary(
                bot.services, TEAM_ID, USER_ID, profile=PROFILE, now=bot.clock.now()
            )
            expected = blocks.reflection_dm(nudge, summary, prompts_of(bot, nudge), tz=BERLIN)
            sent = await send_reflection(bot.services, client, TEAM_ID, USER_ID, nudge)
        else:
            if nudge.kind is NudgeKind.RESET:
                expected = blocks.reset_dm(nudge, practice_of(bot, nudge), tz=BERLIN)
            else:
                expected = blocks.heavy_day_dm(nudge)
            sent = await send_nudge(bot.services, client, TEAM_ID, USER_ID, nudge)
        posts = bot.slack.calls("chat.postMessage")
        assert len(posts) == count
        assert posts[-1].params["channel"] == DM
        assert message(posts[-1]) == expected.to_dict()
        response = posts[-1].response
        assert isinstance(response, dict)
        assert (sent.channel, sent.ts, sent.nudge) == (DM, response["ts"], nudge)
        assert sent.sent_at == bot.clock.now()
        assert await bot.store.sent(TEAM_ID, USER_ID, nudge.key) == sent
        # conversations.open is Tier 3: once, then the cached channel.
        assert [c.params["users"] for c in bot.slack.calls("conversations.open")] == [USER_ID]
    assert await bot.store.dm_channel(TEAM_ID, USER_ID) == DM


async def test_reflection_dm_asks_the_questions_the_modal_will_ask_in_its_order(
    bot: RunningBot,
) -> None:
    await bot.store.save_profile(TEAM_ID, USER_ID, PROFILE)
    (nudge,) = [n for n in (await plan(bot)).nudges if n.kind is NudgeKind.REFLECTION]
    await send_reflection(bot.services, web_client(bot), TEAM_ID, USER_ID, nudge)
    await bot.click("reflect_open", blocks.week_key(nudge), trigger_id="1700000000.1.abc")
    (opened,) = await bot.slack.wait_for("views.open")
    modal_questions = [
        b["label"]["text"] for b in opened.param_json("view")["blocks"] if b["type"] == "input"
    ]
    assert len(modal_questions) == 3
    dm_sections = [
        b["text"]["text"]
        for b in bot.slack.last("chat.postMessage").param_json("blocks")
        if b["type"] == "section"
    ]
    assert dm_sections[-1] == texts.prompts(modal_questions)


# --- reset buttons ---------------------------------------------------------------------------


async def test_done_asks_did_it_help_in_place(bot: RunningBot) -> None:
    sent, practice = await sent_reset(bot)
    assert await click_on(bot, "reset_done", sent) == 200
    (update,) = await bot.slack.wait_for("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (DM, sent.ts)
    assert message(update) == blocks.reset_after_done(sent.nudge, practice).to_dict()
    assert texts.DID_IT_HELP in update.params["text"]
    assert await outcomes(bot) == [
        OutcomeRecord(key=sent.key, at=bot.clock.now(), outcome=Outcome.DONE, practice=practice.id)
    ]


@pytest.mark.parametrize(
    ("action_id", "helped"), [("reset_helped", True), ("reset_unhelpful", False)]
)
async def test_rating_after_done_is_stored_and_closes_the_reset(
    bot: RunningBot, action_id: str, helped: bool
) -> None:
    sent, practice = await sent_reset(bot)
    await click_on(bot, "reset_done", sent)
    await bot.slack.wait_for("chat.update")
    bot.clock.advance(timedelta(minutes=1))
    assert await click_on(bot, action_id, sent) == 200
    _, closed = await bot.slack.wait_for("chat.update", count=2)
    assert (closed.params["channel"], closed.params["ts"]) == (DM, sent.ts)
    expected = blocks.reset_closed(
        practice, outcome=Outcome.DONE, helped=helped, snooze_until=None, tz=BERLIN
    )
    assert message(closed) == expected.to_dict()
    history = await bot.store.practice_history(TEAM_ID, USER_ID)
    assert history.feedback == {
        practice.id: PracticeFeedback(helped=int(helped), unhelpful=int(not helped))
    }
    assert [(o.outcome, o.helped) for o in await outcomes(bot)] == [
        (Outcome.DONE, None),
        (Outcome.DONE, helped),
    ]
    # One reset done, rated once: Home counts it once.
    assert await open_home(bot) == 200
    (home,) = await bot.slack.wait_for("views.publish")
    assert texts.home_resets(1) in str(home.param_json("view")["blocks"])


async def test_snooze_is_recorded_updated_and_scheduled_ten_minutes_later(
    bot: RunningBot,
) -> None:
    allow_scheduling(bot.slack)
    sent, practice = await sent_reset(bot)
    now = bot.clock.now()
    assert await click_on(bot, "reset_snooze", sent) == 200
    (update,) = await bot.slack.wait_for("chat.update")
    until = now + SNOOZE
    expected = blocks.reset_closed(
        practice, outcome=Outcome.SNOOZED, helped=None, snooze_until=until, tz=BERLIN
    )
    assert (update.params["channel"], update.params["ts"]) == (DM, sent.ts)
    assert message(update) == expected.to_dict()
    (scheduled,) = bot.slack.calls("chat.scheduleMessage")
    assert scheduled.params["channel"] == DM
    assert scheduled.params["post_at"] == int(until.timestamp())
    # Useful for as long as the original was (until two minutes after it arrives).
    window = sent.nudge.expires_at - sent.nudge.at
    assert window == timedelta(minutes=2)
    again = sent.nudge.model_copy(update={"at": until, "expires_at": until + window})
    assert message(scheduled) == blocks.reset_dm(again, practice, tz=BERLIN).to_dict()
    assert await outcomes(bot) == [
        OutcomeRecord(key=sent.key, at=now, outcome=Outcome.SNOOZED, practice=practice.id)
    ]
    # A snooze is not a skip.
    summary = await week_summary(bot.services, TEAM_ID, USER_ID, profile=PROFILE, now=now)
    assert (summary.resets_snoozed, summary.resets_skipped) == (1, 0)
    assert (await bot.store.practice_history(TEAM_ID, USER_ID)).fewer == frozenset()


async def test_snooze_that_slack_cannot_schedule_keeps_the_reset_and_says_so(
    bot: RunningBot,
) -> None:
    allow_scheduling(bot.slack)
    bot.slack.fail("chat.scheduleMessage", "restricted_too_many")
    sent, _ = await sent_reset(bot)
    assert await click_on(bot, "reset_snooze", sent) == 200
    (ephemeral,) = await bot.slack.wait_for("chat.postEphemeral")
    assert (ephemeral.params["channel"], ephemeral.params["user"]) == (DM, USER_ID)
    assert message(ephemeral) == blocks.error_message(texts.SNOOZE_FAILED).to_dict()
    # Not recorded as snoozed and left with its buttons, so it can still be done.
    assert await outcomes(bot) == []
    assert bot.slack.calls("chat.update") == []


async def test_not_now_is_recorded(bot: RunningBot) -> None:
    sent, practice = await sent_reset(bot)
    assert await click_on(bot, "reset_not_now", sent) == 200
    (update,) = await bot.slack.wait_for("chat.update")
    expected = blocks.reset_closed(
        practice, outcome=Outcome.NOT_NOW, helped=None, snooze_until=None, tz=BERLIN
    )
    assert message(update) == expected.to_dict()
    assert await outcomes(bot) == [
        OutcomeRecord(
            key=sent.key, at=bot.clock.now(), outcome=Outcome.NOT_NOW, practice=practice.id
        )
    ]
    assert bot.slack.calls("chat.scheduleMessage") == []


async def test_fewer_like_this_is_recorded_and_steers_the_next_plan(bot: RunningBot) -> None:
    sent, practice = await sent_reset(bot)
    before = [practice_of(bot, n).theme for n in resets(await plan(bot))]
    assert practice.theme in before
    assert await click_on(bot, "reset_fewer", sent) == 200
    (update,) = await bot.slack.wait_for("chat.update")
    expected = blocks.reset_closed(
        practice, outcome=Outcome.FEWER, helped=None, snooze_until=None, tz=BERLIN
    )
    assert message(update) == expected.to_dict()
    assert [o.outcome for o in await outcomes(bot)] == [Outcome.FEWER]
    history = await bot.store.practice_history(TEAM_ID, USER_ID)
    assert history.fewer == frozenset({practice.theme})
    again = resets(await plan(bot))
    assert len(again) == len(before)
    for nudge in again:
        assert practice_of(bot, nudge).theme is not practice.theme
    # ... while practices of that theme would still have fitted (it was picked before).
    themes = {p.theme for p in bot.services.catalog.practices}
    assert themes - {practice.theme} != set()


@pytest.mark.parametrize(
    "value", ["reset:2026-11-23T08:00:00+00:00", "", "heavy_day:2026-11-23"], ids=repr
)
async def test_a_click_on_an_unknown_or_expired_nudge_changes_nothing(
    bot: RunningBot, value: str
) -> None:
    await bot.store.save_profile(TEAM_ID, USER_ID, PROFILE)
    (heads_up,) = [n for n in (await plan(bot)).nudges if n.kind is NudgeKind.HEAVY_DAY]
    await send_nudge(bot.services, web_client(bot), TEAM_ID, USER_ID, heads_up)
    for action_id in ("reset_done", "reset_snooze", "reset_fewer", "reset_helped"):
        status = await bot.click(action_id, value, channel_id=DM, message_ts="1700000000.000001")
        assert status == 200
    await drain(bot)
    assert bot.slack.calls("chat.update") == []
    assert bot.slack.calls("chat.postEphemeral") == []
    assert bot.slack.calls("chat.scheduleMessage") == []
    assert await outcomes(bot) == []
    history = await bot.store.practice_history(TEAM_ID, USER_ID)
    assert (history.feedback, history.fewer) == ({}, frozenset())


# --- the weekly reflection -----------------------------------------------------------------


async def test_reflect_opens_the_modal_with_the_weeks_three_prompts(bot: RunningBot) -> None:
    await bot.store.save_profile(TEAM_ID, USER_ID, PROFILE)
    (nudge,) = [n for n in (await plan(bot)).nudges if n.kind is NudgeKind.REFLECTION]
    trigger = "1700000000.123456789.0abc"
    assert await bot.click("reflect_open", "2026-W48", trigger_id=trigger) == 200
    (opened,) = await bot.slack.wait_for("views.open")
    assert opened.params["trigger_id"] == trigger
    view = opened.param_json("view")
    expected = blocks.reflection_modal(prompts_of(bot, nudge), week="2026-W48")
    assert view == expected.to_dict()
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == list(nudge.prompts)
    assert len(nudge.prompts) == 3
    assert view["private_metadata"] == "2026-W48"


def answers_state(answers: dict[str, str]) -> dict[str, Any]:
    return {
        prompt: {"answer": {"type": "plain_text_input", "value": text}}
        for prompt, text in answers.items()
    }


async def test_reflection_answers_are_stored_encrypted(bot: RunningBot) -> None:
    answers = {
        "progress-three-done": "Shipped the export, fixed the flaky test, said no to a call.",
        "regulation-way-back": "A walk after the budget meeting brought me back.",
    }
    values = answers_state({**answers, "pattern-curiosity": ""})
    ack = await bot.submit_json("reflection_modal", values, private_metadata="2026-W48")
    assert ack == {}
    (saved,) = await bot.slack.wait_for("chat.postMessage")
    assert saved.params["channel"] == DM
    assert message(saved) == blocks.reflection_saved().to_dict()
    assert await bot.store.reflections(TEAM_ID, USER_ID) == {"2026-W48": answers}
    raw = await bot.store.redis.hgetall(keys.reflections(TEAM_ID, USER_ID))
    assert list(raw) == [b"2026-W48"]
    stored = joined(raw.values())
    for text in answers.values():
        assert text.encode() not in stored
        assert b"budget meeting" not in stored


async def test_a_reflection_answer_over_2000_characters_is_refused(bot: RunningBot) -> None:
    values = answers_state({"progress-moved": "x" * 2001, "regulation-body": "Fine."})
    ack = await bot.submit_json("reflection_modal", values, private_metadata="2026-W48")
    assert ack == {
        "response_action": "errors",
        "errors": {"progress-moved": texts.note_too_long(2000)},
    }
    # Exactly 2000 is fine; once it is handled, the refused one is known to have left no trace.
    ok = answers_state({"progress-moved": "y" * 2000})
    assert await bot.submit_json("reflection_modal", ok, private_metadata="2026-W49") == {}
    await bot.slack.wait_for("chat.postMessage")
    assert await bot.store.reflections(TEAM_ID, USER_ID) == {
        "2026-W49": {"progress-moved": "y" * 2000}
    }
    assert len(bot.slack.calls("chat.postMessage")) == 1


# --- the /feel modal ---------------------------------------------------------------------------


def feel_state(score: str | None, *, weighed: str | None = None, note: str | None = None) -> Any:
    def picked(value: str | None, kind: str) -> dict[str, Any]:
        option = (
            None
            if value is None
            else {"value": value, "text": {"type": "plain_text", "text": value}}
        )
        return {"type": kind, "selected_option": option}

    return {
        "score": {"score": picked(score, "radio_buttons")},
        "weighed": {"weighed": picked(weighed, "static_select")},
        "note": {"note": {"type": "plain_text_input", "value": note}},
    }


async def test_feel_modal_saves_and_answers_with_the_trend(bot: RunningBot) -> None:
    ack = await bot.submit_json("feel_modal", feel_state("4", weighed="meetings", note="long day"))
    assert ack == {}
    (reply,) = await bot.slack.wait_for("chat.postMessage")
    now = bot.clock.now()
    entry = FeelEntry(at=now, score=4, weighed=Weighed.MEETINGS, note="long day")
    assert reply.params["channel"] == DM
    assert message(reply) == blocks.feel_saved(entry, feel_trend([entry], now=now)).to_dict()
    assert texts.feel_trend(feel_trend([entry], now=now)) == "This week 4 on average."
    stored = await bot.store.feelings(TEAM_ID, USER_ID, since=now - timedelta(days=1))
    assert stored == [entry]
    raw = await bot.store.redis.zrange(keys.feelings(TEAM_ID, USER_ID), 0, -1)
    assert b"long day" not in joined(raw)


@pytest.mark.parametrize(
    ("state", "errors"),
    [
        (feel_state(None, note="no score"), {"score": texts.FEEL_PICK_SCORE}),
        (feel_state("9"), {"score": texts.FEEL_PICK_SCORE}),
        (feel_state("3", note="n" * 600), {"note": texts.note_too_long(500)}),
        (feel_state("3", weighed="weather"), {"weighed": texts.FEEL_PICK_WEIGHED}),
    ],
    ids=["no score", "score 9", "600-char note", "unknown weighed"],
)
async def test_feel_modal_errors_name_the_block_and_store_nothing(
    bot: RunningBot, state: Any, errors: dict[str, str]
) -> None:
    ack = await bot.submit_json("feel_modal", state)
    assert ack == {"response_action": "errors", "errors": errors}
    assert await bot.submit_json("feel_modal", feel_state("2")) == {}
    await bot.slack.wait_for("chat.postMessage")
    stored = await bot.store.feelings(TEAM_ID, USER_ID, since=bot.clock.now() - timedelta(days=1))
    assert [e.score for e in stored] == [2]
    assert len(bot.slack.calls("chat.postMessage")) == 1


# --- App Home ----------------------------------------------------------------------------------


async def test_home_opened_publishes_the_home_view_with_the_defaults(bot: RunningBot) -> None:
    assert await open_home(bot) == 200
    (published,) = await bot.slack.wait_for("views.publish")
    assert published.params["user_id"] == USER_ID
    defaults = Profile(preferences=Preferences(tz=BERLIN), tz_from_slack=True)
    assert published.param_json("view") == home_view(bot, defaults)
    # The zone came from users.info (Europe/Berlin) and is kept.
    assert await bot.store.profile(TEAM_ID, USER_ID) == defaults


async def test_opening_home_follows_a_person_who_travels(bot: RunningBot) -> None:
    await open_home(bot)
    await bot.slack.wait_for("views.publish")
    bot.slack.user_tz[USER_ID] = "America/New_York"
    await open_home(bot)
    await bot.slack.wait_for("views.publish", count=2)
    profile = await bot.store.profile(TEAM_ID, USER_ID)
    assert profile.preferences.tz == ZoneInfo("America/New_York")
    assert profile.tz_from_slack


async def test_home_save_stores_the_form_and_republishes(bot: RunningBot) -> None:
    await open_home(bot)
    await bot.slack.wait_for("views.publish")
    form = home_form(
        opted_in=options_state(blocks.CHECKED),
        work_start=time_state("08:30"),
        work_end=time_state("17:00"),
        work_days=options_state("0", "1", "2", "3"),
        quiet_start=time_state("20:00"),
        quiet_end=time_state("07:00"),
        reflection_day=select_state("3"),
        reflection_time=time_state("15:30"),
        heads_up=options_state(),
    )
    assert await bot.click("home_save", view=form, block_id="home_save") == 200
    _, republished = await bot.slack.wait_for("views.publish", count=2)
    expected = Profile(
        opted_in=True,
        preferences=Preferences(
            tz=BERLIN,
            working_hours=ClockRange(start=time(8, 30), end=time(17, 0)),
            working_days=Weekdays(days=frozenset({0, 1, 2, 3})),
            quiet_hours=ClockRange(start=time(20, 0), end=time(7, 0)),
            reflection=ReflectionTime(weekday=3, at=time(15, 30)),
            heavy_day_heads_up=False,
        ),
        tz_from_slack=True,
    )
    assert await bot.store.profile(TEAM_ID, USER_ID) == expected
    assert republished.params["user_id"] == USER_ID
    assert republished.param_json("view") == home_view(bot, expected)

    # Reflection off, quiet hours cleared, heads-up back on.
    form = home_form(
        opted_in=options_state(),
        work_start=time_state("08:30"),
        work_end=time_state("17:00"),
        work_days=options_state("0", "1", "2", "3"),
        quiet_start=time_state(None),
        quiet_end=time_state(None),
        reflection_day=select_state(blocks.REFLECTION_OFF),
        reflection_time=time_state(None),
        heads_up=options_state(blocks.CHECKED),
    )
    await bot.click("home_save", view=form, block_id="home_save")
    await bot.slack.wait_for("views.publish", count=3)
    preferences = expected.preferences.model_copy(
        update={"quiet_hours": None, "reflection": None, "heavy_day_heads_up": True}
    )
    assert await bot.store.profile(TEAM_ID, USER_ID) == expected.model_copy(
        update={"opted_in": False, "preferences": preferences}
    )


async def test_home_save_with_invalid_fields_saves_nothing_and_shows_each_error(
    bot: RunningBot,
) -> None:
    await open_home(bot)
    await bot.slack.wait_for("views.publish")
    before = await bot.store.profile(TEAM_ID, USER_ID)
    form = home_form(
        opted_in=options_state(blocks.CHECKED),
        work_start=time_state("09:00"),
        work_end=time_state("09:00"),
        work_days=options_state(),
        quiet_start=time_state("20:00"),
        quiet_end=time_state(None),
        reflection_day=select_state("4"),
        reflection_time=time_state("16:00"),
        heads_up=options_state(blocks.CHECKED),
    )
    assert await bot.click("home_save", view=form, block_id="home_save") == 200
    _, republished = await bot.slack.wait_for("views.publish", count=2)
    assert await bot.store.profile(TEAM_ID, USER_ID) == before
    view = republished.param_json("view")
    assert error_under(view, "work_end") == texts.field_error(texts.FORM_SAME_TIMES)
    assert error_under(view, "work_days") == texts.field_error(texts.FORM_NO_DAYS)
    assert error_under(view, "quiet_end") == texts.field_error(texts.FORM_NEED_BOTH)
    for block_id in ("opted_in", "work_start", "quiet_start", "reflection_day", "heads_up"):
        assert error_under(view, block_id) is None
    warnings = [b for b in view["blocks"] if "⚠️" in str(b)]
    assert len(warnings) == 3


# --- events ------------------------------------------------------------------------------------


async def test_a_retried_event_is_handled_once(bot: RunningBot) -> None:
    assert await open_home(bot, event_id="Ev0RETRIED1") == 200
    await bot.slack.wait_for("views.publish")
    # Slack's retry: the same envelope (same event_id), with the retry headers.
    body = event_callback_body(HOME_OPENED, event_id="Ev0RETRIED1", team_id=TEAM_ID)
    headers = {
        **signed_headers(SIGNING_SECRET, body),
        "X-Slack-Retry-Num": "1",
        "X-Slack-Retry-Reason": "http_timeout",
    }
    assert (await bot.post(body, headers=headers)).status == 200
    # Another person's event, after the retry: once it is published, the retry was dropped.
    assert await open_home(bot, OTHER_USER, event_id="Ev0OTHER001") == 200
    await bot.slack.wait_for("views.publish", count=2)
    assert len(publishes(bot, OTHER_USER)) == 1
    assert len(publishes(bot)) == 1
    assert await bot.store.redis.exists(keys.event_seen("Ev0RETRIED1")) == 1


# --- Redis down ----------------------------------------------------------------------------------


async def test_redis_down_during_clicks_says_so_and_loses_nothing(bot: RunningBot) -> None:
    sent, practice = await sent_reset(bot)
    await click_on(bot, "reset_not_now", sent)
    await bot.slack.wait_for("chat.update")
    before = await outcomes(bot)
    dump = bot.redis_server.log_path.parent / "dump.rdb"
    # The test server keeps nothing across restarts; a SAVE makes this one come back with
    # the data, as a production Redis with persistence would.
    await bot.store.redis.save()
    bot.redis_server.stop()
    try:
        with pytest.raises(StoreUnavailableError):
            await bot.store.profile(TEAM_ID, USER_ID)
        for action_id in ("reset_done", "reset_helped", "reset_snooze"):
            assert await click_on(bot, action_id, sent) == 200
        notes = await bot.slack.wait_for("chat.postEphemeral", count=3)
        for note in notes:
            assert (note.params["channel"], note.params["user"]) == (DM, USER_ID)
            assert message(note) == blocks.storage_unavailable().to_dict()
            assert "couldn't save" in note.params["text"]
        assert len(bot.slack.calls("chat.update")) == 1
    finally:
        bot.redis_server.start()
        _remove(dump)
    assert await bot.store.profile(TEAM_ID, USER_ID) == PROFILE
    assert await bot.store.sent(TEAM_ID, USER_ID, sent.key) == sent
    assert await outcomes(bot) == before
    # And the bot works again: the same button now goes through.
    await click_on(bot, "reset_done", sent)
    _, update = await bot.slack.wait_for("chat.update", count=2)
    assert message(update) == blocks.reset_after_done(sent.nudge, practice).to_dict()


async def test_home_with_redis_down_shows_no_form_so_nothing_stale_can_be_saved(
    bot: RunningBot,
) -> None:
    await bot.store.save_profile(TEAM_ID, USER_ID, PROFILE)
    dump = bot.redis_server.log_path.parent / "dump.rdb"
    await bot.store.redis.save()
    bot.redis_server.stop()
    try:
        assert await open_home(bot) == 200
        (published,) = await bot.slack.wait_for("views.publish")
        assert published.param_json("view") == blocks.home_unavailable().to_dict()
        assert "home_save" not in json.dumps(published.param_json("view"))
    finally:
        bot.redis_server.start()
        _remove(dump)
    assert await bot.store.profile(TEAM_ID, USER_ID) == PROFILE


def _remove(path: Path) -> None:
    # Later tests that restart the server expect it empty.
    path.unlink(missing_ok=True)
