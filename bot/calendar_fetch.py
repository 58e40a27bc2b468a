"""Fetch a person's calendar feed (ICS) from the address they pasted, without SSRF.

The address is chosen by whoever runs the command, so it must not become a way to reach
Baseline's own network: cloud metadata at 169.254.169.254, Redis on localhost, an admin page
on 10.x. What :func:`fetch_calendar` does about it (docs: slack-facts.md, "Fetching a
user-supplied URL safely"):

* http and https only, refused before any connection;
* an address written as an IP, in any spelling ``inet_aton`` accepts (``2130706433``,
  ``0177.0.0.1``, ``127.1``, ``0x7f.0.0.1``, ``[::ffff:127.0.0.1]``), is checked before the
  request, and the legacy spellings are refused even when public;
* a host name is resolved by :class:`GuardedResolver`, which refuses the host if *any* of its
  addresses is not public and hands the connector exactly the addresses it checked, so a
  second DNS answer cannot swap in a private one;
* redirects are followed by hand, at most ``max_redirects``, and every hop is checked again;
* no proxy from the environment, one total timeout for everything, the body streamed with a
  size cap, and a body that is not an iCalendar feed stops the download at its first bytes.

The address is a secret (whoever has it can read the calendar): nothing here logs it or puts
it in an exception; logs name the host at most.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from nudges.calendar import CalendarError, CalendarLimits

logger = logging.getLogger(__name__)

IPAddress = IPv4Address | IPv6Address
AddressCheck = Callable[[IPAddress], bool]

_SCHEMES = frozenset({"http", "https"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_USER_AGENT = "Baseline calendar sync"
_ACCEPT = "text/calendar, text/plain;q=0.5, */*;q=0.1"
_BOM = b"\xef\xbb\xbf"
_MARKER = b"BEGIN:VCALENDAR"
# A label inet_aton reads as a number: decimal, 0-prefixed octal or 0x-prefixed hex.
_NUMERIC_LABEL = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)")
# What a host name may hold once yarl has IDNA-encoded it (underscores do occur in the wild).
_HOST_NAME = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?")

# Not public, whatever the ipaddress module of this Python release thinks: is_global has
# changed between releases, so the ranges the brief names are spelled out as well.
_DENIED_V4 = tuple(
    IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches localhost on Linux
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT, often a provider's internal network
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, home of cloud metadata services
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
    )
)
_DENIED_V6 = tuple(
    IPv6Network(net)
    for net in (
        "::/96",  # unspecified, loopback and the deprecated IPv4-compatible form
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments, Teredo included
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
# IPv6 forms that carry an IPv4 address which a gateway may end up connecting to.
_NAT64 = IPv6Network("64:ff9b::/96")


class FetchStatus(StrEnum):
    FETCHED = "fetched"
    NOT_MODIFIED = "not_modified"


class FetchFailure(StrEnum):
    """Why a calendar could not be fetched; :meth:`message` says it to the person."""

    INVALID_URL = "invalid_url"
    BAD_SCHEME = "bad_scheme"
    PRIVATE_ADDRESS = "private_address"
    DNS_FAILED = "dns_failed"
    CONNECT_FAILED = "connect_failed"
    CERTIFICATE = "certificate"
    TIMEOUT = "timeout"
    TOO_BIG = "too_big"
    NOT_A_CALENDAR = "not_a_calendar"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    GONE = "gone"
    SERVER_ERROR = "server_error"
    HTTP_ERROR = "http_error"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BAD_REDIRECT = "bad_redirect"
    BROKEN_RESPONSE = "broken_response"

    @property
    def transient(self) -> bool:
        """True when trying again later may work without the person doing anything."""
        return self in _TRANSIENT

    def message(
        self,
        *,
        status: int | None = None,
        max_bytes: int | None = None,
        timeout: float | None = None,
        max_redirects: int | None = None,
    ) -> str:
        """One plain sentence for the person (lower-case start, no full stop, like
        :class:`~nudges.calendar.CalendarError`); the numbers fill in what it mentions."""
        return _MESSAGES[self].format(
            status=status if status is not None else "no",
            limit=f"the limit is {max_bytes / 1e6:g} MB" if max_bytes else "it is over the limit",
            seconds=_seconds(timeout) if timeout is not None else "the time allowed",
            redirects=max_redirects if max_redirects is not None else "a few",
        )


_TRANSIENT = frozenset(
    {
        FetchFailure.DNS_FAILED,
        FetchFailure.CONNECT_FAILED,
        FetchFailure.TIMEOUT,
        FetchFailure.SERVER_ERROR,
        FetchFailure.HTTP_ERROR,
        FetchFailure.BROKEN_RESPONSE,
    }
)

# Every sentence a failed fetch can say, in one place.
_MESSAGES: dict[FetchFailure, str] = {
    FetchFailure.INVALID_URL: (
        "that does not look like a web address: copy the calendar's secret address again"
    ),
    FetchFailure.BAD_SCHEME: (
        "that address is not a web address: a calendar link starts with https:// or http://"
    ),
    FetchFailure.PRIVATE_ADDRESS: (
        "that address points inside a private network, which Baseline never fetches"
    ),
    FetchFailure.DNS_FAILED: (
        "the calendar server's name could not be found: check the address, or copy it again"
    ),
    FetchFailure.CONNECT_FAILED: (
        "the calendar server could not be reached just now: Baseline will try again later"
    ),
    FetchFailure.CERTIFICATE: (
        "the calendar server's security certificate is not valid, so Baseline did not read it"
    ),
    FetchFailure.TIMEOUT: "the calendar server did not answer within {seconds}",
    FetchFailure.TOO_BIG: "the calendar is too big ({limit})",
    FetchFailure.NOT_A_CALENDAR: (
        "that is not a calendar: the address did not give an iCalendar (.ics) feed"
    ),
    FetchFailure.UNAUTHORIZED: (
        "the calendar server said 401: the link may have been reset — copy the secret address again"
    ),
    FetchFailure.FORBIDDEN: (
        "the calendar server said 403: the link may have been reset or made private — "
        "copy the secret address again"
    ),
    FetchFailure.NOT_FOUND: (
        "the calendar server said 404: the calendar was not found — "
        "check the address, or copy it again"
    ),
    FetchFailure.GONE: (
        "the calendar server said 410: the calendar was removed — copy the secret address again"
    ),
    FetchFailure.SERVER_ERROR: (
        "the calendar server said {status}: it is having trouble, so Baseline will try again later"
    ),
    FetchFailure.HTTP_ERROR: (
        "the calendar server said {status}, which Baseline did not expect: it will try again later"
    ),
    FetchFailure.TOO_MANY_REDIRECTS: (
        "the calendar address sent Baseline on more than {redirects} times, so it stopped following"
    ),
    FetchFailure.BAD_REDIRECT: ("the calendar server sent Baseline on to an address it cannot use"),
    FetchFailure.BROKEN_RESPONSE: (
        "the calendar server broke off its answer: Baseline will try again later"
    ),
}

_STATUS_FAILURES = {
    401: FetchFailure.UNAUTHORIZED,
    403: FetchFailure.FORBIDDEN,
    404: FetchFailure.NOT_FOUND,
    410: FetchFailure.GONE,
}


def _seconds(timeout: float) -> str:
    return "1 second" if timeout == 1 else f"{timeout:g} seconds"


class CalendarFetchError(CalendarError):
    """A fetch that failed; ``str()`` is the person-facing sentence, ``reason`` the cause.

    Never carries the address (nor an exception that quotes it).
    """

    def __init__(
        self, reason: FetchFailure, message: str | None = None, *, status: int | None = None
    ) -> None:
        super().__init__(message or reason.message(status=status))
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a fetch brought back. ``host`` is the last hop's host: log it, never the URL."""

    status: FetchStatus
    host: str
    etag: str | None
    last_modified: str | None
    body: bytes | None = None
    content_hash: str | None = None  # sha256 hex of body, when fetched


