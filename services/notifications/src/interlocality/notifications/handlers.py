"""Kafka side of notifications: one notification per match, withdrawn when the match is."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlmodel import Session, col, delete

from interlocality.common.service import ServiceRuntime
from interlocality.contracts.matches import MatchFound, MatchWithdrawn
from interlocality.contracts.notifications import Delivery, NotificationSent
from interlocality.contracts.students import StudentProfileErased
from interlocality.contracts.topics import MATCHES, STUDENTS
from interlocality.notifications.domain import in_app_content
from interlocality.notifications.store import NotificationRecord, notification_for

__all__ = ["notification_sent", "register_kafka_handlers"]


def notification_sent(runtime: ServiceRuntime, record: NotificationRecord) -> NotificationSent:
    """The ``NotificationSent`` event of an in-app notification (stable id per notification)."""
    created = (
        record.created_at if record.created_at.tzinfo else record.created_at.replace(tzinfo=UTC)
    )
    return runtime.event(
        NotificationSent,
        subject=record.student_id,
        data=Delivery(
            notification_id=record.id,
            student_id=record.student_id,
            vacancy_id=record.vacancy_id,
            channel="in_app",
            sent_at=created,
        ),
        version=record.id,
    )


def register_kafka_handlers(runtime: ServiceRuntime) -> None:
    """Subscribe notifications to matches and to student erasures."""

    def on_match_found(event: MatchFound, session: Session) -> None:
        match = event.data
        if notification_for(session, match.student_id, match.vacancy_id) is not None:
            return  # exactly one notification per student and vacancy
        record = NotificationRecord(
            id=str(uuid.uuid4()),
            student_id=match.student_id,
            vacancy_id=match.vacancy_id,
            company_id=match.company_id,
            title=match.vacancy_title,
            score=match.score,
            content=in_app_content(match),
            created_at=datetime.now(UTC),
        )
        session.add(record)
        runtime.emit(session, notification_sent(runtime, record))

    def on_match_withdrawn(event: MatchWithdrawn, session: Session) -> None:
        record = notification_for(session, event.data.student_id, event.data.vacancy_id)
        if record is not None and record.available:
            record.available = False
            session.add(record)

    def on_student_erased(event: StudentProfileErased, session: Session) -> None:
        session.exec(
            delete(NotificationRecord).where(
                col(NotificationRecord.student_id) == event.data.student_id
            )
        )

    runtime.consume(MATCHES, {MatchFound: on_match_found, MatchWithdrawn: on_match_withdrawn})
    runtime.consume(STUDENTS, {StudentProfileErased: on_student_erased})
