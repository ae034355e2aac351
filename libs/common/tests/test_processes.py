"""Children that die with their parent, and processes found through /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from interlocality.common.processes import (
    describe_exit,
    is_alive,
    listening_pid,
    process_info,
)

# Starts two sleeping children, one dying with it and one not, prints their pids, sleeps.
PARENT = """
import subprocess, sys
from interlocality.common.processes import die_with_parent
tied = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                        preexec_fn=die_with_parent(), start_new_session=True)
free = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                        start_new_session=True)
print(tied.pid, free.pid, flush=True)
import time; time.sleep(60)
"""


def test_a_child_started_with_die_with_parent_dies_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    tied, free = (int(pid) for pid in parent.stdout.readline().split())
    try:
        assert is_alive(tied) and is_alive(free)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while is_alive(tied) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not is_alive(tied)
        # The one started in its own session without it outlives its parent, as the
        # embedded broker used to.
        assert is_alive(free)
    finally:
        for pid in (tied, free):
            if is_alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_child_whose_parent_ended_before_the_death_signal_was_set_exits_at_once() -> None:
    # The parent it expects is not its parent: as when the parent died before the prctl call.
    finished = subprocess.run(
        [
            sys.executable,
            "-c",
            "from interlocality.common.processes import set_parent_death_signal\n"
            "set_parent_death_signal(expected_parent=1 if __import__('os').getppid() != 1 else 2)\n"
            "print('outlived its parent')",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert finished.returncode == 1
    assert finished.stdout == ""


def test_the_process_listening_on_a_port_is_found_with_its_command_line() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert listening_pid(port) == os.getpid()
    assert listening_pid(port) is None
    info = process_info(os.getpid())
    assert info is not None
    assert info.parent == os.getppid() and info.state in ("R", "S")
    assert info.executable is not None and info.executable.name.startswith("python")
    assert list(info.command) == sys.orig_argv


def test_exit_codes_are_described_with_the_signal_that_ended_the_process() -> None:
    assert describe_exit(-9) == "code -9 (killed by SIGKILL)"
    assert describe_exit(-15) == "code -15 (killed by SIGTERM)"
    assert describe_exit(3) == "code 3"
