"""Topic ``<region>.vacancies.applications.v1``: the funnel, keyed by vacancy id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from interlocality.contracts.envelope import CloudEvent

__all__ = ["ApplicationEvent", "ApplicationSubmitted", "FunnelStep", "PlacementMade"]


class FunnelStep(BaseModel):
    """A student applied to, or was hired for, a vacancy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vacancy_id: Annotated[str, Field(title="Vacancy id", min_length=1)]
    company_id: Annotated[str, Field(title="Company id", min_length=1)]
    student_id: Annotated[str, Field(title="Student id", min_length=1)]
    kind: Annotated[str, Field(title="Engagement kind")]
    at: Annotated[datetime, Field(title="When")]


class ApplicationSubmitted(CloudEvent[FunnelStep]):
    """A student applied for a vacancy."""

    type: Literal["org.interlocality.ApplicationSubmitted.v1"] = (
        "org.interlocality.ApplicationSubmitted.v1"
    )
    dataschema: str = "urn:interlocality:schema:ApplicationSubmitted:v1"


class PlacementMade(CloudEvent[FunnelStep]):
    """A student was hired for a vacancy."""

    type: Literal["org.interlocality.PlacementMade.v1"] = "org.interlocality.PlacementMade.v1"
    dataschema: str = "urn:interlocality:schema:PlacementMade:v1"


ApplicationEvent = Annotated[ApplicationSubmitted | PlacementMade, Field(discriminator="type")]
