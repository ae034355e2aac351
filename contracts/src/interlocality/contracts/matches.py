"""Topic ``<region>.matching.matches.v1``: matches found and withdrawn, keyed by student id."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from interlocality.contracts.envelope import CloudEvent

__all__ = [
    "ConditionCheck",
    "LanguageCheck",
    "Match",
    "MatchEvent",
    "MatchExplanation",
    "MatchFound",
    "MatchUpdated",
    "MatchWithdrawal",
    "MatchWithdrawn",
    "ScoreComponents",
    "SkillCoverage",
]


class SkillCoverage(BaseModel):
    """One of the vacancy's skills and how the student covers it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uri: Annotated[str, Field(title="Skill", description="ESCO URI the vacancy asks for.")]
    required: Annotated[bool, Field(title="Required", description="False: nice to have.")]
    min_level: Annotated[int, Field(title="Minimum level", ge=1, le=5)]
    via: Annotated[
        str | None,
        Field(
            title="Covered by",
            description="The student's ESCO skill that covers it: the same one, or a related "
            "one; null when nothing covers it.",
        ),
    ] = None
    relation: Annotated[
        Literal["exact", "narrower", "broader", "sibling"] | None,
        Field(
            title="Relation",
            description="How the student's skill relates to the one asked for in the ESCO "
            "hierarchy; related skills earn partial credit.",
        ),
    ] = None
    level: Annotated[int | None, Field(title="Student's level", ge=1, le=5)] = None
    credit: Annotated[
        float, Field(title="Credit", description="Share of this skill's weight earned.", ge=0, le=1)
    ] = 0.0
    weight: Annotated[
        float | None,
        Field(
            title="Weight",
            description="The skill's weight in coverage: 3 when required, 1 when nice to "
            "have, times its specificity (1 + ln(N / (1 + n)) for a skill n of ESCO's N "
            "occupations list). Coverage is the sum of weight × credit over the sum of the "
            "weights. Absent on matches scored before weights were sent.",
            ge=0,
        ),
    ] = None


class LanguageCheck(BaseModel):
    """A language the vacancy asks for, against what the student speaks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Annotated[str, Field(title="Language", description="ISO 639-1 code.")]
    needed: Annotated[str, Field(title="Level needed", description="CEFR level.")]
    has: Annotated[str | None, Field(title="Student's level", description="CEFR level.")] = None
    required: Annotated[bool, Field(title="Required", description="False: nice to have.")]
    met: Annotated[bool, Field(title="Met")]


class ConditionCheck(BaseModel):
    """A hard condition of the pair, in words (every one holds for a match)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[
        Literal["open", "kind", "languages", "permit", "availability", "location"],
        Field(title="Condition"),
    ]
    met: Annotated[bool, Field(title="Met")]
    detail: Annotated[str, Field(title="In words")]


class ScoreComponents(BaseModel):
    """The parts the score is made of, each in [0, 1]."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    coverage: Annotated[
        float, Field(title="Skill coverage", description="How well the student covers the vacancy.")
    ]
    language_bonus: Annotated[
        float,
        Field(
            title="Language bonus",
            description="Added to coverage for languages of the company's export markets and "
            "nice-to-have languages the student speaks.",
        ),
    ]
    location: Annotated[float, Field(title="Location fit")]
    hours: Annotated[float, Field(title="Hours fit")]
    field: Annotated[float, Field(title="Field of study fit")]
    fit: Annotated[
        float, Field(title="Fit", description="How well the vacancy fits the student: the mean.")
    ]
    focus: Annotated[
        float | None,
        Field(
            title="Focus",
            description="How much of the student the vacancy uses: the share of the "
            "student's skills, weighed by specificity, on the vacancy's topic (its skills, "
            "the essential skills of the occupations it was read as, skills next to its own "
            "at their relation's credit). The score is coverage (with the language bonus) "
            "^ 0.3 × focus ^ 0.5 × fit ^ 0.2. Absent on matches scored before focus was "
            "part of the score.",
            ge=0,
            le=1,
        ),
    ] = None
    occupations: Annotated[
        list[str],
        Field(
            title="Occupations",
            description="ESCO URIs of the occupations the vacancy's skills were read as "
            "(empty when no occupation holds at least half of them).",
        ),
    ] = []


class MatchExplanation(BaseModel):
    """Why a student and a vacancy match, and what is missing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    skills: Annotated[list[SkillCoverage], Field(title="Skills", description="Each asked skill.")]
    ignored_skills: Annotated[
        list[str],
        Field(
            title="Ignored skills",
            description="Skills of the vacancy that matching does not know; matched without them.",
        ),
    ] = []
    languages: Annotated[list[LanguageCheck], Field(title="Languages")] = []
    conditions: Annotated[list[ConditionCheck], Field(title="Hard conditions")] = []
    permit: Annotated[str, Field(title="Permit status", description="In words.")] = ""
    components: Annotated[ScoreComponents | None, Field(title="Score components")] = None


