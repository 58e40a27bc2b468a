"""A calendar feed server over real HTTP on 127.0.0.1, for calendar-sync tests and benchmarks.

Each path serves a :class:`Feed` the test sets up: a body with ETag and Last-Modified (and
304 for a conditional GET that matches), or an error status, a redirect, a slow start, a
body that trickles out a byte at a time, or one far too big. Every request is recorded.

    async with FeedServer() as feeds:
        url = feeds.serve("/alice.ics", ics_bytes)
        ...
        assert feeds.hits("/alice.ics") == 1

``FeedServer(tls=True)`` speaks HTTPS with a self-signed certificate nobody trusts (what a
fetcher must refuse).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import ssl
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote

from aiohttp import web

from tests.support.redis_server import free_port

_DEFAULT_MODIFIED = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


def calendar_feed(
    meetings: Iterable[tuple[dt.datetime, dt.datetime]], *, name: str = "Work", extra: str = ""
) -> bytes:
    """A small iCalendar feed with one event per (start, end) (aware datetimes, written in
    UTC); ``extra`` is raw text added before the end (more events, a time zone)."""
    events = []
    for number, (start, end) in enumerate(meetings):
        events.append(
            "BEGIN:VEVENT\r\n"
            f"UID:meeting-{number}@feeds.example.com\r\n"
            "DTSTAMP:20261101T000000Z\r\n"
            f"DTSTART:{start.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}\r\n"
            f"DTEND:{end.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}\r\n"
            f"SUMMARY:Private meeting {number}\r\n"
            "END:VEVENT\r\n"
        )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Baseline tests//EN\r\n"
        f"X-WR-CALNAME:{name}\r\n{''.join(events)}{extra}END:VCALENDAR\r\n"
    ).encode()


@dataclass(frozen=True)
class Feed:
    """What one path answers. ``body`` goes out with validators unless they are turned off."""

    body: bytes = b""
    status: int = 200
    etag: bool = True
    last_modified: bool = True
    modified_at: dt.datetime = _DEFAULT_MODIFIED
    content_type: str = "text/calendar; charset=utf-8"
    redirect_to: str | None = None  # a path on this server or a full URL: answered with 302
    delay: float = 0.0  # seconds before the answer starts
    trickle: float | None = None  # seconds between single bytes of the body
    endless: bool = False  # a calendar that never ends (no Content-Length): for size caps
    version: int = 0  # part of the ETag: bump it to change the ETag with the same body

    @property
    def etag_value(self) -> str:
        digest = hashlib.sha256(self.body).hexdigest()[:16]
        return f'"{digest}-{self.version}"'

    @property
    def last_modified_value(self) -> str:
        return format_datetime(self.modified_at, usegmt=True)


@dataclass(frozen=True)
class FeedRequest:
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int
    """What the server answered (0 when the client went away before the answer)."""


@dataclass
class FeedServer:
    tls: bool = False
    feeds: dict[str, Feed] = field(default_factory=dict)
    requests: list[FeedRequest] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    port: int = 0
    _runner: web.AppRunner | None = None
    _certs: tempfile.TemporaryDirectory[str] | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        self.port = free_port()
        context = self._tls_context() if self.tls else None
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=context).start()
        return self

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        if self._certs is not None:
            self._certs.cleanup()
            self._certs = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- setting feeds up --------------------------------------------------------------------

    def url(self, path: str) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes = b"", **options: Any) -> str:
        """Serve ``body`` (with :class:`Feed` ``options``) at ``path``; returns its URL."""
        # Kept decoded, as the server reads it (clients may write %40 as @ or the other way).
        self.feeds[unquote(path)] = Feed(body=body, **options)
        return self.url(path)

    def change(self, path: str, **changes: Any) -> None:
        """Change what ``path`` serves (a new body gets a new ETag and Last-Modified)."""
        path = unquote(path)
        feed = self.feeds[path]
        if "body" in changes and "modified_at" not in changes:
            changes["modified_at"] = feed.modified_at + dt.timedelta(minutes=1)
        self.feeds[path] = replace(feed, **changes)

    def hits(self, path: str | None = None) -> int:
        wanted = None if path is None else unquote(path)
        return sum(1 for r in self.requests if wanted is None or r.path == wanted)

    def answered(self, status: int, path: str | None = None) -> int:
        wanted = None if path is None else unquote(path)
        return sum(
            1 for r in self.requests if r.status == status and (wanted is None or r.path == wanted)
        )

    # --- serving -------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        feed = self.feeds.get(path)
        if_none_match = request.headers.get("If-None-Match")
        if_modified_since = request.headers.get("If-Modified-Since")

        def record(status: int) -> None:
            self.statuses[status] += 1
            self.requests.append(FeedRequest(path, if_none_match, if_modified_since, status))

        if feed is None:
            record(404)
            return web.Response(status=404, text="no such calendar")
        if feed.delay:
            try:
                await asyncio.sleep(feed.delay)
            except asyncio.CancelledError:
                record(0)
                raise
        if feed.redirect_to is not None:
            record(302)
            target = feed.redirect_to
            location = target if "://" in target else self.url(target)
            raise web.HTTPFound(location=location)
        if feed.status != 200:
            record(feed.status)
            return web.Response(status=feed.status, text="calendar server says no")
        headers = {"Content-Type": feed.content_type}
        if feed.etag:
            headers["ETag"] = feed.etag_value
        if feed.last_modified:
            headers["Last-Modified"] = feed.last_modified_value
        if self._not_modified(feed, if_none_match, if_modified_since):
            record(304)
            return web.Response(status=304, headers=headers)
        if feed.trickle is None and not feed.endless:
            record(200)
            return web.Response(body=feed.body, headers=headers)
        return await self._stream(request, feed, headers, record)

    @staticmethod
    def _not_modified(feed: Feed, if_none_match: str | None, if_modified_since: str | None) -> bool:
        if if_none_match is not None:
            return feed.etag and if_none_match == feed.etag_value
        if if_modified_since is not None and feed.last_modified:
            return if_modified_since == feed.last_modified_value
        return False

    async def _stream(
        self,
        request: web.Request,
        feed: Feed,
        headers: dict[str, str],
        record: Any,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers=headers)
        record(200)
        try:
            await response.prepare(request)
            if feed.endless:
                await response.write(feed.body or b"BEGIN:VCALENDAR\r\n")
                filler = b"X-FILLER:" + b"x" * 1000 + b"\r\n"
                chunk = filler * 64
                while True:  # until the client hangs up
                    await response.write(chunk)
            assert feed.trickle is not None
            for byte in feed.body:
                await response.write(bytes([byte]))
                await asyncio.sleep(feed.trickle)
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            pass
        return response

    # --- TLS -----------------------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        from cryptography import x509  # noqa: PLC0415 - only TLS servers need it
        from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
        from cryptography.x509.oid import NameOID  # noqa: PLC0415

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        self._certs = tempfile.TemporaryDirectory()
        cert_path = Path(self._certs.name) / "cert.pem"
        key_path = Path(self._certs.name) / "key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_path, key_path)
        return context
