"""Parsing calendar feeds in worker processes, so a big feed never stalls the event loop.

Parsing is CPU-bound and holds the GIL, and icalendar keeps a process-global time-zone
cache, so threads are no use: :class:`FeedParser` runs ``workers`` child processes
(``python -m bot.parse_worker``) and talks to them over their stdin/stdout pipes from the
event loop itself. No executor thread sits in the bot's process: a thread would fight the
loop for the GIL and stall it for milliseconds on every hand-off.

Frames both ways are a 4-byte big-endian length and a pickle. A request is
``(id, body, first_day, last_day, zone, email, max_bytes, max_events)``; an answer is
``(id, "ok", [(start, end), ...])`` in UTC epoch seconds, ``(id, "error", sentence)`` for
a feed that cannot be read, or ``(id, "failed", exception name)`` for a bug. Pickles only
ever come from Baseline's own processes. A worker that dies fails what it had in hand
(:class:`ParserFailedError`: try again later) and is started again for the next feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pickle
import struct
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from nudges.calendar import CalendarError, CalendarLimits, busy_intervals
from nudges.clock import BusyInterval

_LENGTH = struct.Struct(">I")
# Workers run at a lower priority than the bot: when cores are short, Slack is answered first.
PARSE_NICENESS = 10
# A frame bigger than this is not from a worker of ours.
_MAX_FRAME = 256 * 1024 * 1024

Spans = list[tuple[float, float]]


class ParserFailedError(Exception):
    """A parse worker died (out of memory, a crash in a C extension): may pass, try later."""


def parse_spans(
    body: bytes,
    *,
    first_day: date,
    last_day: date,
    zone: str,
    email: str | None,
    limits: CalendarLimits,
) -> Spans:
    """The busy time of ``body`` as plain (start, end) UTC epoch seconds."""
    busy = busy_intervals(
        body, first_day=first_day, last_day=last_day, tz=ZoneInfo(zone), email=email, limits=limits
    )
    return [(b.start.timestamp(), b.end.timestamp()) for b in busy]


class FeedParser:
    """Turns feeds into busy time, in ``workers`` processes (0: in this process, blocking
    the loop while it parses; for tests and tiny installs)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: list[_Worker] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._starting = asyncio.Lock()

    async def busy(
        self,
        body: bytes,
        *,
        first_day: date,
        last_day: date,
        tz: ZoneInfo,
        email: str | None,
        limits: CalendarLimits,
    ) -> list[BusyInterval]:
        """Raises CalendarError for a feed that cannot be read, ParserFailedError when the
        worker died."""
        parse = partial(
            parse_spans,
            body,
            first_day=first_day,
            last_day=last_day,
            zone=tz.key,
            email=email,
            limits=limits,
        )
        if self.workers == 0:
            spans = parse()
        else:
            worker = await self._least_busy()
            spans = await worker.parse(
                (body, first_day, last_day, tz.key, email, limits.max_bytes, limits.max_events)
            )
        return [
            BusyInterval(
                start=datetime.fromtimestamp(start, tz=UTC), end=datetime.fromtimestamp(end, tz=UTC)
            )
            for start, end in spans
        ]

    @property
    def pids(self) -> list[int]:
        return [w.process.pid for w in self._pool if w.alive]

    async def start(self) -> None:
        """Start the workers now rather than at the first parse."""
        if self.workers:
            await self._least_busy()

    async def _least_busy(self) -> _Worker:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Workers talk through pipes bound to one event loop (tests run several).
            self.close()
            self._loop = loop
            self._starting = asyncio.Lock()
        if len(self._pool) < self.workers or not all(w.alive for w in self._pool):
            async with self._starting:
                self._pool = [w for w in self._pool if w.alive]
                while len(self._pool) < self.workers:
                    self._pool.append(await _Worker.start())
        return min(self._pool, key=lambda w: len(w.waiting))

    def close(self) -> None:
        """Stop the workers at once (from outside the event loop, or when it is gone)."""
        pool, self._pool = self._pool, []
        for worker in pool:
            worker.stop()

    async def aclose(self) -> None:
        """Stop the workers and wait until they have exited and their pipes are closed."""
        pool, self._pool = self._pool, []
        for worker in pool:
            worker.stop()
        await asyncio.gather(*(worker.process.wait() for worker in pool))
        await asyncio.gather(*(w.reader for w in pool if w.reader), return_exceptions=True)


@dataclass
class _Worker:
    process: asyncio.subprocess.Process
    waiting: dict[int, asyncio.Future[Spans]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=itertools.count)
    reader: asyncio.Task[None] | None = None
    alive: bool = True

    @classmethod
    async def start(cls) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.parse_worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=_MAX_FRAME,
        )
        worker = cls(process)
        worker.reader = asyncio.create_task(worker._read_answers())
        return worker

    async def parse(self, request: tuple[Any, ...]) -> Spans:
        if not self.alive or self.process.stdin is None:
            raise ParserFailedError
        number = next(self.ids)
        answer: asyncio.Future[Spans] = asyncio.get_running_loop().create_future()
        self.waiting[number] = answer
        frame = pickle.dumps((number, *request), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.process.stdin.write(_LENGTH.pack(len(frame)) + frame)
            await self.process.stdin.drain()
        except (ConnectionError, RuntimeError):
            self._died()
        return await answer

    async def _read_answers(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None  # noqa: S101 - created with a pipe
        try:
            while True:
                size = _LENGTH.unpack(await stdout.readexactly(_LENGTH.size))[0]
                # Our own child's answer (see the module docstring).
                number, kind, value = pickle.loads(await stdout.readexactly(size))  # noqa: S301
                answer = self.waiting.pop(number, None)
                if answer is None or answer.done():
                    continue
                if kind == "ok":
                    answer.set_result(value)
                elif kind == "error":
                    answer.set_exception(CalendarError(value))
                else:
                    answer.set_exception(ParserFailedError(value))
        except (asyncio.IncompleteReadError, ConnectionError, pickle.UnpicklingError):
            pass
        finally:
            self._died()

    def _died(self) -> None:
        self.alive = False
        waiting, self.waiting = self.waiting, {}
        for answer in waiting.values():
            if not answer.done():
                answer.set_exception(ParserFailedError())
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    def stop(self) -> None:
        self.alive = False
        if self.reader is not None:
            self.reader.cancel()
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()


# --- the worker process --------------------------------------------------------------------


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Answer parse requests until the parent closes the pipe."""
    while True:
        head = stdin.read(_LENGTH.size)
        if len(head) < _LENGTH.size:
            return
        (size,) = _LENGTH.unpack(head)
        # From the parent process only (see the module docstring).
        number, body, first_day, last_day, zone, email, max_bytes, max_events = pickle.loads(  # noqa: S301
            stdin.read(size)
        )
        limits = CalendarLimits(max_bytes=max_bytes, max_events=max_events)
        try:
            answer: tuple[Any, ...] = (
                number,
                "ok",
                parse_spans(
                    body,
                    first_day=first_day,
                    last_day=last_day,
                    zone=zone,
                    email=email,
                    limits=limits,
                ),
            )
        except CalendarError as exc:
            answer = (number, "error", str(exc))
        except Exception as exc:  # a bug must not take the worker (and its queue) down
            answer = (number, "failed", type(exc).__name__)
        frame = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.write(_LENGTH.pack(len(frame)) + frame)
        stdout.flush()


if __name__ == "__main__":
    # Parsing is background work: the bot's own process (answering Slack) goes first.
    os.nice(PARSE_NICENESS)
    serve(sys.stdin.buffer, sys.stdout.buffer)
