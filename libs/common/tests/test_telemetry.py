"""HTTP requests are traced with one server span each, streams included."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from interlocality.common.telemetry import instrument_http


def traced_app() -> tuple[TestClient, InMemorySpanExporter]:
    app = FastAPI()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrument_http(app, provider)

    @app.get("/v1/students/{student_id}/stream")
    def stream(student_id: str) -> StreamingResponse:
        def events() -> Iterator[bytes]:
            for n in range(50):
                yield f"id: {n}\nevent: notification\ndata: {{}}\n\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return TestClient(app), exporter


def test_a_stream_is_one_server_span_however_many_events_it_sends() -> None:
    client, exporter = traced_app()

    response = client.get("/v1/students/s-1/stream")

    assert response.status_code == 200
    assert response.text.count("event: notification") == 50
    spans = exporter.get_finished_spans()
    assert [(s.name, s.kind) for s in spans] == [
        ("GET /v1/students/{student_id}/stream", SpanKind.SERVER)
    ]
    assert spans[0].attributes is not None
    assert spans[0].attributes["http.route"] == "/v1/students/{student_id}/stream"


def test_probes_are_not_traced() -> None:
    client, exporter = traced_app()

    assert client.get("/healthz").json() == {"status": "ok"}

    assert exporter.get_finished_spans() == ()
