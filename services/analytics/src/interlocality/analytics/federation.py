"""What a region tells its partners: its month's aggregate tables, each cell with the ids of
the students and companies it is built from (pure logic, no I/O).

The ids are there so :func:`~interlocality.analytics.privacy.release_snapshot` can count
distinct contributors (k-suppression) and bound each one's influence (the noise's
sensitivity); they never leave it. Ids of students and companies are kept apart by a
prefix, as one table counts both. Every table counts distinct contributors — students or
companies — so each adds at most one to a cell, and each is in at most a few cells of a
table (``max_cells_per_contributor``: the rest of its cells are dropped, the same ones in
every snapshot), which keeps the sensitivity, and so the noise, small.

The tables: skill groups (students supplying, companies asking), languages at each CEFR
level, study fields, the funnel of the month's published vacancies by engagement kind,
Company Dating's outcomes of the month's dates, and graduates' outcomes by semester.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from interlocality.analytics.funnel import VacancyJourney, aware, month_of
from interlocality.analytics.outcomes import (
    DatingDate,
    FollowUp,
    Graduate,
    semester_of,
    within_window,
)
from interlocality.analytics.privacy import AggregateCell, AggregateTable
from interlocality.analytics.skills import SkillTaxonomy
from interlocality.analytics.supply import (
    CEFR_NAME,
    StudentHolding,
    VacancyNeed,
    month_end,
)
from interlocality.contracts.federation import PrivacyParameters, SnapshotTable, SuppressedCell

__all__ = [
    "SKILL_GROUP_LEVEL",
    "BudgetView",
    "FederationView",
    "MonthOfRegion",
    "RegionHistory",
    "RegionRows",
    "RegionView",
    "company_dating_table",
    "employability_table",
    "funnel_table",
    "language_table",
    "previous_month",
    "region_tables",
    "skill_group_table",
    "study_field_table",
]

SKILL_GROUP_LEVEL = 2
GROUPS_PER_CONTRIBUTOR = 3
LANGUAGES_PER_CONTRIBUTOR = 3
FIELDS_PER_COMPANY = 2
DATING_STEPS = {"applied": "applications_after_date", "placed": "placements_within_90_days"}


def _student(student_id: str) -> str:
    return f"student:{student_id}"


def _company(company_id: str) -> str:
    return f"company:{company_id}"


def _cells(
    found: Mapping[tuple[tuple[tuple[str, str], ...], str], set[str]],
) -> tuple[AggregateCell, ...]:
    return tuple(
        AggregateCell.counting(dict(coordinates), measure, sorted(ids))
        for (coordinates, measure), ids in sorted(found.items())
    )


def _owner(need: VacancyNeed, companies: Mapping[str, str]) -> str:
    """The company behind a vacancy; the vacancy itself when its company is unknown."""
    company = companies.get(need.vacancy_id)
    return _company(company) if company else f"vacancy:{need.vacancy_id}"


def skill_group_table(
    needs: Sequence[VacancyNeed],
    holdings: Sequence[StudentHolding],
    companies: Mapping[str, str],
    taxonomy: SkillTaxonomy,
    level: int = SKILL_GROUP_LEVEL,
) -> AggregateTable:
    """Per skill group: students holding one of its skills at the (lowest) level vacancies
    ask for it (any level when none asks), and companies with an open vacancy requiring one
    — the rule of the regional insights' groups."""
    asked: dict[str, int] = {}
    for need in needs:
        for uri, wanted in need.required.items():
            asked[uri] = min(wanted, asked.get(uri, wanted))
    asking: dict[str, set[str]] = defaultdict(set)
    for need in needs:
        for uri in need.required:
            for group in taxonomy.groups_of(uri, level):
                asking[group].add(_owner(need, companies))
    # each skill's level asked and groups, looked up once for the region's students
    supplied: dict[str, tuple[int, tuple[str, ...]]] = {}
    for holding in holdings:
        for uri in holding.skills:
            if uri not in supplied:
                supplied[uri] = (asked.get(uri, 1), taxonomy.groups_of(uri, level))
    supplying: dict[str, list[str]] = defaultdict(list)
    for holding in holdings:
        groups: set[str] = set()
        for uri, has in holding.skills.items():
            wanted, of_skill = supplied[uri]
            if has >= wanted:
                groups.update(of_skill)
        student = _student(holding.student_id)
        for group in groups:
            supplying[group].append(student)
    found: dict[tuple[tuple[tuple[str, str], ...], str], set[str]] = {}
    for group, owners in asking.items():
        found[(("skill_group", group),), "companies"] = owners
    for group, students in supplying.items():
        found[(("skill_group", group),), "students"] = set(students)
    return AggregateTable(
        name="skill_groups",
        dimensions=("skill_group",),
        cells=_cells(found),
        max_cells_per_contributor=GROUPS_PER_CONTRIBUTOR,
    )


