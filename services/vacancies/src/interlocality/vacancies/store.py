"""Tables and queries of the vacancies service."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, Column, ColumnElement, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, func, select

from interlocality.common.access import Principal, Role
from interlocality.common.db import in_key_order

__all__ = [
    "TABLES",
    "ApplicationRecord",
    "CompanyRecord",
    "KnownStudent",
    "VacancyRecord",
    "application_of",
    "applications_of_student",
    "applications_to",
    "by_external_id",
    "company_with_key",
    "count",
    "expired_vacancies",
    "held_on_student",
    "holder_of_external_id",
    "in_id_order",
    "page",
    "vacancies_where",
]


class CompanyRecord(SQLModel, table=True):
    """A company of the region."""

    __tablename__ = "company"

    id: str = Field(primary_key=True, max_length=64)
    external_id: str | None = Field(default=None, max_length=100, unique=True, index=True)
    name: str = Field(max_length=200)
    # company_key of the name and city: one company is registered once
    name_key: str = Field(default="", max_length=64, index=True)
    document: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    content_hash: str = Field(max_length=64)
    version: int = 1
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class VacancyRecord(SQLModel, table=True):
    """A vacancy of a company, in its lifecycle draft → open → filled / closed / expired."""

    __tablename__ = "vacancy"

    id: str = Field(primary_key=True, max_length=64)
    external_id: str | None = Field(default=None, max_length=100, unique=True, index=True)
    company_id: str = Field(foreign_key="company.id", index=True, max_length=64)
    status: str = Field(default="open", max_length=16, index=True)
    application_deadline: date | None = Field(default=None, index=True)
    positions: int = 1
    positions_filled: int = 0
    document: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    content_hash: str = Field(max_length=64)
    version: int = 1
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class KnownStudent(SQLModel, table=True):
    """Students the region has (from the students topic): who may apply."""

    __tablename__ = "known_student"

    id: str = Field(primary_key=True, max_length=64)


class ApplicationRecord(SQLModel, table=True):
    """A student's application to a vacancy, and whether it led to a placement."""

    __tablename__ = "application"
    __table_args__ = (UniqueConstraint("vacancy_id", "student_id", name="uq_application"),)

    id: str = Field(primary_key=True, max_length=64)
    vacancy_id: str = Field(foreign_key="vacancy.id", index=True, max_length=64)
    student_id: str = Field(index=True, max_length=64)
    placed: bool = False
    applied_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    placed_at: datetime | None = None


TABLES: list[type[SQLModel]] = [CompanyRecord, VacancyRecord, KnownStudent, ApplicationRecord]

RecordT = TypeVar("RecordT", CompanyRecord, VacancyRecord)


def in_id_order(session: Session, model: type[RecordT], batch: int = 1000) -> Iterator[RecordT]:
    """Every row of ``model`` in id order, fetched in batches."""
    return in_key_order(session, model, "id", batch=batch)


def page(
    session: Session,
    model: type[RecordT],
    after: str | None,
    limit: int,
    *where: ColumnElement[bool],
) -> list[RecordT]:
    """Rows of ``model`` meeting the ``where`` conditions, in id order after the id ``after``."""
    statement = select(model).where(*where).order_by(col(model.id)).limit(limit)
    if after:
        statement = statement.where(model.id > after)
    return list(session.exec(statement).all())


def vacancies_where(status: str | None, external_id: str | None) -> list[ColumnElement[bool]]:
    """The conditions for vacancies of a status and of an operator's id, where given."""
    conditions = []
    if status:
        conditions.append(col(VacancyRecord.status) == status)
    if external_id is not None:
        conditions.append(col(VacancyRecord.external_id) == external_id)
    return conditions


def vacancies_seen_by(caller: Principal) -> list[ColumnElement[bool]]:
    """The conditions for the vacancies ``caller`` may list: an operator all, a company its
    own, a student those published (no drafts)."""
    if caller.has(Role.OPERATOR):
        return []
    if caller.has(Role.COMPANY):
        return [col(VacancyRecord.company_id) == (caller.company_id or "")]
    return [col(VacancyRecord.status) != "draft"]


def count(session: Session, model: type[RecordT], *where: ColumnElement[bool]) -> int:
    """How many rows of ``model`` meet the ``where`` conditions."""
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def by_external_id(
    session: Session, model: type[RecordT], external_ids: Sequence[str], *, to_change: bool = False
) -> dict[str, RecordT]:
    """The stored rows of ``model`` among ``external_ids``; read ``to_change``, locked
    until the transaction ends (PostgreSQL), in id order so that two writers never wait
    for each other in a circle."""
    if not external_ids:
        return {}
    statement = select(model).where(col(model.external_id).in_(list(external_ids)))
    if to_change:
        statement = (
            statement.order_by(col(model.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    return {row.external_id: row for row in session.exec(statement) if row.external_id}


def company_with_key(session: Session, name_key: str, other_than: str) -> CompanyRecord | None:
    """A company other than ``other_than`` with this name key, if any."""
    return session.exec(
        select(CompanyRecord).where(
            CompanyRecord.name_key == name_key, CompanyRecord.id != other_than
        )
    ).first()


def holder_of_external_id(
    session: Session,
    table: type[CompanyRecord] | type[VacancyRecord],
    external_id: str | None,
    other_than: str,
) -> str | None:
    """The id of the row of ``table`` other than ``other_than`` that has this operator's id."""
    if not external_id:
        return None
    return session.exec(
        select(table.id).where(table.external_id == external_id, table.id != other_than)
    ).first()


def expired_vacancies(session: Session, today: date, limit: int = 500) -> list[VacancyRecord]:
    """Open vacancies whose application deadline has passed, claimed for ``session``'s
    transaction.

    On PostgreSQL they stay locked until it ends and rows another replica's expiry has
    locked are skipped, so each vacancy is expired (and announced) by one replica only; a
    row expired and committed meanwhile is open no more when read. SQLite lets one writer
    in at a time, so its expiries follow one another.
    """
    return list(
        session.exec(
            select(VacancyRecord)
            .where(
                VacancyRecord.status == "open",
                col(VacancyRecord.application_deadline) < today,
            )
            .order_by(col(VacancyRecord.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
    )


def applications_to(session: Session, vacancy_id: str) -> list[ApplicationRecord]:
    """The applications to one vacancy."""
    return list(
        session.exec(select(ApplicationRecord).where(ApplicationRecord.vacancy_id == vacancy_id))
    )


def application_of(session: Session, vacancy_id: str, student_id: str) -> ApplicationRecord | None:
    """A student's application to one vacancy, if any."""
    return session.exec(
        select(ApplicationRecord).where(
            ApplicationRecord.vacancy_id == vacancy_id,
            ApplicationRecord.student_id == student_id,
        )
    ).first()


def applications_of_student(session: Session, student_id: str) -> list[ApplicationRecord]:
    """A student's applications."""
    return list(
        session.exec(select(ApplicationRecord).where(ApplicationRecord.student_id == student_id))
    )


def held_on_student(session: Session, student_id: str) -> dict[str, Any]:
    """Everything stored on a student: their applications."""
    return {
        "applications": [
            a.model_dump(mode="json") for a in applications_of_student(session, student_id)
        ]
    }
