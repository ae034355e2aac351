"""HTTP API of the profiles service: routes under ``/v1/students``, ``/v1/skills`` and
``/v1/imports/students``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlmodel import Session, func, select

from interlocality.common.access import COMPANY, OPERATOR, STUDENT, allow, the_student
from interlocality.common.audit import entries
from interlocality.common.bulk import IMPORT_ROUTE, import_answer
from interlocality.common.esco import EscoVocabulary
from interlocality.common.pagination import CursorPage, decode_cursor, encode_cursor
from interlocality.common.service import AUDIT_EXPORTED, Provided, ServiceRuntime, error_answers
from interlocality.common.vocabulary_checks import require_known_skills
from interlocality.contracts.outcomes import GraduateOutcome
from interlocality.contracts.students import StudentProfile
from interlocality.profiles.domain import ConsentChoices, OutcomeForm, StudentForm
from interlocality.profiles.importer import StudentImporter
from interlocality.profiles.service import ExternalIdTaken, StudentService, UnknownStudent
from interlocality.profiles.store import StudentRecord, page_of_students

__all__ = ["SkillHit", "StudentPage", "router"]

Runtime = Annotated[ServiceRuntime, Depends(Provided(ServiceRuntime))]
Students = Annotated[StudentService, Depends(Provided(StudentService))]
Vocabulary = Annotated[EscoVocabulary, Depends(Provided(EscoVocabulary))]

router = APIRouter(prefix="/v1")

NO_STUDENT = "No student has this id."
EXTERNAL_ID_TAKEN = "The external_id belongs to another student."
BAD_PROFILE = "A malformed profile or an unknown skill."
BAD_OUTCOME = "An unknown field, an unknown outcome, or a graduation day out of bounds."


class SkillHit(BaseModel):
    """A skill found by label search."""

    uri: str
    label: str
    matched_label: str
    skill_type: str


class StudentPage(CursorPage[StudentProfile]):
    """One page of the region's students, in id order."""


def check_skills(vocabulary: EscoVocabulary, form: StudentForm) -> None:
    """A 422 naming every skill of ``form`` that is not in the vocabulary."""
    require_known_skills(
        vocabulary,
        [(("body", "skills", i, "uri"), skill.uri) for i, skill in enumerate(form.skills)],
    )


def stored(session: Session, student_id: str) -> StudentRecord:
    record = session.get(StudentRecord, student_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(UnknownStudent(student_id)))
    return record