# --- addresses -----------------------------------------------------------------------------


def is_public_address(ip: IPAddress) -> bool:
    """True only for an address on the public internet (the default address check).

    IPv4-mapped (``::ffff:10.0.0.1``) and NAT64 (``64:ff9b::a00:1``) IPv6 addresses are judged
    as the IPv4 address they carry; a 6to4 address (``2002:a00:1::``) is refused when the IPv4
    address inside is not public.
    """
    if isinstance(ip, IPv6Address):
        embedded = ip.ipv4_mapped
        if embedded is None and ip in _NAT64:
            embedded = IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
        if ip.sixtofour is not None and not is_public_address(ip.sixtofour):
            return False
        if any(ip in net for net in _DENIED_V6):
            return False
    elif any(ip in net for net in _DENIED_V4):
        return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _allow_any(ip: IPAddress) -> bool:
    return True


def literal_address(host: str) -> tuple[IPAddress, bool] | None:
    """The IP address a URL host spells, and whether it is spelled canonically; ``None`` for
    a host name. Numeric forms are read the way ``inet_aton`` (and so ``getaddrinfo``) reads
    them: ``2130706433``, ``0177.0.0.1``, ``127.1`` and ``0x7f.0.0.1`` are all 127.0.0.1.

    Raises ``ValueError`` for a host that looks like an address but is none.
    """
    bare = host.removeprefix("[").removesuffix("]")
    if ":" in bare:
        address = ip_address(bare.replace("%25", "%"))  # ValueError for a broken IPv6
        return address, True
    # A trailing dot still reaches the same address.
    bare = bare.rstrip(".")
    labels = bare.split(".")
    if not _NUMERIC_LABEL.fullmatch(labels[-1]):
        return None
    # The last label is a number, so browsers and inet_aton read the host as an IPv4 address.
    if not all(_NUMERIC_LABEL.fullmatch(label) for label in labels):
        raise ValueError("not an IPv4 address")
    try:
        packed = socket.inet_aton(bare)
    except OSError as exc:
        raise ValueError("not an IPv4 address") from exc
    address = IPv4Address(packed)
    return address, str(address) == host


