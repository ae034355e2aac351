"""Every service's HTTP API fuzzed from its own OpenAPI document (schemathesis), against a
running demo region: no answer is a server error, and every answer — its status code,
content type, headers and body — is one the document describes. Signed in as the region's
operator, and as the service role on the operations endpoints (``/v1/admin/*``); the
requests schemathesis sends without the token must be refused as the document says (401).

Bounded for ``make test`` (a fixed seed and a few examples per operation); for a longer run,
``INTERLOCALITY_FUZZ_EXAMPLES=500 uv run pytest tests/test_api_fuzz.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from interlocality.operator.testing import REGION_SERVICES, LaunchedRegion, launched_region

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("INTERLOCALITY_FUZZ_EXAMPLES", "10"))
SEED = "20261206"
# Every check but one: a schema cannot say which ESCO skills, time zones, students or page
# cursors exist, so a request that fits the schema may still rightly be refused with 4xx.
EXCLUDED_CHECKS = "positive_data_acceptance"
# Who calls which operations: the operations endpoints are the service role's alone.
OPERATIONS = "^/v1/admin/"
CALLERS = {
    "operator": ["--exclude-path-regex", OPERATIONS],
    "service": ["--include-path-regex", OPERATIONS],
}


@pytest.fixture(scope="module")
def fuzzed_region(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LaunchedRegion]:
    # The demo's data, so that reads find students with names and addresses like å, ñ, ı.
    with launched_region(
        tmp_path_factory.mktemp("fuzzed"), kafka_bootstrap=kafka_bootstrap, seed=True
    ) as region:
        yield region


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("service", REGION_SERVICES)
def test_no_answer_is_a_server_error_or_strays_from_the_document(
    fuzzed_region: LaunchedRegion, service: str, caller: str, tmp_path: Path
) -> None:
    token = fuzzed_region.token(caller)
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            fuzzed_region.url(service, "/openapi.json"),
            *CALLERS[caller],
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            "--exclude-checks",
            EXCLUDED_CHECKS,
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            SEED,
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--request-timeout",
            "60",
            "--no-color",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        cwd=tmp_path,  # where schemathesis keeps what it found between runs
    )
    assert result.returncode == 0, (
        result.stdout[-20_000:] + result.stderr[-5_000:] + fuzzed_region.trouble()
    )
