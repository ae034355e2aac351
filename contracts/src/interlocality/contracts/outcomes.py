"""Topic ``<region>.profiles.outcomes.v1``: what became of a graduate, keyed by student id.

The region's operator records it on the student (employed in the region, elsewhere, in
further study, or not known); analytics counts outcomes by graduation semester, for
students who consented to anonymous analytics. The topic is compacted: the latest
outcome per student is what counts, and an erasure leaves a tombstone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from interlocality.contracts.envelope import CloudEvent

__all__ = [
    "GraduateOutcome",
    "GraduateOutcomeEvent",
    "GraduateOutcomeKind",
    "GraduateOutcomeRecorded",
]

GraduateOutcomeKind = Literal[
    "employed_in_region", "employed_elsewhere", "further_study", "unknown"
]


class GraduateOutcome(BaseModel):
    """A graduate's outcome as the region's operator last recorded it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_id: Annotated[str, Field(title="Student id", min_length=1)]
    graduated_on: Annotated[
        date,
        Field(
            title="Graduated on",
            description="Day of graduation; analytics groups outcomes by its semester "
            "(January–July: spring, August–December: autumn).",
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
    recorded_at: Annotated[datetime, Field(title="Recorded at")]


class GraduateOutcomeRecorded(CloudEvent[GraduateOutcome]):
    """The operator recorded (or corrected) what became of a graduate."""

    type: Literal["org.interlocality.GraduateOutcomeRecorded.v1"] = (
        "org.interlocality.GraduateOutcomeRecorded.v1"
    )
    dataschema: str = "urn:interlocality:schema:GraduateOutcomeRecorded:v1"


GraduateOutcomeEvent = Annotated[GraduateOutcomeRecorded, Field(discriminator="type")]