@router.get(
    "/skills",
    tags=["skills"],
    summary="Search ESCO skills by label, typos tolerated",
    dependencies=[allow(OPERATOR, STUDENT, COMPANY)],
)
def search_skills(
    vocabulary: Vocabulary,
    q: Annotated[str, Query(min_length=1, max_length=200, description="What to look for")],
    lang: Annotated[str, Query(pattern=r"^[a-z]{2}$", description="Label language")] = "en",
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[SkillHit]:
    return [
        SkillHit(
            uri=skill.uri,
            label=vocabulary.label(skill.uri, lang),
            matched_label=matched,
            skill_type=skill.skill_type,
        )
        for skill, matched in vocabulary.search(q, limit=limit, lang=lang)
    ]


@router.post(
    "/students",
    dependencies=[allow(OPERATOR)],
    status_code=status.HTTP_201_CREATED,
    tags=["students"],
    summary="Create a student profile",
    responses=error_answers({409: EXTERNAL_ID_TAKEN, 422: BAD_PROFILE}),
)
def create_student(form: StudentForm, students: Students, vocabulary: Vocabulary) -> StudentProfile:
    check_skills(vocabulary, form)
    try:
        return students.create(form)
    except ExternalIdTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


@router.get(
    "/students",
    tags=["students"],
    summary="List students, a page at a time",
    dependencies=[allow(OPERATOR, audit="list")],
)
def list_students(
    runtime: Runtime,
    students: Students,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the last page")] = None,
    external_id: Annotated[
        str | None, Query(max_length=100, description="Only the student with this own id")
    ] = None,
) -> StudentPage:
    after = decode_cursor(cursor, 1)
    with runtime.reading() as session:
        records = page_of_students(
            session, after[0] if after else None, limit + 1, external_id=external_id
        )
        counted = select(func.count()).select_from(StudentRecord)
        if external_id is not None:
            counted = counted.where(StudentRecord.external_id == external_id)
        total = session.exec(counted).one()
    more = len(records) > limit
    records = records[:limit]
    return StudentPage(
        items=[students.profile(r) for r in records],
        total=total,
        limit=limit,
        next_cursor=encode_cursor(records[-1].id) if more else None,
    )


@router.put(
    "/students/{student_id}",
    dependencies=[allow(OPERATOR, the_student(), audit="change")],
    tags=["students"],
    summary="Replace a student profile",
    responses=error_answers({404: NO_STUDENT, 409: EXTERNAL_ID_TAKEN, 422: BAD_PROFILE}),
)
def replace_student(
    student_id: str, form: StudentForm, students: Students, vocabulary: Vocabulary
) -> StudentProfile:
    check_skills(vocabulary, form)
    try:
        return students.replace(student_id, form)
    except UnknownStudent as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except ExternalIdTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


@router.put(
    "/students/{student_id}/consents",
    dependencies=[allow(OPERATOR, the_student(), audit="change")],
    tags=["students"],
    summary="Give or withdraw consents; takes effect downstream at once",
    responses=error_answers({404: NO_STUDENT}),
)
def set_consents(student_id: str, choices: ConsentChoices, students: Students) -> StudentProfile:
    try:
        return students.set_consents(student_id, choices)
    except UnknownStudent as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


@router.get(
    "/students/{student_id}",
    dependencies=[allow(OPERATOR, the_student(), audit="read")],
    tags=["students"],
    summary="Read a student profile",
    responses=error_answers({404: NO_STUDENT}),
)
def read_student(student_id: str, runtime: Runtime, students: Students) -> StudentProfile:
    with runtime.reading() as session:
        return students.profile(stored(session, student_id))


@router.put(
    "/students/{student_id}/outcome",
    dependencies=[allow(OPERATOR, the_student(), audit="change")],
    tags=["students"],
    summary="Record what became of a graduate (the same outcome again changes nothing)",
    responses=error_answers({404: NO_STUDENT, 422: BAD_OUTCOME}),
)
def record_outcome(student_id: str, form: OutcomeForm, students: Students) -> GraduateOutcome:
    try:
        return students.record_outcome(student_id, form)
    except UnknownStudent as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


@router.get(
    "/students/{student_id}/outcome",
    dependencies=[allow(OPERATOR, the_student(), audit="read")],
    tags=["students"],
    summary="Read what became of a graduate: null while nothing is recorded",
    responses=error_answers({404: NO_STUDENT}),
)
def read_outcome(student_id: str, runtime: Runtime, students: Students) -> GraduateOutcome | None:
    with runtime.reading() as session:
        stored(session, student_id)
        return students.outcome(session, student_id)


@router.get(
    "/students/{student_id}/export",
    dependencies=[allow(OPERATOR, the_student(), audit="export")],
    tags=["privacy"],
    summary="Everything the region holds on a student in this service (GDPR)",
    responses=error_answers({404: NO_STUDENT}),
)
def export_student(student_id: str, runtime: Runtime, students: Students) -> dict[str, Any]:
    with runtime.reading() as session:
        record = stored(session, student_id)
        outcome = students.outcome(session, student_id)
        return {
            "format": "interlocality.student-export.v1",
            "exported_at": datetime.now(UTC).isoformat(),
            "profile": students.profile(record).model_dump(mode="json"),
            "outcome": outcome.model_dump(mode="json") if outcome else None,
            "record": {
                "created_at": record.created_at.isoformat(),
                "updated_at": record.updated_at.isoformat(),
                "version": record.version,
            },
            "audit_log": entries(session, student_id=student_id, limit=AUDIT_EXPORTED),
            "other_services": "GET /v1/privacy/students/{id} on matching, notifications, "
            "vacancies and analytics (or `interlocality export`)",
        }


@router.delete(
    "/students/{student_id}",
    dependencies=[allow(OPERATOR, the_student(), audit="erase")],
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["privacy"],
    summary="Erase a student (GDPR): every service deletes what it holds",
    responses=error_answers({404: NO_STUDENT}),
)
def erase_student(student_id: str, students: Students) -> Response:
    try:
        students.erase(student_id)
    except UnknownStudent as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/imports/students",
    dependencies=[allow(OPERATOR)],
    tags=["imports"],
    summary="Import students from CSV or JSON Lines (idempotent by external_id)",
    description=StudentImporter.description,
    **IMPORT_ROUTE,
)
async def import_students(
    request: Request,
    students: Students,
    vocabulary: Vocabulary,
    format: Annotated[Literal["csv", "jsonl"], Query()] = "csv",
) -> StreamingResponse:
    return await import_answer(request, format, StudentImporter(students, vocabulary, format))
