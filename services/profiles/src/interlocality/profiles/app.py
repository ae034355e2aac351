"""Composition root of the profiles service."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from sqlmodel import Session

from interlocality.common.esco import default_vocabulary
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import ServiceSettings, load_settings
from interlocality.contracts.students import StudentProfileUpserted
from interlocality.contracts.topics import STUDENTS
from interlocality.profiles.api import create_router
from interlocality.profiles.domain import profile_of
from interlocality.profiles.store import TABLES, all_students

__all__ = ["create_app"]


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The profiles service: students' profiles, published on the students topic."""
    settings = settings or load_settings("profiles")
    runtime = ServiceRuntime(settings, TABLES)
    runtime.publishes(STUDENTS)

    def current_profiles(session: Session) -> Iterator[StudentProfileUpserted]:
        for record in all_students(session):
            yield runtime.event(
                StudentProfileUpserted,
                subject=record.id,
                data=profile_of(record),
                version=record.version,
            )

    runtime.replay_sources.append(current_profiles)
    return create_service_app(
        runtime,
        [create_router(runtime, default_vocabulary())],
        title="Interlocality profiles",
        description="International students' profiles of the region.",
    )
