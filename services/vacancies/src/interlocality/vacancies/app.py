"""Composition root of the vacancies service."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from fastapi import FastAPI

from interlocality.common.esco import region_vocabulary
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import load_settings
from interlocality.contracts.topics import APPLICATIONS, COMPANIES, VACANCIES
from interlocality.vacancies import handlers
from interlocality.vacancies.api import router
from interlocality.vacancies.events import current_state
from interlocality.vacancies.service import VacancyService
from interlocality.vacancies.settings import VacanciesSettings
from interlocality.vacancies.store import TABLES, held_on_student

__all__ = ["create_app"]

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: VacanciesSettings | None = None) -> FastAPI:
    """The vacancies service: companies, vacancies and their funnel."""
    settings = settings or load_settings(VacanciesSettings)
    runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)
    for spec in (COMPANIES, VACANCIES, APPLICATIONS):
        runtime.publishes(spec)
    service = VacancyService(runtime)
    handlers.subscribe(runtime, service)
    runtime.replay_sources.append(partial(current_state, runtime))
    runtime.personal_data.append(held_on_student)
    runtime.every(settings.expiry_check_seconds, service.expire_due)
    return create_service_app(
        runtime,
        [router],
        title="Interlocality vacancies",
        description="The region's companies, their vacancies and the application funnel.",
        provides=(service, region_vocabulary(settings.esco_labels)),
    )
