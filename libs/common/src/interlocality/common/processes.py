"""Child processes and the processes found on this machine (Linux ``/proc``).

Children die with their parent through a parent-death signal (``PR_SET_PDEATHSIG``); a port
is traced to the process listening on it, and a process is told apart — the embedded
broker, the launcher, a service — by its executable and command line.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ProcessInfo",
    "describe_exit",
    "die_with_parent",
    "is_alive",
    "listening_pid",
    "process_info",
    "set_parent_death_signal",
    "set_process_name",
]

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
_TCP_LISTEN = "0A"


def _load_prctl() -> Callable[..., int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        prctl: Callable[..., int] = libc.prctl
    except (OSError, AttributeError):  # not Linux: no prctl
        return None
    return prctl


# Looked up once, in the parent: a child between fork and exec should only call it.
_prctl = _load_prctl()


def set_parent_death_signal(expected_parent: int, signum: int = signal.SIGKILL) -> bool:
    """Have the kernel send ``signum`` to this process when its parent ends.

    The parent may have ended before the call took effect, so the parent is checked
    afterwards: if it is no longer ``expected_parent``, this process exits at once. Note
    that the signal follows the parent *thread* that forked: fork from a thread that lives
    as long as the parent process (the launcher forks from its main thread). False where the
    system has no ``prctl`` (the child then outlives a killed parent).
    """
    if _prctl is None:
        return False
    _prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
    if os.getppid() != expected_parent:
        os._exit(1)
    return True


def die_with_parent(signum: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` for :class:`subprocess.Popen`: the child dies with this process.

    ``None`` where the system cannot do it, so ``Popen(preexec_fn=die_with_parent())``
    works everywhere.
    """
    if _prctl is None:
        return None
    parent = os.getpid()

    def in_child() -> None:
        set_parent_death_signal(parent, signum)

    return in_child


def set_process_name(name: str) -> None:
    """Name this process as ``ps -o comm`` and ``top`` show it (at most 15 bytes)."""
    if _prctl is not None:
        _prctl(_PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def is_alive(pid: int) -> bool:
    """True while a process with this id exists (and is not a zombie)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    info = process_info(pid)
    return info is None or info.state != "Z"


@dataclass(frozen=True)
class ProcessInfo:
    """What ``/proc`` says about one process."""

    pid: int
    parent: int
    state: str
    started: int  # clock ticks after boot: with the pid, names the process even after pid reuse
    executable: Path | None
    command: tuple[str, ...]

    @property
    def name(self) -> str:
        """A short name for messages: the executable's name, or the first argument's."""
        if self.executable is not None:
            return self.executable.name
        return Path(self.command[0]).name if self.command else f"pid {self.pid}"


def process_info(pid: int) -> ProcessInfo | None:
    """The process's parent, state, executable and command line; None when it is gone or
    ``/proc`` is not there."""
    proc = Path("/proc") / str(pid)
    try:
        stat = (proc / "stat").read_text()
        raw_command = (proc / "cmdline").read_bytes()
    except OSError:
        return None
    # The name in parentheses may itself hold spaces and parentheses: split after the last.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        executable: Path | None = Path(os.readlink(proc / "exe"))
    except OSError:
        executable = None
    command = tuple(part.decode(errors="replace") for part in raw_command.split(b"\0") if part)
    return ProcessInfo(
        pid=pid,
        parent=int(fields[1]),
        state=fields[0],
        started=int(fields[19]),
        executable=executable,
        command=command,
    )


def listening_pid(port: int) -> int | None:
    """The process listening on TCP ``port`` (any local address), if this user may see it.

    ``/proc/net/tcp`` names the listening socket's inode; the process is the one holding a
    descriptor on that socket. None when nothing listens, or the listener is another user's.
    """
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == _TCP_LISTEN:
                inodes.add(fields[9])
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            descriptors = list((proc / "fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(descriptor) in targets:
                    return int(proc.name)
            except OSError:
                continue
    return None


def describe_exit(code: int | None) -> str:
    """``code 1`` or ``code -9 (killed by SIGKILL)``, for messages about an ended process."""
    if code is None:
        return "an unknown code"
    if code < 0:
        try:
            return f"code {code} (killed by {signal.Signals(-code).name})"
        except ValueError:
            return f"code {code} (killed by signal {-code})"
    return f"code {code}"
