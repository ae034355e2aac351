"""Topic ``<region>.profiles.students.v1``: student profile snapshots, keyed by student id."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from interlocality.contracts.common import (
    TIME_OF_DAY_PATTERN,
    YEAR_MONTH_PATTERN,
    EmailAddress,
    EngagementKind,
    LanguageSkill,
    SkillLevel,
    known_time_zone,
)
from interlocality.contracts.envelope import CloudEvent

__all__ = [
    "Consent",
    "Consents",
    "DegreeLevel",
    "NotificationPreferences",
    "PermittedWork",
    "ResidenceStatus",
    "StudentErasure",
    "StudentEvent",
    "StudentProfile",
    "StudentProfileErased",
    "StudentProfileUpserted",
    "Weekday",
]


DegreeLevel = Literal["bachelor", "master", "phd"]
ResidenceStatus = Literal[
    "eu_eea_citizen",
    "non_eu_student",
    "non_eu_graduate_job_seeker",
    "non_eu_work_permit",
    "permanent_resident",
]
RemotePreference = Literal["on_site", "hybrid", "remote"]


class Consent(BaseModel):
    """One consent: given or not, and when that was last said."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    granted: Annotated[StrictBool, Field(title="Granted")] = False
    at: Annotated[datetime | None, Field(title="Given or withdrawn at")] = None


class Consents(BaseModel):
    """What the student agreed to; each may be withdrawn at any time.

    Consent is opt-in (GDPR Art. 7): one the student has not given is not granted.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    matching: Annotated[Consent, Field(title="Matching")] = Consent()
    notifications: Annotated[Consent, Field(title="Notifications")] = Consent()
    analytics: Annotated[Consent, Field(title="Anonymous analytics")] = Consent()


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class NotificationPreferences(BaseModel):
    """How and when the student wants to hear about opportunities."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    frequency: Annotated[
        Literal["instant", "daily", "weekly"], Field(title="Instant or digest")
    ] = "instant"
    channels: Annotated[
        list[Literal["email", "webhook", "in_app"]],
        Field(
            title="Channels",
            description="Where notifications are pushed; the in-app feed always holds them.",
        ),
    ] = ["in_app"]
    locale: Annotated[Literal["en", "da", "de", "nl", "fi", "it"], Field(title="Locale")] = "en"
    time_zone: Annotated[
        str, Field(title="Time zone", description="IANA name."), AfterValidator(known_time_zone)
    ] = "Europe/Copenhagen"
    quiet_hours_start: Annotated[
        str | None, Field(title="Quiet from", pattern=TIME_OF_DAY_PATTERN)
    ] = None
    quiet_hours_end: Annotated[
        str | None, Field(title="Quiet until", pattern=TIME_OF_DAY_PATTERN)
    ] = None
    min_score: Annotated[
        float,
        Field(
            title="Threshold",
            description="Only matches scoring at least this are notified.",
            ge=0.0,
            le=1.0,
        ),
    ] = 0.0
    digest_hour: Annotated[
        int, Field(title="Digest hour", description="Local hour a digest goes out.", ge=0, le=23)
    ] = 8
    digest_weekday: Annotated[
        Weekday, Field(title="Digest weekday", description="Day of a weekly digest.")
    ] = "monday"
    digest_max_items: Annotated[
        int, Field(title="Most items in a digest", description="Best first.", ge=1, le=50)
    ] = 10


class PermittedWork(BaseModel):
    """What the region's rules allow this student to work, with the rule's source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    country: Annotated[str, Field(title="Rules of country")]
    unrestricted: Annotated[bool, Field(title="No limit applies")]
    hours_per_week_term: Annotated[float | None, Field(title="Hours a week in term")] = None
    hours_per_week_holidays: Annotated[float | None, Field(title="Hours a week in holidays")] = None
    yearly_full_days: Annotated[int | None, Field(title="Full days a year")] = None
    curricular_internships_exempt: Annotated[
        bool, Field(title="Curricular internships are outside the limit")
    ] = True
    summary: Annotated[str, Field(title="In words")] = ""
    source: Annotated[str, Field(title="Source")] = ""
    effective_from: Annotated[date | None, Field(title="Rule effective from")] = None


class StudentProfile(BaseModel):
    """The full current state of a student's profile (a snapshot, not a diff)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_id: Annotated[str, Field(title="Student id", min_length=1)]
    name: Annotated[str, Field(title="Name", min_length=1, max_length=200)]
    email: EmailAddress
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
    external_id: Annotated[
        str | None, Field(title="Operator's id", description="Id in the operator's own system.")
    ] = None
    home_university: Annotated[str, Field(title="Home university", max_length=200)] = ""
    study_field: Annotated[
        str | None, Field(title="Field of study", description="ISCED-F 2013 code.")
    ] = None
    degree_level: Annotated[DegreeLevel | None, Field(title="Degree level")] = None
    expected_graduation: Annotated[
        str | None, Field(title="Expected graduation", pattern=YEAR_MONTH_PATTERN)
    ] = None
    hours_per_week: Annotated[int | None, Field(title="Hours a week wanted", ge=1, le=60)] = None
    available_from: Annotated[date | None, Field(title="Available from")] = None
    available_until: Annotated[date | None, Field(title="Available until")] = None
    preferred_locations: Annotated[list[str], Field(title="Preferred locations")] = []
    remote: Annotated[RemotePreference | None, Field(title="On site, hybrid or remote")] = None
    residence_status: Annotated[ResidenceStatus | None, Field(title="Residence status")] = None
    permitted_work: Annotated[
        PermittedWork | None,
        Field(title="Permitted work", description="Computed from the region's rules file."),
    ] = None
    consents: Annotated[Consents, Field(title="Consents")] = Consents()
    notification_preferences: Annotated[
        NotificationPreferences, Field(title="Notification preferences")
    ] = NotificationPreferences()


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
