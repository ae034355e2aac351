"""Kafka side of analytics: count every event of every topic of the region."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from interlocality.analytics.store import count_event
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.topics import TOPICS

__all__ = ["register_kafka_handlers"]


def register_kafka_handlers(runtime: ServiceRuntime) -> None:
    """Subscribe analytics to every topic of the region."""

    def on_event(event: Any, session: Session) -> None:
        count_event(session, event.region, event.type)

    for spec in TOPICS:
        runtime.consume(spec, dict.fromkeys(spec.event_types, on_event))
