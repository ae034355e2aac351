"""Topic ``<region>.matching.matches.v1``: matches found and withdrawn, keyed by student id."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from interlocality.contracts.envelope import CloudEvent

__all__ = ["Match", "MatchEvent", "MatchFound", "MatchWithdrawal", "MatchWithdrawn"]


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
    permit_flag: Annotated[
        str | None,
        Field(
            title="Permit flag",
            description="Set when the job asks for more hours than the student may work.",
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


class MatchWithdrawn(CloudEvent[MatchWithdrawal]):
    """A match was withdrawn; it must no longer be offered."""

    type: Literal["org.interlocality.MatchWithdrawn.v1"] = "org.interlocality.MatchWithdrawn.v1"
    dataschema: str = "urn:interlocality:schema:MatchWithdrawn:v1"


MatchEvent = Annotated[MatchFound | MatchWithdrawn, Field(discriminator="type")]
