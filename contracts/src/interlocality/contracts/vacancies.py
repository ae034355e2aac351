"""Topic ``<region>.vacancies.vacancies.v1``: vacancy snapshots, keyed by vacancy id."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from interlocality.contracts.common import EngagementKind, LanguageRequirement, SkillRequirement
from interlocality.contracts.envelope import CloudEvent

__all__ = [
    "Vacancy",
    "VacancyClosed",
    "VacancyEvent",
    "VacancyExpired",
    "VacancyFilled",
    "VacancyPublished",
    "VacancyStatus",
]

VacancyStatus = Literal["open", "closed", "filled", "expired"]


class Vacancy(BaseModel):
    """The full current state of a vacancy (a snapshot, not a diff)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vacancy_id: Annotated[str, Field(title="Vacancy id", min_length=1)]
    company_id: Annotated[str, Field(title="Company id", min_length=1)]
    title: Annotated[str, Field(title="Title", min_length=1, max_length=200)]
    kind: Annotated[EngagementKind, Field(title="Engagement kind")]
    required_skills: Annotated[
        list[SkillRequirement], Field(title="Required skills", description="ESCO skills.")
    ]
    languages: Annotated[list[LanguageRequirement], Field(title="Language requirements")]
    status: Annotated[VacancyStatus, Field(title="Status")]
    version: Annotated[int, Field(title="Version", ge=1)]
    updated_at: Annotated[datetime, Field(title="Updated at")]
    external_id: Annotated[str | None, Field(title="Operator's id")] = None
    description: Annotated[str, Field(title="Description", max_length=20_000)] = ""
    nice_to_have_skills: Annotated[
        list[SkillRequirement], Field(title="Nice-to-have skills", description="ESCO skills.")
    ] = []
    hours_per_week: Annotated[int | None, Field(title="Hours a week", ge=1, le=60)] = None
    start_date: Annotated[date | None, Field(title="Start")] = None
    end_date: Annotated[date | None, Field(title="End")] = None
    location: Annotated[str, Field(title="Location", max_length=100)] = ""
    remote: Annotated[
        Literal["on_site", "hybrid", "remote"], Field(title="On site, hybrid or remote")
    ] = "on_site"
    positions: Annotated[int, Field(title="Positions", ge=1)] = 1
    application_deadline: Annotated[date | None, Field(title="Application deadline")] = None
    curricular: Annotated[
        bool,
        Field(title="Part of a curriculum", description="A mandatory internship of a study."),
    ] = False


class VacancyPublished(CloudEvent[Vacancy]):
    """A vacancy is open for matching; ``data`` is the whole vacancy."""

    type: Literal["org.interlocality.VacancyPublished.v1"] = "org.interlocality.VacancyPublished.v1"
    dataschema: str = "urn:interlocality:schema:VacancyPublished:v1"


class VacancyFilled(CloudEvent[Vacancy]):
    """Every position of a vacancy is taken; ``data`` has status ``filled``."""

    type: Literal["org.interlocality.VacancyFilled.v1"] = "org.interlocality.VacancyFilled.v1"
    dataschema: str = "urn:interlocality:schema:VacancyFilled:v1"


class VacancyExpired(CloudEvent[Vacancy]):
    """The application deadline passed; ``data`` has status ``expired``."""

    type: Literal["org.interlocality.VacancyExpired.v1"] = "org.interlocality.VacancyExpired.v1"
    dataschema: str = "urn:interlocality:schema:VacancyExpired:v1"


class VacancyClosed(CloudEvent[Vacancy]):
    """A vacancy was closed; ``data`` is the whole vacancy with status ``closed``."""

    type: Literal["org.interlocality.VacancyClosed.v1"] = "org.interlocality.VacancyClosed.v1"
    dataschema: str = "urn:interlocality:schema:VacancyClosed:v1"


VacancyEvent = Annotated[
    VacancyPublished | VacancyClosed | VacancyFilled | VacancyExpired, Field(discriminator="type")
]
