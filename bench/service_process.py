"""One service of a region as its own process, as the benches run it (no I/O on import)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from interlocality.common.access import Role
from interlocality.common.embedded_broker import free_port
from interlocality.common.testing import authorization, trusting_tests_issuer

__all__ = ["bench_caller", "service_process"]


def bench_caller(region: str) -> dict[str, str]:
    """The headers of the bench's calls: a token of the region's operator and automation
    (the ``service`` role scrapes ``/metrics``)."""
    return authorization(region, Role.OPERATOR, Role.SERVICE)


@contextmanager
def service_process(
    service: str, workdir: Path, bootstrap: str, region: str, batch_size: int, timeout: float = 60
) -> Iterator[str]:
    """``service`` of ``region`` (``python -m interlocality.<service>``) on a free port, its
    consumers taking batches of ``batch_size``, its log in ``workdir``; yields its base URL
    once ``/readyz`` answers 200, and stops it at the end."""
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "INTERLOCALITY_REGION": region,
        "INTERLOCALITY_VAR_DIR": str(workdir / "var"),
        "INTERLOCALITY_DEPLOYMENT": "embedded",
        "INTERLOCALITY_CONSUMER_BATCH_SIZE": str(batch_size),
        "INTERLOCALITY_LOG_LEVEL": "WARNING",
        f"{service.upper()}_PORT": str(port),
        **{
            f"INTERLOCALITY_{name.upper()}": value
            for name, value in trusting_tests_issuer().items()
        },
    }
    with open(workdir / f"{service}-{region}.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", f"interlocality.{service}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5, trust_env=False) as client:
            while True:
                try:
                    if client.get(f"{base}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{service} did not start; see {log.name}")
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(30)
