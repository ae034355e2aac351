"""HTTP API of the profiles service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlmodel import func, select

from interlocality.common.bulk import IMPORT_ROUTE, fingerprint, import_answer
from interlocality.common.esco import EscoVocabulary
from interlocality.common.pagination import CursorPage, decode_cursor, encode_cursor
from interlocality.common.service import ServiceRuntime, error_answers
from interlocality.common.vocabulary_checks import require_known_skills
from interlocality.common.work_rules import WorkRules
from interlocality.contracts.students import (
    StudentErasure,
    StudentProfile,
    StudentProfileErased,
    StudentProfileUpserted,
)
from interlocality.profiles.domain import (
    ConsentChoices,
    StudentForm,
    consents_after,
    profile_of,
)
from interlocality.profiles.importer import StudentImporter
from interlocality.profiles.store import StudentRecord, page_of_students

__all__ = ["StudentPage", "create_router", "snapshot_event", "snapshot_of"]


class SkillHit(BaseModel):
    """A skill found by label search."""

    uri: str
    label: str
    matched_label: str
    skill_type: str


class StudentPage(CursorPage[StudentProfile]):
    """One page of the region's students, in id order."""


NO_STUDENT = "No student has this id."


def snapshot_of(record: StudentRecord, rules: WorkRules) -> StudentProfile:
    """The wire snapshot of a stored student."""
    return profile_of(
        student_id=record.id,
        document=record.document,
        consents=record.consents,
        version=record.version,
        updated_at=record.updated_at,
        rules=rules,
    )


def snapshot_event(
    runtime: ServiceRuntime, record: StudentRecord, rules: WorkRules
) -> StudentProfileUpserted:
    """The snapshot event of a stored student (the same id for the same version)."""
    return runtime.event(
        StudentProfileUpserted,
        subject=record.id,
        data=snapshot_of(record, rules),
        version=record.version,
    )