def check_url(
    url: str | URL, *, is_allowed: AddressCheck = is_public_address, redirected: bool = False
) -> URL:
    """The parsed URL if Baseline may request it, else :class:`CalendarFetchError`.

    Pure (no DNS, no connection): the scheme, the host's shape and an IP host's address.
    A host name's addresses are checked when it is resolved (:class:`GuardedResolver`).
    ``redirected`` words the failures for a hop the server chose, not the person.
    """
    invalid = FetchFailure.BAD_REDIRECT if redirected else FetchFailure.INVALID_URL
    try:
        parsed = url if isinstance(url, URL) else URL(url.strip())
    except (ValueError, TypeError):
        raise CalendarFetchError(invalid) from None
    if parsed.scheme not in _SCHEMES:
        raise CalendarFetchError(
            FetchFailure.BAD_REDIRECT if redirected else FetchFailure.BAD_SCHEME
        )
    host = parsed.raw_host
    if not host:
        raise CalendarFetchError(invalid)
    try:
        literal = literal_address(host)
    except ValueError:
        raise CalendarFetchError(invalid) from None
    if literal is None:
        if not _HOST_NAME.fullmatch(host):
            raise CalendarFetchError(invalid)
        return parsed
    address, canonical = literal
    if not is_allowed(address):
        raise CalendarFetchError(FetchFailure.PRIVATE_ADDRESS)
    if not canonical:
        # 2130706433 or 0x7f.0.0.1 for a real calendar is a trick, even when public.
        raise CalendarFetchError(invalid)
    return parsed


class GuardedResolver(AbstractResolver):
    """Resolves with ``inner``; refuses the host if any address fails ``is_allowed``.

    The connector connects to what :meth:`resolve` returns, which is exactly what was
    checked: no second lookup can return a different (private) address.
    """

    def __init__(
        self,
        inner: AbstractResolver,
        *,
        is_allowed: AddressCheck = is_public_address,
        close_inner: bool = False,
    ) -> None:
        self._inner = inner
        self._is_allowed = is_allowed
        self._close_inner = close_inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not results:
            raise OSError(f"no address for {host}")
        checked: list[ResolveResult] = []
        for result in results:
            try:
                address = ip_address(result["host"])
            except ValueError:
                raise CalendarFetchError(FetchFailure.PRIVATE_ADDRESS) from None
            if not self._is_allowed(address):
                logger.info("calendar host %s resolves to a non-public address; refused", host)
                raise CalendarFetchError(FetchFailure.PRIVATE_ADDRESS)
            checked.append(ResolveResult(**result))
        return checked

    async def close(self) -> None:
        if self._close_inner:
            await self._inner.close()


# --- fetching ------------------------------------------------------------------------------


