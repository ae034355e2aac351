"""Composition root of the profiles service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from interlocality.common.esco import region_vocabulary
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import load_settings
from interlocality.common.work_rules import region_work_rules
from interlocality.contracts.topics import OUTCOMES, STUDENTS
from interlocality.profiles import api, handlers
from interlocality.profiles.service import StudentService
from interlocality.profiles.settings import ProfilesSettings
from interlocality.profiles.store import TABLES

__all__ = ["create_app"]

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ProfilesSettings | None = None) -> FastAPI:
    """The profiles service: students' profiles and graduates' outcomes, each published on
    its topic."""
    settings = settings or load_settings(ProfilesSettings)
    runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)
    runtime.publishes(STUDENTS)
    runtime.publishes(OUTCOMES)
    service = StudentService(runtime, region_work_rules(settings.work_rules))
    handlers.subscribe(runtime, service)
    runtime.replay_sources.append(service.current_profiles)
    runtime.replay_sources.append(service.current_erasures)  # after the students held
    runtime.replay_sources.append(service.current_outcomes)
    runtime.personal_data.append(service.held)
    return create_service_app(
        runtime,
        [api.router],
        title="Interlocality profiles",
        description="International students' profiles of the region.",
        provides=(service, region_vocabulary(settings.esco_labels)),
    )
