"""The region's vacancy funnel cut by engagement kind, sector or company size class, month
by month, with the median days a vacancy waits for its first match and for a placement.

Pure logic over one :class:`VacancyJourney` per published vacancy. A vacancy belongs to the
month it was published (its cohort), so a month's numbers keep growing while its vacancies
are matched and filled, and trends compare like with like. Each step counts vacancies,
never students; applications and placements count only those of students who consented to
anonymous analytics.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

__all__ = [
    "FUNNEL_CUTS",
    "UNKNOWN",
    "FunnelCell",
    "FunnelCut",
    "FunnelGroup",
    "FunnelInsights",
    "FunnelMonth",
    "RegionFunnel",
    "VacancyJourney",
    "aware",
    "days_between",
    "funnel_insights",
    "in_months",
    "median",
    "month_of",
    "size_class",
]

FunnelCut = Literal["kind", "sector", "size_class"]
FUNNEL_CUTS: tuple[FunnelCut, ...] = ("kind", "sector", "size_class")
UNKNOWN = "unknown"
# The EU SME classes by headcount (Recommendation 2003/361/EC): below each limit, its class.
SIZE_LIMITS = ((10, "micro"), (50, "small"), (250, "medium"))
SECONDS_A_DAY = 24 * 60 * 60


def size_class(employees: int | None, declared: str | None = None) -> str:
    """The company's size class: from its headcount when known (micro < 10, small < 50,
    medium < 250, else large), else the class it declared, else ``unknown``."""
    if employees is None:
        return declared or UNKNOWN
    for limit, name in SIZE_LIMITS:
        if employees < limit:
            return name
    return "large"


def aware(moment: datetime) -> datetime:
    """``moment`` with a time zone: a producer's naive time is taken as UTC."""
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


def month_of(moment: date) -> str:
    """The calendar month of a day or time, ``YYYY-MM`` (UTC for times)."""
    if isinstance(moment, datetime):
        moment = aware(moment).astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def in_months(month: str, from_month: str | None, to_month: str | None) -> bool:
    """Whether ``month`` lies in the inclusive range; ``YYYY-MM`` sorts as text."""
    return (from_month is None or month >= from_month) and (to_month is None or month <= to_month)


def days_between(start: datetime | None, end: datetime | None) -> float | None:
    """Days from ``start`` to ``end``, never negative (clocks of two services may disagree
    by a little); ``None`` when either is unknown."""
    if start is None or end is None:
        return None
    return max(0.0, (aware(end) - aware(start)).total_seconds() / SECONDS_A_DAY)


def median(values: Sequence[float]) -> float | None:
    """The median rounded to a tenth of a day, ``None`` for no values."""
    return round(statistics.median(values), 1) if values else None


@dataclass(frozen=True)
class VacancyJourney:
    """How far one published vacancy got, with what the cuts need to place it."""

    region: str
    vacancy_id: str
    published_at: datetime
    kind: str | None = None
    sector: str | None = None
    size_class: str | None = None
    matched: bool = False
    first_matched_at: datetime | None = None
    notified: bool = False
    applied: bool = False
    first_placed_at: datetime | None = None

    def group(self, by: FunnelCut) -> str:
        """The vacancy's group in the cut ``by``."""
        value = {"kind": self.kind, "sector": self.sector, "size_class": self.size_class}[by]
        return value or UNKNOWN

    @property
    def month(self) -> str:
        return month_of(self.published_at)


class FunnelCell(BaseModel):
    """Vacancies at each step of the funnel, and how long the steps took."""

    published: Annotated[int, Field(title="Published", description="Vacancies published.")]
    matched: Annotated[
        int, Field(title="Matched", description="Of those, vacancies matched to a student.")
    ]
    notified: Annotated[
        int,
        Field(title="Notified", description="Vacancies some student was told about."),
    ]
    applied: Annotated[
        int,
        Field(title="Applied", description="Vacancies a consenting student applied to."),
    ]
    placed: Annotated[
        int,
        Field(title="Placed", description="Vacancies a consenting student was placed in."),
    ]
    median_days_to_first_match: Annotated[
        float | None,
        Field(
            title="Median days to first match",
            description="From publication to the first match, over the matched vacancies; "
            "null when none was matched.",
        ),
    ]
    median_days_to_placement: Annotated[
        float | None,
        Field(
            title="Median days to placement",
            description="From publication to the first placement, over the placed vacancies; "
            "null when none was placed.",
        ),
    ]


