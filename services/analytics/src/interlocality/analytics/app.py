"""Composition root of the analytics service."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI

from interlocality.analytics import dashboard, dashboard_regions, handlers
from interlocality.analytics.api import router
from interlocality.analytics.service import AnalyticsService, Federation, SupplyAndDemand
from interlocality.analytics.settings import AnalyticsSettings
from interlocality.analytics.skills import SkillTaxonomy
from interlocality.analytics.store import TABLES, held_on_student, supply_student_data
from interlocality.common.esco import default_vocabulary
from interlocality.common.esco_relations import SkillGraph
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import load_settings
from interlocality.common.sign_in import enable_page_sign_in
from interlocality.contracts.topics import SNAPSHOTS

__all__ = ["create_app", "shipped_taxonomy"]

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: AnalyticsSettings | None = None) -> FastAPI:
    """The analytics service: anonymous counts of every event in the region, the regional
    insights for the students who consent to them, and the region's privacy-safe snapshots
    exchanged with its partner regions."""
    settings = settings or load_settings(AnalyticsSettings)
    runtime = ServiceRuntime(
        settings,
        TABLES,
        MIGRATIONS,
        federation_bootstrap_servers=settings.federation_bootstrap_servers,
    )
    supply = SupplyAndDemand(settings.language, shipped_taxonomy)
    service = AnalyticsService(supply)
    federation = Federation(runtime, supply)
    figures = dashboard.RegionFigures(
        lambda month: dashboard.region_insights(runtime, service, month),
        settings.dashboard_refresh_seconds,
    )
    handlers.subscribe(runtime, service, federation)
    runtime.publishes(SNAPSHOTS)
    # The last complete month's snapshot, once: a restart finds it published already.
    runtime.every(settings.federation_snapshot_seconds, federation.publish_due)
    # The per-student rows behind the insights' counts: ids, times and kinds only.
    runtime.personal_data.append(held_on_student)
    # The ESCO taxonomy takes seconds to build: in the background, so the service starts
    # as fast as before and the first vacancy or question rarely waits for it.
    runtime.on_start(lambda: threading.Thread(target=supply.warm, daemon=True).start())
    # Pseudonymous rows of consenting students: what supply and demand are counted from.
    runtime.personal_data.append(supply_student_data)
    app = create_service_app(
        runtime,
        [router, dashboard.router, dashboard_regions.router],
        title="Interlocality analytics",
        description="Aggregates of the region's events, and its students' skills, fields "
        "and languages against its vacancies' demand.",
        provides=(service, federation, figures),
    )
    enable_page_sign_in(app, settings)  # the dashboards are read in a browser
    return app


@lru_cache(maxsize=1)
def shipped_taxonomy() -> SkillTaxonomy:
    """The ESCO taxonomy of the shipped vocabulary (loaded once per process)."""
    vocabulary = default_vocabulary()
    return SkillTaxonomy(vocabulary, SkillGraph.from_vocabulary(vocabulary))
