"""OpenTelemetry tracing; trace context travels in Kafka headers (W3C ``traceparent``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from interlocality.common.settings import ServiceSettings

__all__ = ["configure_tracing", "current_trace_headers", "instrument_http", "linked_context"]


def configure_tracing(settings: ServiceSettings) -> TracerProvider:
    """A tracer provider for this service, exporting as ``settings.trace_exporter`` says."""
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": f"interlocality-{settings.service}",
                "service.namespace": "interlocality",
                "interlocality.region": settings.region,
            }
        )
    )
    if settings.trace_exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif settings.trace_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def instrument_http(app: FastAPI, provider: TracerProvider) -> None:
    """A server span for each request to ``app``, except the health and metrics probes.

    The ASGI layer's own ``http send`` and ``http receive`` spans are left out: a live
    stream would otherwise add one for every event it sends, for as long as it is open.
    """
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls="healthz,readyz,metrics",
        exclude_spans=["receive", "send"],
    )


def current_trace_headers() -> dict[str, str]:
    """The active trace context as carrier headers (empty when there is none)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def linked_context(headers: Iterable[tuple[str, str]]) -> Iterator[None]:
    """Make the trace context carried in ``headers`` the current one for the block."""
    token = otel_context.attach(propagate.extract(dict(headers)))
    try:
        yield
    finally:
        otel_context.detach(token)


def tracer(provider: TracerProvider, name: str) -> trace.Tracer:
    """A tracer of ``provider`` for instrumentation scope ``name``."""
    return provider.get_tracer(name)
