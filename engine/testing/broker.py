"""A throwaway RabbitMQ for tests and benchmarks: Debian's `rabbitmq-server`, run as the current
user on free ports with its own data directory, stopped (and its files removed) after.

    with LocalBroker() as broker:          # starts it; waits until it takes connections
        BusAddress("127.0.0.1", broker.port)  # guest, on loopback (engine.bus.address)
        broker.stop(); broker.start()      # a broker restart, its durable queues kept

`LocalBroker.available()` says whether the machine has the server (`apt-get install rabbitmq-server`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

#: Debian's start script without its wrapper (which would switch to the rabbitmq user).
SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
#: [ours] How long a broker may take to start on a busy 2-core machine.
START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalBroker:
    """One RabbitMQ node of our own (see the module docstring). `consumer_timeout` (ms) is the
    broker's delivery acknowledgement timeout; `heartbeat` (s) what it offers clients."""

    def __init__(self, consumer_timeout: int = 4 * 3600 * 1000, heartbeat: int = 5) -> None:
        self.port = free_port()
        self.dist_port = free_port()
        self.consumer_timeout = consumer_timeout
        self.heartbeat = heartbeat
        self.home = Path(tempfile.mkdtemp(prefix="ttengine-broker-"))
        self.node = f"ttengine{self.port}@localhost"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.home / "server.out"

    @staticmethod
    def available() -> bool:
        """True when Debian's rabbitmq-server is installed."""
        return SERVER.exists() and shutil.which("erl") is not None

    def __enter__(self) -> LocalBroker:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def _environment(self) -> dict[str, str]:
        config = self.home / "rabbitmq.conf"
        config.write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            f"consumer_timeout = {self.consumer_timeout}\n"
            f"heartbeat = {self.heartbeat}\n"
            "log.console = true\nlog.file = false\n"
        )
        (self.home / "enabled_plugins").write_text("[].\n")
        return {
            **os.environ,
            "HOME": str(self.home),  # the Erlang cookie
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(config.with_suffix("")),
            "RABBITMQ_MNESIA_BASE": str(self.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.home / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.home / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.home / "pid"),
        }

    def start(self) -> None:
        """Start the node (again, after `stop`: its durable queues and messages kept) and wait until
        it takes AMQP connections. RuntimeError, with the end of its log, when it does not."""
        if not self.available():
            raise RuntimeError("rabbitmq-server is not installed: apt-get install rabbitmq-server")
        # A shell runs the server and watches us: should this process die without stopping it
        # (kill -9, a crashed test worker), the server is stopped within a second, not left behind.
        watch = (
            f'"{SERVER}" & server=$!\n'
            "trap 'kill -TERM $server 2>/dev/null; wait $server; exit 0' TERM\n"
            f"while kill -0 {os.getpid()} 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 1; done\n"
            "kill -TERM $server 2>/dev/null; wait $server\n"
        )
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                ["/bin/sh", "-c", watch],
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self._ready():
                return
            time.sleep(0.2)
        tail = self.log.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"rabbitmq-server did not start on port {self.port}:\n{tail}")

    def server_pid(self) -> int | None:
        """The process id of the node's Erlang VM (from its pid file), None before it wrote one."""
        try:
            return int((self.home / "pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def _ready(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            sock.settimeout(2)
            return sock.recv(1) == b"\x01"  # a Connection.Start frame: it speaks AMQP
        return False

    def stop(self) -> None:
        """Stop the node and wait for it (its Erlang VM and children)."""
        process = self.process
        if process is None:
            return
        self.process = None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
