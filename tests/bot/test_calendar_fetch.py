"""The calendar fetcher over real HTTP on 127.0.0.1, and its SSRF guard.

Nothing here leaves loopback: every async test runs under ``connections``, which records each
outgoing connection the event loop makes and refuses any to a non-loopback address (so even
a broken guard cannot reach 10.x or 169.254.169.254 from the test machine). "No connection
was made" is asserted on that record, and on the test server's list of requests.

Host names are resolved by a ``TableResolver`` handed to ``fetch_calendar``. To run a
redirect through the guarded path (``allow_private=False``), the test trusts 127.0.0.1 only
(``trust_loopback``): ``feeds.example`` → 127.0.0.1 is then an allowed first hop, and any
other private address is still refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import itertools
import logging
import socket
import ssl
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, ip_address
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from bot.calendar_fetch import (
    CalendarFetchError,
    FetchFailure,
    FetchResult,
    FetchStatus,
    GuardedResolver,
    IPAddress,
    _Sniffer,
    check_url,
    fetch_calendar,
    is_public_address,
)
from config.settings import load_settings
from nudges.calendar import CalendarError, CalendarLimits

FEED = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Baseline tests//EN\r\nEND:VCALENDAR\r\n"
HTML = b"<!doctype html><html><body>Sign in to see this calendar</body></html>"
MB = 1_000_000
PUBLIC = "8.8.8.8"  # a real public address; the guard must refuse before it matters
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- fixtures and helpers -------------------------------------------------------------------


@pytest_asyncio.fixture
async def connections(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[tuple[str, int]]]:
    """Every (address, port) the loop connected to during the test; loopback only."""
    loop = asyncio.get_running_loop()
    attempts: list[tuple[str, int]] = []
    connect = loop.sock_connect

    async def loopback_only(sock: socket.socket, address: Any) -> None:
        attempts.append((str(address[0]), int(address[1])))
        if not ip_address(str(address[0]).split("%")[0]).is_loopback:
            raise OSError(errno.ENETUNREACH, "the tests never leave loopback")
        await connect(sock, address)

    monkeypatch.setattr(loop, "sock_connect", loopback_only)
    yield attempts


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


@dataclass
class FeedServer:
    """A real aiohttp server on 127.0.0.1; tests add a handler per path, any time."""

    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def paths(self) -> list[str]:
        return [request.path for request in self.seen]

    def serve(
        self,
        path: str,
        body: bytes = FEED,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, body=body, headers=headers)

        self.routes[path] = handler

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.serve(path, b"", status=status, headers={"Location": location})

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(Seen(request.path, dict(request.headers)))
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404)
        return await handler(request)


@contextlib.asynccontextmanager
async def feed_server() -> AsyncIterator[FeedServer]:
    feed_server = FeedServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", feed_server.dispatch)
    async with TestServer(app, host="127.0.0.1") as server:
        assert server.port is not None
        feed_server.port = server.port
        try:
            yield feed_server
        finally:
            feed_server.stop.set()  # lets stalled handlers finish before the server closes


@pytest_asyncio.fixture
async def feeds(connections: list[tuple[str, int]]) -> AsyncIterator[FeedServer]:
    async with feed_server() as server:
        yield server


class TableResolver(AbstractResolver):
    """Answers from a fixed table, as DNS would; an unknown name does not resolve."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.table[host]
        ]

    async def close(self) -> None:
        pass


def trust_loopback(ip: IPAddress) -> bool:
    """The public check, plus 127.0.0.1 itself (the test server); nothing else private."""
    return ip == IPv4Address("127.0.0.1") or is_public_address(ip)


async def fetch(url: str, **options: Any) -> FetchResult:
    settings: dict[str, Any] = {
        "limits": CalendarLimits(),
        "allow_private": True,
        "timeout": 5.0,
        "max_redirects": 3,
    }
    return await fetch_calendar(url, **(settings | options))


async def refused(url: str, **options: Any) -> CalendarFetchError:
    with pytest.raises(CalendarFetchError) as caught:
        await fetch(url, **options)
    return caught.value


# --- happy paths ----------------------------------------------------------------------------


