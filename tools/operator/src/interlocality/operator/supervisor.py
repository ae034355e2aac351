"""Keeps a region's processes running: one that ends is started again, with backoff.

A process that ends while the region runs is started again at once; while it keeps ending
within a minute of its start, the next start waits 1, 2, 4 … s (at most 30). One that keeps
ending before it was ever ready is given up after five starts in a row, and the others keep
running. Every end, start and give-up is said, with the exit code and the process's log.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from interlocality.common.processes import describe_exit

__all__ = ["ChildProcess", "Supervised", "Supervisor"]


class ChildProcess(Protocol):
    """What the supervisor needs of a process: :class:`subprocess.Popen` has it."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def send_signal(self, signum: int) -> None: ...

    def kill(self) -> None: ...


@dataclass
class Supervised:
    """One process the supervisor keeps running, and what happened to it so far."""

    name: str
    start: Callable[[], ChildProcess]
    ready: Callable[[], bool]
    log: Path
    before_restart: Callable[[], object] | None = None
    process: ChildProcess | None = None
    started_at: float = 0.0
    ready_at: float | None = None
    ended_at: float | None = None
    starts: int = 0
    failed_starts: int = 0  # ended before it was ready, in a row
    quick_ends: int = 0  # ended within ``stable_seconds`` of its start, in a row
    restart_at: float | None = None
    given_up: bool = False

    @property
    def pid(self) -> int | None:
        """The running process's id."""
        return self.process.pid if self.process is not None else None


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class Supervisor:
    """Starts named processes, notices when one ends, starts it again."""

    def __init__(
        self,
        say: Callable[[str], None],
        *,
        max_failed_starts: int = 5,
        stable_seconds: float = 60.0,
        max_delay: float = 30.0,
        on_start: Callable[[Supervised], object] | None = None,
    ) -> None:
        self.say = say
        self.max_failed_starts = max_failed_starts
        self.stable_seconds = stable_seconds
        self.max_delay = max_delay
        self.on_start = on_start
        self.children: dict[str, Supervised] = {}

    def add(
        self,
        name: str,
        start: Callable[[], ChildProcess],
        ready: Callable[[], bool],
        log: Path,
        before_restart: Callable[[], object] | None = None,
    ) -> Supervised:
        """Supervise ``name``: ``start`` starts it, ``ready`` says whether it serves."""
        child = Supervised(name, start, ready, log, before_restart)
        self.children[name] = child
        return child

    def start_all(self) -> None:
        """Start every process not started yet."""
        for child in self.children.values():
            if child.process is None and not child.given_up:
                self._start(child)

    def running(self) -> list[Supervised]:
        """The processes not given up."""
        return [child for child in self.children.values() if not child.given_up]

    def all_ready(self) -> bool:
        """True when every process not given up is running and has been ready."""
        return all(
            child.process is not None and child.ready_at is not None for child in self.running()
        )

    def check(self) -> None:
        """Notice ended processes, start due ones, probe the ones not ready yet."""
        for child in self.children.values():
            if child.given_up:
                continue
            if child.process is not None:
                code = child.process.poll()
                if code is None:
                    if child.ready_at is None and child.ready():
                        self._became_ready(child)
                    continue
                self._ended(child, code)
            if child.restart_at is not None and time.monotonic() >= child.restart_at:
                self._start(child)

    def _became_ready(self, child: Supervised) -> None:
        child.ready_at = time.monotonic()
        if child.ended_at is not None:
            self.say(
                f"{child.name} is serving again (pid {child.pid}), "
                f"{_duration(child.ready_at - child.ended_at)} after it ended"
            )

    def _ended(self, child: Supervised, code: int) -> None:
        assert child.process is not None
        pid = child.process.pid
        child.process = None
        ran = time.monotonic() - child.started_at
        self._again(
            child,
            f"{child.name} (pid {pid}) ended with {describe_exit(code)} after {_duration(ran)}",
            was_ready=child.ready_at is not None,
            ran=ran,
        )

    def _again(self, child: Supervised, what: str, *, was_ready: bool, ran: float) -> None:
        """Schedule the next start of a process that ended, or give it up."""
        now = time.monotonic()
        child.ended_at = now
        child.failed_starts = 0 if was_ready else child.failed_starts + 1
        child.quick_ends = child.quick_ends + 1 if ran < self.stable_seconds else 1
        if not was_ready:
            what += f", before it was ready ({child.failed_starts} in a row)"
        if child.failed_starts >= self.max_failed_starts:
            child.given_up = True
            self.say(
                f"{what}: giving up on {child.name}; the rest of the region keeps running. "
                f"Its log: {child.log}"
            )
            return
        delay = 0.0 if child.quick_ends <= 1 else min(self.max_delay, 2.0 ** (child.quick_ends - 2))
        child.restart_at = now + delay
        when = (
            "starting it again now"
            if delay == 0
            else f"starting it again in {delay:.0f} s, at "
            f"{(datetime.now() + timedelta(seconds=delay)).strftime('%H:%M:%S')}"
        )
        self.say(f"{what}; {when}. Its log: {child.log}")

    def _start(self, child: Supervised) -> None:
        restarting = child.starts > 0
        child.starts += 1
        child.restart_at = None
        child.ready_at = None
        child.started_at = time.monotonic()
        try:
            if restarting and child.before_restart is not None:
                child.before_restart()
            child.process = child.start()
        except Exception as exc:
            # Counts as a start that ended at once: retried with backoff, given up in the end.
            self._again(child, f"{child.name} could not be started ({exc})", was_ready=False, ran=0)
            return
        if restarting:
            self.say(f"{child.name} started again (pid {child.process.pid})")
        if self.on_start is not None:
            self.on_start(child)

    def stop_all(self, timeout: float = 15.0) -> None:
        """SIGTERM to every process, SIGKILL to those still running after ``timeout``."""
        for child in self.children.values():
            child.restart_at = None
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children.values():
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{child.name} did not stop within {timeout:.0f} s: killing it")
                child.process.kill()
                child.process.wait()
            child.process = None
