"""The supervisor keeps real processes running: restarts with backoff, gives up on one that
never gets ready, stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from interlocality.operator.supervisor import Supervisor

# Writes its pid into the file named first (it is "ready" then), then does what the second
# argument says: serve (sleep), end after a moment, or ignore SIGTERM while serving.
WORKER = """
import os, signal, sys, time
mode = sys.argv[2]
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(sys.argv[1], "w") as ready:
    ready.write(str(os.getpid()))
if mode == "brief":
    time.sleep(1)
    sys.exit(1)
time.sleep(120)
"""


class Worker:
    def __init__(self, directory: Path, name: str, mode: str) -> None:
        self.ready_file = directory / f"{name}.ready"
        self.log = directory / f"{name}.log"
        self.mode = mode

    def start(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-c", WORKER, str(self.ready_file), self.mode],
                stdout=log,
                stderr=subprocess.STDOUT,
            )


def checked_until(supervisor: Supervisor, done, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "not within the time"
        supervisor.check()
        time.sleep(0.05)


def test_a_process_that_ends_is_started_again_at_once_and_said_so(tmp_path: Path) -> None:
    said: list[str] = []
    supervisor = Supervisor(said.append)
    worker = Worker(tmp_path, "matching", "serve")

    def ready() -> bool:
        child = supervisor.children["matching"]
        return worker.ready_file.exists() and worker.ready_file.read_text() == str(child.pid)

    child = supervisor.add("matching", worker.start, ready, worker.log)
    supervisor.start_all()
    try:
        checked_until(supervisor, lambda: child.ready_at is not None)
        first = child.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        killed_at = time.monotonic()
        checked_until(supervisor, lambda: child.ready_at is not None and child.pid != first)
        assert time.monotonic() - killed_at < 5
        assert said[0].startswith(
            f"matching (pid {first}) ended with code -9 (killed by SIGKILL) after "
        )
        assert said[0].endswith(f"; starting it again now. Its log: {worker.log}")
        assert said[1] == f"matching started again (pid {child.pid})"
        assert said[2].startswith(f"matching is serving again (pid {child.pid}), ")
    finally:
        supervisor.stop_all(timeout=5)


def test_one_that_never_gets_ready_is_given_up_and_the_others_keep_running(
    tmp_path: Path,
) -> None:
    said: list[str] = []
    supervisor = Supervisor(said.append, max_delay=0.2)
    steady = Worker(tmp_path, "analytics", "serve")
    broken = Worker(tmp_path, "vacancies", "brief")
    supervisor.add("analytics", steady.start, steady.ready_file.exists, steady.log)
    # It ends before anybody sees it ready: a service that fails while starting.
    given_up = supervisor.add("vacancies", broken.start, lambda: False, broken.log)
    supervisor.start_all()
    try:
        checked_until(supervisor, lambda: given_up.given_up)
        assert given_up.starts == 5
        assert said[-1].startswith("vacancies (pid ")
        assert " ended with code 1 after " in said[-1]
        assert said[-1].endswith(
            ", before it was ready (5 in a row): giving up on vacancies; the rest of the "
            f"region keeps running. Its log: {broken.log}"
        )
        running = supervisor.children["analytics"]
        first = running.pid
        for _ in range(10):
            supervisor.check()
            time.sleep(0.05)
        assert running.pid == first and running.process is not None
        assert running.process.poll() is None
        assert [child.name for child in supervisor.running()] == ["analytics"]
        assert supervisor.all_ready()
    finally:
        supervisor.stop_all(timeout=5)


def test_a_process_that_keeps_ending_soon_after_its_start_waits_longer_each_time(
    tmp_path: Path,
) -> None:
    said: list[str] = []
    supervisor = Supervisor(said.append)
    worker = Worker(tmp_path, "notifications", "brief")

    def ready() -> bool:  # this start's own process, not the file an earlier one left
        child = supervisor.children["notifications"]
        return worker.ready_file.exists() and worker.ready_file.read_text() == str(child.pid)

    child = supervisor.add("notifications", worker.start, ready, worker.log)
    supervisor.start_all()
    try:
        checked_until(supervisor, lambda: sum("ended with code 1" in line for line in said) == 3)
        ended = [line for line in said if "ended with code 1" in line]
        assert ended[0].endswith(f"starting it again now. Its log: {worker.log}")
        assert "; starting it again in 1 s, at " in ended[1]
        assert "; starting it again in 2 s, at " in ended[2]
        # It was ready every time: it is not one that fails to start, and is not given up.
        assert not child.given_up and child.failed_starts == 0
    finally:
        supervisor.stop_all(timeout=5)


def test_stop_all_stops_everything_and_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    said: list[str] = []
    supervisor = Supervisor(said.append)
    polite = Worker(tmp_path, "profiles", "serve")
    stubborn = Worker(tmp_path, "matching", "stubborn")
    supervisor.add("profiles", polite.start, polite.ready_file.exists, polite.log)
    supervisor.add("matching", stubborn.start, stubborn.ready_file.exists, stubborn.log)
    supervisor.start_all()
    checked_until(supervisor, supervisor.all_ready)
    processes = [child.process for child in supervisor.children.values()]

    supervisor.stop_all(timeout=1)

    assert [p.poll() for p in processes if p is not None] == [-signal.SIGTERM, -signal.SIGKILL]
    assert said == ["matching did not stop within 1 s: killing it"]
    supervisor.check()
    assert all(child.process is None for child in supervisor.children.values())
