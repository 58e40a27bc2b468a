"""``/baseline week``: the person's own week, as a message and a chart in their DM."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, texts
from bot.chart import week_chart_png
from bot.listeners.common import dm_channel
from bot.models import Profile
from nudges.clock import BusyInterval, day_bounds
from nudges.density import DayShape, describe_day
from nudges.feelings import feel_trend
from nudges.insights import WeekSummary, summarize_week

if TYPE_CHECKING:
    from bot.app import Services

# The overload-vs-mismatch signal looks back this many weeks before the current one.
SIGNAL_WEEKS = 3


async def week_summary(
    services: Services, team: str, user: str, *, profile: Profile, now: datetime
) -> WeekSummary:
    """This week (Monday to today) from the person's own logs, outcomes and meetings."""
    tz = profile.preferences.tz
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    history_start = monday - timedelta(weeks=SIGNAL_WEEKS)
    since = day_bounds(history_start, tz)[0]
    store = services.store
    feelings = await store.feelings(team, user, since=since)
    outcomes = await store.outcomes(team, user, since=day_bounds(monday, tz)[0])
    busy = await store.busy(team, user)
    days = [history_start + timedelta(days=i) for i in range((today - history_start).days + 1)]
    shapes = [day_shape(services, profile, busy, day) for day in days]
    this_week = day_bounds(monday, tz)[0]
    return summarize_week(
        first_day=monday,
        shapes=[s for s in shapes if s.day >= monday],
        feelings=[f for f in feelings if f.at >= this_week],
        outcomes=outcomes,
        tz=tz,
        history_shapes=[s for s in shapes if s.day < monday],
        history_feelings=[f for f in feelings if f.at < this_week],
    )


def day_shape(
    services: Services, profile: Profile, busy: Sequence[BusyInterval], day: date
) -> DayShape:
    """Local ``day``'s meetings, chains and minutes, by the person's hours and the policy."""
    preferences = profile.preferences
    return describe_day(
        busy,
        day=day,
        tz=preferences.tz,
        working_hours=preferences.working_hours,
        working_days=preferences.working_days,
        chain_gap=timedelta(minutes=services.settings.planning.chain_gap_minutes),
    )


async def week_report(
    services: Services, client: AsyncWebClient, team: str, user: str, *, profile: Profile
) -> blocks.Message:
    now = services.clock.now()
    summary = await week_summary(services, team, user, profile=profile, now=now)
    feelings = await services.store.feelings(team, user, since=now - timedelta(days=30))
    tz = profile.preferences.tz
    channel = await dm_channel(services, client, team, user)
    await client.files_upload_v2(
        channel=channel,
        filename=f"baseline-week-{summary.first_day.isoformat()}.png",
        content=week_chart_png(summary, tz_name=tz.key),
        title=texts.week_chart_title(summary.first_day),
    )
    return blocks.week_message(summary, feel_trend(feelings, now=now), tz=tz)
