"""What Company Dating and the region's study programmes lead to: dates held followed by
applications and placements between the same student and company, and graduates' outcomes
by graduation semester.

Pure logic over plain rows, each already limited to students who consent to anonymous
analytics. A date counts once it has started; an application or placement follows it when
it comes at most :data:`DATING_WINDOW` after the date's start. A graduate counts in the
semester of graduation (January–July: spring, August–December: autumn) with the outcome the
operator recorded last.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, get_args

from pydantic import BaseModel, Field

from interlocality.analytics.funnel import aware, in_months, month_of
from interlocality.contracts.outcomes import GraduateOutcomeKind

__all__ = [
    "DATING_WINDOW",
    "OUTCOME_KINDS",
    "DatingCell",
    "DatingDate",
    "DatingMonth",
    "DatingOutcomes",
    "Employability",
    "FollowUp",
    "Graduate",
    "OutcomeShare",
    "SemesterOutcomes",
    "dating_outcomes",
    "employability",
    "semester_of",
    "within_window",
]

DATING_WINDOW = timedelta(days=90)
OUTCOME_KINDS: tuple[GraduateOutcomeKind, ...] = get_args(GraduateOutcomeKind)
SPRING_ENDS_WITH_MONTH = 7


def semester_of(day: date) -> str:
    """The graduation semester of ``day``: ``YYYY-spring`` (January–July) or ``YYYY-autumn``."""
    half = "spring" if day.month <= SPRING_ENDS_WITH_MONTH else "autumn"
    return f"{day.year:04d}-{half}"


def _semester_order(semester: str) -> tuple[str, int]:
    year, half = semester.split("-")
    return year, 0 if half == "spring" else 1


def within_window(date_at: datetime, then: datetime, window: timedelta = DATING_WINDOW) -> bool:
    """Whether ``then`` comes after a date that started at ``date_at``, within ``window``."""
    return aware(date_at) <= aware(then) <= aware(date_at) + window


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class DatingDate:
    """One speed date between a student and a company at a Company Dating event."""

    dating_event_id: str
    student_id: str
    company_id: str
    starts_at: datetime


@dataclass(frozen=True)
class FollowUp:
    """A student's application (``applied``) or placement (``placed``) at a company."""

    student_id: str
    company_id: str
    step: str
    at: datetime


class DatingCell(BaseModel):
    """Dates held and what followed them within the window."""

    dates_held: Annotated[
        int,
        Field(title="Dates held", description="Dates that have started, of consenting students."),
    ]
    students: Annotated[int, Field(title="Students", description="Distinct students who met.")]
    companies: Annotated[int, Field(title="Companies", description="Distinct companies met.")]
    dates_with_application: Annotated[
        int,
        Field(
            title="Dates followed by an application",
            description="Dates after which the student applied to the company within the window.",
        ),
    ]
    dates_with_placement: Annotated[
        int,
        Field(
            title="Dates followed by a placement",
            description="Dates after which the student was placed at the company in the window.",
        ),
    ]
    application_rate: Annotated[
        float | None,
        Field(title="Application rate", description="Share of dates followed by an application."),
    ]
    placement_rate: Annotated[
        float | None,
        Field(title="Placement rate", description="Share of dates followed by a placement."),
    ]


class DatingMonth(DatingCell):
    """The dates held in one month."""

    month: Annotated[str, Field(title="Month", description="Month of the dates, YYYY-MM.")]


class DatingOutcomes(BaseModel):
    """Company Dating outcomes: dates held → applications → placements within the window."""

    region: Annotated[str, Field(title="Region")]
    window_days: Annotated[
        int, Field(title="Window in days", description="How long after a date a step counts.")
    ]
    from_month: Annotated[str | None, Field(title="From month")]
    to_month: Annotated[str | None, Field(title="To month")]
    total: Annotated[DatingCell, Field(title="Total", description="All months of the range.")]
    months: Annotated[
        list[DatingMonth], Field(title="Months", description="Each month with dates, in order.")
    ]


def _dating_cell(
    dates: Sequence[DatingDate], follow_ups: dict[tuple[str, str], list[FollowUp]]
) -> DatingCell:
    applied = placed = 0
    for held in dates:
        after = [
            f.step
            for f in follow_ups.get((held.student_id, held.company_id), [])
            if within_window(held.starts_at, f.at)
        ]
        applied += "applied" in after
        placed += "placed" in after
    return DatingCell(
        dates_held=len(dates),
        students=len({d.student_id for d in dates}),
        companies=len({d.company_id for d in dates}),
        dates_with_application=applied,
        dates_with_placement=placed,
        application_rate=_share(applied, len(dates)),
        placement_rate=_share(placed, len(dates)),
    )


