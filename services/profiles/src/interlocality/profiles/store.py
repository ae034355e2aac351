"""Tables and queries of the profiles service."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, select

__all__ = ["TABLES", "StudentRecord", "all_students"]


class StudentRecord(SQLModel, table=True):
    """A student's profile as the region holds it."""

    __tablename__ = "student"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320, index=True)
    skills: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    languages: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    engagement_kinds: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    version: int = 1
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


TABLES: list[type[SQLModel]] = [StudentRecord]


def all_students(session: Session, batch: int = 1000) -> Iterator[StudentRecord]:
    """Every student, in id order, fetched in batches."""
    last = ""
    while True:
        rows = session.exec(
            select(StudentRecord)
            .where(StudentRecord.id > last)
            .order_by(StudentRecord.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id
