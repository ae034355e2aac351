"""Kafka side of analytics: every event of the region, counted in runs."""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlmodel import Session

from interlocality.analytics.service import AnalyticsService
from interlocality.common.consumer import Batched
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.topics import TOPICS

__all__ = ["on_events", "subscribe"]


def on_events(service: AnalyticsService, events: list[Any], session: Session) -> None:
    service.count_events(session, events)


def subscribe(runtime: ServiceRuntime, service: AnalyticsService) -> None:
    """Subscribe analytics to every topic of the region."""
    # one handler for every type: a batch is one run
    counting = Batched(partial(on_events, service))
    for spec in TOPICS:
        runtime.consume(spec, dict.fromkeys(spec.event_types, counting))
