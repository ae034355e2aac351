"""Topic ``<region>.profiles.students.v1``: student profile snapshots, keyed by student id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from interlocality.contracts.common import EngagementKind, LanguageSkill, SkillLevel
from interlocality.contracts.envelope import CloudEvent

__all__ = [
    "StudentErasure",
    "StudentEvent",
    "StudentProfile",
    "StudentProfileErased",
    "StudentProfileUpserted",
]


class StudentProfile(BaseModel):
    """The full current state of a student's profile (a snapshot, not a diff)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_id: Annotated[str, Field(title="Student id", min_length=1)]
    name: Annotated[str, Field(title="Name", min_length=1, max_length=200)]
    email: Annotated[EmailStr, Field(title="E-mail")]
    skills: Annotated[
        list[SkillLevel], Field(title="Skills", description="ESCO skills with a level 1–5.")
    ]
    languages: Annotated[
        list[LanguageSkill], Field(title="Languages", description="ISO 639-1 + CEFR level.")
    ]
    engagement_kinds: Annotated[
        list[EngagementKind],
        Field(title="Wanted engagement kinds", description="What the student is looking for."),
    ]
    version: Annotated[
        int, Field(title="Version", description="Increases with every change.", ge=1)
    ]
    updated_at: Annotated[datetime, Field(title="Updated at")]


class StudentErasure(BaseModel):
    """A student asked to be forgotten: every service deletes what it holds on them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_id: Annotated[str, Field(title="Student id", min_length=1)]
    erased_at: Annotated[datetime, Field(title="Erased at")]


class StudentProfileUpserted(CloudEvent[StudentProfile]):
    """A student profile was created or changed; ``data`` is the whole profile."""

    type: Literal["org.interlocality.StudentProfileUpserted.v1"] = (
        "org.interlocality.StudentProfileUpserted.v1"
    )
    dataschema: str = "urn:interlocality:schema:StudentProfileUpserted:v1"


class StudentProfileErased(CloudEvent[StudentErasure]):
    """A student profile was erased; a tombstone for the same key follows it."""

    type: Literal["org.interlocality.StudentProfileErased.v1"] = (
        "org.interlocality.StudentProfileErased.v1"
    )
    dataschema: str = "urn:interlocality:schema:StudentProfileErased:v1"


StudentEvent = Annotated[StudentProfileUpserted | StudentProfileErased, Field(discriminator="type")]
