"""Settings of the analytics service: the common ones and how it federates with partners."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field, model_validator

from interlocality.common.settings import ServiceSettings
from interlocality.common.sign_in import SignInSettings

__all__ = ["AnalyticsSettings"]

# The language people work in under each shipped rules file (Belgium's file is Flanders').
RULES_LANGUAGES: Mapping[str, str] = {
    "dk": "da",
    "de": "de",
    "nl": "nl",
    "be-vlg": "nl",
    "fi": "fi",
    "it": "it",
}


class AnalyticsSettings(ServiceSettings, SignInSettings):
    """What configures one analytics process (``INTERLOCALITY_*``); ``ANALYTICS_PORT`` and
    ``ANALYTICS_DATABASE_URL`` name its port and database in a region's environment; people
    sign in to its dashboards (``INTERLOCALITY_PUBLIC_URL``, ``INTERLOCALITY_OIDC_CLIENT_ID``)."""

    service: str = "analytics"
    port: int = 8005
    federation_bootstrap_servers: Annotated[
        str,
        Field(
            description="Comma-separated host:port list of the cluster holding "
            "federation.analytics.snapshots.v1; empty means the region's own cluster "
            "(where MirrorMaker 2 copies the partners' snapshots, or the one they share).",
        ),
    ] = ""
    federation_k: Annotated[
        int,
        Field(
            ge=2,
            description="A count built from fewer distinct students or companies than this "
            "is suppressed in snapshots that leave the region.",
        ),
    ] = 5
    federation_epsilon_per_snapshot: Annotated[
        float,
        Field(
            gt=0,
            description="Differential-privacy ε one snapshot spends: smaller is more private "
            "and noisier: the noise's scale is the snapshot's sensitivity over ε (8.5 for "
            "today's tables at the default, so counts in the tens and hundreds stay readable).",
        ),
    ] = 4.0
    federation_yearly_epsilon: Annotated[
        float,
        Field(
            gt=0,
            description="The region's ε budget for a calendar year; a snapshot that would "
            "exceed it is refused.",
        ),
    ] = 96.0
    federation_snapshot_seconds: Annotated[
        float,
        Field(
            gt=0,
            description="How often a snapshot is published on schedule (30 days: twelve a "
            "year, half the default budget, the rest for snapshots on demand).",
        ),
    ] = 30 * 24 * 60 * 60
    dashboard_refresh_seconds: Annotated[
        float,
        Field(
            ge=0,
            description="How old the region's dashboard figures may grow before they are "
            "counted again (in the background; the page says when they were counted). Counting "
            "a region of 100,000 students takes tens of seconds; 0 counts on every request.",
        ),
    ] = 300.0
    work_rules: Annotated[
        str,
        Field(
            description="The region's rules of permitted work, as profiles reads them "
            "(INTERLOCALITY_WORK_RULES: dk, de, nl, be-vlg, fi, it or a file's path): its "
            "country gives the region's language unless INTERLOCALITY_REGION_LANGUAGE says it."
        ),
    ] = "dk"
    region_language: Annotated[
        str,
        Field(
            description="ISO 639-1 code of the language the region's workplaces speak, for "
            "the language insights; empty: the language of the work rules' country.",
            pattern=r"^([a-z]{2})?$",
        ),
    ] = ""

    @model_validator(mode="after")
    def _language_known(self) -> AnalyticsSettings:
        if not self.language:
            raise ValueError(
                f"INTERLOCALITY_REGION_LANGUAGE must be set: the rules {self.work_rules!r} are "
                f"none of the shipped ones ({', '.join(RULES_LANGUAGES)}) whose language is known"
            )
        return self

    @property
    def language(self) -> str:
        """The region's language: the setting, else the shipped rules' country's."""
        return self.region_language or RULES_LANGUAGES.get(self.work_rules.lower(), "")
