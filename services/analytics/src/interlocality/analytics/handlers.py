"""Kafka side of analytics: every event of the region counted in runs, and the entity
snapshots (students, companies, vacancies) kept as supply and demand besides."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from sqlmodel import Session

from interlocality.analytics.service import AnalyticsService
from interlocality.common.consumer import Batched, EventHandler
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.companies import CompanyRegistered
from interlocality.contracts.students import StudentProfileErased, StudentProfileUpserted
from interlocality.contracts.topics import TOPICS
from interlocality.contracts.vacancies import (
    VacancyClosed,
    VacancyExpired,
    VacancyFilled,
    VacancyPublished,
)

__all__ = [
    "SNAPSHOT_HANDLERS",
    "on_company_registered",
    "on_events",
    "on_student_profile_erased",
    "on_student_profile_upserted",
    "on_vacancy_changed",
    "subscribe",
]

VacancySnapshot = VacancyPublished | VacancyClosed | VacancyFilled | VacancyExpired


def on_events(service: AnalyticsService, events: list[Any], session: Session) -> None:
    service.count_events(session, events)


def on_student_profile_upserted(
    service: AnalyticsService, event: StudentProfileUpserted, session: Session
) -> None:
    service.count_events(session, [event])
    service.supply.record_student(session, event.data)


def on_student_profile_erased(
    service: AnalyticsService, event: StudentProfileErased, session: Session
) -> None:
    service.count_events(session, [event])
    service.supply.erase_student(session, event.data.student_id)


def on_company_registered(
    service: AnalyticsService, event: CompanyRegistered, session: Session
) -> None:
    service.count_events(session, [event])
    service.supply.record_company(session, event.data)


def on_vacancy_changed(service: AnalyticsService, event: VacancySnapshot, session: Session) -> None:
    service.count_events(session, [event])
    service.supply.record_vacancy(session, event.data)


SNAPSHOT_HANDLERS: dict[type, Callable[[AnalyticsService, Any, Session], None]] = {
    StudentProfileUpserted: on_student_profile_upserted,
    StudentProfileErased: on_student_profile_erased,
    CompanyRegistered: on_company_registered,
    VacancyPublished: on_vacancy_changed,
    VacancyClosed: on_vacancy_changed,
    VacancyFilled: on_vacancy_changed,
    VacancyExpired: on_vacancy_changed,
}


def subscribe(runtime: ServiceRuntime, service: AnalyticsService) -> None:
    """Subscribe analytics to every topic of the region: the entity snapshots one by one
    (each counted and kept), every other type counted in runs."""
    counting = Batched(partial(on_events, service))
    for spec in TOPICS:
        handlers: dict[type, EventHandler] = {}
        for event_type in spec.event_types:
            handler = SNAPSHOT_HANDLERS.get(event_type)
            handlers[event_type] = counting if handler is None else partial(handler, service)
        runtime.consume(spec, handlers)