async def test_fetches_a_feed_with_its_validators_and_hash(
    feeds: FeedServer, connections: list[tuple[str, int]]
) -> None:
    feeds.serve(
        "/cal.ics",
        headers={"ETag": '"v1"', "Last-Modified": "Mon, 23 Nov 2026 07:00:00 GMT"},
    )

    result = await fetch(feeds.url("/cal.ics"))

    assert result == FetchResult(
        FetchStatus.FETCHED,
        host="127.0.0.1",
        etag='"v1"',
        last_modified="Mon, 23 Nov 2026 07:00:00 GMT",
        body=FEED,
        content_hash=hashlib.sha256(FEED).hexdigest(),
    )
    # An unconditional GET, over one connection to the server and nowhere else.
    assert "If-None-Match" not in feeds.seen[0].headers
    assert "If-Modified-Since" not in feeds.seen[0].headers
    assert connections == [("127.0.0.1", feeds.port)]


async def test_not_modified_by_etag(feeds: FeedServer) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-None-Match") == '"v2"':
            return web.Response(status=304, headers={"ETag": '"v2"'})
        return web.Response(body=FEED, headers={"ETag": '"v2"'})

    feeds.routes["/cal.ics"] = handler

    stale = await fetch(feeds.url("/cal.ics"), etag='"v1"')
    fresh = await fetch(feeds.url("/cal.ics"), etag=stale.etag)

    assert (stale.status, stale.body, stale.etag) == (FetchStatus.FETCHED, FEED, '"v2"')
    assert fresh == FetchResult(
        FetchStatus.NOT_MODIFIED, host="127.0.0.1", etag='"v2"', last_modified=None
    )
    assert [seen.headers.get("If-None-Match") for seen in feeds.seen] == ['"v1"', '"v2"']


async def test_not_modified_by_last_modified(feeds: FeedServer) -> None:
    stamp = "Mon, 23 Nov 2026 07:00:00 GMT"

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-Modified-Since") == stamp:
            return web.Response(status=304)
        return web.Response(body=FEED, headers={"Last-Modified": stamp})

    feeds.routes["/cal.ics"] = handler

    first = await fetch(feeds.url("/cal.ics"))
    second = await fetch(feeds.url("/cal.ics"), last_modified=first.last_modified)

    assert (first.status, first.last_modified) == (FetchStatus.FETCHED, stamp)
    # The 304 carries no Last-Modified: the one sent is kept for next time.
    assert second.status is FetchStatus.NOT_MODIFIED
    assert (second.body, second.content_hash, second.last_modified) == (None, None, stamp)
    assert feeds.seen[1].headers["If-Modified-Since"] == stamp


async def test_a_304_to_an_unconditional_get_is_unexpected(feeds: FeedServer) -> None:
    feeds.serve("/cal.ics", b"", status=304)

    error = await refused(feeds.url("/cal.ics"))

    assert (error.reason, error.status) == (FetchFailure.HTTP_ERROR, 304)


@pytest.mark.parametrize(
    "body",
    [
        FEED,
        b"\xef\xbb\xbf" + FEED,
        b"\r\n\r\n  \t" + FEED,
        b"\xef\xbb\xbf \n" + FEED.lower(),
    ],
    ids=["plain", "bom", "leading-whitespace", "bom-whitespace-lowercase"],
)
async def test_accepts_what_decode_feed_accepts(feeds: FeedServer, body: bytes) -> None:
    feeds.serve("/cal.ics", body)

    result = await fetch(feeds.url("/cal.ics"))

    assert result.body == body
    assert result.content_hash == hashlib.sha256(body).hexdigest()


async def test_redirects_are_followed_up_to_the_limit(feeds: FeedServer) -> None:
    feeds.redirect("/r3", feeds.url("/r2"), status=301)  # absolute
    feeds.redirect("/r2", "r1", status=307)  # relative
    feeds.redirect("/r1", "/cal.ics", status=308)
    feeds.serve("/cal.ics")

    result = await fetch(feeds.url("/r3"), max_redirects=3, etag='"v1"')

    assert result.body == FEED
    assert feeds.paths == ["/r3", "/r2", "/r1", "/cal.ics"]
    # The conditional header goes to the hop that answers.
    assert feeds.seen[-1].headers["If-None-Match"] == '"v1"'


