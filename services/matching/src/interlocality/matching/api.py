"""HTTP API of matching: ranked, explained matches; one pair's evaluation; skill-gap advice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field

from interlocality.common.access import OPERATOR, allow, company_owning, the_student
from interlocality.common.esco import EscoVocabulary
from interlocality.common.pagination import OffsetPage
from interlocality.common.service import Provided, ServiceRuntime, error_answers
from interlocality.contracts.matches import MatchExplanation
from interlocality.matching.domain import evaluate_pair
from interlocality.matching.events import explanation_of, missing_nice_to_have
from interlocality.matching.gaps import SkillGap, skill_gaps
from interlocality.matching.index import MatchIndex
from interlocality.matching.store import (
    MatchRecord,
    match_count_of_student,
    match_count_of_vacancy,
    matches_of_student,
    matches_of_vacancy,
)

__all__ = ["MatchPage", "MatchPublic", "PairEvaluationPublic", "SkillGapAdvice", "router"]


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
    missing_skills: Annotated[
        list[SkillRef], Field(description="Required skills the student has nothing for.")
    ]
    missing_nice_to_have: Annotated[
        list[SkillRef], Field(description="Nice-to-have skills the student has nothing for.")
    ]
    permit_flag: str | None
    explanation: MatchExplanation | None
    labels: Annotated[
        dict[str, str], Field(description="English labels of every skill the explanation names.")
    ] = {}


class MatchPage(OffsetPage[MatchPublic]):
    """One page of ranked matches, best first."""


class PairEvaluationPublic(BaseModel):
    """One student and one vacancy, match or not: every condition and the score's parts."""

    student_id: str
    vacancy_id: str
    is_match: bool
    score: float
    minimum_score: float
    failed_conditions: list[str]
    missing_skills: Annotated[
        list[SkillRef], Field(description="Required skills the student has nothing for.")
    ]
    missing_nice_to_have: Annotated[
        list[SkillRef], Field(description="Nice-to-have skills the student has nothing for.")
    ]
    explanation: MatchExplanation
    labels: dict[str, str]


class UnlockedVacancy(BaseModel):
    """A vacancy a skill would make a match (or a better one)."""

    vacancy_id: str
    title: str
    company_id: str
    score_now: float | None
    score_with_skill: float


class SkillGapAdvice(BaseModel):
    """A skill worth learning: what it would unlock."""

    uri: str
    label: str
    new_matches: int
    better_matches: int
    gain: float
    vacancies: list[UnlockedVacancy]


NO_STUDENT = (
    "Matching holds no student of this id: unknown, erased, or without consent to matching."
)
NO_VACANCY = "Matching knows no vacancy of this id."


Runtime = Annotated[ServiceRuntime, Depends(Provided(ServiceRuntime))]
Vocabulary = Annotated[EscoVocabulary, Depends(Provided(EscoVocabulary))]
Index = Annotated[MatchIndex, Depends(Provided(MatchIndex))]
OWNING_COMPANY = company_owning(MatchIndex, MatchIndex.company_of)

router = APIRouter(prefix="/v1", tags=["matches"])


def _labels(vocabulary: EscoVocabulary, uris: Sequence[str]) -> dict[str, str]:
    return {uri: vocabulary.label(uri) for uri in uris}


def _skill_refs(vocabulary: EscoVocabulary, uris: Sequence[str]) -> list[SkillRef]:
    return [SkillRef(uri=uri, label=vocabulary.label(uri)) for uri in uris]


def _public(vocabulary: EscoVocabulary, record: MatchRecord) -> MatchPublic:
    explanation = (
        MatchExplanation.model_validate(record.explanation) if record.explanation else None
    )
    named = [*record.matched_skills, *record.missing_skills]
    if explanation is not None:
        named += [s.via for s in explanation.skills if s.via] + [s.uri for s in explanation.skills]
    return MatchPublic(
        student_id=record.student_id,
        vacancy_id=record.vacancy_id,
        company_id=record.company_id,
        vacancy_title=record.vacancy_title,
        score=record.score,
        matched_skills=_skill_refs(vocabulary, record.matched_skills),
        missing_skills=_skill_refs(vocabulary, record.missing_skills),
        missing_nice_to_have=_skill_refs(vocabulary, missing_nice_to_have(explanation)),
        permit_flag=record.permit_flag,
        explanation=explanation,
        labels=_labels(vocabulary, named),
    )


def _known_student(index: MatchIndex, student_id: str) -> None:
    if student_id not in index.students:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"matching holds no student {student_id}: unknown, erased, or without consent "
            "to matching",
        )