def dating_outcomes(
    region: str,
    dates: Iterable[DatingDate],
    follow_ups: Iterable[FollowUp],
    now: datetime,
    from_month: str | None = None,
    to_month: str | None = None,
) -> DatingOutcomes:
    """The dates held by ``now`` within the month range, and the applications and placements
    that followed each between the same student and company."""
    held = [
        d
        for d in dates
        if aware(d.starts_at) <= aware(now)
        and in_months(month_of(d.starts_at), from_month, to_month)
    ]
    by_pair: dict[tuple[str, str], list[FollowUp]] = {}
    for follow_up in follow_ups:
        by_pair.setdefault((follow_up.student_id, follow_up.company_id), []).append(follow_up)
    by_month: dict[str, list[DatingDate]] = {}
    for d in held:
        by_month.setdefault(month_of(d.starts_at), []).append(d)
    return DatingOutcomes(
        region=region,
        window_days=DATING_WINDOW.days,
        from_month=from_month,
        to_month=to_month,
        total=_dating_cell(held, by_pair),
        months=[
            DatingMonth(month=month, **_dating_cell(in_month, by_pair).model_dump())
            for month, in_month in sorted(by_month.items())
        ],
    )


@dataclass(frozen=True)
class Graduate:
    """A consenting graduate's latest recorded outcome."""

    graduated_on: date
    outcome: str


class OutcomeShare(BaseModel):
    """How many graduates had one outcome, and their share of all graduates."""

    outcome: Annotated[
        GraduateOutcomeKind,
        Field(
            title="Outcome",
            description="employed_in_region, employed_elsewhere, further_study or unknown.",
        ),
    ]
    count: Annotated[int, Field(title="Graduates")]
    share: Annotated[
        float | None,
        Field(title="Share", description="Of the graduates; null when there are none."),
    ]


class SemesterOutcomes(BaseModel):
    """The outcomes of the graduates of one semester, every outcome listed."""

    semester: Annotated[
        str,
        Field(
            title="Semester",
            description="YYYY-spring (graduated January–July) or YYYY-autumn (August–December); "
            "'all' for the total.",
        ),
    ]
    graduates: Annotated[int, Field(title="Graduates")]
    outcomes: Annotated[list[OutcomeShare], Field(title="Outcomes")]


class Employability(BaseModel):
    """Local employability: consenting graduates' outcomes by graduation semester."""

    region: Annotated[str, Field(title="Region")]
    from_month: Annotated[
        str | None, Field(title="From month", description="First month of graduation counted.")
    ]
    to_month: Annotated[
        str | None, Field(title="To month", description="Last month of graduation counted.")
    ]
    total: Annotated[SemesterOutcomes, Field(title="Total", description="All semesters.")]
    semesters: Annotated[
        list[SemesterOutcomes], Field(title="Semesters", description="In time order.")
    ]


def _semester(semester: str, graduates: Sequence[Graduate]) -> SemesterOutcomes:
    counts = Counter(g.outcome for g in graduates)
    return SemesterOutcomes(
        semester=semester,
        graduates=len(graduates),
        outcomes=[
            OutcomeShare(
                outcome=kind, count=counts[kind], share=_share(counts[kind], len(graduates))
            )
            for kind in OUTCOME_KINDS
        ],
    )


def employability(
    region: str,
    graduates: Iterable[Graduate],
    from_month: str | None = None,
    to_month: str | None = None,
) -> Employability:
    """Outcomes of the graduates who graduated within the month range, by semester."""
    counted = [g for g in graduates if in_months(month_of(g.graduated_on), from_month, to_month)]
    by_semester: dict[str, list[Graduate]] = {}
    for graduate in counted:
        by_semester.setdefault(semester_of(graduate.graduated_on), []).append(graduate)
    return Employability(
        region=region,
        from_month=from_month,
        to_month=to_month,
        total=_semester("all", counted),
        semesters=[
            _semester(semester, by_semester[semester])
            for semester in sorted(by_semester, key=_semester_order)
        ],
    )
