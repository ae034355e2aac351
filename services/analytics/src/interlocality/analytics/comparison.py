"""The partner regions side by side, read from their snapshots only (pure, no I/O).

Everything here comes from what crossed the regions' borders: noisy counts, and cells
withheld with the reason. A figure summed from several cells sums the published ones; it is
``None`` when every one of them is withheld, never a guess. Regions differ in size, so the
skill groups compare **shares**: of all the companies' asks for a skill group in a region,
the share asking for this one (demand), against the share of the students' holdings
(supply). Their difference, in percentage points, is the group's gap: positive where the
region's companies ask for a group more than its students bring it.

A region is shown with its snapshot of the month asked for, else with its latest one; the
trend runs over the months held up to then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, Field

from interlocality.analytics.federation import BudgetView
from interlocality.contracts.federation import RegionAggregates, SnapshotCell

__all__ = [
    "TREND_MONTHS",
    "FunnelOfRegion",
    "LanguageDemand",
    "OutcomesOfRegion",
    "RegionComparison",
    "RegionShown",
    "SkillGroupOfRegion",
    "TrendPoint",
    "compare",
    "funnel_of",
    "language_demand",
    "outcomes_of",
    "skill_group_gaps",
    "trend_point",
]

TREND_MONTHS = 24
SPOKEN_WELL = ("B1", "B2", "C1", "C2")  # a level a student can work in
Coordinates = tuple[tuple[str, str], ...]


class RegionShown(BaseModel):
    """A region on the page: the snapshot it is shown with, its privacy and budget."""

    region: str = Field(title="Region")
    period: str = Field(title="Month", description="The snapshot's month, YYYY-MM.")
    produced_at: datetime = Field(title="Produced at")
    k: int = Field(title="k", description="Fewest students or companies behind a count.")
    epsilon: float = Field(title="ε of the snapshot")
    noise_scale: float = Field(
        title="Noise scale", description="Scale b of the counts' discrete Laplace noise."
    )
    cells: int = Field(title="Counts", description="Counts in the snapshot, totals included.")
    suppressed: int = Field(title="Withheld", description="Counts withheld, of ``cells``.")
    budget: BudgetView = Field(title="Budget", description="The region's yearly ε budget.")


class SkillGroupOfRegion(BaseModel):
    """A skill group in a region: companies asking, students holding, and their shares."""

    region: str = Field(title="Region")
    group_uri: str = Field(title="ESCO skill group")
    label: str = Field(title="Skill group", description="Its ESCO label (English).")
    companies: int | None = Field(title="Companies asking", description="None: withheld.")
    students: int | None = Field(title="Students holding", description="None: withheld.")
    demand_share: float | None = Field(
        title="Demand share", description="Of the companies' asks in the region, in percent."
    )
    supply_share: float | None = Field(
        title="Supply share", description="Of the students' holdings in the region, in percent."
    )
    gap: float | None = Field(
        title="Gap",
        description="Demand share minus supply share, percentage points: positive is a "
        "shortage of the group's skills.",
    )


class LanguageDemand(BaseModel):
    """A language in a region: companies requiring it (any level), students speaking it."""

    region: str = Field(title="Region")
    language: str = Field(title="Language", description="ISO 639-1.")
    companies: int | None = Field(title="Companies requiring it")
    students: int | None = Field(
        title="Students speaking it", description="At B1 or better, where they can work in it."
    )


class FunnelOfRegion(BaseModel):
    """The companies whose vacancies of the month reached each step, all kinds together."""

    region: str = Field(title="Region")
    published: int | None = Field(title="Published")
    matched: int | None = Field(title="Matched")
    notified: int | None = Field(title="Notified")
    applied: int | None = Field(title="Applied")
    placed: int | None = Field(title="Placed")


class TrendPoint(BaseModel):
    """A region's month: its students, and the companies publishing vacancies."""

    region: str = Field(title="Region")
    month: str = Field(title="Month")
    students: int | None = Field(
        title="Students", description="Consenting students with a field of study."
    )
    companies: int | None = Field(
        title="Companies publishing", description="Companies that published a vacancy."
    )