async def test_one_redirect_past_the_limit_is_refused(feeds: FeedServer) -> None:
    feeds.redirect("/r3", "/r2")
    feeds.redirect("/r2", "/r1")
    feeds.redirect("/r1", "/cal.ics")
    feeds.serve("/cal.ics")

    error = await refused(feeds.url("/r3"), max_redirects=2)

    assert error.reason is FetchFailure.TOO_MANY_REDIRECTS
    assert str(error) == (
        "the calendar address sent Baseline on more than 2 times, so it stopped following"
    )
    assert feeds.paths == ["/r3", "/r2", "/r1"]  # the third Location was never requested


async def test_a_redirect_loop_stops(feeds: FeedServer) -> None:
    feeds.redirect("/loop", "/loop", status=303)

    error = await refused(feeds.url("/loop"))

    assert error.reason is FetchFailure.TOO_MANY_REDIRECTS
    assert feeds.paths == ["/loop"] * 4


async def test_a_redirect_without_location_is_refused(feeds: FeedServer) -> None:
    feeds.serve("/moved", b"", status=302)

    error = await refused(feeds.url("/moved"))

    assert error.reason is FetchFailure.BAD_REDIRECT


# --- what the server says -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (401, FetchFailure.UNAUTHORIZED),
        (403, FetchFailure.FORBIDDEN),
        (404, FetchFailure.NOT_FOUND),
        (410, FetchFailure.GONE),
        (500, FetchFailure.SERVER_ERROR),
        (503, FetchFailure.SERVER_ERROR),
        (429, FetchFailure.HTTP_ERROR),
        (300, FetchFailure.HTTP_ERROR),
    ],
)
async def test_http_errors_have_their_own_reasons(
    feeds: FeedServer, status: int, reason: FetchFailure
) -> None:
    feeds.serve("/cal.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", status=status)

    error = await refused(feeds.url("/cal.ics"))

    assert (error.reason, error.status) == (reason, status)
    assert str(error).startswith(f"the calendar server said {status}")


async def test_the_messages_a_person_reads(feeds: FeedServer) -> None:
    feeds.serve("/401", status=401)
    feeds.serve("/503", status=503)

    assert str(await refused(feeds.url("/401"))) == (
        "the calendar server said 401: the link may have been reset — copy the secret address again"
    )
    assert str(await refused(feeds.url("/404"))) == (
        "the calendar server said 404: the calendar was not found — "
        "check the address, or copy it again"
    )
    assert str(await refused(feeds.url("/503"))) == (
        "the calendar server said 503: it is having trouble, so Baseline will try again later"
    )


def test_every_reason_has_a_sentence() -> None:
    for reason in FetchFailure:
        message = reason.message(status=502, max_bytes=5 * MB, timeout=10, max_redirects=3)
        assert message
        assert message[0].islower()
        assert not message.endswith(".")
        assert "{" not in message
        assert "http://" not in message or reason is FetchFailure.BAD_SCHEME
    assert FetchFailure.TOO_BIG.message(max_bytes=5 * MB) == (
        "the calendar is too big (the limit is 5 MB)"
    )
    assert FetchFailure.TIMEOUT.message(timeout=10) == (
        "the calendar server did not answer within 10 seconds"
    )
    assert FetchFailure.PRIVATE_ADDRESS.transient is False
    assert FetchFailure.TIMEOUT.transient is True


def test_a_fetch_error_is_a_calendar_error() -> None:
    # Callers that already show a CalendarError's sentence show these the same way.
    error = CalendarFetchError(FetchFailure.GONE, status=410)
    assert isinstance(error, CalendarError)
    assert str(error) == FetchFailure.GONE.message()


@pytest.mark.parametrize(
    "body",
    [HTML, b"", b" \r\n\t", b"BEGIN:VCARD\r\nEND:VCARD\r\n", b"\xef\xbb\xbfBEGIN:VEVENT\r\n"],
    ids=["html", "empty", "whitespace", "vcard", "bom-vevent"],
)
async def test_not_a_calendar(feeds: FeedServer, body: bytes) -> None:
    feeds.serve("/cal.ics", body)

    error = await refused(feeds.url("/cal.ics"))

    assert error.reason is FetchFailure.NOT_A_CALENDAR
    assert str(error) == (
        "that is not a calendar: the address did not give an iCalendar (.ics) feed"
    )


@dataclass
class Stream:
    sent: int = 0
    broken: BaseException | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