def language_table(
    needs: Sequence[VacancyNeed], holdings: Sequence[StudentHolding], companies: Mapping[str, str]
) -> AggregateTable:
    """Per language and CEFR level: students at that level, and companies with an open
    vacancy requiring the language at that minimum."""
    found: dict[tuple[tuple[tuple[str, str], ...], str], set[str]] = defaultdict(set)
    for need in needs:
        for language in need.languages:
            if language.required and language.rank in CEFR_NAME:
                where = (("language", language.code), ("cefr_level", CEFR_NAME[language.rank]))
                found[where, "companies"].add(_owner(need, companies))
    for holding in holdings:
        for code, rank in holding.languages.items():
            if rank in CEFR_NAME:
                where = (("language", code), ("cefr_level", CEFR_NAME[rank]))
                found[where, "students"].add(_student(holding.student_id))
    return AggregateTable(
        name="languages",
        dimensions=("language", "cefr_level"),
        cells=_cells(found),
        max_cells_per_contributor=LANGUAGES_PER_CONTRIBUTOR,
    )


def study_field_table(
    needs: Sequence[VacancyNeed], holdings: Sequence[StudentHolding], companies: Mapping[str, str]
) -> AggregateTable:
    """Per ISCED-F broad field: students studying it, and companies with an open vacancy in
    it."""
    found: dict[tuple[tuple[tuple[str, str], ...], str], set[str]] = defaultdict(set)
    for need in needs:
        if need.study_field:
            found[(("isced_field", need.study_field[:2]),), "companies"].add(
                _owner(need, companies)
            )
    for holding in holdings:
        if holding.study_field:
            found[(("isced_field", holding.study_field[:2]),), "students"].add(
                _student(holding.student_id)
            )
    return AggregateTable(
        name="study_fields",
        dimensions=("isced_field",),
        cells=_cells(found),
        max_cells_per_contributor=FIELDS_PER_COMPANY,
    )


FUNNEL_STEPS = ("published", "matched", "notified", "applied", "placed")


def funnel_table(
    journeys: Iterable[VacancyJourney], companies: Mapping[str, str], month: str
) -> AggregateTable:
    """The month's published vacancies by engagement kind: the companies with a vacancy at
    each step of the funnel."""
    found: dict[tuple[tuple[tuple[str, str], ...], str], set[str]] = defaultdict(set)
    for journey in journeys:
        if journey.month != month or journey.kind is None:
            continue
        company = companies.get(journey.vacancy_id)
        owner = _company(company) if company else f"vacancy:{journey.vacancy_id}"
        reached = {
            "published": True,
            "matched": journey.matched,
            "notified": journey.notified,
            "applied": journey.applied,
            "placed": journey.first_placed_at is not None,
        }
        for step in FUNNEL_STEPS:
            if reached[step]:
                where = (("engagement_kind", journey.kind), ("funnel_step", step))
                found[where, "companies"].add(owner)
    return AggregateTable(
        name="funnel",
        dimensions=("engagement_kind", "funnel_step"),
        cells=_cells(found),
        max_cells_per_contributor=len(FUNNEL_STEPS),
    )


def company_dating_table(
    dates: Iterable[DatingDate], follow_ups: Iterable[FollowUp], month: str, now: datetime
) -> AggregateTable:
    """The students who had a Company Dating date in the month (held by ``now``), and those
    who then applied to or were placed at a company they met within 90 days."""
    by_pair: dict[tuple[str, str], list[FollowUp]] = defaultdict(list)
    for follow_up in follow_ups:
        by_pair[follow_up.student_id, follow_up.company_id].append(follow_up)
    found: dict[tuple[tuple[tuple[str, str], ...], str], set[str]] = defaultdict(set)
    for held in dates:
        if month_of(held.starts_at) != month or aware(held.starts_at) > aware(now):
            continue
        student = _student(held.student_id)
        found[(("funnel_step", "dates_held"),), "students"].add(student)
        for after in by_pair[held.student_id, held.company_id]:
            step = DATING_STEPS.get(after.step)
            if step and within_window(held.starts_at, after.at):
                found[(("funnel_step", step),), "students"].add(student)
    return AggregateTable(
        name="company_dating",
        dimensions=("funnel_step",),
        cells=_cells(found),
        max_cells_per_contributor=3,
    )