class OutcomesOfRegion(BaseModel):
    """A region's graduates by what they did after graduating, every semester together."""

    region: str = Field(title="Region")
    employed_in_region: int | None = Field(title="Employed in the region")
    employed_elsewhere: int | None = Field(title="Employed elsewhere")
    further_study: int | None = Field(title="Further study")
    unknown: int | None = Field(title="Not known")
    in_region_share: float | None = Field(
        title="Share employed in the region",
        description="Of all the region's graduates (the table's total where published, "
        "else the outcomes published), in percent.",
    )


class RegionComparison(BaseModel):
    """The partner regions side by side: what the cross-region dashboard draws."""

    month: str | None = Field(
        title="Month asked for", description="None: each region's latest snapshot."
    )
    regions: list[RegionShown] = Field(title="Regions", description="By name.")
    missing: list[str] = Field(
        title="Without that month", description="Regions held with no snapshot of the month."
    )
    skill_groups: list[SkillGroupOfRegion] = Field(
        title="Skill groups", description="Every group of every region, by region and gap."
    )
    languages: list[LanguageDemand] = Field(title="Languages")
    funnel: list[FunnelOfRegion] = Field(title="Funnel")
    trend: list[TrendPoint] = Field(title="Trend", description="By region, oldest month first.")
    employability: list[OutcomesOfRegion] = Field(title="Employability")


def _table(aggregates: RegionAggregates, name: str) -> tuple[SnapshotCell, ...]:
    return next((t.cells for t in aggregates.tables if t.name == name), ())


def _published(
    cells: Iterable[SnapshotCell], measure: str, **where: str
) -> dict[Coordinates, int | None]:
    """The table's cells (not totals) of ``measure`` whose coordinates include ``where``."""
    found: dict[Coordinates, int | None] = {}
    for cell in cells:
        coordinates: Coordinates = tuple((str(d.name), d.value) for d in cell.dimensions)
        named = dict(coordinates)
        if cell.total or cell.measure != measure:
            continue
        if all(named.get(key) == value for key, value in where.items()):
            found[coordinates] = cell.count
    return found


def _sum(counts: Iterable[int | None]) -> int | None:
    """The sum of the published counts; None when there is none to sum."""
    published = [count for count in counts if count is not None]
    return sum(published) if published else None


def _grand_total(cells: Iterable[SnapshotCell], measure: str) -> int | None:
    return next(
        (c.count for c in cells if c.total and not c.dimensions and c.measure == measure), None
    )


def _share(part: int | None, whole: int) -> float | None:
    return None if part is None or not whole else round(100 * part / whole, 1)


def skill_group_gaps(
    region: str, aggregates: RegionAggregates, label: Callable[[str], str]
) -> list[SkillGroupOfRegion]:
    """The region's skill groups with their shares of demand and supply, largest gap first
    (withheld gaps last)."""
    cells = _table(aggregates, "skill_groups")
    companies = {dict(k)["skill_group"]: v for k, v in _published(cells, "companies").items()}
    students = {dict(k)["skill_group"]: v for k, v in _published(cells, "students").items()}
    asks = _sum(companies.values()) or 0
    holdings = _sum(students.values()) or 0
    rows = []
    for group in sorted(companies.keys() | students.keys()):
        demand = _share(companies.get(group), asks)
        supply = _share(students.get(group), holdings)
        rows.append(
            SkillGroupOfRegion(
                region=region,
                group_uri=group,
                label=label(group),
                companies=companies.get(group),
                students=students.get(group),
                demand_share=demand,
                supply_share=supply,
                gap=None if demand is None or supply is None else round(demand - supply, 1),
            )
        )
    return sorted(rows, key=lambda r: (r.gap is None, -(r.gap or 0.0), r.label))


