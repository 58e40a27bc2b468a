"""The sample team's calendar feeds over HTTP on 127.0.0.1, as a calendar server publishes
them: one secret address per person, an ETag, and 304 when nothing changed.

A feed is written afresh for each request from the demo's clock, so a meeting added at noon
(:class:`bot.demo.team.CalendarChange`) appears in the feed at noon, simulated.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import date
from types import TracebackType
from typing import Self

from aiohttp import web

from bot.clock import Clock
from bot.demo.loopback import serve_on_loopback
from bot.demo.team import Person, calendar_ics


class FeedServer:
    """``async with FeedServer(team, day=..., clock=...) as feeds:`` then ``feeds.url(person)``."""

    def __init__(self, team: Sequence[Person], *, day: date, clock: Clock) -> None:
        self._day = day
        self._clock = clock
        # The address is the password, as with Google's "secret address in iCal format".
        self._secrets = {person.user_id: secrets.token_urlsafe(18) for person in team}
        self._people = {self._secrets[p.user_id]: p for p in team}
        self._runner: web.AppRunner | None = None
        self._base = ""

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/calendars/{secret}/basic.ics", self._feed)
        self._runner, self._base = await serve_on_loopback(app)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, person: Person) -> str:
        return f"{self._base}/calendars/{self._secrets[person.user_id]}/basic.ics"

    async def _feed(self, request: web.Request) -> web.StreamResponse:
        person = self._people.get(request.match_info["secret"])
        if person is None:
            raise web.HTTPNotFound()
        body = calendar_ics(person, self._day, now=self._clock.now())
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=body, headers={"ETag": etag, "Content-Type": "text/calendar; charset=utf-8"}
        )
