"""Prometheus metrics: one registry per service app, served at ``/metrics``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["ServiceMetrics"]


class ServiceMetrics:
    """The metrics every service exposes, in a registry of its own."""

    def __init__(self, service: str, region: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"service": service, "region": region}
        self.http_requests = Counter(
            "interlocality_http_requests",
            "HTTP requests by route and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "interlocality_http_request_seconds",
            "HTTP request duration.",
            ["route", "method"],
            registry=self.registry,
        )
        self.events_applied = Counter(
            "interlocality_events_applied",
            "Events applied by this service's consumers.",
            ["topic", "type"],
            registry=self.registry,
        )
        self.events_duplicate = Counter(
            "interlocality_events_duplicate",
            "Redelivered events skipped because they were already applied.",
            ["topic"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "interlocality_dead_letters",
            "Messages sent to a dead-letter topic.",
            ["topic"],
            registry=self.registry,
        )
        self.outbox_published = Counter(
            "interlocality_outbox_published",
            "Outbox messages published to Kafka.",
            ["topic"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "interlocality_outbox_pending",
            "Outbox messages committed but not yet published.",
            registry=self.registry,
        )
        info = Gauge(
            "interlocality_service_info",
            "Service identity.",
            list(labels),
            registry=self.registry,
        )
        info.labels(**labels).set(1)

    def install(self, app: FastAPI) -> None:
        """Count and time every request, and serve ``GET /metrics``."""

        @app.middleware("http")
        async def _observe(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            started = time.perf_counter()
            response = await call_next(request)
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.http_requests.labels(path, request.method, str(response.status_code)).inc()
            self.http_latency.labels(path, request.method).observe(time.perf_counter() - started)
            return response

        @app.get("/metrics", include_in_schema=False)
        def _metrics() -> Response:
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
