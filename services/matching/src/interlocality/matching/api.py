"""HTTP API of matching: ranked matches per student and per vacancy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from interlocality.common.esco import EscoVocabulary
from interlocality.common.service import ServiceRuntime
from interlocality.matching.store import MatchRecord, matches_of_student, matches_of_vacancy

__all__ = ["MatchPublic", "create_router"]


class SkillRef(BaseModel):
    """An ESCO skill with its English label."""

    uri: str
    label: str


class MatchPublic(BaseModel):
    """A match with its score and why."""

    student_id: str
    vacancy_id: str
    company_id: str
    vacancy_title: str
    score: float
    matched_skills: list[SkillRef]
    missing_skills: list[SkillRef]
    permit_flag: str | None


class MatchPage(BaseModel):
    """One page of ranked matches."""

    items: list[MatchPublic]
    limit: int
    offset: int


def create_router(runtime: ServiceRuntime, vocabulary: EscoVocabulary) -> APIRouter:
    """Routes for reading matches."""
    router = APIRouter(prefix="/v1", tags=["matches"])

    def public(record: MatchRecord) -> MatchPublic:
        def refs(uris: list[str]) -> list[SkillRef]:
            return [SkillRef(uri=uri, label=vocabulary.label(uri)) for uri in uris]

        return MatchPublic(
            student_id=record.student_id,
            vacancy_id=record.vacancy_id,
            company_id=record.company_id,
            vacancy_title=record.vacancy_title,
            score=record.score,
            matched_skills=refs(record.matched_skills),
            missing_skills=refs(record.missing_skills),
            permit_flag=record.permit_flag,
        )

    @router.get("/students/{student_id}/matches", summary="A student's matches, best first")
    def student_matches(
        student_id: str,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> MatchPage:
        with runtime.reading() as session:
            records = matches_of_student(session, student_id, limit, offset)
        return MatchPage(items=[public(r) for r in records], limit=limit, offset=offset)

    @router.get("/vacancies/{vacancy_id}/matches", summary="A vacancy's matches, best first")
    def vacancy_matches(
        vacancy_id: str,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> MatchPage:
        with runtime.reading() as session:
            records = matches_of_vacancy(session, vacancy_id, limit, offset)
        return MatchPage(items=[public(r) for r in records], limit=limit, offset=offset)

    return router