async def fetch_calendar(
    url: str,
    *,
    limits: CalendarLimits,
    allow_private: bool,
    timeout: float,
    max_redirects: int,
    etag: str | None = None,
    last_modified: str | None = None,
    resolver: AbstractResolver | None = None,
    is_allowed: AddressCheck = is_public_address,
) -> FetchResult:
    """GET the feed at ``url``, following at most ``max_redirects`` redirects.

    ``etag``/``last_modified`` (from the last fetch) make the request conditional, and an
    unchanged feed comes back as ``NOT_MODIFIED`` without a body. ``timeout`` bounds the whole
    fetch, redirects and body included. Raises :class:`CalendarFetchError`.

    ``allow_private`` (local development, tests) lets every address through, and nothing
    else: schemes and URL shape are still checked. Otherwise ``is_allowed`` decides which
    addresses may be connected to. ``resolver`` is the name lookup to guard (the system's by
    default); tests pass a fixed table.
    """

    def fail(reason: FetchFailure, status: int | None = None) -> CalendarFetchError:
        message = reason.message(
            status=status,
            max_bytes=limits.max_bytes,
            timeout=timeout,
            max_redirects=max_redirects,
        )
        return CalendarFetchError(reason, message, status=status)

    check = _allow_any if allow_private else is_allowed
    current = check_url(url, is_allowed=check)
    headers = {"User-Agent": _USER_AGENT, "Accept": _ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    guard = GuardedResolver(
        resolver or aiohttp.ThreadedResolver(), is_allowed=check, close_inner=resolver is None
    )
    host = current.host or ""
    try:
        async with asyncio.timeout(timeout):
            connector = aiohttp.TCPConnector(resolver=guard, use_dns_cache=False, force_close=True)
            async with aiohttp.ClientSession(
                connector=connector,
                trust_env=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
                cookie_jar=aiohttp.DummyCookieJar(),
            ) as session:
                for hop in range(max(max_redirects, 0) + 1):
                    host = current.host or ""
                    async with session.get(
                        current, headers=headers, allow_redirects=False
                    ) as response:
                        if response.status not in _REDIRECTS:
                            return await _read(
                                response, host, limits, fail, etag=etag, last_modified=last_modified
                            )
                        location = response.headers.get("Location")
                        if not location:
                            raise fail(FetchFailure.BAD_REDIRECT)
                        if hop >= max_redirects:
                            raise fail(FetchFailure.TOO_MANY_REDIRECTS)
                        try:
                            target = current.join(URL(location))
                        except (ValueError, TypeError):
                            raise fail(FetchFailure.BAD_REDIRECT) from None
                        current = check_url(target, is_allowed=check, redirected=True)
                        logger.debug("calendar at %s redirects to %s", host, current.host)
    except CalendarFetchError as exc:
        logger.debug("calendar fetch from %s failed: %s", host, exc.reason)
        raise
    except TimeoutError:
        # aiohttp's own timeouts are TimeoutErrors too.
        raise fail(FetchFailure.TIMEOUT) from None
    except aiohttp.ClientError as exc:
        # aiohttp's messages can quote the URL: name the type only, and drop the chain.
        logger.debug("calendar fetch from %s failed: %s", host, type(exc).__name__)
        raise fail(_client_failure(exc)) from None
    finally:
        await guard.close()
    raise AssertionError("unreachable: the last hop returns or raises")  # pragma: no cover


def _client_failure(exc: aiohttp.ClientError) -> FetchFailure:
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ServerFingerprintMismatch):
        return FetchFailure.CERTIFICATE
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return FetchFailure.DNS_FAILED
    if isinstance(exc, aiohttp.ClientConnectorError):
        return FetchFailure.CONNECT_FAILED
    if isinstance(exc, aiohttp.InvalidURL):
        return FetchFailure.INVALID_URL
    return FetchFailure.BROKEN_RESPONSE


async def _read(
    response: aiohttp.ClientResponse,
    host: str,
    limits: CalendarLimits,
    fail: Callable[..., CalendarFetchError],
    *,
    etag: str | None,
    last_modified: str | None,
) -> FetchResult:
    status = response.status
    if status == 304 and (etag or last_modified):
        logger.debug("calendar at %s not modified", host)
        return FetchResult(
            FetchStatus.NOT_MODIFIED,
            host=host,
            etag=response.headers.get("ETag", etag),
            last_modified=response.headers.get("Last-Modified", last_modified),
        )
    if status in _STATUS_FAILURES:
        raise fail(_STATUS_FAILURES[status], status)
    if status >= 500:
        raise fail(FetchFailure.SERVER_ERROR, status)
    if not 200 <= status < 300:
        raise fail(FetchFailure.HTTP_ERROR, status)
    length = response.content_length
    if length is not None and length > limits.max_bytes:
        raise fail(FetchFailure.TOO_BIG)
    sniffer = _Sniffer()
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limits.max_bytes:
            raise fail(FetchFailure.TOO_BIG)
        if sniffer.feed(chunk) is False:
            raise fail(FetchFailure.NOT_A_CALENDAR)
        digest.update(chunk)
        chunks.append(chunk)
    if not sniffer.verdict:
        raise fail(FetchFailure.NOT_A_CALENDAR)
    logger.debug("calendar fetched from %s: %d bytes", host, size)
    return FetchResult(
        FetchStatus.FETCHED,
        host=host,
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        body=b"".join(chunks),
        content_hash=digest.hexdigest(),
    )


class _Sniffer:
    """Decides from the first bytes whether a body is an iCalendar feed: after an optional
    UTF-8 byte-order mark and whitespace it starts with BEGIN:VCALENDAR (any case, as
    :func:`~nudges.calendar.decode_feed` reads it)."""

    def __init__(self) -> None:
        self._head = b""
        self._bom_done = False
        self.verdict: bool | None = None

    def feed(self, chunk: bytes) -> bool | None:
        if self.verdict is not None:
            return self.verdict
        head = self._head + chunk
        if not self._bom_done:
            if len(head) < len(_BOM) and _BOM.startswith(head):
                self._head = head
                return None
            head = head.removeprefix(_BOM)
            self._bom_done = True
        head = head.lstrip()
        if len(head) >= len(_MARKER):
            self.verdict = head[: len(_MARKER)].upper() == _MARKER
        elif not _MARKER.startswith(head.upper()):
            self.verdict = False
        self._head = head
        return self.verdict
