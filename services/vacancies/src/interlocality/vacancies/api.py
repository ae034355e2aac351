"""HTTP API of the vacancies service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from interlocality.common.bulk import fingerprint, spool, stream_import
from interlocality.common.esco import EscoVocabulary
from interlocality.common.pagination import decode_cursor, encode_cursor
from interlocality.common.service import ServiceRuntime, problem
from interlocality.common.vocabulary_checks import require_known_skills
from interlocality.contracts.companies import Company
from interlocality.vacancies.domain import CompanyForm, VacancyForm, company_of
from interlocality.vacancies.importer import CompanyImporter, VacancyImporter
from interlocality.vacancies.lifecycle import Lifecycle, TransitionRefused
from interlocality.vacancies.store import (
    ApplicationRecord,
    CompanyRecord,
    KnownStudent,
    VacancyRecord,
    page,
)

__all__ = ["create_router"]


class CompanyPublic(Company):
    """A registered company, as the API shows it."""

    id: str


class VacancyPublic(BaseModel):
    """A vacancy with its lifecycle state."""

    id: str
    status: str
    positions_filled: int
    version: int
    created_at: datetime
    updated_at: datetime
    vacancy: dict[str, Any]


class Page(BaseModel):
    """One page of a list; pass ``next_cursor`` back for the next."""

    items: list[Any]
    next_cursor: str | None


class StudentRef(BaseModel):
    """The student an application or placement is about."""

    model_config = ConfigDict(extra="forbid")

    student_id: Annotated[str, Field(min_length=1)]


def create_router(
    runtime: ServiceRuntime, vocabulary: EscoVocabulary, lifecycle: Lifecycle
) -> APIRouter:
    """Routes for companies, vacancies, the funnel and imports."""
    router = APIRouter(prefix="/v1")

    def company_public(record: CompanyRecord) -> CompanyPublic:
        snapshot = company_of(
            company_id=record.id,
            document=record.document,
            version=record.version,
            updated_at=record.updated_at,
        )
        return CompanyPublic(id=record.id, **snapshot.model_dump())

    def vacancy_public(record: VacancyRecord) -> VacancyPublic:
        return VacancyPublic(
            id=record.id,
            status=record.status,
            positions_filled=record.positions_filled,
            version=record.version,
            created_at=record.created_at,
            updated_at=record.updated_at,
            vacancy={**record.document, "company_id": record.company_id},
        )

    def vacancy_or_404(session: Session, vacancy_id: str) -> VacancyRecord:
        record = session.get(VacancyRecord, vacancy_id)
        if record is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no vacancy {vacancy_id}")
        return record

    def refused(exc: TransitionRefused) -> HTTPException:
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))

    @router.post("/companies", status_code=201, tags=["companies"], summary="Register a company")
    def register_company(form: CompanyForm) -> CompanyPublic:
        record = CompanyRecord(id=str(uuid.uuid4()), name=form.name, content_hash="")
        with runtime.transaction() as session:
            lifecycle.store_company(session, record, form, fingerprint(form), datetime.now(UTC))
        return company_public(record)

    @router.get("/companies", tags=["companies"], summary="List companies, a page at a time")
    def list_companies(
        limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None
    ) -> Page:
        after = decode_cursor(cursor, 1)
        with runtime.reading() as session:
            rows = page(session, CompanyRecord, after[0] if after else None, limit + 1)
        return Page(
            items=[company_public(r) for r in rows[:limit]],
            next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None,
        )

    @router.get("/companies/{company_id}", tags=["companies"], summary="Read a company")
    def read_company(company_id: str) -> CompanyPublic:
        with runtime.reading() as session:
            record = session.get(CompanyRecord, company_id)
            if record is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no company {company_id}")
            return company_public(record)

    @router.post("/vacancies", status_code=201, tags=["vacancies"], summary="Create a vacancy")
    def create_vacancy(form: VacancyForm) -> VacancyPublic:
        require_known_skills(
            vocabulary,
            [
                (("body", "required_skills", i, "uri"), s.uri)
                for i, s in enumerate(form.required_skills)
            ]
            + [
                (("body", "nice_to_have_skills", i, "uri"), s.uri)
                for i, s in enumerate(form.nice_to_have_skills)
            ],
        )
        now = datetime.now(UTC)
        digest = fingerprint(form)
        with runtime.transaction() as session:
            if session.get(CompanyRecord, form.company_id) is None:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    [
                        problem(
                            ("body", "company_id"),
                            f"no company {form.company_id!r} is registered in this region",
                            "unknown_company",
                            input=form.company_id,
                        )
                    ],
                )
            record = lifecycle.new_vacancy(form, digest, now)
            lifecycle.store_vacancy(session, record, form, digest, now)
        return vacancy_public(record)

    @router.get("/vacancies", tags=["vacancies"], summary="List vacancies, a page at a time")
    def list_vacancies(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: str | None = None,
        status_filter: Annotated[
            Literal["draft", "open", "filled", "closed", "expired"] | None,
            Query(alias="status"),
        ] = None,
        external_id: Annotated[
            str | None, Query(max_length=100, description="Only the vacancy with this own id")
        ] = None,
    ) -> Page:
        after = decode_cursor(cursor, 1)
        with runtime.reading() as session:
            statement = select(VacancyRecord).order_by(VacancyRecord.id).limit(limit + 1)
            if after:
                statement = statement.where(VacancyRecord.id > after[0])
            if status_filter:
                statement = statement.where(VacancyRecord.status == status_filter)
            if external_id is not None:
                statement = statement.where(VacancyRecord.external_id == external_id)
            rows = list(session.exec(statement).all())
        return Page(
            items=[vacancy_public(r) for r in rows[:limit]],
            next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None,
        )

    @router.get("/vacancies/{vacancy_id}", tags=["vacancies"], summary="Read a vacancy")
    def read_vacancy(vacancy_id: str) -> VacancyPublic:
        with runtime.reading() as session:
            return vacancy_public(vacancy_or_404(session, vacancy_id))

    @router.post("/vacancies/{vacancy_id}/publish", tags=["vacancies"], summary="Draft → open")
    def publish_vacancy(vacancy_id: str) -> VacancyPublic:
        with runtime.transaction() as session:
            record = vacancy_or_404(session, vacancy_id)
            try:
                lifecycle.publish(session, record)
            except TransitionRefused as exc:
                raise refused(exc) from exc
        return vacancy_public(record)

    @router.post("/vacancies/{vacancy_id}/close", tags=["vacancies"], summary="Close a vacancy")
    def close_vacancy(vacancy_id: str) -> VacancyPublic:
        with runtime.transaction() as session:
            record = vacancy_or_404(session, vacancy_id)
            lifecycle.close(session, record)
        return vacancy_public(record)

    @router.post(
        "/vacancies/{vacancy_id}/applications",
        status_code=201,
        tags=["funnel"],
        summary="A student applied",
    )
    def apply(vacancy_id: str, body: StudentRef) -> dict[str, Any]:
        with runtime.transaction() as session:
            record = vacancy_or_404(session, vacancy_id)
            if session.get(KnownStudent, body.student_id) is None:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    [
                        problem(
                            ("body", "student_id"),
                            f"no student {body.student_id!r} in this region",
                            "unknown_student",
                        )
                    ],
                )
            existing = session.exec(
                select(ApplicationRecord).where(
                    ApplicationRecord.vacancy_id == vacancy_id,
                    ApplicationRecord.student_id == body.student_id,
                )
            ).first()
            if existing is not None:
                raise HTTPException(status.HTTP_409_CONFLICT, "the student has applied already")
            try:
                application = lifecycle.apply(session, record, body.student_id)
            except TransitionRefused as exc:
                raise refused(exc) from exc
            return application.model_dump(mode="json")

    @router.post(
        "/vacancies/{vacancy_id}/placements",
        status_code=201,
        tags=["funnel"],
        summary="A student who applied was hired",
    )
    def place(vacancy_id: str, body: StudentRef) -> VacancyPublic:
        with runtime.transaction() as session:
            record = vacancy_or_404(session, vacancy_id)
            application = session.exec(
                select(ApplicationRecord).where(
                    ApplicationRecord.vacancy_id == vacancy_id,
                    ApplicationRecord.student_id == body.student_id,
                )
            ).first()
            if application is None:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    [
                        problem(
                            ("body", "student_id"),
                            "the student has not applied to this vacancy",
                            "no_application",
                        )
                    ],
                )
            try:
                lifecycle.place(session, record, application)
            except TransitionRefused as exc:
                raise refused(exc) from exc
        return vacancy_public(record)

    async def run_import(request: Request, importer: Any, fmt: str) -> StreamingResponse:
        upload = await spool(request.stream())
        return StreamingResponse(
            stream_import(upload, fmt, importer),  # type: ignore[arg-type]
            media_type="application/x-ndjson",
        )

    @router.post("/imports/companies", tags=["imports"], summary="Import companies")
    async def import_companies(
        request: Request, format: Annotated[Literal["csv", "jsonl"], Query()] = "csv"
    ) -> StreamingResponse:
        return await run_import(request, CompanyImporter(runtime, lifecycle, format), format)

    @router.post("/imports/vacancies", tags=["imports"], summary="Import vacancies")
    async def import_vacancies(
        request: Request, format: Annotated[Literal["csv", "jsonl"], Query()] = "csv"
    ) -> StreamingResponse:
        importer = VacancyImporter(runtime, lifecycle, vocabulary, format)
        return await run_import(request, importer, format)

    return router
