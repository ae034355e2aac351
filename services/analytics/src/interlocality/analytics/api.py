"""HTTP API of analytics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from interlocality.analytics.domain import funnel, summarise
from interlocality.analytics.funnel import FunnelCut, FunnelInsights
from interlocality.analytics.outcomes import DatingOutcomes, Employability
from interlocality.analytics.service import AnalyticsService
from interlocality.analytics.store import event_counts, funnel_rows
from interlocality.common.service import Provided, ServiceRuntime, problem
from interlocality.contracts.common import YEAR_MONTH_PATTERN, EngagementKind

__all__ = ["month_range", "router"]

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


# -- Regional insights --------------------------------------------------------------------

Analytics = Annotated[AnalyticsService, Depends(Provided(AnalyticsService))]
FromMonth = Annotated[
    str | None,
    Query(
        alias="from",
        pattern=YEAR_MONTH_PATTERN,
        description="First month counted, YYYY-MM; from the beginning when left out.",
    ),
]
ToMonth = Annotated[
    str | None,
    Query(
        alias="to",
        pattern=YEAR_MONTH_PATTERN,
        description="Last month counted, YYYY-MM; up to now when left out.",
    ),
]


def month_range(
    from_month: FromMonth = None, to_month: ToMonth = None
) -> tuple[str | None, str | None]:
    """The month range of a report; one that ends before it starts is refused."""
    if from_month and to_month and to_month < from_month:
        raise HTTPException(
            422,
            [
                problem(
                    ("query", "to"),
                    f"expected a month not before 'from' ({from_month})",
                    "month_range",
                    input=to_month,
                )
            ],
        )
    return from_month, to_month


MonthRange = Annotated[tuple[str | None, str | None], Depends(month_range)]


@router.get(
    "/insights/funnel",
    summary="The vacancy funnel by month, cut by engagement kind, sector or size class",
    description="Vacancies published → matched → notified → applied → placed, by month of "
    "publication, with the median days to the first match and to the first placement. "
    "Applications and placements count only students who consent to anonymous analytics.",
)
def insights_funnel(
    analytics: Analytics,
    runtime: Runtime,
    months: MonthRange,
    by: Annotated[
        FunnelCut,
        Query(description="Cut by engagement kind, NACE sector or company size class"),
    ] = "kind",
) -> FunnelInsights:
    with runtime.reading() as session:
        return analytics.funnel(session, by, *months)


@router.get(
    "/insights/company-dating",
    summary="Company Dating: dates held, then applications and placements within 90 days",
    description="Dates of consenting students that have started, by month, and how many were "
    "followed by the student applying to, or being placed at, the company they met.",
)
def insights_company_dating(
    analytics: Analytics, runtime: Runtime, months: MonthRange
) -> DatingOutcomes:
    with runtime.reading() as session:
        return analytics.company_dating(session, runtime.settings.region, *months)


@router.get(
    "/insights/employability",
    summary="Local employability: graduates' outcomes by graduation semester",
    description="Consenting graduates' latest recorded outcomes (employed in the region, "
    "elsewhere, further study, unknown), counts and shares per semester; the month range "
    "limits the months of graduation.",
)
def insights_employability(
    analytics: Analytics, runtime: Runtime, months: MonthRange
) -> Employability:
    with runtime.reading() as session:
        return analytics.employability(session, runtime.settings.region, *months)
