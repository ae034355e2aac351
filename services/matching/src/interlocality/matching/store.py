"""Matching's own view of students and vacancies, and the matches it found."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, Session, SQLModel, col, delete, select

from interlocality.common.db import upsert
from interlocality.matching.domain import RequiredSkill
from interlocality.matching.index import MatchIndex, StudentEntry, VacancyEntry

__all__ = [
    "TABLES",
    "MatchRecord",
    "StudentView",
    "VacancyView",
    "delete_student",
    "load_index",
    "matches_of_student",
    "matches_of_vacancy",
    "save_student",
    "save_vacancy",
]


class StudentView(SQLModel, table=True):
    """What matching knows of a student (skills and wishes, no contact data)."""

    __tablename__ = "student_view"

    id: str = Field(primary_key=True, max_length=64)
    skills: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON))
    engagement_kinds: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    permitted_hours: float | None = None
    permit_country: str = Field(default="", max_length=2)
    version: int


class VacancyView(SQLModel, table=True):
    """What matching knows of a vacancy."""

    __tablename__ = "vacancy_view"

    id: str = Field(primary_key=True, max_length=64)
    company_id: str = Field(max_length=64)
    title: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    required_skills: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    status: str = Field(max_length=16, index=True)
    hours_per_week: int | None = None
    version: int


class MatchRecord(SQLModel, table=True):
    """A current match; ``basis`` names the student and vacancy versions it was scored on."""

    __tablename__ = "match"
    __table_args__ = (
        Index("ix_match_student_score", "student_id", "score"),
        Index("ix_match_vacancy_score", "vacancy_id", "score"),
    )

    student_id: str = Field(primary_key=True, max_length=64)
    vacancy_id: str = Field(primary_key=True, max_length=64)
    company_id: str = Field(max_length=64)
    vacancy_title: str = Field(max_length=200)
    score: float
    matched_skills: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    missing_skills: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    permit_flag: str | None = Field(default=None, max_length=300)
    found_basis: str = Field(max_length=64)
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


TABLES: list[type[SQLModel]] = [StudentView, VacancyView, MatchRecord]


def save_student(session: Session, entry: StudentEntry) -> None:
    """Store (or replace) a student's entry."""
    upsert(
        session,
        StudentView,
        [
            {
                "id": entry.id,
                "version": entry.version,
                "skills": dict(entry.skills),
                "engagement_kinds": list(entry.engagement_kinds),
                "permitted_hours": entry.permitted_hours,
                "permit_country": entry.permit_country,
            }
        ],
    )


def delete_student(session: Session, student_id: str) -> None:
    """Remove a student's entry."""
    session.execute(delete(StudentView).where(col(StudentView.id) == student_id))


def save_vacancy(session: Session, entry: VacancyEntry) -> None:
    """Store (or replace) a vacancy's entry."""
    upsert(
        session,
        VacancyView,
        [
            {
                "id": entry.id,
                "version": entry.version,
                "company_id": entry.company_id,
                "title": entry.title,
                "kind": entry.kind,
                "status": entry.status,
                "hours_per_week": entry.hours_per_week,
                "required_skills": [
                    {"uri": s.uri, "min_level": s.min_level} for s in entry.required
                ],
            }
        ],
    )


def load_index(session: Session, index: MatchIndex) -> None:
    """Fill ``index`` from the stored entries."""
    students = session.execute(select(StudentView.__table__)).mappings()  # type: ignore[attr-defined]
    vacancies = session.execute(select(VacancyView.__table__)).mappings()  # type: ignore[attr-defined]
    index.load(
        (
            StudentEntry(
                id=row["id"],
                version=row["version"],
                skills=row["skills"] or {},
                engagement_kinds=tuple(row["engagement_kinds"] or ()),
                permitted_hours=row["permitted_hours"],
                permit_country=row["permit_country"],
            )
            for row in students
        ),
        (
            VacancyEntry(
                id=row["id"],
                version=row["version"],
                company_id=row["company_id"],
                title=row["title"],
                kind=row["kind"],
                status=row["status"],
                hours_per_week=row["hours_per_week"],
                required=tuple(
                    RequiredSkill(s["uri"], s.get("min_level", 1))
                    for s in row["required_skills"] or ()
                ),
            )
            for row in vacancies
        ),
    )


def matches_of_student(
    session: Session, student_id: str, limit: int | None = None, offset: int = 0
) -> list[MatchRecord]:
    """A student's matches, best first."""
    statement = (
        select(MatchRecord)
        .where(MatchRecord.student_id == student_id)
        .order_by(col(MatchRecord.score).desc(), col(MatchRecord.vacancy_id))
        .offset(offset)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return list(session.exec(statement).all())


def matches_of_vacancy(
    session: Session, vacancy_id: str, limit: int | None = None, offset: int = 0
) -> list[MatchRecord]:
    """A vacancy's matches, best first."""
    statement = (
        select(MatchRecord)
        .where(MatchRecord.vacancy_id == vacancy_id)
        .order_by(col(MatchRecord.score).desc(), col(MatchRecord.student_id))
        .offset(offset)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return list(session.exec(statement).all())