def _known_vacancy(index: MatchIndex, vacancy_id: str) -> None:
    if vacancy_id not in index.vacancies:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"matching knows no vacancy {vacancy_id}")


@router.get(
    "/students/{student_id}/matches",
    dependencies=[allow(OPERATOR, the_student(), audit="read")],
    summary="A student's matches, best first",
    responses=error_answers({404: NO_STUDENT}),
)
def student_matches(
    student_id: str,
    runtime: Runtime,
    vocabulary: Vocabulary,
    index: Index,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> MatchPage:
    _known_student(index, student_id)
    with runtime.reading() as session:
        records = matches_of_student(session, student_id, limit, offset)
        total = match_count_of_student(session, student_id)
    return MatchPage(
        items=[_public(vocabulary, r) for r in records], limit=limit, offset=offset, total=total
    )


@router.get(
    "/vacancies/{vacancy_id}/matches",
    dependencies=[allow(OPERATOR, OWNING_COMPANY, audit="list")],
    summary="A vacancy's matches, best first",
    responses=error_answers({404: NO_VACANCY}),
)
def vacancy_matches(
    vacancy_id: str,
    runtime: Runtime,
    vocabulary: Vocabulary,
    index: Index,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> MatchPage:
    _known_vacancy(index, vacancy_id)
    with runtime.reading() as session:
        records = matches_of_vacancy(session, vacancy_id, limit, offset)
        total = match_count_of_vacancy(session, vacancy_id)
    return MatchPage(
        items=[_public(vocabulary, r) for r in records], limit=limit, offset=offset, total=total
    )


@router.get(
    "/students/{student_id}/vacancies/{vacancy_id}/evaluation",
    dependencies=[allow(OPERATOR, the_student(), OWNING_COMPANY, audit="read")],
    summary="Why a student and a vacancy match or not",
    description="Every hard condition with its outcome, the covered and missing skills and "
    "languages, and the parts of the score — also for pairs that are no match.",
    responses=error_answers({404: f"{NO_STUDENT} Or: {NO_VACANCY}"}),
)
def evaluation(
    student_id: str, vacancy_id: str, vocabulary: Vocabulary, index: Index
) -> PairEvaluationPublic:
    with index.lock:
        _known_student(index, student_id)
        _known_vacancy(index, vacancy_id)
        student = index.students[student_id]
        vacancy = index.vacancies[vacancy_id]
    result = evaluate_pair(student, vacancy, index.graph)
    explanation = explanation_of(result)
    named = [s.uri for s in explanation.skills] + [s.via for s in explanation.skills if s.via]
    return PairEvaluationPublic(
        student_id=student_id,
        vacancy_id=vacancy_id,
        is_match=result.conditions_met and bool(result.matched) and result.score >= index.min_score,
        score=result.score,
        minimum_score=index.min_score,
        failed_conditions=[f"{c.name}: {c.detail}" for c in result.failed],
        missing_skills=_skill_refs(vocabulary, result.missing_required),
        missing_nice_to_have=_skill_refs(vocabulary, result.missing_nice_to_have),
        explanation=explanation,
        labels=_labels(vocabulary, named),
    )


@router.get(
    "/students/{student_id}/skill-gaps",
    dependencies=[allow(OPERATOR, the_student(), audit="read")],
    summary="The skills that would unlock the most, and the best, open vacancies",
    responses=error_answers({404: NO_STUDENT}),
)
def student_skill_gaps(
    student_id: str,
    vocabulary: Vocabulary,
    index: Index,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> list[SkillGapAdvice]:
    with index.lock:
        _known_student(index, student_id)
        gaps: list[SkillGap] = skill_gaps(index, index.students[student_id], limit=limit)
    return [_advice(vocabulary, index, gap) for gap in gaps]


def _advice(vocabulary: EscoVocabulary, index: MatchIndex, gap: SkillGap) -> SkillGapAdvice:
    def unlocked(vacancy_id: str, before: float | None, after: float) -> UnlockedVacancy:
        vacancy = index.vacancies[vacancy_id]
        return UnlockedVacancy(
            vacancy_id=vacancy_id,
            title=vacancy.title,
            company_id=vacancy.company_id,
            score_now=before,
            score_with_skill=after,
        )

    return SkillGapAdvice(
        uri=gap.uri,
        label=vocabulary.label(gap.uri),
        new_matches=gap.new_matches,
        better_matches=gap.better_matches,
        gain=gap.gain,
        vacancies=[unlocked(*item) for item in gap.vacancies],
    )
