"""Signed ``/feel 3 tired`` requests at the HTTP endpoint: Baseline vs a bare Bolt app.

Run with ``make bench-http`` (or ``python -m bench.feel_http``). Both servers run as their
own processes on this machine; Baseline uses a throwaway ``redis-server`` and answers
through a local fake Slack exactly as in production. The load generator
keeps ``--concurrency`` requests in flight for ``--requests`` requests per target and
prints requests/s and ack latency p50/p99 for both. Baseline's answer (with the person's
trend) travels in the ack, so its ack latency includes the Redis round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from redis.asyncio import Redis

from bot.vault import Vault
from tests.support.fake_slack import FakeSlack
from tests.support.redis_server import RedisServer, free_port
from tests.support.signing import signed_headers, slash_command_body

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"


@contextmanager
def server(module: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after the process
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, *module],
        env={**os.environ, **env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    except BaseException:
        log.seek(0)
        sys.stderr.write(log.read().decode(errors="replace")[-3000:])
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


async def wait_until_up(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.post(f"{url}/slack/events", data=b"") as response:
                    if response.status in (200, 401, 404):
                        return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        raise RuntimeError(f"server at {url} did not start")


async def drive(
    url: str, slack: FakeSlack, *, requests: int, concurrency: int
) -> tuple[float, list[float], int]:
    """Send ``requests`` signed /feel commands; returns (seconds, ack latencies, acks that
    carried an answer)."""
    latencies: list[float] = []
    answered: list[int] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)

    async def worker(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            body = slash_command_body(
                command="/feel",
                text="3 tired",
                user_id=f"U{i % 500:05d}",
                response_url=slack.response_url(),
            )
            headers = signed_headers(SECRET, body)
            start = time.perf_counter()
            async with http.post(f"{url}/slack/events", data=body, headers=headers) as response:
                answer = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")
            latencies.append(time.perf_counter() - start)
            if answer:
                answered.append(i)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        start = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        return time.perf_counter() - start, latencies, len(answered)


async def count_logs(url: str) -> int:
    client = Redis.from_url(url)
    try:
        total = 0
        async for key in client.scan_iter(match="bl:*:feel"):
            total += await client.zcard(key)
        return total
    finally:
        await client.aclose()


def report(name: str, seconds: float, latencies: list[float]) -> float:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    rate = len(ordered) / seconds
    print(f"{name:<10}{rate:>10.0f} req/s   ack p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")
    return rate


async def main_async(requests: int, concurrency: int) -> None:
    with RedisServer() as redis_server:
        async with FakeSlack() as slack:
            env = {
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack.base_url,
                "REDIS_URL": redis_server.url,
                "BASELINE_ENCRYPTION_KEY": Vault.new_key(),
            }
            rates = {}
            for name, module in (
                ("bare bolt", ["-m", "bench.bare_app"]),
                ("baseline", ["-m", "bot.cli", "run"]),
            ):
                port = free_port()
                with server(module, env, port) as url:
                    await wait_until_up(url)
                    await drive(url, slack, requests=50, concurrency=4)  # warm-up
                    slack.clear()
                    seconds, latencies, answered = await drive(
                        url, slack, requests=requests, concurrency=concurrency
                    )
                    rates[name] = report(name, seconds, latencies)
                    if name == "baseline":
                        stored = await count_logs(redis_server.url)
                        print(
                            f"{'':<10}{answered} of {requests} acks carried the answer; "
                            f"{stored} feel logs in Redis (incl. warm-up)"
                        )
            print(f"throughput ratio baseline / bare: {rates['baseline'] / rates['bare bolt']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(f"/feel over HTTP · {args.requests} requests · {args.concurrency} in flight · 2 cores")
    asyncio.run(main_async(args.requests, args.concurrency))


if __name__ == "__main__":
    main()
