"""HTTP API of the vacancies service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from interlocality.common.esco import EscoVocabulary
from interlocality.common.service import ServiceRuntime, problem
from interlocality.common.vocabulary_checks import require_known_skills
from interlocality.contracts.common import EngagementKind, LanguageRequirement, SkillRequirement
from interlocality.contracts.companies import CompanyRegistered
from interlocality.contracts.vacancies import VacancyClosed, VacancyPublished
from interlocality.vacancies.domain import company_of, vacancy_of
from interlocality.vacancies.store import CompanyRecord, VacancyRecord

__all__ = ["CompanyCreate", "VacancyCreate", "create_router"]


class CompanyCreate(BaseModel):
    """A company the operator registers."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(title="Name", min_length=1, max_length=200)]
    city: Annotated[str, Field(title="City", max_length=100)] = ""


class CompanyPublic(CompanyCreate):
    """A registered company."""

    id: str
    version: int
    created_at: datetime


class VacancyCreate(BaseModel):
    """A vacancy a company publishes."""

    model_config = ConfigDict(extra="forbid")

    company_id: Annotated[str, Field(title="Company id", min_length=1)]
    title: Annotated[str, Field(title="Title", min_length=1, max_length=200)]
    kind: Annotated[EngagementKind, Field(title="Engagement kind")]
    required_skills: Annotated[
        list[SkillRequirement],
        Field(
            title="Required skills",
            description="ESCO skill URIs with a minimum level.",
            min_length=1,
            max_length=100,
        ),
    ]
    languages: Annotated[
        list[LanguageRequirement], Field(title="Language requirements", max_length=10)
    ] = []

    @field_validator("required_skills")
    @classmethod
    def _distinct_skills(cls, skills: list[SkillRequirement]) -> list[SkillRequirement]:
        uris = [skill.uri for skill in skills]
        if len(uris) != len(set(uris)):
            raise ValueError("a required skill is listed twice")
        return skills


class VacancyPublic(VacancyCreate):
    """A stored vacancy."""

    id: str
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


def create_router(runtime: ServiceRuntime, vocabulary: EscoVocabulary) -> APIRouter:
    """Routes under ``/v1/companies`` and ``/v1/vacancies``."""
    router = APIRouter(prefix="/v1")

    @router.post(
        "/companies",
        status_code=status.HTTP_201_CREATED,
        tags=["companies"],
        summary="Register a company",
    )
    def register_company(body: CompanyCreate) -> CompanyPublic:
        record = CompanyRecord(id=str(uuid.uuid4()), **body.model_dump())
        with runtime.transaction() as session:
            session.add(record)
            session.flush()
            runtime.emit(
                session,
                runtime.event(
                    CompanyRegistered,
                    subject=record.id,
                    data=company_of(record),
                    version=record.version,
                ),
            )
        return CompanyPublic.model_validate(record, from_attributes=True)

    @router.get("/companies/{company_id}", tags=["companies"], summary="Read a company")
    def read_company(company_id: str) -> CompanyPublic:
        with runtime.transaction() as session:
            record = session.get(CompanyRecord, company_id)
            if record is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no company {company_id}")
            return CompanyPublic.model_validate(record, from_attributes=True)

    @router.post(
        "/vacancies",
        status_code=status.HTTP_201_CREATED,
        tags=["vacancies"],
        summary="Publish a vacancy",
    )
    def publish_vacancy(body: VacancyCreate) -> VacancyPublic:
        require_known_skills(
            vocabulary,
            [
                (("body", "required_skills", i, "uri"), skill.uri)
                for i, skill in enumerate(body.required_skills)
            ],
        )
        record = VacancyRecord(id=str(uuid.uuid4()), **body.model_dump(mode="json"))
        with runtime.transaction() as session:
            if session.get(CompanyRecord, body.company_id) is None:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    [
                        problem(
                            ("body", "company_id"),
                            f"no company {body.company_id!r} is registered in this region",
                            "unknown_company",
                            input=body.company_id,
                        )
                    ],
                )
            session.add(record)
            session.flush()
            runtime.emit(
                session,
                runtime.event(
                    VacancyPublished,
                    subject=record.id,
                    data=vacancy_of(record),
                    version=record.version,
                ),
            )
        return VacancyPublic.model_validate(record, from_attributes=True)

    @router.get("/vacancies/{vacancy_id}", tags=["vacancies"], summary="Read a vacancy")
    def read_vacancy(vacancy_id: str) -> VacancyPublic:
        with runtime.transaction() as session:
            record = session.get(VacancyRecord, vacancy_id)
            if record is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no vacancy {vacancy_id}")
            return VacancyPublic.model_validate(record, from_attributes=True)

    @router.post("/vacancies/{vacancy_id}/close", tags=["vacancies"], summary="Close a vacancy")
    def close_vacancy(vacancy_id: str) -> VacancyPublic:
        with runtime.transaction() as session:
            record = session.get(VacancyRecord, vacancy_id)
            if record is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no vacancy {vacancy_id}")
            if record.status != "closed":
                record.status = "closed"
                record.version += 1
                record.updated_at = datetime.now(UTC)
                session.add(record)
                session.flush()
                runtime.emit(
                    session,
                    runtime.event(
                        VacancyClosed,
                        subject=record.id,
                        data=vacancy_of(record),
                        version=record.version,
                    ),
                )
        return VacancyPublic.model_validate(record, from_attributes=True)

    return router
