"""Matching's own view of students, vacancies and companies, and the matches it found."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, func
from sqlmodel import Field, Session, SQLModel, col, delete, select

from interlocality.common.db import upsert
from interlocality.matching.dating.store import DATING_TABLES
from interlocality.matching.domain import (
    LanguageNeed,
    RequiredSkill,
    StudentEntry,
    VacancyEntry,
    market_languages,
)
from interlocality.matching.index import MatchIndex

__all__ = [
    "TABLES",
    "CompanyView",
    "MatchRecord",
    "StudentView",
    "VacancyView",
    "best_scores_by_company",
    "company_export_markets",
    "delete_student",
    "known_company_ids",
    "known_student_ids",
    "load_index",
    "match_count_of_student",
    "match_count_of_vacancy",
    "matches_of_student",
    "matches_of_vacancy",
    "open_vacancies_of_company",
    "save_company",
    "save_student",
    "save_vacancy",
    "student_entry",
    "vacancy_entry",
]


class StudentView(SQLModel, table=True):
    """What matching knows of a student (skills, languages and wishes, no contact data)."""

    __tablename__ = "student_view"

    id: str = Field(primary_key=True, max_length=64)
    version: int
    entry: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class VacancyView(SQLModel, table=True):
    """What matching knows of a vacancy."""

    __tablename__ = "vacancy_view"

    id: str = Field(primary_key=True, max_length=64)
    version: int
    company_id: str = Field(max_length=64, index=True)
    status: str = Field(max_length=16, index=True)
    entry: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class CompanyView(SQLModel, table=True):
    """The export markets of a company: languages there count in a student's favour."""

    __tablename__ = "company_view"

    id: str = Field(primary_key=True, max_length=64)
    export_markets: list[str] = Field(default_factory=list, sa_column=Column(JSON))


class MatchRecord(SQLModel, table=True):
    """A current match; ``found_basis`` names the student and vacancy versions it was found on."""

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
    explanation: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    found_basis: str = Field(max_length=64)
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


TABLES: list[type[SQLModel]] = [
    StudentView,
    VacancyView,
    CompanyView,
    MatchRecord,
    *DATING_TABLES,
]
IDS_PER_QUERY = 1000


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _parse_day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def student_document(entry: StudentEntry) -> dict[str, Any]:
    """A student entry as JSON-ready data."""
    return {
        "skills": dict(entry.skills),
        "languages": dict(entry.languages),
        "engagement_kinds": sorted(entry.engagement_kinds),
        "hours_per_week": entry.hours_per_week,
        "available_from": _day(entry.available_from),
        "available_until": _day(entry.available_until),
        "preferred_locations": sorted(entry.preferred_locations),
        "remote": entry.remote,
        "study_field": entry.study_field,
        "permitted_hours": entry.permitted_hours,
        "permit_country": entry.permit_country,
        "curricular_exempt": entry.curricular_exempt,
    }


def student_entry(student_id: str, version: int, document: dict[str, Any]) -> StudentEntry:
    """A student entry from its stored document."""
    return StudentEntry(
        id=student_id,
        version=version,
        skills=document.get("skills", {}),
        languages=document.get("languages", {}),
        engagement_kinds=frozenset(document.get("engagement_kinds", ())),
        hours_per_week=document.get("hours_per_week"),
        available_from=_parse_day(document.get("available_from")),
        available_until=_parse_day(document.get("available_until")),
        preferred_locations=frozenset(document.get("preferred_locations", ())),
        remote=document.get("remote"),
        study_field=document.get("study_field"),
        permitted_hours=document.get("permitted_hours"),
        permit_country=document.get("permit_country", ""),
        curricular_exempt=document.get("curricular_exempt", True),
    )


def vacancy_document(entry: VacancyEntry) -> dict[str, Any]:
    """A vacancy entry as JSON-ready data (export languages are the company's, not kept)."""
    return {
        "title": entry.title,
        "kind": entry.kind,
        "required": [[s.uri, s.min_level] for s in entry.required],
        "nice": [[s.uri, s.min_level] for s in entry.nice],
        "languages": [[n.code, n.min_rank, n.required] for n in entry.languages],
        "hours_per_week": entry.hours_per_week,
        "start_date": _day(entry.start_date),
        "location": entry.location,
        "remote": entry.remote,
        "curricular": entry.curricular,
    }


