"""Tables and queries of the profiles service."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, col, select

from interlocality.common.db import in_key_order

__all__ = [
    "TABLES",
    "ErasureRecord",
    "GraduateOutcomeRecord",
    "StudentRecord",
    "all_outcomes",
    "all_students",
    "erasures_of_absent_students",
    "locked_students",
    "page_of_students",
    "student_with_external_id",
    "students_by_external_id",
]


class StudentRecord(SQLModel, table=True):
    """A student's profile as the region holds it: searchable columns plus the document."""

    __tablename__ = "student"

    id: str = Field(primary_key=True, max_length=64)
    external_id: str | None = Field(default=None, max_length=100, unique=True, index=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320, index=True)
    document: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON), description="The submitted profile."
    )
    consents: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON), description="Consents with their times."
    )
    content_hash: str = Field(max_length=64)
    version: int = 1
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC), index=True)
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class GraduateOutcomeRecord(SQLModel, table=True):
    """What became of a graduate, as the operator last recorded it: one row per student,
    deleted with the student."""

    __tablename__ = "graduate_outcome"

    student_id: str = Field(primary_key=True, max_length=64, foreign_key="student.id")
    graduated_on: date
    outcome: str = Field(max_length=32)
    recorded_at: datetime


class ErasureRecord(SQLModel, table=True):
    """That a student was erased, and when: the fact of the erasure only, no personal data
    (the id is the one profiles drew for the student, nothing the student gave). Kept so a
    replay tells every service of the erasure again when the broker lost it before they
    read it; one row per id, the last erasure's."""

    __tablename__ = "student_erasure"

    student_id: str = Field(primary_key=True, max_length=64)
    erased_at: datetime


TABLES: list[type[SQLModel]] = [StudentRecord, GraduateOutcomeRecord, ErasureRecord]


def all_students(session: Session, batch: int = 1000) -> Iterator[StudentRecord]:
    """Every student, in id order, fetched in batches."""
    return in_key_order(session, StudentRecord, "id", batch=batch)


def all_outcomes(session: Session, batch: int = 1000) -> Iterator[GraduateOutcomeRecord]:
    """Every recorded outcome, in student id order, fetched in batches."""
    return in_key_order(session, GraduateOutcomeRecord, "student_id", batch=batch)


def erasures_of_absent_students(session: Session, batch: int = 1000) -> Iterator[ErasureRecord]:
    """Every erasure whose student id names no stored student now, in id order, fetched in
    batches: an id stored again (only a restored backup brings one back) is that student's,
    not the erasure's."""
    stored = select(StudentRecord.id).where(StudentRecord.id == ErasureRecord.student_id)
    return in_key_order(session, ErasureRecord, "student_id", ~stored.exists(), batch=batch)


def page_of_students(
    session: Session, after: str | None, limit: int, *, external_id: str | None = None
) -> list[StudentRecord]:
    """Students in id order after the id ``after``; only ``external_id``'s when given."""
    statement = select(StudentRecord).order_by(col(StudentRecord.id)).limit(limit)
    if after:
        statement = statement.where(StudentRecord.id > after)
    if external_id is not None:
        statement = statement.where(StudentRecord.external_id == external_id)
    return list(session.exec(statement).all())


def students_by_external_id(
    session: Session, external_ids: Sequence[str]
) -> dict[str, StudentRecord]:
    """The stored students among ``external_ids``."""
    if not external_ids:
        return {}
    rows = session.exec(
        select(StudentRecord).where(col(StudentRecord.external_id).in_(list(external_ids)))
    ).all()
    return {row.external_id: row for row in rows if row.external_id}


def student_with_external_id(session: Session, external_id: str) -> StudentRecord | None:
    """The stored student the operator knows as ``external_id``."""
    return session.exec(
        select(StudentRecord).where(StudentRecord.external_id == external_id)
    ).first()


def locked_students(session: Session, student_ids: Collection[str]) -> dict[str, StudentRecord]:
    """The stored students among ``student_ids``, read to be changed.

    On PostgreSQL the rows stay locked until ``session``'s transaction ends: a second
    writer waits, then reads what the first one wrote. They are locked in id order, so two
    writers of the same students never wait for each other in a circle. (SQLite lets one
    writer at a time in.) The session's copies are refreshed from the rows read.
    """
    if not student_ids:
        return {}
    statement = (
        select(StudentRecord)
        .where(col(StudentRecord.id).in_(sorted(student_ids)))
        .order_by(col(StudentRecord.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {record.id: record for record in session.exec(statement).all()}
