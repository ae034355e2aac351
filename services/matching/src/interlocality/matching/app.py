"""Composition root of the matching service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from interlocality.common.esco import default_vocabulary
from interlocality.common.esco_relations import SkillGraph
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import load_settings
from interlocality.contracts.topics import DATING_AGENDAS, MATCHES
from interlocality.matching import api, handlers
from interlocality.matching.dating.api import router as dating_router
from interlocality.matching.dating.service import DatingService
from interlocality.matching.dating.store import dating_personal_data
from interlocality.matching.index import MatchIndex
from interlocality.matching.service import MatchingService
from interlocality.matching.settings import MatchingSettings
from interlocality.matching.store import TABLES

__all__ = ["create_app"]

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    """The matching service: its own view of students and vacancies, and their matches."""
    settings = settings or load_settings(MatchingSettings)
    # The index of every student and vacancy is in memory, fed by matching's own consumer:
    # replicas splitting the topics' partitions would each miss the pairs across them. One
    # replica is active; the others stand by (interlocality.common.leadership).
    runtime = ServiceRuntime(settings, TABLES, MIGRATIONS, one_active=True)
    runtime.publishes(MATCHES)
    runtime.publishes(DATING_AGENDAS)
    vocabulary = default_vocabulary()
    index = MatchIndex(SkillGraph.from_vocabulary(vocabulary), settings.match_min_score)
    service = MatchingService(runtime, index)
    handlers.subscribe(runtime, service)
    runtime.on_start(service.load_view)
    runtime.when_active(service.load_view)
    runtime.while_standby(service.load_view)
    runtime.replay_sources.append(service.current_matches)
    runtime.personal_data.append(service.personal_data)
    runtime.personal_data.append(dating_personal_data)
    dating = DatingService(runtime)
    return create_service_app(
        runtime,
        [api.router, dating_router],
        title="Interlocality matching",
        description="Explainable matches between students and open vacancies.",
        provides=(service, index, vocabulary, dating),
    )
