"""HTTP API of analytics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from interlocality.analytics.comparison import RegionComparison
from interlocality.analytics.domain import funnel, summarise
from interlocality.analytics.federation import FederationView, RegionHistory
from interlocality.analytics.funnel import FunnelCut, FunnelInsights, month_of
from interlocality.analytics.insights import (
    LanguageInsights,
    SkillGroupInsights,
    SkillInsights,
    StudyFieldInsights,
    field_month,
    group_month,
    language_month,
    skill_month,
)
from interlocality.analytics.outcomes import DatingOutcomes, Employability
from interlocality.analytics.privacy import BudgetExceeded
from interlocality.analytics.service import AnalyticsService, Federation
from interlocality.analytics.skills import DEFAULT_GROUP_LEVEL
from interlocality.analytics.store import event_counts, funnel_rows
from interlocality.analytics.supply import MONTH_PATTERN, month_range
from interlocality.common import sign_in
from interlocality.common.access import COORDINATOR, OPERATOR, SERVICE, allow
from interlocality.common.service import Provided, ServiceRuntime, error_answers, problem
from interlocality.contracts.common import EngagementKind
from interlocality.contracts.federation import REGION_PATTERN, RegionAggregates
from interlocality.contracts.topics import SNAPSHOTS

__all__ = ["PublishedSnapshot", "SnapshotRequest", "report_range", "router"]

Runtime = Annotated[ServiceRuntime, Depends(Provided(ServiceRuntime))]

# The dashboards link each chart to its JSON: a browser signed in to them follows the link
# with its session (GET only), as a program does with its token.
READ_IN_A_BROWSER = sign_in.page(OPERATOR, COORDINATOR)
router = APIRouter(prefix="/v1", tags=["analytics"])


@router.get(
    "/summary",
    summary="Event counts by type and region",
    dependencies=[READ_IN_A_BROWSER],
)
def summary(runtime: Runtime) -> dict[str, object]:
    with runtime.reading() as session:
        rows = [(c.region, c.event_type, c.count) for c in event_counts(session)]
    return summarise(rows)


@router.get(
    "/funnel",
    dependencies=[READ_IN_A_BROWSER],
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
        pattern=MONTH_PATTERN,
        description="First month counted, YYYY-MM; from the beginning when left out.",
    ),
]
ToMonth = Annotated[
    str | None,
    Query(
        alias="to",
        pattern=MONTH_PATTERN,
        description="Last month counted, YYYY-MM; up to now when left out.",
    ),
]


def report_range(
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


MonthRange = Annotated[tuple[str | None, str | None], Depends(report_range)]


@router.get(
    "/insights/funnel",
    dependencies=[READ_IN_A_BROWSER],
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
    dependencies=[READ_IN_A_BROWSER],
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
    dependencies=[READ_IN_A_BROWSER],
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


# -- supply and demand -----------------------------------------------------------------------

MAX_MONTHS = 36
MonthQuery = Annotated[
    str | None,
    Query(
        description="One month (YYYY-MM); the running month when neither it nor a range "
        "is given. Not together with from/to.",
        pattern=MONTH_PATTERN,
    ),
]
FromQuery = Annotated[
    str | None,
    Query(
        alias="from",
        description="First month of a trend (YYYY-MM); alone: up to the running month.",
        pattern=MONTH_PATTERN,
    ),
]
ToQuery = Annotated[
    str | None,
    Query(
        alias="to",
        description=f"Last month of a trend (YYYY-MM), at most {MAX_MONTHS} months after from.",
        pattern=MONTH_PATTERN,
    ),
]
REFUSED = error_answers({422: ""})


def _months(month: str | None, first: str | None, last: str | None) -> list[str]:
    """The months asked for: one, a range, or the running month."""
    if month is not None and (first is not None or last is not None):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                problem(
                    ("query", "month"),
                    "give either month or from/to, not both",
                    "month_and_range",
                    input=month,
                )
            ],
        )
    running = month_of(datetime.now(UTC))
    if month is not None:
        return [month]
    first, last = first or last or running, last or running
    months = month_range(first, last)
    if not months:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                problem(
                    ("query", "to"),
                    f"must not be before from ({first})",
                    "range_reversed",
                    input=last,
                )
            ],
        )
    if len(months) > MAX_MONTHS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                problem(
                    ("query", "to"),
                    f"at most {MAX_MONTHS} months from {first}: {len(months)} asked",
                    "range_too_long",
                    input=last,
                )
            ],
        )
    return months


@router.get(
    "/insights/skills",
    dependencies=[READ_IN_A_BROWSER],
    summary="Supply and demand by ESCO skill, with the largest shortages and surpluses",
    description="Per month (its state at its end): open positions requiring each skill, "
    "consenting students holding it at the level asked or above, students holding an "
    "ESCO-related skill instead, and the shortage ratio.",
    responses=REFUSED,
)
def skill_insights(
    runtime: Runtime,
    analytics: Analytics,
    month: MonthQuery = None,
    first: FromQuery = None,
    last: ToQuery = None,
    group: Annotated[
        str | None, Query(description="Only the skills of this ESCO skill group (its URI).")
    ] = None,
    skill: Annotated[
        list[str] | None, Query(description="Skills (ESCO URIs) to show every month besides.")
    ] = None,
    limit: Annotated[int, Query(description="Shortages and surpluses shown.", ge=1, le=100)] = 10,
) -> SkillInsights:
    months = _months(month, first, last)
    supply = analytics.supply
    taxonomy = supply.taxonomy
    if group is not None and taxonomy.level_of(group) is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                problem(
                    ("query", "group"),
                    "not an ESCO skill group's URI",
                    "unknown_group",
                    input=group,
                )
            ],
        )
    with runtime.reading() as session:
        found = supply.skills(session, months, group)
    return SkillInsights(
        region=runtime.settings.region,
        group_uri=group,
        months=[
            skill_month(
                state.month,
                balances,
                (len(state.needs), sum(n.positions for n in state.needs), len(state.holdings)),
                taxonomy,
                limit,
                skill or (),
            )
            for state, balances in found
        ],
    )


@router.get(
    "/insights/skill-groups",
    dependencies=[READ_IN_A_BROWSER],
    summary="Supply and demand by ESCO skill group",
    description="Per month: each group of the ESCO skills hierarchy at the level asked "
    "(1: the four pillars; 2: their main groups and the ISCED-F broad fields of knowledge), "
    "largest shortage first.",
    responses=REFUSED,
)
def skill_group_insights(
    runtime: Runtime,
    analytics: Analytics,
    month: MonthQuery = None,
    first: FromQuery = None,
    last: ToQuery = None,
    group_level: Annotated[
        int, Query(description="Level of the ESCO skills hierarchy, 1 to 4.", ge=1, le=4)
    ] = DEFAULT_GROUP_LEVEL,
) -> SkillGroupInsights:
    months = _months(month, first, last)
    supply = analytics.supply
    with runtime.reading() as session:
        found = supply.skill_groups(session, months, group_level)
    return SkillGroupInsights(
        region=runtime.settings.region,
        group_level=group_level,
        months=[group_month(m, balances, supply.taxonomy) for m, balances in found],
    )


@router.get(
    "/insights/study-fields",
    dependencies=[READ_IN_A_BROWSER],
    summary="Students by field of study against vacancies by field, sector and size class",
    description="Per month: consenting students by their ISCED-F field against open "
    "positions by the field their ESCO skills point to, with the positions by NACE division "
    "and company size class.",
    responses=REFUSED,
)
def study_field_insights(
    runtime: Runtime,
    analytics: Analytics,
    month: MonthQuery = None,
    first: FromQuery = None,
    last: ToQuery = None,
    field_digits: Annotated[
        int, Query(description="ISCED-F level: 2 broad, 3 narrow, 4 detailed fields.", ge=2, le=4)
    ] = 2,
) -> StudyFieldInsights:
    months = _months(month, first, last)
    supply = analytics.supply
    with runtime.reading() as session:
        found = supply.study_fields(session, months, field_digits)
    return StudyFieldInsights(
        region=runtime.settings.region,
        field_digits=field_digits,
        months=[field_month(m, balances, supply.taxonomy) for m, balances in found],
    )


@router.get(
    "/insights/languages",
    dependencies=[READ_IN_A_BROWSER],
    summary="The region's language: vacancies requiring it by CEFR level, students at it",
    description="Per month: open vacancies requiring the region's language by level, "
    "students at that level or above, the share of English-friendly vacancies, and the "
    "student–vacancy pairs matching on skills that a language requirement removes.",
    responses=REFUSED,
)
def language_insights(
    runtime: Runtime,
    analytics: Analytics,
    month: MonthQuery = None,
    first: FromQuery = None,
    last: ToQuery = None,
) -> LanguageInsights:
    months = _months(month, first, last)
    supply = analytics.supply
    with runtime.reading() as session:
        found = supply.languages(session, months)
    return LanguageInsights(
        region=runtime.settings.region,
        language=supply.language,
        months=[language_month(m, balance) for m, balance in found],
    )


# -- Federation ---------------------------------------------------------------------------

Regions = Annotated[Federation, Depends(Provided(Federation))]


class SnapshotRequest(BaseModel):
    """Which month to publish a snapshot of."""

    month: Annotated[
        str | None,
        Field(
            title="Month",
            description="YYYY-MM, not after the running month; the running month when left "
            "out (its numbers as they stand now).",
            pattern=MONTH_PATTERN,
            examples=["2026-05"],
        ),
    ] = None


class PublishedSnapshot(BaseModel):
    """A snapshot staged for the federation topic: the relay publishes it at once."""

    event_id: Annotated[str, Field(title="Event id")]
    topic: Annotated[str, Field(title="Topic", description="Where the snapshot goes.")]
    key: Annotated[str, Field(title="Key", description="The record key: the region.")]
    snapshot: Annotated[
        RegionAggregates,
        Field(title="Snapshot", description="Exactly what leaves the region."),
    ]


@router.post(
    "/federation/snapshots",
    dependencies=[allow(OPERATOR, SERVICE)],
    tags=["federation"],
    status_code=status.HTTP_201_CREATED,
    summary="Publish the region's snapshot of a month to the partner regions now",
    description="Suppresses every cell built from fewer than k students or companies (and "
    "what would reveal one), charges the year's ε budget, adds differential-privacy noise "
    "and stages the snapshot for the federation topic.",
    responses=error_answers(
        {409: "The year's privacy budget has too little ε left for a snapshot.", 422: ""}
    ),
)
def publish_snapshot(
    federation: Regions, request: SnapshotRequest | None = None
) -> PublishedSnapshot:
    running = month_of(datetime.now(UTC))
    month = (request.month if request else None) or running
    if month > running:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                problem(
                    ("body", "month"),
                    f"a month up to the running one ({running}): a later one has no numbers",
                    "month_in_future",
                    input=month,
                )
            ],
        )
    try:
        event = federation.publish(month)
    except BudgetExceeded as refused:
        raise HTTPException(status.HTTP_409_CONFLICT, str(refused)) from refused
    return PublishedSnapshot(
        event_id=event.id,
        topic=SNAPSHOTS.name(event.region),
        key=event.subject,
        snapshot=event.data,
    )


@router.get(
    "/federation/regions",
    dependencies=[READ_IN_A_BROWSER],
    tags=["federation"],
    summary="The partner regions side by side, from their latest snapshots",
    description="Per region: the latest month's noisy counts and suppressed cells, the "
    "months held, and the yearly ε budget spent and left.",
)
def federation_regions(runtime: Runtime, federation: Regions) -> FederationView:
    with runtime.reading() as session:
        return federation.regions(session)


@router.get(
    "/federation/regions/{region}",
    dependencies=[READ_IN_A_BROWSER],
    tags=["federation"],
    summary="Every month held of one region's snapshots",
    responses=error_answers({404: "No snapshot of this region is held.", 422: ""}),
)
def federation_region(
    runtime: Runtime,
    federation: Regions,
    region: Annotated[str, Path(pattern=REGION_PATTERN, description="The region's name.")],
) -> RegionHistory:
    with runtime.reading() as session:
        history = federation.region_history(session, region)
    if history is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no snapshot of region {region} is held")
    return history


@router.get(
    "/federation/compare",
    dependencies=[READ_IN_A_BROWSER],
    tags=["federation"],
    summary="The partner regions compared: what the cross-region dashboard draws",
    description="Per region, from its snapshot of the month (its latest when no month is "
    "asked for): skill groups' shares of demand and supply and their gap, languages asked "
    "for and spoken, the funnel, graduates' outcomes, the trend over up to 24 months, and "
    "the privacy each snapshot was released under. Withheld counts are null.",
)
def federation_compare(
    runtime: Runtime,
    federation: Regions,
    month: Annotated[
        str | None,
        Query(
            description="YYYY-MM: each region's snapshot of that month; the latest when left out.",
            pattern=MONTH_PATTERN,
        ),
    ] = None,
) -> RegionComparison:
    with runtime.reading() as session:
        return federation.compare(session, month)
