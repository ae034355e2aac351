"""Value types shared by several topics: skills, languages, engagement kinds."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StrictBool

__all__ = [
    "CEFR_LEVELS",
    "EMAIL_PATTERN",
    "ENGAGEMENT_KINDS",
    "ESCO_SKILL_URI_PATTERN",
    "LANGUAGE_CODE_PATTERN",
    "TIME_OF_DAY_PATTERN",
    "YEAR_MONTH_PATTERN",
    "CefrLevel",
    "EmailAddress",
    "EngagementKind",
    "LanguageRequirement",
    "LanguageSkill",
    "SkillLevel",
    "SkillRequirement",
    "known_time_zone",
]

ESCO_SKILL_URI_PATTERN = r"^http://data\.europa\.eu/esco/skill/[0-9a-f-]{36}$"
EMAIL_PATTERN = r"^[^@\s\"<>(),;:]{1,64}@[^@\s\"<>(),;:]+\.[^@\s\"<>(),;:.]{2,}$"
YEAR_MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
TIME_OF_DAY_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
LANGUAGE_CODE_PATTERN = r"^[a-z]{2}$"
CEFR_LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")


@cache
def _zone_exists(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def known_time_zone(name: str) -> str:
    """``name`` if it is an IANA time zone (``Europe/Copenhagen``), else a clear error."""
    if not _zone_exists(name):
        raise ValueError(f"{name!r} is not an IANA time zone such as Europe/Copenhagen")
    return name


CefrLevel = Literal["A1", "A2", "B1", "B2", "C1", "C2"]
EngagementKind = Literal["internship", "thesis", "student_job", "graduate_job", "company_project"]
ENGAGEMENT_KINDS = ("internship", "thesis", "student_job", "graduate_job", "company_project")

EscoSkillUri = Annotated[
    str,
    Field(
        title="ESCO skill URI",
        description="Concept URI of an ESCO v1.1.1 skill or knowledge concept.",
        pattern=ESCO_SKILL_URI_PATTERN,
        examples=["http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"],
    ),
]
EmailAddress = Annotated[
    str,
    Field(
        title="E-mail",
        description="An e-mail address (local@domain).",
        pattern=EMAIL_PATTERN,
        max_length=320,
        json_schema_extra={"format": "email"},
        examples=["ana.souza@students.example.org"],
    ),
]
LanguageCode = Annotated[
    str,
    Field(
        title="Language",
        description="ISO 639-1 language code, lower case.",
        pattern=LANGUAGE_CODE_PATTERN,
        examples=["en", "da", "de"],
    ),
]


class SkillLevel(BaseModel):
    """A skill a student has, at a self-assessed level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uri: EscoSkillUri
    level: Annotated[int, Field(title="Level", description="1 (basic) to 5 (expert).", ge=1, le=5)]


class SkillRequirement(BaseModel):
    """A skill a vacancy asks for, with the lowest level that satisfies it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uri: EscoSkillUri
    min_level: Annotated[
        int, Field(title="Minimum level", description="1 (basic) to 5 (expert).", ge=1, le=5)
    ] = 1


class LanguageSkill(BaseModel):
    """A language a student speaks, at a CEFR level; the parts may differ from the whole."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: LanguageCode
    level: Annotated[CefrLevel, Field(title="CEFR level", description="A1 … C2 overall.")]
    listening: Annotated[CefrLevel | None, Field(title="Listening")] = None
    speaking: Annotated[CefrLevel | None, Field(title="Speaking")] = None
    writing: Annotated[CefrLevel | None, Field(title="Writing")] = None


class LanguageRequirement(BaseModel):
    """A language a vacancy asks for, at a minimum CEFR level; required or nice to have."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: LanguageCode
    min_level: Annotated[CefrLevel, Field(title="Minimum CEFR level", description="A1 … C2.")]
    required: Annotated[
        StrictBool, Field(title="Required", description="False: nice to have, not a condition.")
    ] = True
