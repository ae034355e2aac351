"""The fork server reports how its children end, and one service whose code is broken does
not hold the others back."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from interlocality.common.embedded_broker import free_port
from interlocality.common.testing import trusting_tests_issuer, wait_until
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


def test_a_forked_service_serves_whatever_the_server_was_started_with(
    tmp_path: Path, kafka_bootstrap: str, region: str
) -> None:
    """The server's own arguments (the services it imports) are not the service's: a
    service forked from it serves, rather than refusing them as its command line."""
    port = free_port()
    env = {
        **os.environ,
        "INTERLOCALITY_REGION": region,
        "INTERLOCALITY_VAR_DIR": str(tmp_path / "var"),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "PROFILES_PORT": str(port),
        **{f"INTERLOCALITY_{k.upper()}": v for k, v in trusting_tests_issuer().items()},
    }
    server = ForkServer(["profiles", "vacancies"], tmp_path / "fork-server.log").start()
    try:
        profiles = server.fork("profiles", env, tmp_path / "profiles.log")

        def serving() -> bool:
            assert profiles.poll() is None, (tmp_path / "profiles.log").read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(serving, timeout=90)
        profiles.terminate()
        profiles.wait(30)
    finally:
        server.close()
