"""Tables and queries of the vacancies service."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, select

__all__ = ["TABLES", "CompanyRecord", "VacancyRecord", "in_id_order"]


class CompanyRecord(SQLModel, table=True):
    """A company of the region."""

    __tablename__ = "company"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    city: str = Field(default="", max_length=100)
    version: int = 1
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class VacancyRecord(SQLModel, table=True):
    """A vacancy of a company."""

    __tablename__ = "vacancy"

    id: str = Field(primary_key=True, max_length=64)
    company_id: str = Field(foreign_key="company.id", index=True, max_length=64)
    title: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    required_skills: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    languages: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    status: str = Field(default="open", max_length=16, index=True)
    version: int = 1
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


TABLES: list[type[SQLModel]] = [CompanyRecord, VacancyRecord]

RecordT = TypeVar("RecordT", CompanyRecord, VacancyRecord)


def in_id_order(session: Session, model: type[RecordT], batch: int = 1000) -> Iterator[RecordT]:
    """Every row of ``model`` in id order, fetched in batches."""
    last = ""
    while True:
        rows = session.exec(
            select(model).where(model.id > last).order_by(model.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id
