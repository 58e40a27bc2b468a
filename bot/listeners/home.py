"""The App Home tab: today's shape and every preference as a form, saved with per-field errors."""

from __future__ import annotations

import logging
import re
from datetime import time, timedelta
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, texts
from bot.commands import mask_url
from bot.listeners.common import person_of, profile_with_zone, with_preferences, within_budget
from bot.models import Profile
from bot.planning import replan_quietly
from bot.store import StoreUnavailableError
from bot.week import day_shape
from nudges.clock import ClockRange, Weekdays, day_bounds
from nudges.density import recovery_load
from nudges.insights import Outcome
from nudges.preferences import ReflectionTime

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

_WEEKDAY_VALUES = frozenset(str(d) for d in range(7))
FORM_FIELDS = (
    "opted_in",
    "work_start",
    "work_end",
    "work_days",
    "quiet_start",
    "quiet_end",
    "reflection_day",
    "reflection_time",
    "heads_up",
)


def register(app: AsyncApp, services: Services) -> None:
    @app.event("app_home_opened")
    async def opened(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        team = str(body.get("team_id", ""))
        user = str(event.get("user", ""))
        await publish_home(services, client, team, user, refresh_zone=True)

    @app.action("home_save")
    async def save(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        team, user = person_of(body)
        state = body.get("view", {}).get("state", {}).get("values", {})
        try:
            profile = await within_budget(services.store.profile(team, user))
            updated, errors = profile_from_form(profile, state)
            if not errors:
                await within_budget(services.store.save_profile(team, user, updated))
                await within_budget(replan_quietly(services, team, user))
        except (StoreUnavailableError, TimeoutError):
            # The Home tab has no channel to answer in: the tab itself says so, without a
            # form, so nothing stale can be saved over the person's settings.
            await client.views_publish(user_id=user, view=blocks.home_unavailable())
            return
        await publish_home(services, client, team, user, errors=errors or None, draft=updated)

    # Some inputs in the Home tab send block_actions as they change; nothing to do until Save.
    @app.action(re.compile(f"^(?:{'|'.join(FORM_FIELDS)})$"))
    async def field_changed(ack: AsyncAck) -> None:
        await ack()


async def publish_home(
    services: Services,
    client: AsyncWebClient,
    team: str,
    user: str,
    *,
    errors: dict[str, str] | None = None,
    draft: Profile | None = None,
    refresh_zone: bool = False,
) -> None:
    now = services.clock.now()
    try:
        profile = (
            draft
            if draft is not None
            else await within_budget(
                profile_with_zone(services, client, team, user, refresh=refresh_zone)
            )
        )
        busy = await within_budget(services.store.busy(team, user))
        calendar = await within_budget(services.store.calendar_url(team, user))
        preferences = profile.preferences
        today = now.astimezone(preferences.tz).date()
        start, end = day_bounds(today, preferences.tz)
        outcomes = await within_budget(services.store.outcomes(team, user, since=start))
    except (StoreUnavailableError, TimeoutError):
        logger.warning("App Home not shown: Redis is unreachable")
        await client.views_publish(user_id=user, view=blocks.home_unavailable())
        return
    shape = day_shape(services, profile, busy, today)
    load = recovery_load(
        busy, start=start, end=end, step=timedelta(minutes=30), model=services.settings.load_model
    )
    # A reset rated after "Done" is recorded again: count each nudge once, by its latest record.
    latest = {o.key: o for o in sorted(outcomes, key=lambda o: o.at)}
    view = blocks.home_view(
        profile=profile,
        shape=shape if busy else None,
        # A flat line says nothing (and "highest around 00:00" would be wrong): no load, no line.
        load=[(p.at, p.load) for p in load] if any(p.load > 0 for p in load) else [],
        resets_today=sum(1 for o in latest.values() if o.outcome is Outcome.DONE),
        calendar=None if calendar is None else mask_url(calendar),
        errors=errors,
        now=now,
    )
    await client.views_publish(user_id=user, view=view)


def profile_from_form(  # noqa: PLR0915 - one form, read field by field in its order
    profile: Profile, state: dict[str, Any]
) -> tuple[Profile, dict[str, str]]:
    """Read the Home form; returns the updated profile and block_id → error for bad fields."""
    errors: dict[str, str] = {}

    def picked(block: str) -> Any:
        element: dict[str, Any] = next(iter(state.get(block, {}).values()), {})
        if "selected_time" in element:
            return element["selected_time"]
        if "selected_options" in element:
            return [o["value"] for o in element["selected_options"] or []]
        if "selected_option" in element:
            option = element["selected_option"]
            return None if option is None else option["value"]
        return None

    def clock(block: str) -> time | None:
        value = picked(block)
        if value is None:
            return None
        try:
            return time.fromisoformat(str(value))
        except ValueError:
            errors[block] = texts.FORM_BAD_TIME
            return None

    current = profile.preferences
    changes: dict[str, Any] = {}
    work_start, work_end = clock("work_start"), clock("work_end")
    if work_start is not None and work_end is not None:
        if work_start == work_end:
            errors["work_end"] = texts.FORM_SAME_TIMES
        else:
            changes["working_hours"] = ClockRange(start=work_start, end=work_end)
    elif "work_start" in state and not errors:
        errors["work_start" if work_start is None else "work_end"] = texts.FORM_NEED_BOTH
    days = picked("work_days")
    if isinstance(days, list):
        if not days:
            errors["work_days"] = texts.FORM_NO_DAYS
        elif not all(str(d) in _WEEKDAY_VALUES for d in days):
            errors["work_days"] = texts.FORM_NO_DAYS  # only a forged payload gets here
        else:
            changes["working_days"] = Weekdays(days=frozenset(int(d) for d in days))
    quiet_start, quiet_end = clock("quiet_start"), clock("quiet_end")
    if quiet_start is None and quiet_end is None:
        changes["quiet_hours"] = None
    elif quiet_start is None or quiet_end is None:
        errors["quiet_end" if quiet_end is None else "quiet_start"] = texts.FORM_NEED_BOTH
    elif quiet_start == quiet_end:
        errors["quiet_end"] = texts.FORM_SAME_TIMES
    else:
        changes["quiet_hours"] = ClockRange(start=quiet_start, end=quiet_end)
    day = picked("reflection_day")
    at = clock("reflection_time")
    if day == "off":
        changes["reflection"] = None
    elif day is not None and str(day) not in _WEEKDAY_VALUES:
        errors["reflection_day"] = texts.FORM_BAD_DAY
    elif day is not None:
        changes["reflection"] = ReflectionTime(
            weekday=int(day), at=at or (current.reflection or ReflectionTime()).at
        )
    heads_up = picked("heads_up")
    if isinstance(heads_up, list):
        changes["heavy_day_heads_up"] = "on" in heads_up
    opted = picked("opted_in")
    opted_in = profile.opted_in if not isinstance(opted, list) else "on" in opted
    updated = with_preferences(profile, **changes).model_copy(update={"opted_in": opted_in})
    return updated, errors
