"""Live signals from the Events API: huddles, statuses that say "In a meeting", and DND
changes. Events are acked by Bolt and de-duplicated by ``event_id`` (listeners/events.py);
these listeners read the payload and hand over to bot.live."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp

from bot import live
from nudges.signals import SignalKind, is_meeting_status

if TYPE_CHECKING:
    from bot.app import Services

IN_A_HUDDLE = "in_a_huddle"


@dataclass(frozen=True, slots=True)
class SignalChange:
    """What one event says: the person is now in (or out of) a huddle or meeting status."""

    team: str
    user: str
    kind: SignalKind
    active: bool
    until: datetime | None = None  # a status's own expiry, if it has one


def register(app: AsyncApp, services: Services) -> None:
    @app.event("user_huddle_changed")
    async def huddle_changed(body: dict[str, Any]) -> None:
        await apply_change(services, huddle_change(body))

    @app.event("user_status_changed")
    async def status_changed(body: dict[str, Any]) -> None:
        await apply_change(services, status_change(body))

    @app.event("dnd_updated_user")
    async def dnd_updated(body: dict[str, Any]) -> None:
        person = dnd_change(body)
        if person is not None:
            # The cached dnd.info answer is out of date; the next send asks again.
            await live.LiveSignals(services.store.redis).forget_dnd(*person)


async def apply_change(services: Services, change: SignalChange | None) -> None:
    """Record a signal's start, or make the reset its end earned."""
    if change is None:
        return
    now = services.clock.now()
    if change.active and (change.until is None or change.until > now):
        await live.signal_started(
            services, change.team, change.user, change.kind, now=now, until=change.until
        )
    else:
        await live.signal_ended(services, change.team, change.user, change.kind, now=now)


def huddle_change(body: Mapping[str, Any]) -> SignalChange | None:
    """The change a ``user_huddle_changed`` event reports; None if it is not about a person
    or says nothing about huddles."""
    person, profile = _person(body), _profile(body)
    state = profile.get("huddle_state") if profile is not None else None
    if person is None or not isinstance(state, str):
        return None
    team, user = person
    return SignalChange(team=team, user=user, kind=SignalKind.HUDDLE, active=state == IN_A_HUDDLE)


def status_change(body: Mapping[str, Any]) -> SignalChange | None:
    """The change a ``user_status_changed`` event reports: in a meeting or not (an expired
    status is not); None if it is not about a person or carries no status."""
    person, profile = _person(body), _profile(body)
    if person is None or profile is None:
        return None
    text, emoji = profile.get("status_text"), profile.get("status_emoji")
    if not isinstance(text, str) and not isinstance(emoji, str):
        return None
    text = text if isinstance(text, str) else ""
    emoji = emoji if isinstance(emoji, str) else ""
    until = _expiry(profile.get("status_expiration"))
    team, user = person
    return SignalChange(
        team=team,
        user=user,
        kind=SignalKind.STATUS,
        active=is_meeting_status(text, emoji),
        until=until,
    )


def dnd_change(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """(team, user) whose Do Not Disturb a ``dnd_updated_user`` event says has changed."""
    event = body.get("event")
    user = event.get("user") if isinstance(event, Mapping) else None
    team = body.get("team_id")
    if not isinstance(user, str) or not user or not isinstance(team, str) or not team:
        return None
    return team, user


def _person(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """(team, user) of the person an event is about; None for bots and malformed events."""
    event = body.get("event")
    subject = event.get("user") if isinstance(event, Mapping) else None
    if not isinstance(subject, Mapping) or subject.get("is_bot"):
        return None
    user = subject.get("id")
    team = body.get("team_id") or subject.get("team_id")
    if not isinstance(user, str) or not user or not isinstance(team, str) or not team:
        return None
    return team, user


def _profile(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    event = body.get("event")
    subject = event.get("user") if isinstance(event, Mapping) else None
    profile = subject.get("profile") if isinstance(subject, Mapping) else None
    return profile if isinstance(profile, Mapping) else None


def _expiry(value: object) -> datetime | None:
    """``status_expiration`` (epoch seconds; 0 = none) as a time."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
