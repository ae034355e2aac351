"""Composition root of the vacancies service."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlmodel import Session

from interlocality.common.esco import region_vocabulary
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import load_settings
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.topics import APPLICATIONS, COMPANIES, VACANCIES
from interlocality.vacancies.api import create_router
from interlocality.vacancies.handlers import register_kafka_handlers
from interlocality.vacancies.lifecycle import Lifecycle
from interlocality.vacancies.settings import VacanciesSettings
from interlocality.vacancies.store import (
    TABLES,
    CompanyRecord,
    VacancyRecord,
    applications_of_student,
    in_id_order,
)

__all__ = ["create_app"]

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: VacanciesSettings | None = None) -> FastAPI:
    """The vacancies service: companies, vacancies and their funnel."""
    settings = settings or load_settings(VacanciesSettings)
    runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)
    for spec in (COMPANIES, VACANCIES, APPLICATIONS):
        runtime.publishes(spec)
    register_kafka_handlers(runtime)
    lifecycle = Lifecycle(runtime)

    def current_state(session: Session) -> Iterator[CloudEvent[Any]]:
        for company in in_id_order(session, CompanyRecord):
            yield lifecycle.company_event(company)
        for vacancy in in_id_order(session, VacancyRecord):
            event = lifecycle.vacancy_event(vacancy)
            if event is not None:
                yield event

    def held(session: Session, student_id: str) -> dict[str, Any]:
        return {
            "applications": [
                a.model_dump(mode="json") for a in applications_of_student(session, student_id)
            ]
        }

    def expire_vacancies() -> None:
        with runtime.transaction() as session:
            lifecycle.expire_due(session, datetime.now(UTC).date())

    runtime.replay_sources.append(current_state)
    runtime.personal_data.append(held)
    runtime.every(settings.expiry_check_seconds, expire_vacancies)
    return create_service_app(
        runtime,
        [create_router(runtime, region_vocabulary(settings.esco_labels), lifecycle)],
        title="Interlocality vacancies",
        description="The region's companies, their vacancies and the application funnel.",
    )
