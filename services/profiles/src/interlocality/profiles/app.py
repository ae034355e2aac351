"""Composition root of the profiles service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlmodel import Session

from interlocality.common.esco import region_vocabulary
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import load_settings
from interlocality.common.work_rules import region_work_rules
from interlocality.contracts.students import StudentProfileUpserted
from interlocality.contracts.topics import STUDENTS
from interlocality.profiles.api import create_router, snapshot_event
from interlocality.profiles.handlers import register_kafka_handlers
from interlocality.profiles.settings import ProfilesSettings
from interlocality.profiles.store import TABLES, StudentRecord, all_students

__all__ = ["create_app"]

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ProfilesSettings | None = None) -> FastAPI:
    """The profiles service: students' profiles, published on the students topic."""
    settings = settings or load_settings(ProfilesSettings)
    rules = region_work_rules(settings.work_rules)
    runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)
    runtime.publishes(STUDENTS)
    register_kafka_handlers(runtime, rules)

    def current_profiles(session: Session) -> Iterator[StudentProfileUpserted]:
        for record in all_students(session):
            yield snapshot_event(runtime, record, rules)

    def held(session: Session, student_id: str) -> dict[str, Any]:
        record = session.get(StudentRecord, student_id)
        return {"profile": record.document if record else None}

    vocabulary = region_vocabulary(settings.esco_labels)
    runtime.replay_sources.append(current_profiles)
    runtime.personal_data.append(held)
    return create_service_app(
        runtime,
        [create_router(runtime, vocabulary, rules)],
        title="Interlocality profiles",
        description="International students' profiles of the region.",
    )
