"""Matching's own view of students and vacancies, and the matches it found."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, Session, SQLModel, col, delete, select

__all__ = [
    "TABLES",
    "MatchRecord",
    "StudentView",
    "VacancyView",
    "matches_of_student",
    "matches_of_vacancy",
    "open_vacancies_sharing",
    "set_student_skills",
    "set_vacancy_skills",
    "students_sharing",
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


class StudentSkill(SQLModel, table=True):
    """Index from a skill to the students who have it."""

    __tablename__ = "student_skill"

    student_id: str = Field(primary_key=True, max_length=64)
    skill_uri: str = Field(primary_key=True, max_length=120, index=True)


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


class VacancySkill(SQLModel, table=True):
    """Index from a skill to the vacancies requiring it."""

    __tablename__ = "vacancy_skill"

    vacancy_id: str = Field(primary_key=True, max_length=64)
    skill_uri: str = Field(primary_key=True, max_length=120, index=True)


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


TABLES: list[type[SQLModel]] = [StudentView, StudentSkill, VacancyView, VacancySkill, MatchRecord]


def set_student_skills(session: Session, student_id: str, uris: list[str]) -> None:
    """Replace the skill index rows of a student."""
    session.exec(delete(StudentSkill).where(col(StudentSkill.student_id) == student_id))
    session.add_all(StudentSkill(student_id=student_id, skill_uri=uri) for uri in uris)


def set_vacancy_skills(session: Session, vacancy_id: str, uris: list[str]) -> None:
    """Replace the skill index rows of a vacancy."""
    session.exec(delete(VacancySkill).where(col(VacancySkill.vacancy_id) == vacancy_id))
    session.add_all(VacancySkill(vacancy_id=vacancy_id, skill_uri=uri) for uri in uris)


def open_vacancies_sharing(session: Session, uris: list[str]) -> list[VacancyView]:
    """Open vacancies that require at least one of ``uris``."""
    if not uris:
        return []
    ids = select(VacancySkill.vacancy_id).where(col(VacancySkill.skill_uri).in_(uris)).distinct()
    return list(
        session.exec(
            select(VacancyView).where(col(VacancyView.id).in_(ids), VacancyView.status == "open")
        ).all()
    )


def students_sharing(session: Session, uris: list[str]) -> list[StudentView]:
    """Students that have at least one of ``uris``."""
    if not uris:
        return []
    ids = select(StudentSkill.student_id).where(col(StudentSkill.skill_uri).in_(uris)).distinct()
    return list(session.exec(select(StudentView).where(col(StudentView.id).in_(ids))).all())


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
