"""The fork server reports how its children end, and one service whose code is broken does
not hold the others back."""

from __future__ import annotations

import os
from pathlib import Path

from interlocality.operator.forkserver import ForkServer


def test_a_service_that_cannot_be_imported_ends_with_code_1_and_says_why(tmp_path: Path) -> None:
    server = ForkServer(["nowhere"], tmp_path / "fork-server.log").start()
    try:
        first = server.fork("nowhere", dict(os.environ), tmp_path / "nowhere.log")
        assert first.wait(60) == 1
        assert "No module named 'interlocality.nowhere'" in (tmp_path / "nowhere.log").read_text()
        # The server itself noted it and goes on forking.
        assert "interlocality.nowhere" in (tmp_path / "fork-server.log").read_text()
        second = server.fork("nowhere", dict(os.environ), tmp_path / "nowhere.log")
        assert second.pid != first.pid and second.wait(60) == 1
        assert server.running()
    finally:
        server.close()
    assert not server.running()
