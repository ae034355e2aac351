"""Composition root of the vacancies service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from sqlmodel import Session

from interlocality.common.esco import default_vocabulary
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import ServiceSettings, load_settings
from interlocality.contracts.companies import CompanyRegistered
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.topics import COMPANIES, VACANCIES
from interlocality.contracts.vacancies import VacancyClosed, VacancyPublished
from interlocality.vacancies.api import create_router
from interlocality.vacancies.domain import company_of, vacancy_of
from interlocality.vacancies.store import TABLES, CompanyRecord, VacancyRecord, in_id_order

__all__ = ["create_app"]


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The vacancies service: companies and vacancies, published on their topics."""
    settings = settings or load_settings("vacancies")
    runtime = ServiceRuntime(settings, TABLES)
    runtime.publishes(COMPANIES)
    runtime.publishes(VACANCIES)

    def current_state(session: Session) -> Iterator[CloudEvent[Any]]:
        for company in in_id_order(session, CompanyRecord):
            yield runtime.event(
                CompanyRegistered,
                subject=company.id,
                data=company_of(company),
                version=company.version,
            )
        for vacancy in in_id_order(session, VacancyRecord):
            event_type = VacancyPublished if vacancy.status == "open" else VacancyClosed
            yield runtime.event(
                event_type, subject=vacancy.id, data=vacancy_of(vacancy), version=vacancy.version
            )

    runtime.replay_sources.append(current_state)
    return create_service_app(
        runtime,
        [create_router(runtime, default_vocabulary())],
        title="Interlocality vacancies",
        description="The region's companies and their vacancies.",
    )
