"""The embedded broker: started, and told apart from one its starter left behind."""

from __future__ import annotations

import subprocess
import sys

from interlocality.common.embedded_broker import (
    EmbeddedBroker,
    free_port,
    stale_broker_on,
    tansu_binary,
    wait_for_port,
)
from interlocality.common.processes import is_alive


def test_a_broker_whose_starter_runs_is_in_use_and_one_left_behind_is_stale() -> None:
    # Started by this process, as `interlocality broker` starts one: in use, whoever asks.
    with EmbeddedBroker() as broker:
        assert stale_broker_on(broker.port) is None

    port = free_port()
    starter = subprocess.run(
        [
            sys.executable,
            "-c",
            "import subprocess, sys; print(subprocess.Popen(sys.argv[1:], "
            "start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)",
            str(tansu_binary()),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{port}",
            "--storage-engine",
            "memory://tansu/",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    left_behind = int(starter.stdout)
    try:
        assert wait_for_port("127.0.0.1", port, 20)
        stale = stale_broker_on(port)
        assert stale is not None and stale.pid == left_behind
    finally:
        subprocess.run(["kill", "-9", str(left_behind)], check=False)
    assert not wait_for_port("127.0.0.1", port, 0.5) or not is_alive(left_behind)
