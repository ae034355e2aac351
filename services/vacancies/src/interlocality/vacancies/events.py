"""State → wire events: the snapshots and funnel steps the vacancies service publishes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlmodel import Session

from interlocality.common.service import ServiceRuntime
from interlocality.contracts.applications import ApplicationSubmitted, FunnelStep, PlacementMade
from interlocality.contracts.companies import CompanyRegistered
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.vacancies import (
    Vacancy,
    VacancyClosed,
    VacancyExpired,
    VacancyFilled,
    VacancyPublished,
)
from interlocality.vacancies.domain import company_of, vacancy_of
from interlocality.vacancies.store import CompanyRecord, VacancyRecord, in_id_order

__all__ = ["EVENT_OF_STATUS", "company_event", "current_state", "funnel_event", "vacancy_event"]

EVENT_OF_STATUS = {
    "open": VacancyPublished,
    "closed": VacancyClosed,
    "filled": VacancyFilled,
    "expired": VacancyExpired,
}


def company_event(runtime: ServiceRuntime, record: CompanyRecord) -> CompanyRegistered:
    """The snapshot event of a stored company (the same id for the same version)."""
    return runtime.event(
        CompanyRegistered,
        subject=record.id,
        data=company_of(
            company_id=record.id,
            document=record.document,
            version=record.version,
            updated_at=record.updated_at,
        ),
        version=record.version,
    )


def vacancy_event(runtime: ServiceRuntime, record: VacancyRecord) -> CloudEvent[Vacancy] | None:
    """The snapshot event of a stored vacancy; drafts have none."""
    event_type = EVENT_OF_STATUS.get(record.status)
    if event_type is None:
        return None
    return runtime.event(
        event_type,
        subject=record.id,
        data=vacancy_of(
            vacancy_id=record.id,
            status=record.status,
            document=record.document,
            version=record.version,
            updated_at=record.updated_at,
        ),
        version=record.version,
    )


def funnel_event(
    runtime: ServiceRuntime,
    event_type: type[ApplicationSubmitted] | type[PlacementMade],
    record: VacancyRecord,
    student_id: str,
    at: datetime,
) -> ApplicationSubmitted | PlacementMade:
    """A student's step in a vacancy's funnel (one id per student and vacancy and step)."""
    return runtime.event(
        event_type,
        subject=record.id,
        data=FunnelStep(
            vacancy_id=record.id,
            company_id=record.company_id,
            student_id=student_id,
            kind=str(record.document.get("kind", "")),
            at=at,
        ),
        version=f"{student_id}",
    )


def current_state(runtime: ServiceRuntime, session: Session) -> Iterator[CloudEvent[Any]]:
    """The snapshot of every company and every published vacancy, to replay."""
    for company in in_id_order(session, CompanyRecord):
        yield company_event(runtime, company)
    for vacancy in in_id_order(session, VacancyRecord):
        event = vacancy_event(runtime, vacancy)
        if event is not None:
            yield event