def create_router(
    runtime: ServiceRuntime, vocabulary: EscoVocabulary, rules: WorkRules
) -> APIRouter:
    """Routes under ``/v1/students`` and ``/v1/imports/students``."""
    router = APIRouter(prefix="/v1")

    def snapshot(record: StudentRecord) -> StudentProfile:
        return snapshot_of(record, rules)

    def publish(record: StudentRecord) -> StudentProfileUpserted:
        return snapshot_event(runtime, record, rules)

    def check_skills(form: StudentForm) -> None:
        require_known_skills(
            vocabulary,
            [(("body", "skills", i, "uri"), skill.uri) for i, skill in enumerate(form.skills)],
        )

    def taken_external_id(session: Any, external_id: str | None, own_id: str | None) -> None:
        if not external_id:
            return
        other = session.exec(
            select(StudentRecord).where(StudentRecord.external_id == external_id)
        ).first()
        if other is not None and other.id != own_id:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"external_id {external_id!r} already belongs to student {other.id}",
            )

    def get_or_404(session: Any, student_id: str) -> StudentRecord:
        record = session.get(StudentRecord, student_id)
        if record is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no student {student_id}")
        return record

    @router.get("/skills", tags=["skills"], summary="Search ESCO skills by label, typos tolerated")
    def search_skills(
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
        status_code=status.HTTP_201_CREATED,
        tags=["students"],
        summary="Create a student profile",
        responses=error_answers(
            {
                409: "The external_id belongs to another student.",
                422: "A malformed profile or an unknown skill.",
            }
        ),
    )
    def create_student(form: StudentForm) -> StudentProfile:
        check_skills(form)
        now = datetime.now(UTC)
        record = StudentRecord(
            id=str(uuid.uuid4()),
            external_id=form.external_id,
            name=form.name,
            email=str(form.email),
            document=form.model_dump(mode="json", exclude={"consents"}),
            consents=consents_after({}, form.consents, now),
            content_hash=fingerprint(form),
            created_at=now,
            updated_at=now,
        )
        with runtime.transaction() as session:
            taken_external_id(session, form.external_id, None)
            session.add(record)
            runtime.emit(session, publish(record))
        return snapshot(record)

    @router.get("/students", tags=["students"], summary="List students, a page at a time")
    def list_students(
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
            items=[snapshot(r) for r in records],
            total=total,
            limit=limit,
            next_cursor=encode_cursor(records[-1].id) if more else None,
        )

    @router.put(
        "/students/{student_id}",
        tags=["students"],
        summary="Replace a student profile",
        responses=error_answers(
            {
                404: NO_STUDENT,
                409: "The external_id belongs to another student.",
                422: "A malformed profile or an unknown skill.",
            }
        ),
    )
    def replace_student(student_id: str, form: StudentForm) -> StudentProfile:
        check_skills(form)
        with runtime.transaction() as session:
            record = get_or_404(session, student_id)
            taken_external_id(session, form.external_id, student_id)
            digest = fingerprint(form)
            if digest != record.content_hash:
                now = datetime.now(UTC)
                record.external_id = form.external_id
                record.name = form.name
                record.email = str(form.email)
                record.document = form.model_dump(mode="json", exclude={"consents"})
                record.consents = consents_after(record.consents, form.consents, now)
                record.content_hash = digest
                record.version += 1
                record.updated_at = now
                session.add(record)
                runtime.emit(session, publish(record))
            return snapshot(record)

    @router.put(
        "/students/{student_id}/consents",
        tags=["students"],
        summary="Give or withdraw consents; takes effect downstream at once",
        responses=error_answers({404: NO_STUDENT}),
    )
    def set_consents(student_id: str, choices: ConsentChoices) -> StudentProfile:
        with runtime.transaction() as session:
            record = get_or_404(session, student_id)
            consents = consents_after(record.consents, choices, datetime.now(UTC))
            if consents != record.consents:
                record.consents = consents
                record.version += 1
                record.updated_at = datetime.now(UTC)
                session.add(record)
                runtime.emit(session, publish(record))
            return snapshot(record)

    @router.get(
        "/students/{student_id}",
        tags=["students"],
        summary="Read a student profile",
        responses=error_answers({404: NO_STUDENT}),
    )
    def read_student(student_id: str) -> StudentProfile:
        with runtime.reading() as session:
            return snapshot(get_or_404(session, student_id))

    @router.get(
        "/students/{student_id}/export",
        tags=["privacy"],
        summary="Everything the region holds on a student in this service (GDPR)",
        responses=error_answers({404: NO_STUDENT}),
    )
    def export_student(student_id: str) -> dict[str, Any]:
        with runtime.reading() as session:
            record = get_or_404(session, student_id)
            return {
                "format": "interlocality.student-export.v1",
                "exported_at": datetime.now(UTC).isoformat(),
                "profile": snapshot(record).model_dump(mode="json"),
                "record": {
                    "created_at": record.created_at.isoformat(),
                    "updated_at": record.updated_at.isoformat(),
                    "version": record.version,
                },
                "other_services": "GET /v1/privacy/students/{id} on matching, notifications, "
                "vacancies and analytics (or `interlocality export`)",
            }

    @router.delete(
        "/students/{student_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        tags=["privacy"],
        summary="Erase a student (GDPR): every service deletes what it holds",
        responses=error_answers({404: NO_STUDENT}),
    )
    def erase_student(student_id: str) -> Response:
        with runtime.transaction() as session:
            session.delete(get_or_404(session, student_id))
            erased = runtime.event(
                StudentProfileErased,
                subject=student_id,
                data=StudentErasure(student_id=student_id, erased_at=datetime.now(UTC)),
            )
            runtime.emit(session, erased)
            runtime.emit_tombstone(session, erased)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/imports/students",
        tags=["imports"],
        summary="Import students from CSV or JSON Lines (idempotent by external_id)",
        **IMPORT_ROUTE,
    )
    async def import_students(
        request: Request, format: Annotated[Literal["csv", "jsonl"], Query()] = "csv"
    ) -> StreamingResponse:
        return await import_answer(
            request, format, StudentImporter(runtime, vocabulary, rules, format)
        )

    return router
