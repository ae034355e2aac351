"""Pure logic of the vacancies service: forms, size classes, lifecycle, snapshots."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator

from interlocality.common.codes import CountryCode, LanguageCode, NaceCode
from interlocality.common.text import plain_letters
from interlocality.contracts.common import EngagementKind, LanguageRequirement, SkillRequirement
from interlocality.contracts.companies import Company, CompanyContact, SizeClass
from interlocality.contracts.vacancies import Vacancy

__all__ = [
    "CompanyForm",
    "VacancyForm",
    "company_key",
    "company_of",
    "size_class",
    "vacancy_of",
]


def size_class(employees: int | None) -> SizeClass | None:
    """The EU size class of a company with ``employees`` people."""
    if employees is None:
        return None
    if employees < 10:
        return "micro"
    if employees < 50:
        return "small"
    if employees < 250:
        return "medium"
    return "large"


def _folded(text: str) -> str:
    return " ".join(plain_letters(text).casefold().split())


def company_key(name: str, city: str) -> str:
    """What two registrations of one company share: the name in the city, compared without
    case, accents or spacing, so "Ærø  Café" in "Århus" is "aero cafe" in "Arhus"."""
    return hashlib.sha256(f"{_folded(name)}\n{_folded(city)}".encode()).hexdigest()


class CompanyForm(BaseModel):
    """A company as the operator registers it."""

    model_config = ConfigDict(extra="forbid")

    external_id: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    name: Annotated[str, Field(title="Name", min_length=1, max_length=200)]
    employees: Annotated[int | None, Field(title="Employees", ge=1, le=1_000_000)] = None
    sector: NaceCode | None = None
    city: Annotated[str, Field(title="City", max_length=100)] = ""
    region: Annotated[str, Field(title="Region", max_length=100)] = ""
    country: CountryCode | None = None
    work_languages: Annotated[list[LanguageCode], Field(max_length=10)] = []
    social_languages: Annotated[list[LanguageCode], Field(max_length=10)] = []
    export_markets: Annotated[list[CountryCode], Field(max_length=100)] = []
    contact: CompanyContact = CompanyContact()


class LanguageRequirementForm(LanguageRequirement):
    """A language requirement as entered: the code is checked against ISO 639-1."""

    code: LanguageCode


class VacancyForm(BaseModel):
    """A vacancy as a company or the operator enters it."""

    model_config = ConfigDict(extra="forbid")

    external_id: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    company_id: Annotated[str, Field(title="Company id", min_length=1)]
    title: Annotated[str, Field(title="Title", min_length=1, max_length=200)]
    description: Annotated[str, Field(title="Description", max_length=20_000)] = ""
    kind: EngagementKind
    required_skills: Annotated[
        list[SkillRequirement],
        Field(title="Required skills", min_length=1, max_length=100),
    ]
    nice_to_have_skills: Annotated[list[SkillRequirement], Field(max_length=100)] = []
    languages: Annotated[list[LanguageRequirementForm], Field(max_length=10)] = []
    hours_per_week: Annotated[int | None, Field(title="Hours a week", ge=1, le=60)] = None
    start_date: date | None = None
    end_date: date | None = None
    location: Annotated[str, Field(max_length=100)] = ""
    remote: Literal["on_site", "hybrid", "remote"] = "on_site"
    positions: Annotated[int, Field(ge=1, le=1000)] = 1
    application_deadline: date | None = None
    curricular: StrictBool = False
    status: Annotated[
        Literal["draft", "open"], Field(description="Start as a draft, or open at once.")
    ] = "open"

    @field_validator("required_skills", "nice_to_have_skills")
    @classmethod
    def _distinct(cls, skills: list[SkillRequirement]) -> list[SkillRequirement]:
        uris = [skill.uri for skill in skills]
        if len(uris) != len(set(uris)):
            raise ValueError("a skill is listed twice")
        return skills

    @field_validator("start_date", "application_deadline")
    @classmethod
    def _not_past(cls, value: date | None) -> date | None:
        if value is not None and value < date.today():
            raise ValueError(f"{value} is in the past")
        return value

    @field_validator("end_date")
    @classmethod
    def _end_after_start(cls, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start_date")
        if end is not None and start is not None and end < start:
            raise ValueError(f"the end {end} is before the start {start}")
        return end


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def company_of(
    *, company_id: str, document: dict[str, Any], version: int, updated_at: datetime
) -> Company:
    """The wire snapshot of a stored company."""
    return Company.model_validate(
        {
            **document,
            "company_id": company_id,
            "size_class": size_class(document.get("employees")),
            "version": version,
            "updated_at": _aware(updated_at),
        }
    )


def vacancy_of(
    *, vacancy_id: str, status: str, document: dict[str, Any], version: int, updated_at: datetime
) -> Vacancy:
    """The wire snapshot of a stored vacancy (drafts are never published)."""
    fields = {k: v for k, v in document.items() if k != "status"}
    return Vacancy.model_validate(
        {
            **fields,
            "vacancy_id": vacancy_id,
            "status": status,
            "version": version,
            "updated_at": _aware(updated_at),
        }
    )
