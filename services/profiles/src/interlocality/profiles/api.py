"""HTTP API of the profiles service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from interlocality.common.esco import EscoVocabulary
from interlocality.common.service import ServiceRuntime
from interlocality.common.vocabulary_checks import require_known_skills
from interlocality.contracts.common import EngagementKind, LanguageSkill, SkillLevel
from interlocality.contracts.students import (
    StudentErasure,
    StudentProfileErased,
    StudentProfileUpserted,
)
from interlocality.profiles.domain import profile_of
from interlocality.profiles.store import StudentRecord

__all__ = ["StudentCreate", "StudentPublic", "create_router"]


class StudentCreate(BaseModel):
    """What a student (or the operator for them) submits."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(title="Name", min_length=1, max_length=200)]
    email: Annotated[EmailStr, Field(title="E-mail")]
    skills: Annotated[
        list[SkillLevel],
        Field(title="Skills", description="ESCO skill URIs with a level 1–5.", max_length=200),
    ] = []
    languages: Annotated[
        list[LanguageSkill],
        Field(title="Languages", description="ISO 639-1 code and CEFR level.", max_length=30),
    ] = []
    engagement_kinds: Annotated[
        list[EngagementKind], Field(title="Wanted engagement kinds", min_length=1)
    ]

    @field_validator("skills")
    @classmethod
    def _distinct_skills(cls, skills: list[SkillLevel]) -> list[SkillLevel]:
        seen: set[str] = set()
        for skill in skills:
            if skill.uri in seen:
                raise ValueError(f"skill {skill.uri} is listed twice")
            seen.add(skill.uri)
        return skills

    @field_validator("languages")
    @classmethod
    def _distinct_languages(cls, languages: list[LanguageSkill]) -> list[LanguageSkill]:
        codes = [language.code for language in languages]
        if len(codes) != len(set(codes)):
            raise ValueError("a language is listed twice")
        return languages

    @field_validator("engagement_kinds")
    @classmethod
    def _distinct_kinds(cls, kinds: list[str]) -> list[str]:
        return list(dict.fromkeys(kinds))


class StudentPublic(StudentCreate):
    """A stored student profile."""

    id: str
    version: int
    created_at: datetime
    updated_at: datetime


def _public(record: StudentRecord) -> StudentPublic:
    return StudentPublic.model_validate(record, from_attributes=True)


def create_router(runtime: ServiceRuntime, vocabulary: EscoVocabulary) -> APIRouter:
    """Routes under ``/v1/students``."""
    router = APIRouter(prefix="/v1/students", tags=["students"])

    def check_skills(body: StudentCreate) -> None:
        require_known_skills(
            vocabulary,
            [(("body", "skills", i, "uri"), skill.uri) for i, skill in enumerate(body.skills)],
        )

    def publish(session_record: StudentRecord) -> StudentProfileUpserted:
        return runtime.event(
            StudentProfileUpserted,
            subject=session_record.id,
            data=profile_of(session_record),
            version=session_record.version,
        )

    @router.post("", status_code=status.HTTP_201_CREATED, summary="Create a student profile")
    def create_student(body: StudentCreate) -> StudentPublic:
        check_skills(body)
        record = StudentRecord(id=str(uuid.uuid4()), **body.model_dump(mode="json"))
        with runtime.transaction() as session:
            session.add(record)
            session.flush()
            runtime.emit(session, publish(record))
        return _public(record)

    @router.put("/{student_id}", summary="Replace a student profile")
    def replace_student(student_id: str, body: StudentCreate) -> StudentPublic:
        check_skills(body)
        with runtime.transaction() as session:
            record = session.get(StudentRecord, student_id)
            if record is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no student {student_id}")
            for key, value in body.model_dump(mode="json").items():
                setattr(record, key, value)
            record.version += 1
            record.updated_at = datetime.now(UTC)
            session.add(record)
            session.flush()
            runtime.emit(session, publish(record))
        return _public(record)

    @router.get("/{student_id}", summary="Read a student profile")
    def read_student(student_id: str) -> StudentPublic:
        with runtime.transaction() as session:
            record = session.get(StudentRecord, student_id)
            if record is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no student {student_id}")
            return _public(record)

    @router.delete(
        "/{student_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Erase a student (GDPR): every service deletes what it holds",
    )
    def erase_student(student_id: str) -> Response:
        with runtime.transaction() as session:
            record = session.get(StudentRecord, student_id)
            if record is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no student {student_id}")
            session.delete(record)
            erased = runtime.event(
                StudentProfileErased,
                subject=student_id,
                data=StudentErasure(student_id=student_id, erased_at=datetime.now(UTC)),
            )
            runtime.emit(session, erased)
            runtime.emit_tombstone(session, erased)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
