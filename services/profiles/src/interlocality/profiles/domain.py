"""Pure logic of the profiles service: forms, consents, snapshots, import rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)

from interlocality.common.bulk import yes_or_no
from interlocality.common.codes import IscedFCode, LanguageCode
from interlocality.common.work_rules import WorkRules, permitted_work
from interlocality.contracts.common import (
    YEAR_MONTH_PATTERN,
    EmailAddress,
    EngagementKind,
    LanguageSkill,
    SkillLevel,
)
from interlocality.contracts.outcomes import GraduateOutcomeKind
from interlocality.contracts.students import (
    Consents,
    DegreeLevel,
    NotificationPreferences,
    RemotePreference,
    ResidenceStatus,
    StudentProfile,
)

__all__ = [
    "EARLIEST_GRADUATION",
    "GRADUATION_AHEAD",
    "ConsentChoices",
    "OutcomeForm",
    "StudentForm",
    "consents_after",
    "form_from_csv_row",
    "profile_of",
    "snapshot_of_form",
]


def _time_zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. 'Europe/Copenhagen')")
    return value


_ZONES = available_timezones()


class LanguageSkillForm(LanguageSkill):
    """A language as entered: the code is checked against ISO 639-1."""

    code: LanguageCode


class NotificationPreferencesForm(NotificationPreferences):
    """Preferences as entered: the time zone is checked against the IANA list."""

    time_zone: Annotated[str, Field(title="Time zone"), AfterValidator(_time_zone)] = (
        "Europe/Copenhagen"
    )


_CHOICE = (
    "true gives it, false withdraws it. Left out, what the student said before stays; a new "
    "student has not given it (consent is opt-in)."
)


class ConsentChoices(BaseModel):
    """The student's yes or no to each use of their data: only the choices made change
    anything (see :func:`consents_after`), so nobody consents by saying nothing."""

    model_config = ConfigDict(extra="forbid")

    matching: Annotated[StrictBool, Field(title="Matching", description=_CHOICE)] = False
    notifications: Annotated[StrictBool, Field(title="Notifications", description=_CHOICE)] = False
    analytics: Annotated[StrictBool, Field(title="Anonymous analytics", description=_CHOICE)] = (
        False
    )


class StudentForm(BaseModel):
    """What a student (or the operator for them) submits, one form or one import row."""

    model_config = ConfigDict(extra="forbid")

    external_id: Annotated[
        str | None, Field(title="Operator's id", min_length=1, max_length=100)
    ] = None
    name: Annotated[str, Field(title="Name", min_length=1, max_length=200)]
    email: EmailAddress
    home_university: Annotated[str, Field(title="Home university", max_length=200)] = ""
    study_field: IscedFCode | None = None
    degree_level: DegreeLevel | None = None
    expected_graduation: Annotated[
        str | None,
        Field(title="Expected graduation", description="YYYY-MM", pattern=YEAR_MONTH_PATTERN),
    ] = None
    skills: Annotated[
        list[SkillLevel],
        Field(title="Skills", description="ESCO skill URIs with a level 1–5.", max_length=200),
    ] = []
    languages: Annotated[
        list[LanguageSkillForm],
        Field(title="Languages", description="ISO 639-1 code and CEFR level.", max_length=30),
    ] = []
    engagement_kinds: Annotated[
        list[EngagementKind], Field(title="Wanted engagement kinds", min_length=1)
    ]
    hours_per_week: Annotated[int | None, Field(title="Hours a week", ge=1, le=60)] = None
    available_from: date | None = None
    available_until: date | None = None
    preferred_locations: Annotated[list[str], Field(max_length=20)] = []
    remote: RemotePreference | None = None
    residence_status: ResidenceStatus | None = None
    consents: Annotated[ConsentChoices, Field(default_factory=ConsentChoices)]
    notification_preferences: Annotated[
        NotificationPreferencesForm, Field(default_factory=NotificationPreferencesForm)
    ]

    @field_validator("skills")
    @classmethod
    def _distinct_skills(cls, skills: list[SkillLevel]) -> list[SkillLevel]:
        uris = [skill.uri for skill in skills]
        if len(uris) != len(set(uris)):
            raise ValueError("a skill is listed twice")
        return skills

    @field_validator("languages")
    @classmethod
    def _distinct_languages(cls, languages: list[LanguageSkillForm]) -> list[LanguageSkillForm]:
        codes = [language.code for language in languages]
        if len(codes) != len(set(codes)):
            raise ValueError("a language is listed twice")
        return languages

    @field_validator("engagement_kinds")
    @classmethod
    def _distinct_kinds(cls, kinds: list[EngagementKind]) -> list[EngagementKind]:
        return list(dict.fromkeys(kinds))

    @field_validator("available_until")
    @classmethod
    def _until_after_from(cls, until: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("available_from")
        if until is not None and start is not None and until < start:
            raise ValueError(f"the end {until} is before available_from {start}")
        if until is not None and until < date.today():
            raise ValueError(f"{until} is in the past")
        return until


EARLIEST_GRADUATION = date(1990, 1, 1)
"""No graduate of the programmes the platform serves graduated before this day."""
GRADUATION_AHEAD = timedelta(days=31)
"""How far ahead a graduation may lie: an outcome known before the ceremony (a contract
signed in the last month of study) can be recorded; a date further out is a typing error."""


class OutcomeForm(BaseModel):
    """What the operator records on a graduate: when they graduated and what became of them."""

    model_config = ConfigDict(extra="forbid")

    graduated_on: Annotated[
        date,
        Field(
            title="Graduated on",
            description="Day of graduation (YYYY-MM-DD), from 1990-01-01 to 31 days after "
            "today; analytics groups outcomes by its semester.",
        ),
    ]
    outcome: Annotated[
        GraduateOutcomeKind,
        Field(
            title="Outcome",
            description="employed_in_region: works for an employer in the region; "
            "employed_elsewhere: works outside it; further_study: studies on; "
            "unknown: the operator does not know.",
        ),
    ]

    @field_validator("graduated_on")
    @classmethod
    def _plausible_day(cls, day: date) -> date:
        latest = date.today() + GRADUATION_AHEAD
        if day < EARLIEST_GRADUATION:
            raise ValueError(f"{day} is before {EARLIEST_GRADUATION}, the earliest accepted")
        if day > latest:
            raise ValueError(f"{day} is more than 31 days ahead (the latest accepted is {latest})")
        return day


def consents_after(
    previous: dict[str, Any], choices: ConsentChoices, now: datetime
) -> dict[str, Any]:
    """Consents with the time each was last changed (kept when the answer is the same).

    A choice not made (left out of the form or the file) keeps the previous answer; with
    none, the consent is not given and carries no time, since the student said nothing.
    """
    result = {}
    for name, granted in choices.model_dump().items():
        before = previous.get(name)
        if name not in choices.model_fields_set:
            result[name] = before if before is not None else {"granted": False, "at": None}
        elif before is not None and before.get("granted") == granted:
            result[name] = before
        else:
            result[name] = {"granted": granted, "at": now.isoformat()}
    return result


def profile_of(
    *,
    student_id: str,
    document: dict[str, Any],
    consents: dict[str, Any],
    version: int,
    updated_at: datetime,
    rules: WorkRules,
) -> StudentProfile:
    """The wire snapshot of a stored student, with the allowance the region's rules give."""
    fields = {k: v for k, v in document.items() if k != "consents"}
    return StudentProfile.model_validate(
        {
            **fields,
            "student_id": student_id,
            "version": version,
            "updated_at": updated_at if updated_at.tzinfo else updated_at.replace(tzinfo=UTC),
            "consents": consents,
            "permitted_work": permitted_work(rules, fields.get("residence_status")),
        }
    )


