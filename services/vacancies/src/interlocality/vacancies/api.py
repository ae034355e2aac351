"""HTTP API of the vacancies service."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from interlocality.common.access import (
    COMPANY,
    OPERATOR,
    STUDENT,
    Caller,
    Principal,
    Role,
    allow,
    company_owning,
    the_company,
)
from interlocality.common.bulk import IMPORT_ROUTE, import_answer
from interlocality.common.esco import EscoVocabulary
from interlocality.common.pagination import CursorPage, decode_cursor, encode_cursor
from interlocality.common.service import Provided, ServiceRuntime, error_answers, problem
from interlocality.common.vocabulary_checks import require_known_skills
from interlocality.contracts.companies import Company
from interlocality.vacancies.domain import CompanyForm, VacancyForm, company_of
from interlocality.vacancies.importer import CompanyImporter, VacancyImporter
from interlocality.vacancies.service import (
    CompanyRegisteredAlready,
    ExternalIdTaken,
    NoSuchCompany,
    NoSuchStudent,
    NoSuchVacancy,
    NotApplied,
    Refused,
    VacancyService,
    stored_vacancy,
)
from interlocality.vacancies.store import (
    CompanyRecord,
    VacancyRecord,
    count,
    page,
    vacancies_seen_by,
    vacancies_where,
)

__all__ = [
    "ApplicationPublic",
    "CompanyPage",
    "CompanyPublic",
    "VacancyPage",
    "VacancyPublic",
    "router",
]


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


Runtime = Annotated[ServiceRuntime, Depends(Provided(ServiceRuntime))]
Vacancies = Annotated[VacancyService, Depends(Provided(VacancyService))]
Vocabulary = Annotated[EscoVocabulary, Depends(Provided(EscoVocabulary))]
PageLimit = Annotated[int, Query(ge=1, le=500)]
OWNING_COMPANY = company_owning(VacancyService, VacancyService.company_of_vacancy)


def _only_operators_act_for_others(
    caller: Principal, role: Role, own: str | None, named: str
) -> None:
    """A 403 when a company or student caller names another company or student in the
    request's body: they act only for themselves."""
    if caller.has(Role.OPERATOR) or not caller.has(role) or own == named:
        return
    raise HTTPException(
        status.HTTP_403_FORBIDDEN, f"a {role} acts only for itself: the body names {named}"
    )


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


@contextmanager
def refusals_answered() -> Iterator[None]:
    """A use case the service refuses answers 404, 409 or 422, naming the field at fault."""
    try:
        yield
    except Refused as exc:
        raise _answer(exc) from exc


def _answer(exc: Refused) -> HTTPException:
    match exc:
        case NoSuchVacancy():
            return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
        case CompanyRegisteredAlready():
            return _problem(
                status.HTTP_409_CONFLICT,
                "name",
                exc,
                "company_registered_already",
                input=exc.name,
                company_id=exc.existing_id,
            )
        case ExternalIdTaken():
            return _problem(
                status.HTTP_409_CONFLICT,
                "external_id",
                exc,
                "external_id_taken",
                input=exc.external_id,
                **{f"{exc.kind}_id": exc.existing_id},
            )
        case NoSuchCompany():
            return _problem(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "company_id",
                exc,
                "unknown_company",
                input=exc.company_id,
            )
        case NoSuchStudent():
            return _problem(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "student_id", exc, "unknown_student"
            )
        case NotApplied():
            return _problem(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "student_id", exc, "no_application"
            )
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


def _problem(code: int, field: str, exc: Refused, kind: str, **extra: Any) -> HTTPException:
    return HTTPException(code, [problem(("body", field), str(exc), kind, **extra)])


