"""Settings of the profiles service: the common ones and the rules of permitted work."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from interlocality.common.settings import ServiceSettings

__all__ = ["ProfilesSettings"]


class ProfilesSettings(ServiceSettings):
    """What configures one profiles process (``INTERLOCALITY_*``); ``PROFILES_PORT`` and
    ``PROFILES_DATABASE_URL`` name its port and database in a region's environment."""

    service: str = "profiles"
    port: int = 8001
    work_rules: Annotated[
        str,
        Field(
            description="Rules of permitted work for non-EU students: a shipped country "
            "(dk, de, nl, be-vlg, fi, it) or the path of an operator's own TOML file."
        ),
    ] = "dk"
