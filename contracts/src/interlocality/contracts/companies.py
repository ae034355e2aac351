"""Topic ``<region>.vacancies.companies.v1``: company snapshots, keyed by company id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from interlocality.contracts.envelope import CloudEvent

__all__ = ["Company", "CompanyEvent", "CompanyRegistered"]


class Company(BaseModel):
    """The full current state of a company of the region."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    company_id: Annotated[str, Field(title="Company id", min_length=1)]
    name: Annotated[str, Field(title="Name", min_length=1, max_length=200)]
    city: Annotated[str, Field(title="City", max_length=100)] = ""
    version: Annotated[int, Field(title="Version", ge=1)]
    updated_at: Annotated[datetime, Field(title="Updated at")]


class CompanyRegistered(CloudEvent[Company]):
    """A company was registered in the region (or its details changed)."""

    type: Literal["org.interlocality.CompanyRegistered.v1"] = (
        "org.interlocality.CompanyRegistered.v1"
    )
    dataschema: str = "urn:interlocality:schema:CompanyRegistered:v1"


# One event type today; a second one turns this into a discriminated union.
CompanyEvent = CompanyRegistered