@router.post(
    "/companies",
    dependencies=[allow(OPERATOR)],
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
def register_company(form: CompanyForm, vacancies: Vacancies) -> CompanyPublic:
    with refusals_answered():
        return company_public(vacancies.register_company(form))


@router.get(
    "/companies",
    tags=["companies"],
    summary="List companies, a page at a time",
    dependencies=[allow(OPERATOR, STUDENT, COMPANY)],
)
def list_companies(
    runtime: Runtime, limit: PageLimit = 50, cursor: str | None = None
) -> CompanyPage:
    after = decode_cursor(cursor, 1)
    with runtime.reading() as session:
        rows = page(session, CompanyRecord, after[0] if after else None, limit + 1)
        total = count(session, CompanyRecord)
    return CompanyPage(
        items=[company_public(r) for r in rows[:limit]],
        total=total,
        limit=limit,
        next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None,
    )


@router.get(
    "/companies/{company_id}",
    dependencies=[allow(OPERATOR, STUDENT, the_company())],
    tags=["companies"],
    summary="Read a company",
    responses=error_answers({404: "No company has this id."}),
)
def read_company(company_id: str, runtime: Runtime) -> CompanyPublic:
    with runtime.reading() as session:
        record = session.get(CompanyRecord, company_id)
        if record is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no company {company_id}")
        return company_public(record)


@router.post(
    "/vacancies",
    dependencies=[allow(OPERATOR, COMPANY)],
    status_code=201,
    tags=["vacancies"],
    summary="Create a vacancy",
    responses=error_answers(
        {
            409: "The external_id names another vacancy: its id is in the problem's `vacancy_id`.",
            422: "A malformed vacancy, an unknown skill or company.",
        }
    ),
)
def create_vacancy(
    form: VacancyForm, vacancies: Vacancies, vocabulary: Vocabulary, caller: Caller
) -> VacancyPublic:
    _only_operators_act_for_others(caller, Role.COMPANY, caller.company_id, form.company_id)
    require_known_skills(
        vocabulary,
        [(("body", "required_skills", i, "uri"), s.uri) for i, s in enumerate(form.required_skills)]
        + [
            (("body", "nice_to_have_skills", i, "uri"), s.uri)
            for i, s in enumerate(form.nice_to_have_skills)
        ],
    )
    with refusals_answered():
        return vacancy_public(vacancies.create_vacancy(form))


@router.get(
    "/vacancies",
    tags=["vacancies"],
    summary="List vacancies, a page at a time",
    dependencies=[allow(OPERATOR, STUDENT, COMPANY)],
)
def list_vacancies(
    runtime: Runtime,
    caller: Caller,
    limit: PageLimit = 50,
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
    where = vacancies_where(status_filter, external_id) + vacancies_seen_by(caller)
    with runtime.reading() as session:
        rows = page(session, VacancyRecord, after[0] if after else None, limit + 1, *where)
        total = count(session, VacancyRecord, *where)
    return VacancyPage(
        items=[vacancy_public(r) for r in rows[:limit]],
        total=total,
        limit=limit,
        next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None,
    )


@router.get(
    "/vacancies/{vacancy_id}",
    dependencies=[allow(OPERATOR, STUDENT, OWNING_COMPANY)],
    tags=["vacancies"],
    summary="Read a vacancy",
    responses=error_answers({404: NO_VACANCY}),
)
def read_vacancy(vacancy_id: str, runtime: Runtime, caller: Caller) -> VacancyPublic:
    with runtime.reading() as session, refusals_answered():
        record = stored_vacancy(session, vacancy_id)
        if (
            not caller.has(Role.OPERATOR)
            and not caller.has(Role.COMPANY)
            and record.status == "draft"
        ):
            raise NoSuchVacancy(vacancy_id)  # a draft is its company's until published
        return vacancy_public(record)


@router.post(
    "/vacancies/{vacancy_id}/publish",
    dependencies=[allow(OPERATOR, OWNING_COMPANY)],
    tags=["vacancies"],
    summary="Draft → open",
    responses=error_answers({404: NO_VACANCY, 409: "The vacancy is no draft any more."}),
)
def publish_vacancy(vacancy_id: str, vacancies: Vacancies) -> VacancyPublic:
    with refusals_answered():
        return vacancy_public(vacancies.publish(vacancy_id))


@router.post(
    "/vacancies/{vacancy_id}/close",
    dependencies=[allow(OPERATOR, OWNING_COMPANY)],
    tags=["vacancies"],
    summary="Close a vacancy",
    responses=error_answers({404: NO_VACANCY}),
)
def close_vacancy(vacancy_id: str, vacancies: Vacancies) -> VacancyPublic:
    with refusals_answered():
        return vacancy_public(vacancies.close(vacancy_id))


@router.post(
    "/vacancies/{vacancy_id}/applications",
    dependencies=[allow(OPERATOR, STUDENT, OWNING_COMPANY)],
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
def apply(
    vacancy_id: str, body: StudentRef, vacancies: Vacancies, caller: Caller
) -> ApplicationPublic:
    _only_operators_act_for_others(caller, Role.STUDENT, caller.student_id, body.student_id)
    with refusals_answered():
        application = vacancies.apply(vacancy_id, body.student_id)
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
    dependencies=[allow(OPERATOR, OWNING_COMPANY)],
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
def place(vacancy_id: str, body: StudentRef, vacancies: Vacancies) -> VacancyPublic:
    with refusals_answered():
        return vacancy_public(vacancies.place(vacancy_id, body.student_id))


@router.post(
    "/imports/companies",
    dependencies=[allow(OPERATOR)],
    tags=["imports"],
    summary="Import companies from CSV or JSON Lines (idempotent by external_id)",
    **IMPORT_ROUTE,
)
async def import_companies(
    request: Request,
    vacancies: Vacancies,
    format: Annotated[Literal["csv", "jsonl"], Query()] = "csv",
) -> StreamingResponse:
    return await import_answer(request, format, CompanyImporter(vacancies, format))


@router.post(
    "/imports/vacancies",
    dependencies=[allow(OPERATOR)],
    tags=["imports"],
    summary="Import vacancies from CSV or JSON Lines (idempotent by external_id)",
    **IMPORT_ROUTE,
)
async def import_vacancies(
    request: Request,
    vacancies: Vacancies,
    vocabulary: Vocabulary,
    format: Annotated[Literal["csv", "jsonl"], Query()] = "csv",
) -> StreamingResponse:
    return await import_answer(request, format, VacancyImporter(vacancies, vocabulary, format))
