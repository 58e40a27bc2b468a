"""``GET /metrics`` in Prometheus's text format, one registry per web app (none global, so
tests can build many apps in one process).

Two sources. This instance's own requests are counted as they happen (kind and outcome, and
how long the ack took). The shared delivery and sync counters and the due queue live in
Redis (``bot.queue``); Prometheus collectors are synchronous, so a scrape reads Redis first,
then renders. Every instance reports the same shared totals: aggregate them with ``max``,
not ``sum``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import parse_qs

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from redis.exceptions import RedisClusterException, RedisError

from bot.clock import Clock, SystemClock
from bot.health import SlackAuthCheck
from bot.queue import Counters, DropReason, DueQueue, QueueDepth
from bot.store import RedisClient

logger = logging.getLogger(__name__)

SLACK_PATH: Final = "/slack/events"
METRICS_PATH: Final = "/metrics"
# The classic text format, which every Prometheus reads (generate_latest writes it).
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
# Slack waits 3 s for an ack; the buckets are dense below that and say when it was missed.
ACK_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 3.0, 5.0)
# A scrape never waits on a hung Redis for longer than this.
REDIS_READ_SECONDS: Final = 2.0

# Counters in the shared hash, by the metric each becomes (bot.queue.Counters names them).
NUDGE_OUTCOMES: Final = ("planned", "sent", "expired", "deduplicated")
QUEUE_EVENTS: Final = ("recovered", "lease_lost")
RATE_LIMITED: Final = "rate_limited"
DROPPED, SYNC, SIGNAL = "dropped:", "sync:", "signal:"

_PAYLOAD_KINDS: Final = {
    "block_actions": "action",
    "interactive_message": "action",
    "dialog_submission": "action",
    "view_submission": "view",
    "view_closed": "view",
    "block_suggestion": "options",
    "dialog_suggestion": "options",
    "shortcut": "shortcut",
    "message_action": "shortcut",
}


@dataclass(frozen=True, slots=True)
class SharedFigures:
    """What one scrape read from Redis."""

    counters: dict[str, int]
    depth: QueueDepth | None
    now: datetime


class BaselineMetrics:
    """The registry of one web app and what fills it; :meth:`attach` adds the route and the
    middleware that counts and times every ``POST /slack/events``."""

    def __init__(
        self,
        *,
        redis: RedisClient,
        queue: DueQueue | None = None,
        clock: Clock | None = None,
        slack_auth: SlackAuthCheck | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "baseline_slack_requests",
            "Requests from Slack by kind and outcome (ok, rejected, unhandled, error).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "baseline_slack_ack_seconds",
            "Time from a Slack request's arrival to its HTTP response (Slack allows 3 s).",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.shared = SharedCollector(slack_auth=slack_auth)
        self.registry.register(self.shared)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._counters = queue.counters if queue is not None else Counters(redis)
        self._queue = queue
        self._clock = clock or SystemClock()

    def attach(self, web_app: web.Application) -> None:
        web_app.middlewares.append(self.observe)
        web_app.router.add_get(METRICS_PATH, self.scrape)

    async def read_shared(self) -> SharedFigures | None:
        """The shared counters and the queue's depth, or None when Redis does not answer."""
        try:
            async with asyncio.timeout(REDIS_READ_SECONDS):
                counters = await self._counters.read()
                depth = await self._queue.depth() if self._queue is not None else None
        # RedisClusterException: a cluster client that reaches none of its nodes.
        except (RedisError, RedisClusterException, OSError, TimeoutError) as exc:
            logger.warning("metrics: Redis unreachable (%s)", type(exc).__name__)
            return None
        return SharedFigures(counters=counters, depth=depth, now=self._clock.now())

    def render(self, figures: SharedFigures | None) -> bytes:
        # No await between setting the figures and rendering: concurrent scrapes cannot mix.
        self.shared.figures = figures
        return generate_latest(self.registry)

    async def scrape(self, _request: web.Request) -> web.Response:
        body = self.render(await self.read_shared())
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    @web.middleware
    async def observe(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != SLACK_PATH or request.method != "POST":
            return await handler(request)
        started = time.perf_counter()
        kind, status = "other", 500
        try:
            # aiohttp keeps the body, so Bolt reads the same bytes again for free.
            kind = request_kind(await request.read(), request.content_type)
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            elapsed = time.perf_counter() - started
            self.requests.labels(kind, outcome_of(status)).inc()
            self.ack_seconds.labels(kind).observe(elapsed)
            logger.debug("%s request answered %d in %.1f ms", kind, status, elapsed * 1000)


class SharedCollector(Collector):
    """Renders the figures the last scrape read from Redis, plus the Slack auth state."""

    def __init__(self, *, slack_auth: SlackAuthCheck | None) -> None:
        self.figures: SharedFigures | None = None
        self._slack_auth = slack_auth

    def describe(self) -> Iterable[Metric]:
        return []  # the families depend on what Redis holds; nothing to check up front

    def collect(self) -> Iterable[Metric]:
        if self._slack_auth is not None:
            yield GaugeMetricFamily(
                "baseline_slack_auth_ok",
                "1 once auth.test accepted the bot token at start-up.",
                value=int(self._slack_auth.ok),
            )
        figures = self.figures
        yield GaugeMetricFamily(
            "baseline_redis_up",
            "1 if this scrape could read Redis; the shared figures below are absent otherwise.",
            value=int(figures is not None),
        )
        if figures is None:
            return
        yield from counter_families(figures.counters)
        if figures.depth is not None:
            yield from queue_families(figures.depth, now=figures.now)


def counter_families(counters: dict[str, int]) -> Iterator[Metric]:
    """The shared counters hash as labelled Prometheus counters (known series start at 0)."""
    nudges = CounterMetricFamily(
        "baseline_nudges", "Nudges by outcome, all instances.", labels=["outcome"]
    )
    dropped = CounterMetricFamily(
        "baseline_nudges_dropped", "Due nudges not sent, by reason.", labels=["reason"]
    )
    syncs = CounterMetricFamily(
        "baseline_calendar_syncs", "Calendar syncs by result.", labels=["result"]
    )
    signals = CounterMetricFamily(
        "baseline_live_signals", "Live signals that queued a reset, by kind.", labels=["kind"]
    )
    queue = CounterMetricFamily(
        "baseline_queue_events",
        "Claims recovered after a lost instance, and leases lost mid-send.",
        labels=["event"],
    )
    other = CounterMetricFamily(
        "baseline_other_counters",
        "Shared counters this version has no metric for.",
        labels=["name"],
    )
    for name in NUDGE_OUTCOMES:
        nudges.add_metric([name], counters.get(name, 0))
    for reason in DropReason:
        dropped.add_metric([reason.value], counters.get(DROPPED + reason.value, 0))
    for name in QUEUE_EVENTS:
        queue.add_metric([name], counters.get(name, 0))
    known = {*NUDGE_OUTCOMES, *QUEUE_EVENTS, RATE_LIMITED}
    known |= {DROPPED + reason.value for reason in DropReason}
    for name, value in counters.items():
        if name in known:
            continue
        if name.startswith(DROPPED):
            dropped.add_metric([name.removeprefix(DROPPED)], value)
        elif name.startswith(SYNC):
            syncs.add_metric([name.removeprefix(SYNC)], value)
        elif name.startswith(SIGNAL):
            signals.add_metric([name.removeprefix(SIGNAL)], value)
        else:
            other.add_metric([name], value)
    yield nudges
    yield dropped
    yield syncs
    yield signals
    yield queue
    yield CounterMetricFamily(
        "baseline_slack_rate_limited",
        "Slack 429 answers to nudge DMs.",
        value=counters.get(RATE_LIMITED, 0),
    )
    if other.samples:
        yield other


def queue_families(depth: QueueDepth, *, now: datetime) -> Iterator[Metric]:
    jobs = GaugeMetricFamily(
        "baseline_queue_jobs", "Nudges in the due queue, by state.", labels=["state"]
    )
    jobs.add_metric(["scheduled"], depth.scheduled)
    jobs.add_metric(["ready"], depth.ready)
    jobs.add_metric(["leased"], depth.leased)
    yield jobs
    lag = 0.0 if depth.oldest_due is None else max(0.0, (now - depth.oldest_due).total_seconds())
    yield GaugeMetricFamily(
        "baseline_queue_lag_seconds",
        "How long the longest-waiting due nudge has waited (0 when none is waiting).",
        value=lag,
    )


def request_kind(body: bytes, content_type: str) -> str:
    """command, action, view, options, shortcut, event or other, from the raw body."""
    try:
        if content_type == "application/json":
            payload = json.loads(body)
            return "event" if payload.get("type") == "event_callback" else "other"
        form = parse_qs(body.decode(), max_num_fields=100)
        if "command" in form:
            return "command"
        if "payload" in form:
            kind = json.loads(form["payload"][0]).get("type")
            return _PAYLOAD_KINDS.get(kind, "other")
    except (ValueError, AttributeError):  # not JSON, not UTF-8, too many fields, not an object
        return "other"
    return "other"


def outcome_of(status: int) -> str:
    if 200 <= status < 300:
        return "ok"
    if status == 404:
        return "unhandled"  # no listener claimed it
    if 400 <= status < 500:
        return "rejected"  # a bad signature, a stale timestamp, a malformed body
    return "error"
