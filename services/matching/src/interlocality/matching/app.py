"""Composition root of the matching service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlmodel import Session, select

from interlocality.common.esco import default_vocabulary
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import ServiceSettings, load_settings
from interlocality.contracts.matches import MatchFound
from interlocality.contracts.topics import DATING_AGENDAS, MATCHES
from interlocality.matching.api import create_router
from interlocality.matching.dating.api import router as dating_router
from interlocality.matching.dating.service import DatingService
from interlocality.matching.dating.store import dating_personal_data
from interlocality.matching.handlers import match_found, register_kafka_handlers
from interlocality.matching.index import MatchIndex
from interlocality.matching.relations import SkillGraph
from interlocality.matching.store import (
    TABLES,
    MatchRecord,
    StudentView,
    load_index,
    matches_of_student,
)

__all__ = ["create_app"]

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The matching service: its own view of students and vacancies, and their matches."""
    settings = settings or load_settings("matching")
    runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)
    runtime.publishes(MATCHES)
    runtime.publishes(DATING_AGENDAS)
    vocabulary = default_vocabulary()
    index = MatchIndex(SkillGraph.from_vocabulary(vocabulary), settings.match_min_score)
    register_kafka_handlers(runtime, index)

    def load_view() -> None:
        with runtime.reading() as session, index.lock:
            load_index(session, index)

    runtime.on_start(load_view)

    def current_matches(session: Session) -> Iterator[MatchFound]:
        for record in session.exec(select(MatchRecord)):
            yield match_found(runtime, record)

    def held(session: Session, student_id: str) -> dict[str, Any]:
        view = session.get(StudentView, student_id)
        return {
            "skills": view.entry.get("skills") if view else None,
            "view": view.entry if view else None,
            "matches": [m.model_dump(mode="json") for m in matches_of_student(session, student_id)],
        }

    runtime.replay_sources.append(current_matches)
    runtime.personal_data.append(held)
    runtime.personal_data.append(dating_personal_data)
    dating = DatingService(runtime)
    return create_service_app(
        runtime,
        [create_router(runtime, vocabulary, index), dating_router],
        title="Interlocality matching",
        description="Explainable matches between students and open vacancies.",
        provides=(dating,),
    )