def employability_table(graduates: Iterable[tuple[str, Graduate]], month: str) -> AggregateTable:
    """Graduates up to the month's end by graduation semester and recorded outcome."""
    after = month_end(month).date()
    found: dict[tuple[tuple[tuple[str, str], ...], str], set[str]] = defaultdict(set)
    for student_id, graduate in graduates:
        if graduate.graduated_on < after:
            where = (
                ("graduation_semester", semester_of(graduate.graduated_on)),
                ("outcome", graduate.outcome),
            )
            found[where, "graduates"].add(_student(student_id))
    return AggregateTable(
        name="employability",
        dimensions=("graduation_semester", "outcome"),
        cells=_cells(found),
    )


@dataclass(frozen=True)
class RegionRows:
    """What a region's month is counted from: its state at the month's end, the vacancies'
    companies, the funnel's journeys, Company Dating's rows and the graduates."""

    needs: Sequence[VacancyNeed]
    holdings: Sequence[StudentHolding]
    companies: Mapping[str, str]
    journeys: Sequence[VacancyJourney]
    dates: Sequence[DatingDate]
    follow_ups: Sequence[FollowUp]
    graduates: Sequence[tuple[str, Graduate]]


def region_tables(
    rows: RegionRows, taxonomy: SkillTaxonomy, month: str, now: datetime
) -> list[AggregateTable]:
    """Every table of the region's snapshot of ``month``."""
    return [
        skill_group_table(rows.needs, rows.holdings, rows.companies, taxonomy),
        language_table(rows.needs, rows.holdings, rows.companies),
        study_field_table(rows.needs, rows.holdings, rows.companies),
        funnel_table(rows.journeys, rows.companies, month),
        company_dating_table(rows.dates, rows.follow_ups, month, now),
        employability_table(rows.graduates, month),
    ]


def previous_month(now: datetime) -> str:
    """The last complete month before ``now``: what a scheduled snapshot is about."""
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    return f"{year:04d}-{month:02d}"


# -- the cross-region view ----------------------------------------------------------------


class BudgetView(BaseModel):
    """A region's yearly privacy budget as its latest snapshot states it."""

    year: int = Field(title="Budget year")
    yearly_epsilon: float = Field(title="Yearly ε", description="The region's ε for a year.")
    spent: float = Field(title="ε spent", description="Spent in the year, latest snapshot in.")
    left: float = Field(title="ε left", description="What the region can still publish.")

    @classmethod
    def of(cls, privacy: PrivacyParameters) -> BudgetView:
        return cls(
            year=privacy.budget_year,
            yearly_epsilon=privacy.yearly_epsilon,
            spent=privacy.epsilon_spent,
            left=max(0.0, privacy.yearly_epsilon - privacy.epsilon_spent),
        )


class MonthOfRegion(BaseModel):
    """A region's latest snapshot of one month: its tables, and what it withholds."""

    period: str = Field(title="Month", description="The month the snapshot is about, YYYY-MM.")
    produced_at: datetime = Field(title="Produced at")
    privacy: PrivacyParameters = Field(title="Privacy parameters")
    tables: tuple[SnapshotTable, ...] = Field(
        title="Tables", description="Noisy counts, or suppressed cells with the reason."
    )
    suppressed: tuple[SuppressedCell, ...] = Field(
        title="Suppressed", description="Every cell withheld, primary or secondary."
    )


class RegionView(BaseModel):
    """One region beside its partners: its latest snapshot and its budget."""

    region: str = Field(title="Region")
    months: list[str] = Field(
        title="Months", description="Every month a snapshot of the region is held for."
    )
    budget: BudgetView = Field(title="Budget", description="As of the latest snapshot.")
    latest: MonthOfRegion = Field(title="Latest", description="The latest month's snapshot.")


class FederationView(BaseModel):
    """The partner regions side by side (this region among them), from their snapshots."""

    regions: list[RegionView] = Field(title="Regions", description="By region name.")


class RegionHistory(BaseModel):
    """Every month held of one region's snapshots, latest first."""

    region: str = Field(title="Region")
    budget: BudgetView = Field(title="Budget", description="As of the latest snapshot.")
    months: list[MonthOfRegion] = Field(title="Months", description="Latest month first.")
