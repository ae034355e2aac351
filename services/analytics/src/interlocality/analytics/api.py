"""HTTP API of analytics."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import Session

from interlocality.analytics.domain import summarise
from interlocality.analytics.store import event_counts
from interlocality.common.service import ServiceRuntime

__all__ = ["create_router"]


def create_router(runtime: ServiceRuntime) -> APIRouter:
    """Routes for the region's summary."""
    router = APIRouter(prefix="/v1", tags=["analytics"])

    @router.get("/summary", summary="Event counts by type and region")
    def summary() -> dict[str, object]:
        with Session(runtime.engine) as session:
            rows = [(c.region, c.event_type, c.count) for c in event_counts(session)]
        return summarise(rows)

    return router
