"""Requests are counted by route template and status, streamed responses included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from interlocality.common.metrics import ServiceMetrics


@pytest.fixture
def observed() -> tuple[TestClient, ServiceMetrics]:
    app = FastAPI()
    metrics = ServiceMetrics("profiles", "aarhus")
    metrics.install(app)

    @app.get("/v1/students/{student_id}")
    def student(student_id: str) -> dict[str, str]:
        return {"student_id": student_id}

    @app.get("/v1/broken")
    def broken() -> None:
        raise RuntimeError("boom")

    @app.get("/v1/stream")
    def stream() -> StreamingResponse:
        def chunks() -> Iterator[bytes]:
            yield from (b"one\n", b"two\n", b"three\n")

        return StreamingResponse(chunks(), media_type="text/plain")

    return TestClient(app, raise_server_exceptions=False), metrics


def count(metrics: ServiceMetrics, route: str, status: str, method: str = "GET") -> float:
    value = metrics.registry.get_sample_value(
        "interlocality_http_requests_total", {"route": route, "method": method, "status": status}
    )
    return value or 0.0


def test_requests_are_counted_by_route_template_and_status(
    observed: tuple[TestClient, ServiceMetrics],
) -> None:
    client, metrics = observed
    assert client.get("/v1/students/s-1").status_code == 200
    assert client.get("/v1/students/s-2").status_code == 200
    assert client.get("/v1/nowhere").status_code == 404
    assert client.get("/v1/broken").status_code == 500

    assert count(metrics, "/v1/students/{student_id}", "200") == 2
    assert count(metrics, "unmatched", "404") == 1
    assert count(metrics, "/v1/broken", "500") == 1
    timed = metrics.registry.get_sample_value(
        "interlocality_http_request_seconds_count",
        {"route": "/v1/students/{student_id}", "method": "GET"},
    )
    assert timed == 2


def test_a_streamed_response_passes_through_whole_and_is_counted_once(
    observed: tuple[TestClient, ServiceMetrics],
) -> None:
    client, metrics = observed
    response = client.get("/v1/stream")
    assert response.text == "one\ntwo\nthree\n"
    assert count(metrics, "/v1/stream", "200") == 1


def test_a_scrape_refreshes_gauges_read_from_state_and_answers_when_one_cannot_be() -> None:
    metrics = ServiceMetrics("profiles", "aarhus")
    backlog = iter([3, 5])

    def refresh() -> None:
        metrics.outbox_pending.set(next(backlog))

    def unreachable() -> None:
        raise ConnectionError("the database is away")

    metrics.on_scrape(unreachable)
    metrics.on_scrape(refresh)

    assert b"interlocality_outbox_pending 3.0" in metrics.exposition()
    assert b"interlocality_outbox_pending 5.0" in metrics.exposition()
