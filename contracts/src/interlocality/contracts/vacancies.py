"""Topic ``<region>.vacancies.vacancies.v1``: vacancy snapshots, keyed by vacancy id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from interlocality.contracts.common import EngagementKind, LanguageRequirement, SkillRequirement
from interlocality.contracts.envelope import CloudEvent

__all__ = ["Vacancy", "VacancyClosed", "VacancyEvent", "VacancyPublished", "VacancyStatus"]

VacancyStatus = Literal["open", "closed"]


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


class VacancyPublished(CloudEvent[Vacancy]):
    """A vacancy is open for matching; ``data`` is the whole vacancy."""

    type: Literal["org.interlocality.VacancyPublished.v1"] = "org.interlocality.VacancyPublished.v1"
    dataschema: str = "urn:interlocality:schema:VacancyPublished:v1"


class VacancyClosed(CloudEvent[Vacancy]):
    """A vacancy was closed; ``data`` is the whole vacancy with status ``closed``."""

    type: Literal["org.interlocality.VacancyClosed.v1"] = "org.interlocality.VacancyClosed.v1"
    dataschema: str = "urn:interlocality:schema:VacancyClosed:v1"


VacancyEvent = Annotated[VacancyPublished | VacancyClosed, Field(discriminator="type")]
