"""Prometheus metrics: one registry per service app, served at ``/metrics``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interlocality.common.access import SERVICE, allow

__all__ = ["ServiceMetrics"]

logger = logging.getLogger(__name__)


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
        self.outbox_oldest_pending = Gauge(
            "interlocality_outbox_oldest_pending_seconds",
            "Age of the oldest outbox message not yet published (0 when none waits).",
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "interlocality_consumer_lag",
            "Records on a partition past those this consumer has applied, as of its last batch.",
            ["topic", "partition"],
            registry=self.registry,
        )
        info = Gauge(
            "interlocality_service_info",
            "Service identity.",
            list(labels),
            registry=self.registry,
        )
        info.labels(**labels).set(1)
        self._on_scrape: list[Callable[[], None]] = []

    def on_scrape(self, refresh: Callable[[], None]) -> None:
        """Call ``refresh`` (blocking, it may query the database) before each scrape: for
        gauges read from state rather than counted as things happen."""
        self._on_scrape.append(refresh)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format, refreshed; a refresh that fails leaves
        its gauges as they were (a scrape still answers while the database is away)."""
        for refresh in self._on_scrape:
            try:
                refresh()
            except Exception:
                logger.warning("a metric could not be refreshed", exc_info=True)
        return generate_latest(self.registry)

    def install(self, app: FastAPI) -> None:
        """Count and time every request, and serve ``GET /metrics`` to automation (a
        scraper signs in with the ``service`` role, e.g. Prometheus' OAuth 2.0 client
        credentials)."""
        app.add_middleware(_ObserveRequests, metrics=self)

        @app.get("/metrics", include_in_schema=False, dependencies=[allow(SERVICE)])
        def _metrics() -> Response:
            return Response(self.exposition(), media_type=CONTENT_TYPE_LATEST)


class _ObserveRequests:
    """Counts each request by route and status and times it to its response's start.

    A plain ASGI middleware: a streamed response (a live feed) passes through untouched,
    and is timed to its first byte, not to its end.
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observed = False

        def observe(status: int) -> None:
            nonlocal observed
            observed = True
            path = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.http_requests.labels(path, method, str(status)).inc()
            self.metrics.http_latency.labels(path, method).observe(time.perf_counter() - started)

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                observe(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            if not observed:
                observe(500)
