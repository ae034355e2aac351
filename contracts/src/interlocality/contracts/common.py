"""Value types shared by several topics: skills, languages, engagement kinds."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool
from pydantic_core import PydanticCustomError

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
    "email_address",
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


# Every event carrying an address is validated again by each consumer, and a replay repeats
# them all: checking an address costs a tenth of a millisecond or more, looking it up
# again nearly nothing.
@lru_cache(maxsize=65536)
def _normalised_email(value: str) -> str:
    return validate_email(value, check_deliverability=False, allow_smtputf8=True).normalized


def email_address(value: str) -> str:
    """``value`` as an internationalised e-mail address (RFC 6531), normalised: Unicode NFC,
    the domain lower-cased and in Unicode (``ana@xn--universitt-y5a.example`` becomes
    ``ana@universität.example``); an error that says what is wrong with it otherwise."""
    try:
        return _normalised_email(value)
    except EmailNotValidError as exc:
        raise PydanticCustomError(
            "value_error",
            "{address} is not an e-mail address such as name@example.org: {reason}",
            {"address": repr(value), "reason": str(exc)},
        ) from exc


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
        description="An e-mail address (local@domain), internationalised ones too "
        "(RFC 6531): normalised to Unicode NFC with the domain lower-cased and in Unicode.",
        pattern=EMAIL_PATTERN,
        max_length=320,
        json_schema_extra={"format": "idn-email"},
        examples=["ana.souza@students.example.org", "lucía.romero@students.example.org"],
    ),
    AfterValidator(email_address),
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