def language_demand(region: str, aggregates: RegionAggregates) -> list[LanguageDemand]:
    """Per language: companies requiring it at any level, students speaking it at B1 or
    better; most asked for first."""
    cells = _table(aggregates, "languages")
    asked: dict[str, list[int | None]] = {}
    spoken: dict[str, list[int | None]] = {}
    for coordinates, count in _published(cells, "companies").items():
        asked.setdefault(dict(coordinates)["language"], []).append(count)
    for coordinates, count in _published(cells, "students").items():
        where = dict(coordinates)
        if where["cefr_level"] in SPOKEN_WELL:
            spoken.setdefault(where["language"], []).append(count)
    rows = [
        LanguageDemand(
            region=region,
            language=language,
            companies=_sum(asked.get(language, ())),
            students=_sum(spoken.get(language, ())),
        )
        for language in sorted(asked.keys() | spoken.keys())
    ]
    return sorted(rows, key=lambda r: (-(r.companies or 0), -(r.students or 0), r.language))


def funnel_of(region: str, aggregates: RegionAggregates) -> FunnelOfRegion:
    """The month's funnel, every engagement kind summed."""
    cells = _table(aggregates, "funnel")
    steps = {
        step: _sum(_published(cells, "companies", funnel_step=step).values())
        for step in ("published", "matched", "notified", "applied", "placed")
    }
    return FunnelOfRegion(region=region, **steps)


def trend_point(region: str, aggregates: RegionAggregates) -> TrendPoint:
    """The region's month in the trend."""
    return TrendPoint(
        region=region,
        month=aggregates.period,
        students=_grand_total(_table(aggregates, "study_fields"), "students"),
        companies=_sum(
            _published(_table(aggregates, "funnel"), "companies", funnel_step="published").values()
        ),
    )


def outcomes_of(region: str, aggregates: RegionAggregates) -> OutcomesOfRegion:
    """Graduates up to the snapshot's month by outcome, every semester together."""
    cells = _table(aggregates, "employability")
    kinds = ("employed_in_region", "employed_elsewhere", "further_study", "unknown")
    counts = {kind: _sum(_published(cells, "graduates", outcome=kind).values()) for kind in kinds}
    # the share of all graduates: the table's total where it is published, as the outcomes'
    # own counts leave out those withheld
    graduates = _grand_total(cells, "graduates") or _sum(counts.values()) or 0
    return OutcomesOfRegion(
        region=region,
        **counts,
        in_region_share=_share(counts["employed_in_region"], graduates),
    )


def _shown(region: str, aggregates: RegionAggregates, budget: BudgetView) -> RegionShown:
    cells = [cell for table in aggregates.tables for cell in table.cells]
    privacy = aggregates.privacy
    return RegionShown(
        region=region,
        period=aggregates.period,
        produced_at=aggregates.produced_at,
        k=privacy.k,
        epsilon=privacy.epsilon,
        noise_scale=privacy.noise_scale,
        cells=len(cells),
        suppressed=sum(1 for cell in cells if cell.suppressed is not None),
        budget=budget,
    )


def compare(
    held: Mapping[str, Sequence[RegionAggregates]],
    budgets: Mapping[str, BudgetView],
    label: Callable[[str], str],
    month: str | None = None,
) -> RegionComparison:
    """The regions side by side: each with its snapshot of ``month`` (its latest when
    None), the trend over the :data:`TREND_MONTHS` months held up to it.

    ``held`` is every region's snapshots, latest month first; ``label`` names a skill group.
    """
    shown, missing = [], []
    balances: list[SkillGroupOfRegion] = []
    spoken: list[LanguageDemand] = []
    funnels: list[FunnelOfRegion] = []
    trend: list[TrendPoint] = []
    graduates: list[OutcomesOfRegion] = []
    for region in sorted(held):
        snapshots = held[region]
        chosen = next((s for s in snapshots if month is None or s.period == month), None)
        if chosen is None:
            missing.append(region)
            continue
        shown.append(_shown(region, chosen, budgets[region]))
        balances.extend(skill_group_gaps(region, chosen, label))
        spoken.extend(language_demand(region, chosen))
        funnels.append(funnel_of(region, chosen))
        graduates.append(outcomes_of(region, chosen))
        earlier = [s for s in snapshots if s.period <= chosen.period][:TREND_MONTHS]
        trend.extend(trend_point(region, s) for s in reversed(earlier))
    return RegionComparison(
        month=month,
        regions=shown,
        missing=missing,
        skill_groups=balances,
        languages=spoken,
        funnel=funnels,
        trend=trend,
        employability=graduates,
    )
