"""Kafka side of vacancies: which students exist, and erasing what it holds on one."""

from __future__ import annotations

from functools import partial

from sqlmodel import Session

from interlocality.common.service import ServiceRuntime
from interlocality.contracts.students import StudentProfileErased, StudentProfileUpserted
from interlocality.contracts.topics import STUDENTS
from interlocality.vacancies.service import VacancyService

__all__ = ["on_student_erased", "on_student_upserted", "subscribe"]


def on_student_upserted(
    service: VacancyService, event: StudentProfileUpserted, session: Session
) -> None:
    service.know_student(session, event.data.student_id)


def on_student_erased(
    service: VacancyService, event: StudentProfileErased, session: Session
) -> None:
    service.erase_student(session, event.data.student_id)


def subscribe(runtime: ServiceRuntime, service: VacancyService) -> None:
    """Subscribe vacancies to the students topic."""
    runtime.consume(
        STUDENTS,
        {
            StudentProfileUpserted: partial(on_student_upserted, service),
            StudentProfileErased: partial(on_student_erased, service),
        },
    )
