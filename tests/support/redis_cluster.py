"""A throwaway three-node Redis Cluster for tests: three `redis-server` primaries on free local
ports, joined with `redis-cli --cluster create`, no replicas, no persistence.

Like :mod:`tests.support.redis_server`, never a fake and never the shared Redis on 6379: if
`redis-cli` cannot be found, starting fails with a message saying how to get it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.support.redis_server import (
    HOST,
    SHARED_REDIS_PORT,
    RedisServer,
    RedisServerError,
    find_redis_server,
    free_port,
)

# A cluster node also listens on its port + 10000 (the cluster bus), so both must be free.
BUS_OFFSET = 10_000
_START_ATTEMPTS = 3
_POLL_INTERVAL = 0.05


def find_redis_cli(redis_server: str | None = None) -> str:
    """The `redis-cli` next to ``redis-server`` (a bundle ships both), else the one on PATH."""
    if redis_server is not None:
        beside = Path(redis_server).with_name("redis-cli")
        if beside.is_file():
            return str(beside)
    on_path = shutil.which("redis-cli")
    if on_path is not None:
        return on_path
    raise RedisServerError(
        "No redis-cli binary found: the Redis Cluster tests join their three nodes with "
        "`redis-cli --cluster create`. Install the Redis tools (Debian/Ubuntu: `apt-get "
        "install redis-tools` or `redis-server`; macOS: `brew install redis`)."
    )


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_cluster_port(taken: set[int]) -> int:
    """A free port whose cluster-bus port (+10000) is free and below 65536 too; never 6379,
    never one of ``taken`` or their bus ports."""
    while True:
        port = free_port()
        bus = port + BUS_OFFSET
        clash = {port, bus} & ({*taken} | {p + BUS_OFFSET for p in taken})
        if bus <= 65535 and not clash and bus != SHARED_REDIS_PORT and _port_is_free(bus):
            return port


class RedisClusterNodes:
    """Three cluster-enabled `redis-server` primaries on 127.0.0.1 that share the 16384 slots.

    ``url`` names one node (a cluster client learns the others from it); ``flushall()``
    empties every primary; ``close()`` stops them all and removes their files.
    """

    def __init__(
        self,
        *,
        nodes: int = 3,
        executable: str | None = None,
        cli: str | None = None,
        startup_timeout: float = 30.0,
        node_timeout_ms: int = 5000,
    ) -> None:
        if nodes < 3:
            raise ValueError("redis-cli --cluster create needs at least three primaries")
        self.host = HOST
        self.size = nodes
        self.executable = executable if executable is not None else find_redis_server()
        # Looked up now, not after three servers are running: a missing tool fails at once.
        self.cli = cli if cli is not None else find_redis_cli(self.executable)
        self.startup_timeout = startup_timeout
        # How long a node may be silent before the others mark it failed (and, with no
        # replica to take over, the cluster says CLUSTERDOWN).
        self.node_timeout_ms = node_timeout_ms
        self.servers: list[RedisServer] = []
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    @property
    def url(self) -> str:
        if not self.servers:
            raise RedisServerError("the cluster is not started")
        return self.servers[0].url

    def port_of_slot(self, slot: int) -> int:
        """The port of the node that serves ``slot``, as the nodes themselves say
        (``CLUSTER NODES``), not as a client has cached it."""
        listing = self.servers[0].command("CLUSTER", "NODES").decode()
        for line in listing.splitlines():
            fields = line.split()
            address, ranges = fields[1], fields[8:]
            for served in ranges:
                first, _, last = served.partition("-")
                if int(first) <= slot <= int(last or first):
                    return int(address.split("@")[0].rsplit(":", 1)[1])
        raise RedisServerError(f"no node serves slot {slot}:\n{listing}")

    def start(self) -> None:
        """Start the nodes, join them and wait until every node says ``cluster_state:ok``."""
        if self.servers:
            return
        try:
            for _ in range(self.size):
                self.servers.append(self._start_node())
            self._create()
            self._wait_until_ok()
        except BaseException:
            self.close()
            raise

    def flushall(self) -> None:
        """Empty every primary (and only the nodes this object started)."""
        for server in self.servers:
            if server.port == SHARED_REDIS_PORT:
                raise RedisServerError("refusing to flush the shared Redis on port 6379")
            server.flushall()

    def close(self) -> None:
        """Stop every node and remove their working directories and cluster files."""
        servers, self.servers = self.servers, []
        for server in servers:
            server.close()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

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
            self._workdir = tempfile.TemporaryDirectory(prefix="baseline-redis-cluster-")
        return self._workdir.name

    def _start_node(self) -> RedisServer:
        # A node's port is fixed on its command line (its cluster file is named after it), so
        # a port grabbed by someone else in the meantime means trying another one.
        for attempt in range(1, _START_ATTEMPTS + 1):
            port = free_cluster_port(set(self.ports))
            server = RedisServer(
                port=port,
                executable=self.executable,
                extra_args=(
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", str(Path(self._dir()) / f"nodes-{port}.conf"),
                    "--cluster-node-timeout", str(self.node_timeout_ms),
                ),
            )  # fmt: skip
            try:
                server.start()
            except RedisServerError:
                server.close()
                if attempt == _START_ATTEMPTS:
                    raise
            else:
                return server
        raise AssertionError("unreachable: the last attempt raises")

    def _create(self) -> None:
        addresses = [f"{self.host}:{port}" for port in self.ports]
        try:
            done = subprocess.run(  # noqa: S603 - fixed arguments, our own nodes
                [self.cli, "--cluster", "create", *addresses,
                 "--cluster-replicas", "0", "--cluster-yes"],
                capture_output=True,
                text=True,
                timeout=self.startup_timeout,
                check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise RedisServerError(
                f"redis-cli --cluster create did not finish within {self.startup_timeout} s"
            ) from exc
        if done.returncode != 0 or "All 16384 slots covered" not in done.stdout:
            raise RedisServerError(
                f"redis-cli --cluster create {' '.join(addresses)} failed "
                f"(exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
            )

    def _wait_until_ok(self) -> None:
        # `--cluster create` returns once the nodes agree on the configuration; each node
        # still has to see every slot covered before it serves keys.
        self.wait_for_state("ok", self.servers)

    def wait_for_state(self, state: str, servers: list[RedisServer]) -> None:
        """Wait until each of ``servers`` says ``cluster_state:<state>`` (``ok``, ``fail``)."""
        deadline = time.monotonic() + self.startup_timeout
        wanted = f"cluster_state:{state}".encode()
        while True:
            states = {server.port: server.command("CLUSTER", "INFO") for server in servers}
            if all(wanted in info for info in states.values()):
                return
            if time.monotonic() > deadline:
                raise RedisServerError(
                    f"the cluster nodes {list(states)} did not reach cluster_state:{state} "
                    f"within {self.startup_timeout} s: {states}"
                )
            time.sleep(_POLL_INTERVAL)
