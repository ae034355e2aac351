"""Composition root of the analytics service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from interlocality.analytics import handlers
from interlocality.analytics.api import router
from interlocality.analytics.service import AnalyticsService
from interlocality.analytics.settings import AnalyticsSettings
from interlocality.analytics.store import TABLES, held_on_student
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import load_settings

__all__ = ["create_app"]

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: AnalyticsSettings | None = None) -> FastAPI:
    """The analytics service: anonymous counts of every event in the region and the
    regional insights, for the students who consent to them."""
    settings = settings or load_settings(AnalyticsSettings)
    runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)
    service = AnalyticsService()
    handlers.subscribe(runtime, service)
    # The per-student rows behind the insights' counts: ids, times and kinds only.
    runtime.personal_data.append(held_on_student)
    return create_service_app(
        runtime,
        [router],
        title="Interlocality analytics",
        description="Anonymous aggregates of the region's events.",
        provides=(service,),
    )