class FunnelMonth(FunnelCell):
    """The funnel of the vacancies published in one month."""

    month: Annotated[str, Field(title="Month", description="Month of publication, YYYY-MM.")]


class FunnelGroup(BaseModel):
    """The funnel of one kind, sector or size class: overall and month by month."""

    group: Annotated[
        str,
        Field(
            title="Group",
            description="The engagement kind, NACE sector code or size class "
            "(micro, small, medium, large); 'unknown' where it is not known.",
        ),
    ]
    total: Annotated[FunnelCell, Field(title="Total", description="All months of the range.")]
    months: Annotated[
        list[FunnelMonth], Field(title="Months", description="Each month with vacancies, in order.")
    ]


class RegionFunnel(BaseModel):
    """A region's funnel: overall, month by month, and for each group of the cut."""

    region: Annotated[str, Field(title="Region")]
    total: Annotated[FunnelCell, Field(title="Total", description="All groups and months.")]
    months: Annotated[list[FunnelMonth], Field(title="Months", description="All groups, by month.")]
    groups: Annotated[list[FunnelGroup], Field(title="Groups", description="By group, in order.")]


class FunnelInsights(BaseModel):
    """The vacancy funnel published → matched → notified → applied → placed, per region,
    cut by engagement kind, sector or company size class, by month of publication."""

    by: Annotated[FunnelCut, Field(title="Cut", description="What the groups are.")]
    from_month: Annotated[
        str | None, Field(title="From month", description="First month counted, if limited.")
    ]
    to_month: Annotated[
        str | None, Field(title="To month", description="Last month counted, if limited.")
    ]
    regions: Annotated[list[RegionFunnel], Field(title="Regions")]


def funnel_cell(journeys: Sequence[VacancyJourney]) -> FunnelCell:
    """The funnel of ``journeys``, with the medians of its matched and placed vacancies."""
    to_match = [
        d for j in journeys if (d := days_between(j.published_at, j.first_matched_at)) is not None
    ]
    to_placement = [
        d for j in journeys if (d := days_between(j.published_at, j.first_placed_at)) is not None
    ]
    return FunnelCell(
        published=len(journeys),
        matched=sum(j.matched for j in journeys),
        notified=sum(j.notified for j in journeys),
        applied=sum(j.applied for j in journeys),
        placed=sum(j.first_placed_at is not None for j in journeys),
        median_days_to_first_match=median(to_match),
        median_days_to_placement=median(to_placement),
    )


def _months(journeys: Sequence[VacancyJourney]) -> list[FunnelMonth]:
    by_month: dict[str, list[VacancyJourney]] = {}
    for journey in journeys:
        by_month.setdefault(journey.month, []).append(journey)
    return [
        FunnelMonth(month=month, **funnel_cell(cohort).model_dump())
        for month, cohort in sorted(by_month.items())
    ]


def funnel_insights(
    journeys: Iterable[VacancyJourney],
    by: FunnelCut,
    from_month: str | None = None,
    to_month: str | None = None,
) -> FunnelInsights:
    """The funnel of the vacancies published within the month range, per region, cut ``by``."""
    regions: dict[str, list[VacancyJourney]] = {}
    for journey in journeys:
        if in_months(journey.month, from_month, to_month):
            regions.setdefault(journey.region, []).append(journey)
    answers = []
    for region, in_region in sorted(regions.items()):
        groups: dict[str, list[VacancyJourney]] = {}
        for journey in in_region:
            groups.setdefault(journey.group(by), []).append(journey)
        answers.append(
            RegionFunnel(
                region=region,
                total=funnel_cell(in_region),
                months=_months(in_region),
                groups=[
                    FunnelGroup(group=group, total=funnel_cell(members), months=_months(members))
                    for group, members in sorted(groups.items())
                ],
            )
        )
    return FunnelInsights(by=by, from_month=from_month, to_month=to_month, regions=answers)
