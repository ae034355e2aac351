"""HTTP API of the vacancies service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, func, select

from interlocality.common.bulk import IMPORT_ROUTE, fingerprint, import_answer
from interlocality.common.esco import EscoVocabulary
from interlocality.common.pagination import CursorPage, decode_cursor, encode_cursor
from interlocality.common.service import ServiceRuntime, error_answers, problem
from interlocality.common.vocabulary_checks import require_known_skills
from interlocality.contracts.companies import Company
from interlocality.vacancies.domain import CompanyForm, VacancyForm, company_of
from interlocality.vacancies.importer import CompanyImporter, VacancyImporter
from interlocality.vacancies.lifecycle import (
    CompanyRegisteredAlready,
    ExternalIdTaken,
    Lifecycle,
    TransitionRefused,
)
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


class VacancyPublic(BaseModel):
    """A vacancy with its lifecycle state."""

    vacancy_id: str
    status: str
    positions_filled: int
    version: int
    created_at: datetime
    updated_at: datetime
    vacancy: dict[str, Any]


class ApplicationPublic(BaseModel):
    """A student's application to a vacancy, and whether it led to a placement."""

    application_id: str
    vacancy_id: str
    student_id: str
    placed: bool
    applied_at: datetime
    placed_at: datetime | None


class CompanyPage(CursorPage[CompanyPublic]):
    """One page of the region's companies, in id order."""


class VacancyPage(CursorPage[VacancyPublic]):
    """One page of vacancies, in id order."""


