"""Settings of the vacancies service: the common ones and how often deadlines are checked."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from interlocality.common.settings import ServiceSettings

__all__ = ["VacanciesSettings"]


class VacanciesSettings(ServiceSettings):
    """What configures one vacancies process (``INTERLOCALITY_*``); ``VACANCIES_PORT`` and
    ``VACANCIES_DATABASE_URL`` name its port and database in a region's environment."""

    service: str = "vacancies"
    port: int = 8002
    expiry_check_seconds: Annotated[
        float, Field(description="How often vacancies past their deadline are expired.")
    ] = 60.0