def vacancy_entry(
    row: VacancyView | dict[str, Any], export_languages: frozenset[str] = frozenset()
) -> VacancyEntry:
    """A vacancy entry from its stored row."""
    values = row if isinstance(row, dict) else row.model_dump()
    document = values["entry"] or {}
    return VacancyEntry(
        id=values["id"],
        version=values["version"],
        company_id=values["company_id"],
        title=document.get("title", ""),
        kind=document.get("kind", ""),
        status=values["status"],
        required=tuple(RequiredSkill(uri, level) for uri, level in document.get("required", ())),
        nice=tuple(RequiredSkill(uri, level) for uri, level in document.get("nice", ())),
        languages=tuple(
            LanguageNeed(code, rank, required)
            for code, rank, required in document.get("languages", ())
        ),
        hours_per_week=document.get("hours_per_week"),
        start_date=_parse_day(document.get("start_date")),
        location=document.get("location", ""),
        remote=document.get("remote"),
        curricular=document.get("curricular", False),
        export_languages=export_languages,
    )


def save_student(session: Session, entry: StudentEntry) -> None:
    """Store (or replace) a student's entry."""
    upsert(
        session,
        StudentView,
        [{"id": entry.id, "version": entry.version, "entry": student_document(entry)}],
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
                "status": entry.status,
                "entry": vacancy_document(entry),
            }
        ],
    )


def save_company(session: Session, company_id: str, export_markets: Sequence[str]) -> None:
    """Store (or replace) a company's export markets."""
    upsert(session, CompanyView, [{"id": company_id, "export_markets": list(export_markets)}])


def known_student_ids(session: Session, student_ids: Sequence[str]) -> set[str]:
    """Those of ``student_ids`` that matching holds: registered and consenting to matching."""
    return _known_ids(session, StudentView, student_ids)


def known_company_ids(session: Session, company_ids: Sequence[str]) -> set[str]:
    """Those of ``company_ids`` that matching holds: registered in this region."""
    return _known_ids(session, CompanyView, company_ids)


def _known_ids(
    session: Session, view: type[StudentView] | type[CompanyView], ids: Sequence[str]
) -> set[str]:
    unique = list(dict.fromkeys(ids))
    known: set[str] = set()
    for start in range(0, len(unique), IDS_PER_QUERY):
        chunk = unique[start : start + IDS_PER_QUERY]
        known.update(session.exec(select(view.id).where(col(view.id).in_(chunk))))
    return known


def company_export_markets(session: Session, company_id: str) -> list[str]:
    """The export markets of a company (none when unknown)."""
    company = session.get(CompanyView, company_id)
    return list(company.export_markets) if company else []


def open_vacancies_of_company(session: Session, company_id: str) -> list[VacancyView]:
    """The company's open vacancies."""
    return list(
        session.exec(
            select(VacancyView).where(
                VacancyView.company_id == company_id, VacancyView.status == "open"
            )
        ).all()
    )


def load_index(session: Session, index: MatchIndex) -> None:
    """Fill ``index`` from the stored entries."""
    markets = {row.id: row.export_markets for row in session.exec(select(CompanyView)).all()}
    students = session.execute(select(StudentView.__table__)).mappings()  # type: ignore[attr-defined]
    vacancies = session.execute(select(VacancyView.__table__)).mappings()  # type: ignore[attr-defined]
    index.load(
        (student_entry(row["id"], row["version"], row["entry"] or {}) for row in students),
        (
            vacancy_entry(dict(row), market_languages(markets.get(row["company_id"], ())))
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


def match_count_of_student(session: Session, student_id: str) -> int:
    """How many matches a student has."""
    statement = (
        select(func.count()).select_from(MatchRecord).where(MatchRecord.student_id == student_id)
    )
    return int(session.exec(statement).one())


def match_count_of_vacancy(session: Session, vacancy_id: str) -> int:
    """How many matches a vacancy has."""
    statement = (
        select(func.count()).select_from(MatchRecord).where(MatchRecord.vacancy_id == vacancy_id)
    )
    return int(session.exec(statement).one())


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


def best_scores_by_company(
    session: Session, student_ids: Sequence[str], company_ids: Sequence[str]
) -> dict[tuple[str, str], float]:
    """The best current match score of each student with any vacancy of each company.

    Pairs without a match are absent (they score 0).
    """
    companies = set(company_ids)
    scores: dict[tuple[str, str], float] = {}
    unique = list(dict.fromkeys(student_ids))
    for start in range(0, len(unique), IDS_PER_QUERY):
        chunk = unique[start : start + IDS_PER_QUERY]
        statement = (
            select(MatchRecord.student_id, MatchRecord.company_id, func.max(MatchRecord.score))
            .where(col(MatchRecord.student_id).in_(chunk))
            .group_by(col(MatchRecord.student_id), col(MatchRecord.company_id))
        )
        for student_id, company_id, score in session.exec(statement):
            if company_id in companies:
                scores[student_id, company_id] = float(score)
    return scores
