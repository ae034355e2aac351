"""Kafka side of vacancies: which students exist, and erasing what it holds on one."""

from __future__ import annotations

from sqlmodel import Session

from interlocality.common.db import insert_missing
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.students import StudentProfileErased, StudentProfileUpserted
from interlocality.contracts.topics import STUDENTS
from interlocality.vacancies.store import KnownStudent, applications_of_student

__all__ = ["register_kafka_handlers"]


def register_kafka_handlers(runtime: ServiceRuntime) -> None:
    """Subscribe vacancies to the students topic."""

    def on_student_upserted(event: StudentProfileUpserted, session: Session) -> None:
        insert_missing(session, KnownStudent, [{"id": event.data.student_id}])

    def on_student_erased(event: StudentProfileErased, session: Session) -> None:
        student_id = event.data.student_id
        for application in applications_of_student(session, student_id):
            session.delete(application)
        known = session.get(KnownStudent, student_id)
        if known is not None:
            session.delete(known)

    runtime.consume(
        STUDENTS,
        {StudentProfileUpserted: on_student_upserted, StudentProfileErased: on_student_erased},
    )