NO_VACANCY = "No vacancy has this id."


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
        return CompanyPublic(**snapshot.model_dump())

    def vacancy_public(record: VacancyRecord) -> VacancyPublic:
        return VacancyPublic(
            vacancy_id=record.id,
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

    def external_id_taken(
        exc: ExternalIdTaken, external_id: str | None, **holder: str
    ) -> HTTPException:
        return HTTPException(
            status.HTTP_409_CONFLICT,
            [
                problem(
                    ("body", "external_id"),
                    str(exc),
                    "external_id_taken",
                    input=external_id,
                    **holder,
                )
            ],
        )

    @router.post(
        "/companies",
        status_code=201,
        tags=["companies"],
        summary="Register a company",
        description="A second company of the same name in the same city (compared without "
        "case, accents or spacing) is refused with 409, naming the one registered.",
        responses=error_answers(
            {
                409: "A company of this name is registered in this city already, or its "
                "external_id names another company: that one's id is in the problem's "
                "`company_id`."
            }
        ),
    )
    def register_company(form: CompanyForm) -> CompanyPublic:
        record = lifecycle.new_company(form)
        try:
            with runtime.transaction() as session:
                lifecycle.store_company(session, record, form, fingerprint(form), datetime.now(UTC))
        except CompanyRegisteredAlready as exc:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                [
                    problem(
                        ("body", "name"),
                        str(exc),
                        "company_registered_already",
                        input=form.name,
                        company_id=exc.existing_id,
                    )
                ],
            ) from exc
        except ExternalIdTaken as exc:
            raise external_id_taken(exc, form.external_id, company_id=exc.existing_id) from exc
        return company_public(record)

    @router.get("/companies", tags=["companies"], summary="List companies, a page at a time")
    def list_companies(
        limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None
    ) -> CompanyPage:
        after = decode_cursor(cursor, 1)
        with runtime.reading() as session:
            rows = page(session, CompanyRecord, after[0] if after else None, limit + 1)
            total = session.exec(select(func.count()).select_from(CompanyRecord)).one()
        return CompanyPage(
            items=[company_public(r) for r in rows[:limit]],
            total=total,
            limit=limit,
            next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None,
        )

    @router.get(
        "/companies/{company_id}",
        tags=["companies"],
        summary="Read a company",
        responses=error_answers({404: "No company has this id."}),
    )
    def read_company(company_id: str) -> CompanyPublic:
        with runtime.reading() as session:
            record = session.get(CompanyRecord, company_id)
            if record is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no company {company_id}")
            return company_public(record)

    @router.post(
        "/vacancies",
        status_code=201,
        tags=["vacancies"],
        summary="Create a vacancy",
        responses=error_answers(
            {
                409: "The external_id names another vacancy: its id is in the problem's "
                "`vacancy_id`.",
                422: "A malformed vacancy, an unknown skill or company.",
            }
        ),
    )
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
            try:
                lifecycle.store_vacancy(session, record, form, digest, now)
            except ExternalIdTaken as exc:
                raise external_id_taken(exc, form.external_id, vacancy_id=exc.existing_id) from exc
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
    ) -> VacancyPage:
        after = decode_cursor(cursor, 1)
        conditions = []
        if status_filter:
            conditions.append(col(VacancyRecord.status) == status_filter)
        if external_id is not None:
            conditions.append(col(VacancyRecord.external_id) == external_id)
        with runtime.reading() as session:
            statement = select(VacancyRecord).where(*conditions).order_by(col(VacancyRecord.id))
            if after:
                statement = statement.where(VacancyRecord.id > after[0])
            rows = list(session.exec(statement.limit(limit + 1)).all())
            total = session.exec(
                select(func.count()).select_from(VacancyRecord).where(*conditions)
            ).one()
        return VacancyPage(
            items=[vacancy_public(r) for r in rows[:limit]],
            total=total,
            limit=limit,
            next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None,
        )

    @router.get(
        "/vacancies/{vacancy_id}",
        tags=["vacancies"],
        summary="Read a vacancy",
        responses=error_answers({404: NO_VACANCY}),
    )
    def read_vacancy(vacancy_id: str) -> VacancyPublic:
        with runtime.reading() as session:
            return vacancy_public(vacancy_or_404(session, vacancy_id))

    @router.post(
        "/vacancies/{vacancy_id}/publish",
        tags=["vacancies"],
        summary="Draft → open",
        responses=error_answers({404: NO_VACANCY, 409: "The vacancy is no draft any more."}),
    )
    def publish_vacancy(vacancy_id: str) -> VacancyPublic:
        with runtime.transaction() as session:
            record = vacancy_or_404(session, vacancy_id)
            try:
                lifecycle.publish(session, record)
            except TransitionRefused as exc:
                raise refused(exc) from exc
        return vacancy_public(record)

    @router.post(
        "/vacancies/{vacancy_id}/close",
        tags=["vacancies"],
        summary="Close a vacancy",
        responses=error_answers({404: NO_VACANCY}),
    )
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
        responses=error_answers(
            {
                404: NO_VACANCY,
                409: "The student applied already, or the vacancy is not open.",
                422: "A malformed request, or a student the region does not know.",
            }
        ),
    )
    def apply(vacancy_id: str, body: StudentRef) -> ApplicationPublic:
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
            return ApplicationPublic(
                application_id=application.id,
                vacancy_id=application.vacancy_id,
                student_id=application.student_id,
                placed=application.placed,
                applied_at=application.applied_at,
                placed_at=application.placed_at,
            )

    @router.post(
        "/vacancies/{vacancy_id}/placements",
        status_code=201,
        tags=["funnel"],
        summary="A student who applied was hired",
        responses=error_answers(
            {
                404: NO_VACANCY,
                409: "No position of the vacancy is free.",
                422: "A malformed request, or a student who has not applied.",
            }
        ),
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

    @router.post(
        "/imports/companies",
        tags=["imports"],
        summary="Import companies from CSV or JSON Lines (idempotent by external_id)",
        **IMPORT_ROUTE,
    )
    async def import_companies(
        request: Request, format: Annotated[Literal["csv", "jsonl"], Query()] = "csv"
    ) -> StreamingResponse:
        return await import_answer(request, format, CompanyImporter(runtime, lifecycle, format))

    @router.post(
        "/imports/vacancies",
        tags=["imports"],
        summary="Import vacancies from CSV or JSON Lines (idempotent by external_id)",
        **IMPORT_ROUTE,
    )
    async def import_vacancies(
        request: Request, format: Annotated[Literal["csv", "jsonl"], Query()] = "csv"
    ) -> StreamingResponse:
        importer = VacancyImporter(runtime, lifecycle, vocabulary, format)
        return await import_answer(request, format, importer)

    return router
