"""A fork server for a region's service processes.

Importing a service's code — FastAPI, SQLAlchemy, SciPy, the service's own modules — costs
seconds of CPU: five times over at every start of a region, and again at every restart of
a service, when the region should serve again at once. The launcher starts one fork server
that imports all of it, and loads the ESCO vocabulary every service uses, once; every
service process, first or restarted, is a fork of it that only builds and serves its app.

The launcher and the server talk in JSON lines over the server's stdin and stdout: a request
``{"service": "matching", "env": {...}, "log": "/…/matching.log"}`` is answered
``{"forked": "matching", "pid": 1234}``, and a child that ends is reported
``{"exited": 1234, "code": -9}`` (negative: killed by that signal). The server exits when its
stdin closes; it dies with the launcher (a parent-death signal), and its children with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from interlocality.common.esco import default_vocabulary
from interlocality.common.processes import (
    die_with_parent,
    set_parent_death_signal,
    set_process_name,
)
from interlocality.common.runner import serve
from interlocality.operator.services import SERVICE_SETTINGS, SERVICES, app_module

__all__ = ["ForkServer", "ForkServerError", "ForkedProcess", "main"]


class ForkServerError(RuntimeError):
    """The fork server ended or did not answer."""


class ForkServer:
    """The launcher's side: starts the server and forks service processes from it.

    Use it from one thread, the one that lives as long as the launcher (the server's
    parent-death signal follows the thread that started it).
    """

    def __init__(self, services: Sequence[str], log_path: Path) -> None:
        self.services = list(services)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._unread = b""
        self._forked: list[tuple[str, int]] = []
        self._exit_codes: dict[int, int] = {}
        self._children: set[int] = set()

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        if self._process is None or self._process.poll() is not None:
            return None
        return self._process.pid

    def running(self) -> bool:
        """True while the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> ForkServer:
        """Start the server; it imports the services' code before it answers."""
        self.close()  # the pipes of one that ended
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "interlocality.operator.forkserver", *self.services],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                # A session of its own: a Ctrl-C reaches the launcher, which stops it in order.
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        assert self._process.stdout is not None
        os.set_blocking(self._process.stdout.fileno(), False)
        self._unread = b""
        return self

    def fork(
        self, service: str, env: Mapping[str, str], log_path: Path, timeout: float = 120.0
    ) -> ForkedProcess:
        """A new process of ``service`` with ``env`` as its whole environment, its output
        appended to ``log_path``; the server is started first if it is not running."""
        if not self.running():
            self.start()
        assert self._process is not None and self._process.stdin is not None
        request = {"service": service, "env": dict(env), "log": str(log_path)}
        try:
            self._process.stdin.write(json.dumps(request).encode() + b"\n")
            self._process.stdin.flush()
        except BrokenPipeError as exc:
            raise ForkServerError(f"the fork server ended; see {self.log_path}") from exc
        deadline = time.monotonic() + timeout
        while not self._forked:
            if not self.running() and not self._read(0):
                raise ForkServerError(f"the fork server ended; see {self.log_path}")
            if time.monotonic() > deadline:
                raise ForkServerError(f"the fork server did not fork {service} in {timeout:.0f} s")
            self._read(min(0.5, max(0.0, deadline - time.monotonic())))
        forked, pid = self._forked.pop(0)
        assert forked == service, (forked, service)
        self._children.add(pid)
        return ForkedProcess(self, pid)

    def exit_code(self, pid: int, timeout: float = 0.0) -> int | None:
        """The exit code of a forked process once it ended, else None (after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            self._read(max(0.0, deadline - time.monotonic()))
            if pid in self._exit_codes or time.monotonic() >= deadline:
                return self._exit_codes.get(pid)

    def _read(self, timeout: float) -> bool:
        """Read what the server said within ``timeout``; False once it has ended."""
        if self._process is None or self._process.stdout is None:
            return False
        stdout = self._process.stdout
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return True
        try:
            chunk = os.read(stdout.fileno(), 65536)
        except BlockingIOError:
            return True
        if not chunk:
            self._ended()
            return False
        self._unread += chunk
        while b"\n" in self._unread:
            line, self._unread = self._unread.split(b"\n", 1)
            message = json.loads(line)
            if "forked" in message:
                pid = int(message["pid"])
                self._exit_codes.pop(pid, None)  # a reused pid: its former process ended
                self._forked.append((message["forked"], pid))
            elif "exited" in message:
                self._exit_codes[int(message["exited"])] = int(message["code"])
        return True

    def _ended(self) -> None:
        # Its children die with it, by their parent-death signal.
        assert self._process is not None
        self._process.wait()
        for pid in self._children - set(self._exit_codes):
            self._exit_codes[pid] = -signal.SIGKILL

    def close(self, timeout: float = 5.0) -> None:
        """Stop the server (its stdin closes); kill it after ``timeout``."""
        if self._process is None:
            return
        if self._process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._process = None


class ForkedProcess:
    """A service process forked by the server: what :class:`subprocess.Popen` offers."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code once the process ended, else None."""
        if self.returncode is None:
            self.returncode = self.server.exit_code(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to end; :class:`subprocess.TimeoutExpired` after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
            remaining = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            self.returncode = self.server.exit_code(self.pid, max(0.0, remaining))
        return code

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` unless the process has ended."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        """SIGTERM: the service stops in order."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL."""
        self.send_signal(signal.SIGKILL)


# -- the server ---------------------------------------------------------------------------


def _run_service(request: dict[str, Any], server_pid: int, inherited: Sequence[int]) -> None:
    """In the forked child: become the requested service; never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        set_parent_death_signal(server_pid)
        # Its command line is the server's: the name tells the services apart in ps and top.
        set_process_name(request["service"])
        for fd in inherited:
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.environ.clear()
        os.environ.update(request["env"])
        service = request["service"]
        create_app = app_module(service).create_app
        # the server's own arguments (the services it imports) are no command to the service
        serve(SERVICE_SETTINGS[service], create_app, argv=[])
        code = 0
    except SystemExit as exc:
        if isinstance(exc.code, int) or exc.code is None:
            code = exc.code or 0
        else:  # a refusal's message, as the interpreter would print it
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main(services: Sequence[str] | None = None) -> None:
    """Import the services' code, then fork a service for every request on stdin."""
    answers = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # what the imports print goes to the log, not among the answers
    for service in services or SERVICES:
        try:
            app_module(service)
        except Exception:
            # That service's fork fails the same way and says so in its own log; the
            # others are not held back by it.
            traceback.print_exc()
    # Every service loads the shipped vocabulary and its lookups: once here serves them all.
    default_vocabulary().prepare()
    if threading.active_count() != 1:
        # Forking a process with threads may copy a lock some thread holds.
        print(f"fork server: {threading.active_count()} threads after imports", file=sys.stderr)
    server_pid = os.getpid()
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_read, False)
    os.set_blocking(wakeup_write, False)
    signal.set_wakeup_fd(wakeup_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd is written
    unread = b""
    with selectors.DefaultSelector() as selector:
        selector.register(0, selectors.EVENT_READ)
        selector.register(wakeup_read, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fd == wakeup_read:
                    while True:
                        try:
                            os.read(wakeup_read, 4096)
                        except BlockingIOError:
                            break
                    _report_exits(answers)
                    continue
                chunk = os.read(0, 65536)
                if not chunk:
                    return  # the launcher closed our stdin, or ended
                unread += chunk
                while b"\n" in unread:
                    line, unread = unread.split(b"\n", 1)
                    request = json.loads(line)
                    pid = os.fork()
                    if pid == 0:
                        inherited = [wakeup_read, wakeup_write, answers.fileno(), selector.fileno()]
                        _run_service(request, server_pid, inherited)
                    answers.write(json.dumps({"forked": request["service"], "pid": pid}) + "\n")


def _report_exits(answers: Any) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        answers.write(json.dumps({"exited": pid, "code": os.waitstatus_to_exitcode(status)}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