def snapshot_of_form(
    *,
    student_id: str,
    form: StudentForm,
    consents: Consents,
    version: int,
    updated_at: datetime,
    rules: WorkRules,
) -> StudentProfile:
    """The wire snapshot straight from a validated form (bulk imports).

    Same result as :func:`profile_of` on the stored record, without validating the
    already-validated values a second time.
    """
    return StudentProfile.model_construct(
        student_id=student_id,
        name=form.name,
        email=str(form.email),
        skills=list(form.skills),
        languages=[LanguageSkill.model_construct(**lang.model_dump()) for lang in form.languages],
        engagement_kinds=list(form.engagement_kinds),
        version=version,
        updated_at=updated_at,
        external_id=form.external_id,
        home_university=form.home_university,
        study_field=form.study_field,
        degree_level=form.degree_level,
        expected_graduation=form.expected_graduation,
        hours_per_week=form.hours_per_week,
        available_from=form.available_from,
        available_until=form.available_until,
        preferred_locations=list(form.preferred_locations),
        remote=form.remote,
        residence_status=form.residence_status,
        permitted_work=permitted_work(rules, form.residence_status),
        consents=consents,
        notification_preferences=NotificationPreferences.model_construct(
            **form.notification_preferences.model_dump()
        ),
    )


def _split(value: str, separator: str = ";") -> list[str]:
    return [part.strip() for part in value.split(separator) if part.strip()]


def form_from_csv_row(row: dict[str, str], resolve_skill: Any) -> dict[str, Any]:
    """A CSV row in the import layout as the form's fields.

    Lists are ``;``-separated: ``skills`` as ``URI-or-label|level``, ``languages`` as
    ``code:level``, ``engagement_kinds`` and ``preferred_locations`` as plain values;
    consents as ``consent_matching`` etc. (yes/no). Empty cells are left out.
    """
    data: dict[str, Any] = {}
    for key, raw in row.items():
        value = (raw or "").strip()
        if not value:
            continue
        if key == "skills":
            skills = []
            for item in _split(value):
                name, _, level = item.rpartition("|")
                skills.append(
                    {"uri": resolve_skill(name or item), "level": level if name else None}
                )
            data["skills"] = skills
        elif key == "languages":
            data["languages"] = [
                dict(zip(("code", "level"), item.split(":", 1), strict=False))
                for item in _split(value)
            ]
        elif key in ("engagement_kinds", "preferred_locations"):
            data[key] = _split(value)
        elif key.startswith("consent_"):
            data.setdefault("consents", {})[key.removeprefix("consent_")] = yes_or_no(key, value)
        elif key.startswith("notify_"):
            target = data.setdefault("notification_preferences", {})
            name = key.removeprefix("notify_")
            target[name] = _split(value) if name == "channels" else value
        else:
            data[key] = value
    return data
