"""HTTP API of analytics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from interlocality.analytics.domain import funnel, summarise
from interlocality.analytics.store import event_counts, funnel_rows
from interlocality.common.service import Provided, ServiceRuntime
from interlocality.contracts.common import EngagementKind

__all__ = ["router"]

Runtime = Annotated[ServiceRuntime, Depends(Provided(ServiceRuntime))]

router = APIRouter(prefix="/v1", tags=["analytics"])


@router.get("/summary", summary="Event counts by type and region")
def summary(runtime: Runtime) -> dict[str, object]:
    with runtime.reading() as session:
        rows = [(c.region, c.event_type, c.count) for c in event_counts(session)]
    return summarise(rows)


@router.get(
    "/funnel",
    summary="Vacancies published, matched, notified, applied to and filled",
    description="Per region, overall and by engagement kind; each step with its share "
    "of the step before. Counted per vacancy, never per student.",
)
def vacancy_funnel(
    runtime: Runtime,
    kind: Annotated[EngagementKind | None, Query(description="Only this kind")] = None,
) -> dict[str, object]:
    with runtime.reading() as session:
        rows = funnel_rows(session, kind)
    return {"regions": funnel(rows)}