def endless(feeds: FeedServer, path: str, first: bytes, total: int) -> Stream:
    """Serve ``first`` then filler up to ``total`` bytes, chunked (no Content-Length)."""
    stream = Stream()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        filler = b"X" * (64 * 1024)
        try:
            await response.write(first)
            stream.sent = len(first)
            while stream.sent < total:
                await response.write(filler)
                stream.sent += len(filler)
            await response.write_eof()
        except (OSError, asyncio.CancelledError) as exc:
            stream.broken = exc
            raise
        finally:
            stream.done.set()
        return response

    feeds.routes[path] = handler
    return stream


async def test_a_50_mb_body_is_cut_off_at_the_limit(feeds: FeedServer) -> None:
    stream = endless(feeds, "/huge.ics", b"BEGIN:VCALENDAR\r\n", 50 * MB)

    error = await refused(feeds.url("/huge.ics"))
    await asyncio.wait_for(stream.done.wait(), 10)

    assert error.reason is FetchFailure.TOO_BIG
    assert str(error) == "the calendar is too big (the limit is 5 MB)"
    # The client hung up: the server's writes failed long before 50 MB.
    assert stream.broken is not None
    assert stream.sent < 50 * MB


async def test_a_web_page_stops_the_download_at_its_first_bytes(feeds: FeedServer) -> None:
    stream = endless(feeds, "/login", HTML, 50 * MB)

    error = await refused(feeds.url("/login"))
    await asyncio.wait_for(stream.done.wait(), 10)

    # Not TOO_BIG: the body was refused before 5 MB of it had arrived.
    assert error.reason is FetchFailure.NOT_A_CALENDAR
    assert stream.broken is not None


async def test_a_content_length_over_the_limit_is_refused_before_reading(
    feeds: FeedServer,
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 60 * MB
        await response.prepare(request)
        await response.write(b"BEGIN:VCALENDAR\r\n")
        await feeds.stop.wait()  # the rest never comes: reading it would time out
        return response

    feeds.routes["/big.ics"] = handler

    error = await refused(feeds.url("/big.ics"), timeout=5.0)

    assert error.reason is FetchFailure.TOO_BIG


async def test_a_feed_that_trickles_is_cut_by_the_total_timeout(feeds: FeedServer) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"BEGIN:VCALENDAR\r\n")
        while not feeds.stop.is_set():
            await asyncio.sleep(1)
            await response.write(b"X")
        return response

    feeds.routes["/slow.ics"] = handler

    error = await refused(feeds.url("/slow.ics"), timeout=1.5)

    assert error.reason is FetchFailure.TIMEOUT
    assert str(error) == "the calendar server did not answer within 1.5 seconds"


async def test_the_timeout_covers_all_hops_together(feeds: FeedServer) -> None:
    # Each hop answers well within the timeout; together they do not.
    async def slow_redirect(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.6)
        return web.Response(status=302, headers={"Location": "/hop"})

    feeds.routes["/hop"] = slow_redirect

    error = await refused(feeds.url("/hop"), timeout=1.5, max_redirects=5)

    assert error.reason is FetchFailure.TIMEOUT
    assert 2 <= len(feeds.seen) < 6  # stopped by time, not by the redirect limit


async def test_a_server_that_never_answers_times_out(
    connections: list[tuple[str, int]],
) -> None:
    accepted = asyncio.Event()
    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await release.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        error = await refused(f"http://127.0.0.1:{port}/cal.ics", timeout=1.0)
    finally:
        release.set()
        server.close()
        await server.wait_closed()

    assert error.reason is FetchFailure.TIMEOUT
    assert accepted.is_set()
    assert str(error) == "the calendar server did not answer within 1 second"