class Match(BaseModel):
    """A student and a vacancy that fit, with the score and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_id: Annotated[str, Field(title="Student id", min_length=1)]
    vacancy_id: Annotated[str, Field(title="Vacancy id", min_length=1)]
    company_id: Annotated[str, Field(title="Company id", min_length=1)]
    vacancy_title: Annotated[str, Field(title="Vacancy title")]
    score: Annotated[float, Field(title="Score", ge=0.0, le=1.0)]
    matched_skills: Annotated[
        list[str], Field(title="Matched skills", description="ESCO URIs the student covers.")
    ]
    missing_skills: Annotated[
        list[str], Field(title="Missing skills", description="Required ESCO URIs not covered.")
    ]
    missing_nice_to_have: Annotated[
        list[str],
        Field(
            title="Missing nice-to-have skills",
            description="Nice-to-have ESCO URIs not covered: no condition, but they would add "
            "to the score.",
        ),
    ] = []
    permit_flag: Annotated[
        str | None,
        Field(
            title="Permit flag",
            description="A caution about the student's permitted working hours (for example "
            "when the job's hours are not stated).",
        ),
    ] = None
    explanation: Annotated[
        MatchExplanation | None,
        Field(
            title="Explanation",
            description="The matched and missing skills, languages, "
            "permit, conditions and the parts of the score.",
        ),
    ] = None
    student_version: Annotated[
        int | None,
        Field(
            title="Student version",
            description="The version of the student's profile the match was found on. The "
            "profile and the match travel on topics of their own: a service holding an "
            "older profile waits for this one before it acts on what the profile says "
            "(consent, preferences).",
            ge=0,
        ),
    ] = None


class MatchWithdrawal(BaseModel):
    """A match that no longer holds, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_id: Annotated[str, Field(title="Student id", min_length=1)]
    vacancy_id: Annotated[str, Field(title="Vacancy id", min_length=1)]
    reason: Annotated[
        Literal["vacancy_closed", "student_erased", "consent_withdrawn", "no_longer_fits"],
        Field(title="Reason"),
    ]


class MatchFound(CloudEvent[Match]):
    """A new match between a student and an open vacancy."""

    type: Literal["org.interlocality.MatchFound.v1"] = "org.interlocality.MatchFound.v1"
    dataschema: str = "urn:interlocality:schema:MatchFound:v1"


class MatchUpdated(CloudEvent[Match]):
    """A match whose score moved by more than the region's step, or whose place among the
    student's best matches changed; the data is the match as it is now."""

    type: Literal["org.interlocality.MatchUpdated.v1"] = "org.interlocality.MatchUpdated.v1"
    dataschema: str = "urn:interlocality:schema:MatchUpdated:v1"


class MatchWithdrawn(CloudEvent[MatchWithdrawal]):
    """A match was withdrawn; it must no longer be offered."""

    type: Literal["org.interlocality.MatchWithdrawn.v1"] = "org.interlocality.MatchWithdrawn.v1"
    dataschema: str = "urn:interlocality:schema:MatchWithdrawn:v1"


MatchEvent = Annotated[MatchFound | MatchUpdated | MatchWithdrawn, Field(discriminator="type")]
