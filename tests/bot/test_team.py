"""The team view and /baseline privacy: every figure at 4 vs 5 contributors, no names, and a
differencing attempt with two channels that differ by one person."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from pydantic import ValidationError
from redis.asyncio import Redis

from bot import texts
from bot.listeners import team as team_listeners
from config.settings import Settings
from nudges.clock import BusyInterval
from nudges.feelings import FeelEntry
from nudges.insights import Outcome, OutcomeRecord
from tests.bot.conftest import START, RunningBot, serve_bot
from tests.bot.test_windows import say, words
from tests.support import TEAM_ID
from tests.support.redis_server import RedisServer
from tests.support.team_slack import TeamSlack, team_slack

LEAD = "U0LEAD"
FIVE = ["U0A1", "U0A2", "U0A3", "U0A4", "U0A5"]
SIXTH = "U0SIX"


@pytest_asyncio.fixture(loop_scope="function")
async def slack() -> AsyncIterator[TeamSlack]:
    async with TeamSlack() as fake:
        fake.admins.add(LEAD)
        yield fake


@pytest_asyncio.fixture(loop_scope="function")
async def bot(
    redis_server: RedisServer, redis: Redis, slack: TeamSlack
) -> AsyncIterator[RunningBot]:
    async with serve_bot(redis_server, slack) as running:
        yield running
        await team_listeners.settle()


async def give_data(bot: RunningBot, users: list[str], *, hours: int = 3) -> None:
    """Each person: a calendar with a 3-hour chain yesterday, a reset done and one skipped,
    and feel logs this week and last."""
    day = START - timedelta(days=1)
    busy = [
        BusyInterval(start=day + timedelta(hours=h), end=day + timedelta(hours=h + 1))
        for h in range(hours)
    ]
    for user in users:
        await bot.store.set_calendar(TEAM_ID, user, f"https://cal.example.com/{user}.ics")
        await bot.store.save_busy(TEAM_ID, user, busy)
        for outcome in (Outcome.DONE, Outcome.NOT_NOW):
            await bot.store.record_outcome(
                TEAM_ID, user, OutcomeRecord(key=f"k{outcome}", at=day, outcome=outcome)
            )
        await bot.store.log_feeling(TEAM_ID, user, FeelEntry(at=day, score=4))
        await bot.store.log_feeling(TEAM_ID, user, FeelEntry(at=day - timedelta(days=7), score=2))


FIGURES = ["*Meeting hours per day*", "*Back-to-back chains", "*Resets*", "*How people feel*"]


def shown(answer: dict[str, Any]) -> dict[str, bool]:
    text = words(answer)
    return {
        figure: any(
            figure in line and texts.TOO_FEW not in line
            for line in text.replace("\\n", "\n").split("\n")
        )
        for figure in FIGURES
    }


@pytest.mark.parametrize(("contributors", "visible"), [(4, False), (5, True)])
async def test_every_figure_needs_five_people(
    bot: RunningBot, contributors: int, visible: bool
) -> None:
    team_slack(bot.slack).channel_members["C0TEAM"] = [LEAD, *FIVE]
    await give_data(bot, FIVE[:contributors])
    answer = await say(bot, "team", channel="C0TEAM")
    assert shown(answer) == dict.fromkeys(FIGURES, visible)
    assert not any(user in words(answer) for user in FIVE)
    if visible:
        text = words(answer)
        assert "half under 0.5 h" in text  # 3 h in a week: 0.6 h a weekday, to the half hour
        assert "about 100% of the 5 people" in text
        assert "5 taken, 5 skipped" in text
        assert "4 on average, up from 2" in text


async def test_each_figure_counts_its_own_contributors(bot: RunningBot) -> None:
    team_slack(bot.slack).channel_members["C0TEAM"] = [LEAD, *FIVE]
    await give_data(bot, FIVE)
    # A sixth member with only a calendar does not make the other figures visible sooner.
    for user in FIVE[:1]:
        await bot.store.redis.delete(f"bl:{{p:{TEAM_ID}:{user}}}:feel")
    answer = await say(bot, "team", channel="C0TEAM")
    assert shown(answer) == {
        "*Meeting hours per day*": True,
        "*Back-to-back chains": True,
        "*Resets*": True,
        "*How people feel*": False,
    }


async def test_a_differencing_attempt_reveals_nothing_about_the_sixth_person(
    bot: RunningBot,
) -> None:
    team_slack(bot.slack).channel_members["C0FIVE"] = [LEAD, *FIVE]
    team_slack(bot.slack).channel_members["C0SIX"] = [LEAD, *FIVE, SIXTH]
    await give_data(bot, FIVE)
    await give_data(bot, [SIXTH], hours=8)  # the sixth person's very different week

    first = await say(bot, "team", channel="C0FIVE")
    assert all(shown(first).values())
    second = await say(bot, "team", channel="C0SIX")
    # Every figure the sixth person contributes to is held back for the larger group.
    assert not any(shown(second).values())
    assert texts.TEAM_HELD_BACK in words(second)
    # Asking again in the other order, or through /baseline privacy, changes nothing.
    assert not any(shown(await say(bot, "privacy", user=SIXTH, channel="C0SIX")).values())
    assert all(shown(await say(bot, "team", channel="C0FIVE")).values())


async def test_privacy_shows_anyone_what_leads_see(bot: RunningBot) -> None:
    team_slack(bot.slack).channel_members["C0TEAM"] = [LEAD, *FIVE]
    await give_data(bot, FIVE)
    member_view = await say(bot, "privacy", user=FIVE[0], channel="C0TEAM")
    text = words(member_view)
    assert "A lead can see" in text
    assert "A lead can never see" in text
    assert all(shown(member_view).values())
    in_dm = words(await say(bot, "privacy", user=FIVE[0], channel="D0DM"))
    assert "A lead can never see" in in_dm
    assert texts.PRIVACY_IN_DM in in_dm


def test_the_minimum_group_can_never_go_below_five() -> None:
    with pytest.raises(ValidationError):
        Settings(team_min_group=4)
    assert Settings(team_min_group=7).team_min_group == 7