async def test_nobody_listening(connections: list[tuple[str, int]]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Closed again: nothing listens on that port now.

    error = await refused(f"http://127.0.0.1:{port}/cal.ics")

    assert error.reason is FetchFailure.CONNECT_FAILED
    assert error.reason.transient


def self_signed_context(tmp_path: Path) -> ssl.SSLContext:
    """A server context for 127.0.0.1 with a certificate nobody trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


async def test_an_untrusted_certificate_is_refused(
    connections: list[tuple[str, int]], tmp_path: Path
) -> None:
    requests: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        requests.append(request.path)
        return web.Response(body=FEED)

    app = web.Application()
    app.router.add_get("/cal.ics", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=self_signed_context(tmp_path))
    port = server.port
    try:
        error = await refused(f"https://127.0.0.1:{port}/cal.ics")
    finally:
        await server.close()

    assert error.reason is FetchFailure.CERTIFICATE
    assert requests == []
    assert connections == [("127.0.0.1", port)]


# --- the SSRF guard, end to end -------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.0.0.2",
        "10.0.0.1",
        "172.16.5.4",
        "172.31.255.254",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104  # an address to refuse, not one to bind
        "224.0.0.1",
        "[::1]",
        "[::]",
        "[::ffff:127.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[fd00::1]",
        "[fe80::1%25lo]",
        "2130706433",  # 127.0.0.1 as one decimal number
        "0177.0.0.1",  # octal
        "127.1",  # short form
        "0x7f.0.0.1",  # hex
        "0x7f000001",
        "017700000001",
        "0",
        "127.0.0.1.",
        "evil.com@127.0.0.1",  # the host is after the @
    ],
)
async def test_private_addresses_are_refused_without_connecting(
    feeds: FeedServer, connections: list[tuple[str, int]], address: str
) -> None:
    feeds.serve("/cal.ics")
    resolver = TableResolver({})

    for scheme in ("http", "https"):
        error = await refused(
            f"{scheme}://{address}:{feeds.port}/cal.ics",
            allow_private=False,
            resolver=resolver,
        )
        assert error.reason is FetchFailure.PRIVATE_ADDRESS
        assert str(error) == (
            "that address points inside a private network, which Baseline never fetches"
        )

    assert connections == []
    assert feeds.seen == []
    assert resolver.asked == []  # an IP address is checked as written, not looked up


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["169.254.169.254"],
        ["10.1.2.3"],
        ["::1"],
        ["::ffff:127.0.0.1"],
        ["::ffff:a00:1"],
        [PUBLIC, "10.0.0.1"],  # one bad address is enough
        ["10.0.0.1", PUBLIC],
        [PUBLIC, "2001:4860:4860::8888", "fd00::1"],
    ],
)
async def test_a_host_name_resolving_to_any_private_address_is_refused(
    feeds: FeedServer, connections: list[tuple[str, int]], addresses: list[str]
) -> None:
    feeds.serve("/cal.ics")
    resolver = TableResolver({"evil.example": addresses})

    error = await refused(
        feeds.url("/cal.ics", host="evil.example"), allow_private=False, resolver=resolver
    )

    assert error.reason is FetchFailure.PRIVATE_ADDRESS
    assert resolver.asked == ["evil.example"]
    assert connections == []
    assert feeds.seen == []


async def test_a_good_address_does_not_carry_a_bad_one_through(
    feeds: FeedServer, connections: list[tuple[str, int]]
) -> None:
    # 127.0.0.1 is trusted here, so a guard that only filtered would connect to the server.
    feeds.serve("/cal.ics")
    resolver = TableResolver({"mixed.example": ["127.0.0.1", "10.0.0.1"]})

    error = await refused(
        feeds.url("/cal.ics", host="mixed.example"),
        allow_private=False,
        resolver=resolver,
        is_allowed=trust_loopback,
    )

    assert error.reason is FetchFailure.PRIVATE_ADDRESS
    assert connections == []
    assert feeds.seen == []


async def test_the_guarded_path_connects_only_to_the_checked_address(
    feeds: FeedServer, connections: list[tuple[str, int]]
) -> None:
    feeds.serve("/cal.ics")
    resolver = TableResolver({"feeds.example": ["127.0.0.1"]})

    result = await fetch(
        feeds.url("/cal.ics", host="feeds.example"),
        allow_private=False,
        resolver=resolver,
        is_allowed=trust_loopback,
    )

    assert (result.body, result.host) == (FEED, "feeds.example")
    assert feeds.seen[0].headers["Host"] == f"feeds.example:{feeds.port}"
    assert connections == [("127.0.0.1", feeds.port)]


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://10.0.0.1:{port}/cal.ics", FetchFailure.PRIVATE_ADDRESS),
        ("http://169.254.169.254/latest/meta-data/", FetchFailure.PRIVATE_ADDRESS),
        ("http://[::1]:{port}/cal.ics", FetchFailure.PRIVATE_ADDRESS),
        ("http://0x0a.0.0.1:{port}/cal.ics", FetchFailure.PRIVATE_ADDRESS),
        ("http://inner.example:{port}/cal.ics", FetchFailure.PRIVATE_ADDRESS),
        ("file:///etc/passwd", FetchFailure.BAD_REDIRECT),
        ("gopher://feeds.example:{port}/_GET", FetchFailure.BAD_REDIRECT),
        ("http://:{port}/cal.ics", FetchFailure.BAD_REDIRECT),
    ],
)
async def test_every_redirect_hop_is_checked_again(
    feeds: FeedServer,
    connections: list[tuple[str, int]],
    location: str,
    reason: FetchFailure,
) -> None:
    feeds.redirect("/start", location.format(port=feeds.port))
    feeds.serve("/cal.ics")
    resolver = TableResolver({"feeds.example": ["127.0.0.1"], "inner.example": ["10.0.0.2"]})

    error = await refused(
        feeds.url("/start", host="feeds.example"),
        allow_private=False,
        resolver=resolver,
        is_allowed=trust_loopback,
    )

    assert error.reason is reason
    # The first hop, and nothing after it.
    assert feeds.paths == ["/start"]
    assert connections == [("127.0.0.1", feeds.port)]


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file://127.0.0.1/etc/passwd",
        "gopher://127.0.0.1:{port}/_GET%20/",
        "ftp://127.0.0.1:{port}/cal.ics",
        "data:text/calendar,BEGIN:VCALENDAR",
        "javascript:alert(1)",
        "webcal://127.0.0.1:{port}/cal.ics",
        "//127.0.0.1:{port}/cal.ics",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
async def test_only_http_and_https(
    feeds: FeedServer, connections: list[tuple[str, int]], url: str, allow_private: bool
) -> None:
    error = await refused(url.format(port=feeds.port), allow_private=allow_private)

    assert error.reason is FetchFailure.BAD_SCHEME
    assert str(error) == (
        "that address is not a web address: a calendar link starts with https:// or http://"
    )
    assert connections == []
    assert feeds.seen == []


async def test_proxy_settings_in_the_environment_are_ignored(
    feeds: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds.serve("/cal.ics")
    async with feed_server() as proxy:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, proxy.url("/"))
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)

        result = await fetch(feeds.url("/cal.ics"))

    assert result.body == FEED
    assert proxy.seen == []
    assert feeds.paths == ["/cal.ics"]


async def test_unknown_host_name(connections: list[tuple[str, int]]) -> None:
    error = await refused(
        "https://nowhere.example/cal.ics", allow_private=False, resolver=TableResolver({})
    )

    assert error.reason is FetchFailure.DNS_FAILED
    assert connections == []


async def test_the_system_resolver_is_guarded_by_default(
    feeds: FeedServer, connections: list[tuple[str, int]]
) -> None:
    # localhost comes from /etc/hosts: no DNS query leaves the machine.
    feeds.serve("/cal.ics")

    error = await refused(feeds.url("/cal.ics", host="localhost"), allow_private=False)
    assert error.reason is FetchFailure.PRIVATE_ADDRESS
    assert connections == []

    result = await fetch(feeds.url("/cal.ics", host="localhost"), allow_private=True)
    assert result.body == FEED
    assert feeds.paths == ["/cal.ics"]


async def test_the_address_is_never_logged_nor_carried_by_errors(
    feeds: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "private-3f9a8b7c6d5e4f"
    feeds.serve(f"/{secret}/ok.ics")
    feeds.redirect(f"/{secret}/moved", f"/{secret}/ok.ics")
    failing: dict[str, dict[str, Any]] = {
        feeds.url(f"/{secret}/missing.ics"): {},
        f"http://10.0.0.1/{secret}.ics": {"allow_private": False},
        f"http://nowhere.example/{secret}.ics": {"resolver": TableResolver({})},
        f"http://user:{secret}@127.0.0.1:1/cal.ics": {},
        f"ftp://127.0.0.1/{secret}.ics": {},
    }
    caplog.set_level(logging.DEBUG)

    await fetch(feeds.url(f"/{secret}/moved"))
    errors = [await refused(url, **options) for url, options in failing.items()]

    assert len(errors) == len(failing)
    for error in errors:
        assert secret not in str(error)
        assert secret not in "".join(traceback.format_exception(error))
    client_logs = [
        record.getMessage()
        for record in caplog.records
        if not record.name.startswith(("aiohttp.access", "aiohttp.server", "aiohttp.web"))
    ]
    assert client_logs  # the fetcher does log, by host
    assert not [line for line in client_logs if secret in line]


# --- the pure checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", FetchFailure.BAD_SCHEME),
        ("gopher://example.com:70/_x", FetchFailure.BAD_SCHEME),
        ("ftp://example.com/cal.ics", FetchFailure.BAD_SCHEME),
        ("data:text/calendar,BEGIN:VCALENDAR", FetchFailure.BAD_SCHEME),
        ("javascript:alert(1)", FetchFailure.BAD_SCHEME),
        ("example.com/cal.ics", FetchFailure.BAD_SCHEME),
        ("", FetchFailure.BAD_SCHEME),
        ("http:///cal.ics", FetchFailure.INVALID_URL),
        ("http://exa mple.com/cal.ics", FetchFailure.INVALID_URL),
        ("http://%31%32%37.0.0.1/", FetchFailure.INVALID_URL),
        ("http://127.0.0.1\\@example.com/", FetchFailure.INVALID_URL),
        ("http://example.com:99999/", FetchFailure.INVALID_URL),
        ("http://1.2.3.999/", FetchFailure.INVALID_URL),
        ("http://1.2.3.4.5/", FetchFailure.INVALID_URL),
        ("http://08.0.0.1/", FetchFailure.INVALID_URL),
        ("http://example.123/", FetchFailure.INVALID_URL),
        ("http://[not-v6]/", FetchFailure.INVALID_URL),
        # Public, but spelled the way only an attacker spells an address.
        ("http://134744072/", FetchFailure.INVALID_URL),
        ("http://0x8.8.8.8/", FetchFailure.INVALID_URL),
        ("http://8.8.8.8./", FetchFailure.INVALID_URL),
        ("http://127.0.0.1/", FetchFailure.PRIVATE_ADDRESS),
        ("http://2130706433/", FetchFailure.PRIVATE_ADDRESS),
        ("http://0177.0.0.1/", FetchFailure.PRIVATE_ADDRESS),
        ("http://127.1/", FetchFailure.PRIVATE_ADDRESS),
        ("http://0x7f.0.0.1/", FetchFailure.PRIVATE_ADDRESS),
        ("http://0x7F.1/", FetchFailure.PRIVATE_ADDRESS),
        ("http://0/", FetchFailure.PRIVATE_ADDRESS),
        ("HTTP://169.254.169.254/latest/meta-data/", FetchFailure.PRIVATE_ADDRESS),
        ("http://[::ffff:127.0.0.1]/", FetchFailure.PRIVATE_ADDRESS),
        ("http://[0:0:0:0:0:ffff:7f00:1]/", FetchFailure.PRIVATE_ADDRESS),
        ("http://[64:ff9b::a9fe:a9fe]/", FetchFailure.PRIVATE_ADDRESS),
        ("http://[2002:a00:1::1]/", FetchFailure.PRIVATE_ADDRESS),
        ("http://[fe80::1%25eth0]/", FetchFailure.PRIVATE_ADDRESS),
        ("http://user:pw@10.0.0.1/", FetchFailure.PRIVATE_ADDRESS),
    ],
)
def test_check_url_refuses(url: str, reason: FetchFailure) -> None:
    with pytest.raises(CalendarFetchError) as caught:
        check_url(url)
    assert caught.value.reason is reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", FetchFailure.BAD_REDIRECT),
        ("http:///x", FetchFailure.BAD_REDIRECT),
        ("http://10.0.0.1/", FetchFailure.PRIVATE_ADDRESS),
    ],
)
def test_check_url_words_a_redirect_as_the_servers_doing(url: str, reason: FetchFailure) -> None:
    with pytest.raises(CalendarFetchError) as caught:
        check_url(url, redirected=True)
    assert caught.value.reason is reason


@pytest.mark.parametrize(
    "url",
    [
        "https://calendar.google.com/calendar/ical/a%40b.example/private-0123/basic.ics",
        "HTTPS://Outlook.Office365.com/owa/calendar/x@y/z/reachcalendar.ics",
        "https://p01-caldav.icloud.com:443/published/2/MTIz",
        "https://bücher.example/cal.ics",
        "https://feeds.example./cal.ics",
        "https://my_host.example/cal.ics",
        "http://8.8.8.8/cal.ics",
        "https://[2606:4700:4700::1111]/cal.ics",
        "https://[::ffff:8.8.8.8]/cal.ics",
        "  https://calendar.example/cal.ics  ",
    ],
)
def test_check_url_accepts(url: str) -> None:
    assert check_url(url).scheme in ("http", "https")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.255",
        "0.0.0.0",  # noqa: S104  # an address to refuse, not one to bind
        "0.1.2.3",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "198.18.0.1",
        "198.51.100.7",
        "203.0.113.9",
        "::",
        "::1",
        "::127.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:100.64.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::1",
        "2001::1",
        "2001:db8::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "fe80::1%eth0",
        "fec0::1",
        "ff02::1",
        "ff0e::1",
        "100::1",
    ],
)
def test_not_public(address: str) -> None:
    assert not is_public_address(ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "169.253.255.255",
        "223.255.255.254",
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_public(address: str) -> None:
    assert is_public_address(ip_address(address))


def _spell(value: int, parts: int, bases: list[str]) -> str:
    """``value`` the way inet_aton reads ``parts`` numbers: a.b.c.d, a.b.c16, a.b24, a32."""
    widths = {1: [32], 2: [8, 24], 3: [8, 8, 16], 4: [8, 8, 8, 8]}[parts]
    numbers: list[int] = []
    remaining = 32
    for width in widths:
        remaining -= width
        numbers.append((value >> remaining) & ((1 << width) - 1))
    spelled: dict[str, Callable[[int], str]] = {
        "dec": str,
        "oct": lambda n: f"0{n:o}",
        "hex": lambda n: f"0x{n:x}",
    }
    return ".".join(spelled[base](n) for n, base in zip(numbers, bases, strict=False))


@given(
    value=st.integers(0, 2**32 - 1),
    parts=st.integers(1, 4),
    bases=st.lists(st.sampled_from(["dec", "oct", "hex"]), min_size=4, max_size=4),
)
def test_every_spelling_of_an_ipv4_address_gets_the_same_verdict(
    value: int, parts: int, bases: list[str]
) -> None:
    address = IPv4Address(value)
    host = _spell(value, parts, bases)
    assert socket.inet_aton(host) == address.packed  # the spelling means that address

    try:
        check_url(f"http://{host}:8080/cal.ics")
    except CalendarFetchError as error:
        reason: FetchFailure | None = error.reason
    else:
        reason = None

    if not is_public_address(address):
        assert reason is FetchFailure.PRIVATE_ADDRESS
    elif host == str(address):
        assert reason is None
    else:
        assert reason is FetchFailure.INVALID_URL


async def test_the_guarded_resolver_checks_every_answer() -> None:
    inner = TableResolver({"mixed.example": [PUBLIC, "10.0.0.1"], "ok.example": [PUBLIC]})
    guard = GuardedResolver(inner)

    with pytest.raises(CalendarFetchError) as caught:
        await guard.resolve("mixed.example", 443)
    answers = await guard.resolve("ok.example", 443)

    assert caught.value.reason is FetchFailure.PRIVATE_ADDRESS
    assert [(a["host"], a["port"]) for a in answers] == [(PUBLIC, 443)]


@given(
    body=st.sampled_from(
        [FEED, b"\xef\xbb\xbf" + FEED, b"\xef\xbb\xbf\r\n " + FEED, HTML, b"\xef\xbb", b" ", b""]
    ),
    cuts=st.lists(st.integers(0, 80), max_size=6),
)
def test_the_sniffer_does_not_care_how_the_body_is_cut(body: bytes, cuts: list[int]) -> None:
    whole = _Sniffer()
    whole.feed(body)
    pieces = _Sniffer()
    edges = [0, *sorted(cuts), len(body)]
    for start, end in itertools.pairwise(edges):
        pieces.feed(body[start:end])
    expected = body.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"BEGIN:VCALENDAR")
    assert bool(pieces.verdict) == bool(whole.verdict) == expected


# --- settings -------------------------------------------------------------------------------


def test_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings()
    assert (
        defaults.calendar_allow_private,
        defaults.calendar_timeout_seconds,
        defaults.calendar_max_redirects,
        defaults.calendar.max_bytes,
    ) == (False, 10, 3, 5 * MB)

    monkeypatch.setenv("BASELINE_CALENDAR_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("BASELINE_CALENDAR_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("BASELINE_CALENDAR_MAX_REDIRECTS", "0")
    changed = load_settings()
    assert (
        changed.calendar_allow_private,
        changed.calendar_timeout_seconds,
        changed.calendar_max_redirects,
    ) == (True, 2.5, 0)
