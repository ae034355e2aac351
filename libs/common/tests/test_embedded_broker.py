"""The embedded broker: started, and told apart from one its starter left behind."""

from __future__ import annotations

import os
import signal

from interlocality.common.embedded_broker import (
    EmbeddedBroker,
    free_port,
    stale_broker_on,
    wait_for_port,
)
from interlocality.common.processes import is_alive
from interlocality.common.testing import broker_left_behind, wait_until


def test_a_broker_whose_starter_runs_is_in_use_and_one_left_behind_is_stale() -> None:
    # Started by this process, as `interlocality broker` starts one: in use, whoever asks.
    with EmbeddedBroker() as broker:
        assert stale_broker_on(broker.port) is None

    port = free_port()
    left_behind = broker_left_behind(port)
    try:
        assert wait_for_port("127.0.0.1", port, 20)
        stale = stale_broker_on(port)
        assert stale is not None and stale.pid == left_behind
    finally:
        os.kill(left_behind, signal.SIGKILL)
    # The signal is delivered asynchronously: wait for the broker to be gone, not for a port.
    wait_until(lambda: not is_alive(left_behind), 10)
