"""Kafka side of analytics: count every event of the region, and each vacancy's funnel."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from interlocality.analytics.store import count_event, count_funnel_step, note_vacancy
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.applications import ApplicationSubmitted, PlacementMade
from interlocality.contracts.matches import MatchFound
from interlocality.contracts.notifications import NotificationSent
from interlocality.contracts.topics import TOPICS
from interlocality.contracts.vacancies import VacancyPublished

__all__ = ["register_kafka_handlers"]


def on_vacancy_published(event: VacancyPublished, session: Session) -> None:
    note_vacancy(session, event.region, event.data.vacancy_id, event.data.kind)


def on_match_found(event: MatchFound, session: Session) -> None:
    count_funnel_step(session, event.region, event.data.vacancy_id, "matched")


def on_notification_sent(event: NotificationSent, session: Session) -> None:
    count_funnel_step(session, event.region, event.data.vacancy_id, "notified")


def on_application(event: ApplicationSubmitted, session: Session) -> None:
    step = event.data
    count_funnel_step(session, event.region, step.vacancy_id, "applied", step.kind)


def on_placement(event: PlacementMade, session: Session) -> None:
    step = event.data
    count_funnel_step(session, event.region, step.vacancy_id, "placed", step.kind)


FUNNEL: dict[type, Any] = {
    VacancyPublished: on_vacancy_published,
    MatchFound: on_match_found,
    NotificationSent: on_notification_sent,
    ApplicationSubmitted: on_application,
    PlacementMade: on_placement,
}


def register_kafka_handlers(runtime: ServiceRuntime) -> None:
    """Subscribe analytics to every topic of the region."""

    def counting(funnel_step: Any | None) -> Any:
        def on_event(event: Any, session: Session) -> None:
            count_event(session, event.region, event.type)
            if funnel_step is not None:
                funnel_step(event, session)

        return on_event

    for spec in TOPICS:
        runtime.consume(spec, {t: counting(FUNNEL.get(t)) for t in spec.event_types})
