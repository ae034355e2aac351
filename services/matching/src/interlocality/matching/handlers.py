"""Kafka side of matching: students, companies and vacancies in, each applied by the
service layer within the consumer's transaction."""

from __future__ import annotations

from functools import partial

from sqlmodel import Session

from interlocality.common.service import ServiceRuntime
from interlocality.contracts.companies import CompanyRegistered
from interlocality.contracts.students import StudentProfileErased, StudentProfileUpserted
from interlocality.contracts.topics import COMPANIES, STUDENTS, VACANCIES
from interlocality.contracts.vacancies import (
    VacancyClosed,
    VacancyExpired,
    VacancyFilled,
    VacancyPublished,
)
from interlocality.matching.service import MatchingService

__all__ = [
    "on_company_registered",
    "on_student_erased",
    "on_student_upserted",
    "on_vacancy_changed",
    "subscribe",
]

VacancyChanged = VacancyPublished | VacancyClosed | VacancyFilled | VacancyExpired


def on_student_upserted(
    service: MatchingService, event: StudentProfileUpserted, session: Session
) -> None:
    service.apply_student(session, event.data)


def on_student_erased(
    service: MatchingService, event: StudentProfileErased, session: Session
) -> None:
    service.erase_student(session, event.data.student_id)


def on_vacancy_changed(service: MatchingService, event: VacancyChanged, session: Session) -> None:
    service.apply_vacancy(session, event.data)


def on_company_registered(
    service: MatchingService, event: CompanyRegistered, session: Session
) -> None:
    service.apply_company(session, event.data)


def subscribe(runtime: ServiceRuntime, service: MatchingService) -> None:
    """Subscribe matching to the students, companies and vacancies topics; a rolled-back
    batch leaves the in-memory view stale, to be reloaded."""
    runtime.consume(
        STUDENTS,
        {
            StudentProfileUpserted: partial(on_student_upserted, service),
            StudentProfileErased: partial(on_student_erased, service),
        },
        after_rollback=service.mark_stale,
    )
    runtime.consume(
        COMPANIES,
        {CompanyRegistered: partial(on_company_registered, service)},
        after_rollback=service.mark_stale,
    )
    on_vacancy = partial(on_vacancy_changed, service)
    runtime.consume(
        VACANCIES,
        {
            VacancyPublished: on_vacancy,
            VacancyClosed: on_vacancy,
            VacancyFilled: on_vacancy,
            VacancyExpired: on_vacancy,
        },
        after_rollback=service.mark_stale,
    )
