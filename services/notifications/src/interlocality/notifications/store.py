"""Notifications held for students."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

__all__ = ["TABLES", "NotificationRecord", "notification_for", "notifications_of"]


class NotificationRecord(SQLModel, table=True):
    """An in-app notification; at most one per student and vacancy."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("student_id", "vacancy_id", name="uq_notification_student_vacancy"),
        Index("ix_notification_student_created", "student_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=64)
    student_id: str = Field(max_length=64)
    vacancy_id: str = Field(max_length=64)
    company_id: str = Field(max_length=64)
    title: str = Field(max_length=300)
    score: float
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    available: bool = True
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


TABLES: list[type[SQLModel]] = [NotificationRecord]


def notification_for(
    session: Session, student_id: str, vacancy_id: str
) -> NotificationRecord | None:
    """The notification of ``student_id`` about ``vacancy_id``, if any."""
    return session.exec(
        select(NotificationRecord).where(
            NotificationRecord.student_id == student_id,
            NotificationRecord.vacancy_id == vacancy_id,
        )
    ).first()


def notifications_of(
    session: Session, student_id: str, limit: int, offset: int = 0
) -> list[NotificationRecord]:
    """A student's notifications, newest first."""
    return list(
        session.exec(
            select(NotificationRecord)
            .where(NotificationRecord.student_id == student_id)
            .order_by(col(NotificationRecord.created_at).desc(), col(NotificationRecord.id))
            .offset(offset)
            .limit(limit)
        ).all()
    )
