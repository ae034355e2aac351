"""Kafka side of analytics: count every event of the region, and each vacancy's funnel."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlmodel import Session

from interlocality.analytics.store import FunnelEntry, add_counts, add_funnel_steps
from interlocality.common.consumer import Batched
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.applications import ApplicationSubmitted, PlacementMade
from interlocality.contracts.matches import MatchFound
from interlocality.contracts.notifications import NotificationSent
from interlocality.contracts.topics import TOPICS
from interlocality.contracts.vacancies import VacancyPublished

__all__ = ["count_events", "funnel_entry", "register_kafka_handlers"]


def funnel_entry(event: Any) -> FunnelEntry | None:
    """The step of a vacancy's funnel ``event`` makes, if any."""
    match event:
        case VacancyPublished(data=vacancy):
            return FunnelEntry(event.region, vacancy.vacancy_id, "published", vacancy.kind)
        case MatchFound(data=match):
            return FunnelEntry(event.region, match.vacancy_id, "matched")
        case NotificationSent(data=delivery):
            return FunnelEntry(event.region, delivery.vacancy_id, "notified")
        case ApplicationSubmitted(data=step):
            return FunnelEntry(event.region, step.vacancy_id, "applied", step.kind)
        case PlacementMade(data=step):
            return FunnelEntry(event.region, step.vacancy_id, "placed", step.kind)
    return None


def count_events(events: list[Any], session: Session) -> None:
    """Count a run of events: each count and each vacancy's funnel is read and written
    once for the whole run, not once per event."""
    add_counts(session, Counter((event.region, event.type) for event in events))
    add_funnel_steps(session, [s for event in events if (s := funnel_entry(event)) is not None])


def register_kafka_handlers(runtime: ServiceRuntime) -> None:
    """Subscribe analytics to every topic of the region."""
    counting = Batched(count_events)  # one handler for every type: a batch is one run
    for spec in TOPICS:
        runtime.consume(spec, dict.fromkeys(spec.event_types, counting))
