"""Topic ``<region>.vacancies.companies.v1``: company snapshots, keyed by company id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from interlocality.contracts.envelope import CloudEvent

__all__ = ["Company", "CompanyContact", "CompanyEvent", "CompanyRegistered", "SizeClass"]

SizeClass = Literal["micro", "small", "medium", "large"]


class CompanyContact(BaseModel):
    """Who at the company the operator and students talk to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(title="Name", max_length=200)] = ""
    email: Annotated[str, Field(title="E-mail", max_length=320)] = ""
    phone: Annotated[str, Field(title="Phone", max_length=50)] = ""


class Company(BaseModel):
    """The full current state of a company of the region."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    company_id: Annotated[str, Field(title="Company id", min_length=1)]
    name: Annotated[str, Field(title="Name", min_length=1, max_length=200)]
    city: Annotated[str, Field(title="City", max_length=100)] = ""
    version: Annotated[int, Field(title="Version", ge=1)]
    updated_at: Annotated[datetime, Field(title="Updated at")]
    external_id: Annotated[str | None, Field(title="Operator's id")] = None
    employees: Annotated[int | None, Field(title="Employees", ge=1)] = None
    size_class: Annotated[
        SizeClass | None,
        Field(title="Size class", description="EU SME classes by employees (<10, <50, <250)."),
    ] = None
    sector: Annotated[str | None, Field(title="Sector", description="NACE Rev. 2 code.")] = None
    region: Annotated[str, Field(title="Region", max_length=100)] = ""
    country: Annotated[str | None, Field(title="Country", description="ISO 3166-1 alpha-2.")] = None
    work_languages: Annotated[
        list[str], Field(title="Languages spoken at work", description="ISO 639-1 codes.")
    ] = []
    social_languages: Annotated[
        list[str],
        Field(
            title="Languages at the coffee table",
            description="ISO 639-1 codes; informal talk may differ from the working language.",
        ),
    ] = []
    export_markets: Annotated[
        list[str], Field(title="Export markets", description="ISO 3166-1 alpha-2 codes.")
    ] = []
    contact: Annotated[CompanyContact, Field(title="Contact")] = CompanyContact()


class CompanyRegistered(CloudEvent[Company]):
    """A company was registered in the region (or its details changed)."""

    type: Literal["org.interlocality.CompanyRegistered.v1"] = (
        "org.interlocality.CompanyRegistered.v1"
    )
    dataschema: str = "urn:interlocality:schema:CompanyRegistered:v1"


# One event type today; a second one turns this into a discriminated union.
CompanyEvent = CompanyRegistered
