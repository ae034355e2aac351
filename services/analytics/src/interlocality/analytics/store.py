"""Analytics' tables: event counts and vacancy funnels (aggregates only), the companies'
sectors and sizes, and the rows the regional insights are computed from.

Supply and demand keep one row per thing a snapshot contributes (see
:mod:`interlocality.analytics.supply`) with the time it became true and the time it stopped,
so any month's state is the rows valid at its end. The funnel, Company Dating and
employability insights keep a few per-student rows (ids, times and kinds). Student rows are
pseudonymous personal data, nothing more than the aggregates need; they exist only while
the student consents to analytics and go, every month's with them, when the student
withdraws or is erased."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Integer, Text, case, cast, delete, func, or_, update
from sqlalchemy import select as select_columns
from sqlmodel import Field, Session, SQLModel, col, select

from interlocality.analytics.domain import FUNNEL_STEPS, FunnelEntry
from interlocality.analytics.funnel import VacancyJourney, aware
from interlocality.analytics.outcomes import DatingDate, FollowUp, Graduate
from interlocality.analytics.supply import Contribution, StudentHolding, VacancyNeed
from interlocality.common.db import Merge, add_up, insert_missing, insert_rows, upsert

__all__ = [
    "FEDERATION_TABLES",
    "INSIGHT_TABLES",
    "TABLES",
    "AnalyticsConsent",
    "DatingDateRow",
    "DemandCompany",
    "DemandVacancy",
    "DemandVacancyRow",
    "EventCount",
    "FederationBudget",
    "FederationRelease",
    "FederationSnapshot",
    "GraduateOutcomeRow",
    "StudentStep",
    "SupplyStudent",
    "SupplyStudentRow",
    "VacancyFunnel",
    "add_counts",
    "add_funnel_steps",
    "add_student_step",
    "budget_of_year",
    "consent_of",
    "dating_rows",
    "erase_supply_student",
    "event_counts",
    "forget_student",
    "funnel_rows",
    "graduates",
    "graduates_by_student",
    "held_on_student",
    "holdings_at",
    "keep_snapshot",
    "needs_at",
    "put_budget",
    "put_consents",
    "put_outcome",
    "record_demand_company",
    "record_demand_vacancy",
    "record_release",
    "record_supply_students",
    "released",
    "replace_dates",
    "snapshot_payloads",
    "snapshot_versions",
    "supply_student_data",
    "vacancy_companies",
    "vacancy_journeys",
]


class EventCount(SQLModel, table=True):
    """How many events of a type a region produced."""

    __tablename__ = "event_count"

    region: str = Field(primary_key=True, max_length=32)
    event_type: str = Field(primary_key=True, max_length=200)
    count: int = 0


class VacancyFunnel(SQLModel, table=True):
    """How far each vacancy's candidates got: matched, notified, applied, placed.

    Counted per vacancy (never per student), so the funnel can be cut by kind whichever
    topic's event arrives first.
    """

    __tablename__ = "vacancy_funnel"

    vacancy_id: str = Field(primary_key=True, max_length=64)
    region: str = Field(max_length=32, index=True)
    kind: str | None = Field(default=None, max_length=32)
    company_id: str | None = Field(default=None, max_length=64)
    published: bool = False
    published_at: datetime | None = None
    first_matched_at: datetime | None = None
    matched: int = 0
    notified: int = 0
    applied: int = 0
    placed: int = 0


class SupplyStudent(SQLModel, table=True):
    """The latest version of a student's snapshot applied, so an older one arriving late
    changes nothing; kept while the student withdrew consent (with no rows), gone on
    erasure."""

    __tablename__ = "supply_student"

    student_id: str = Field(primary_key=True, max_length=64)
    version: int
    consenting: bool


class SupplyStudentRow(SQLModel, table=True):
    """One thing a consenting student contributes, valid from one time until another
    (``None``: still valid)."""

    __tablename__ = "supply_student_row"

    id: int | None = Field(default=None, primary_key=True)
    student_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=16)
    code: str = Field(max_length=200)
    level: int = 0
    valid_from: datetime = Field(index=True)
    valid_until: datetime | None = Field(default=None, index=True)


class DemandVacancy(SQLModel, table=True):
    """The latest version of a vacancy's snapshot applied, and its company."""

    __tablename__ = "demand_vacancy"

    vacancy_id: str = Field(primary_key=True, max_length=64)
    company_id: str = Field(max_length=64, index=True)
    version: int


class DemandVacancyRow(SQLModel, table=True):
    """One thing an open vacancy contributes to demand, valid from one time until another."""

    __tablename__ = "demand_vacancy_row"

    id: int | None = Field(default=None, primary_key=True)
    vacancy_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=16)
    code: str = Field(max_length=200)
    level: int = 0
    required: bool = True
    valid_from: datetime = Field(index=True)
    valid_until: datetime | None = Field(default=None, index=True)


class DemandCompany(SQLModel, table=True):
    """A company's NACE sector and size class, as its latest snapshot says (applied to
    every month: companies seldom change either); supply and demand and the funnel's cuts
    both read it."""

    __tablename__ = "demand_company"

    company_id: str = Field(primary_key=True, max_length=64)
    version: int
    sector: str | None = Field(default=None, max_length=16)
    size_class: str | None = Field(default=None, max_length=8)


TABLES: list[type[SQLModel]] = [
    EventCount,
    VacancyFunnel,
    SupplyStudent,
    SupplyStudentRow,
    DemandVacancy,
    DemandVacancyRow,
    DemandCompany,
]


def add_counts(session: Session, counts: Mapping[tuple[str, str], int]) -> None:
    """Add ``counts``, by region and event type, to the stored counts."""
    add_up(
        session,
        EventCount,
        [
            {"region": region, "event_type": event_type, "count": added}
            for (region, event_type), added in counts.items()
        ],
        counters=["count"],
    )


def add_funnel_steps(session: Session, steps: Sequence[FunnelEntry]) -> None:
    """Count ``steps`` in their vacancies' funnels: one statement for all the vacancies,
    which adds to the stored counts where they are (see :func:`add_up`)."""
    funnels: dict[str, VacancyFunnel] = {}
    for s in steps:
        row = funnels.get(s.vacancy_id)
        if row is None:
            row = funnels[s.vacancy_id] = VacancyFunnel(vacancy_id=s.vacancy_id, region=s.region)
        if s.company_id and not row.company_id:
            row.company_id = s.company_id
        if s.step == "published":
            row.kind = s.kind
            row.published = True
            row.published_at = _earliest(row.published_at, s.at)
        else:
            setattr(row, s.step, getattr(row, s.step) + 1)
            if s.kind and not row.kind:
                row.kind = s.kind
            if s.step == "matched":
                row.first_matched_at = _earliest(row.first_matched_at, s.at)
    add_up(
        session,
        VacancyFunnel,
        [row.model_dump() for row in funnels.values()],
        counters=FUNNEL_STEPS,
        merged=_FUNNEL_MERGES,
    )


def _earliest_stored(name: str) -> Merge:
    """The earlier of the stored and the incoming time of column ``name``, either maybe
    unknown: a replayed or late event never moves a first time later."""

    def merge(stored: Any, incoming: Any) -> Any:
        known, seen = stored[name], incoming[name]
        return case(
            (seen.is_(None), known), (known.is_(None), seen), (seen < known, seen), else_=known
        )

    return merge


_FUNNEL_MERGES: dict[str, Merge] = {
    # A vacancy's snapshot says its kind; the other steps only fill in one not yet known.
    "kind": lambda stored, incoming: case(
        (incoming.published, func.coalesce(incoming.kind, stored.kind)),
        else_=func.coalesce(stored.kind, incoming.kind),
    ),
    "company_id": lambda stored, incoming: func.coalesce(stored.company_id, incoming.company_id),
    "published": lambda stored, incoming: or_(stored.published, incoming.published),
    "published_at": _earliest_stored("published_at"),
    "first_matched_at": _earliest_stored("first_matched_at"),
}


def _earliest(known: datetime | None, seen: datetime | None) -> datetime | None:
    """The earlier of two times, either maybe unknown: a replayed or late event never
    moves a first time later."""
    if seen is None:
        return known
    seen = aware(seen)
    return seen if known is None or seen < aware(known) else known


def funnel_rows(session: Session, kind: str | None = None) -> list[tuple[Any, ...]]:
    """Per region and kind: published vacancies, then for each of :data:`FUNNEL_STEPS` the
    vacancies that reached it and its event count."""
    columns: list[Any] = [func.sum(cast(VacancyFunnel.published, Integer))]
    for step in FUNNEL_STEPS:
        counted = getattr(VacancyFunnel, step)
        columns += [func.sum(case((counted > 0, 1), else_=0)), func.sum(counted)]
    statement = select(VacancyFunnel.region, VacancyFunnel.kind, *columns).group_by(
        col(VacancyFunnel.region), col(VacancyFunnel.kind)
    )
    if kind is not None:
        statement = statement.where(col(VacancyFunnel.kind) == kind)
    return [tuple(row) for row in session.exec(statement).all()]


def event_counts(session: Session) -> list[EventCount]:
    """All counts, by region and type."""
    return list(session.exec(select(EventCount).order_by(EventCount.region, EventCount.event_type)))


# -- Regional insights: companies, consent and the per-student rows the counts need --------
#
# A count that involves a student (a Company Dating date, an application, a placement, a
# graduate's outcome) needs a row per student so that the student can leave it: the rows
# hold ids, times and kinds only, never a name, an e-mail or free text, and each aggregate
# counts only students known to consent to anonymous analytics.


class AnalyticsConsent(SQLModel, table=True):
    """Whether a student consents to anonymous analytics, as their profile last said.

    A student not listed is counted nowhere until their profile says they consent; one
    listed as not consenting has no other row, and none is stored while that lasts.
    """

    __tablename__ = "analytics_consent"

    student_id: str = Field(primary_key=True, max_length=64)
    consenting: bool


class StudentStep(SQLModel, table=True):
    """A student's first application to, or placement in, a vacancy."""

    __tablename__ = "student_step"

    student_id: str = Field(primary_key=True, max_length=64)
    vacancy_id: str = Field(primary_key=True, max_length=64)
    step: str = Field(primary_key=True, max_length=16)
    company_id: str = Field(max_length=64, index=True)
    at: datetime


class DatingDateRow(SQLModel, table=True):
    """One speed date of a student with a company at a Company Dating event."""

    __tablename__ = "company_dating_date"

    dating_event_id: str = Field(primary_key=True, max_length=64)
    student_id: str = Field(primary_key=True, max_length=64, index=True)
    company_id: str = Field(primary_key=True, max_length=64)
    starts_at: datetime


class GraduateOutcomeRow(SQLModel, table=True):
    """A graduate's outcome as the operator recorded it last."""

    __tablename__ = "recorded_outcome"

    student_id: str = Field(primary_key=True, max_length=64)
    graduated_on: date
    outcome: str = Field(max_length=32)
    recorded_at: datetime


INSIGHT_TABLES: list[type[SQLModel]] = [
    AnalyticsConsent,
    StudentStep,
    DatingDateRow,
    GraduateOutcomeRow,
]
TABLES += INSIGHT_TABLES

# What a student's erasure or withdrawn consent deletes.
PER_STUDENT_ROWS: tuple[type[StudentStep] | type[DatingDateRow] | type[GraduateOutcomeRow], ...] = (
    StudentStep,
    DatingDateRow,
    GraduateOutcomeRow,
)


def consent_of(session: Session, student_id: str) -> bool | None:
    """Whether the student consents to analytics; ``None`` when no profile was seen."""
    row = session.get(AnalyticsConsent, student_id)
    return None if row is None else row.consenting


def put_consents(session: Session, consents: Mapping[str, bool], withdrawn: set[str]) -> None:
    """Record whether each student consents; delete every row of the ``withdrawn`` (those
    a snapshot said did not, even if a later one says they do again)."""
    upsert(
        session,
        AnalyticsConsent,
        [{"student_id": s, "consenting": consenting} for s, consenting in consents.items()],
    )
    if withdrawn:
        for table in PER_STUDENT_ROWS:
            session.execute(delete(table).where(col(table.student_id).in_(withdrawn)))


def forget_rows(session: Session, student_id: str) -> None:
    """Delete the student's rows from every aggregate's source."""
    for table in PER_STUDENT_ROWS:
        session.execute(delete(table).where(col(table.student_id) == student_id))


def forget_student(session: Session, student_id: str) -> None:
    """Delete everything held on the student, their consent included."""
    forget_rows(session, student_id)
    session.execute(delete(AnalyticsConsent).where(col(AnalyticsConsent.student_id) == student_id))


def add_student_step(
    session: Session, student_id: str, vacancy_id: str, step: str, company_id: str, at: datetime
) -> None:
    """Keep the student's first ``step`` (applied, placed) for the vacancy."""
    row = session.get(StudentStep, (student_id, vacancy_id, step))
    if row is None:
        session.add(
            StudentStep(
                student_id=student_id,
                vacancy_id=vacancy_id,
                step=step,
                company_id=company_id,
                at=at,
            )
        )
    elif aware(at) < aware(row.at):
        row.at = at
        session.add(row)


def replace_dates(
    session: Session, dating_event_id: str, student_id: str, dates: Sequence[tuple[str, datetime]]
) -> None:
    """The student's dates at the event, ``(company_id, starts_at)``, replacing those of an
    agenda issued before."""
    session.execute(
        delete(DatingDateRow).where(
            col(DatingDateRow.dating_event_id) == dating_event_id,
            col(DatingDateRow.student_id) == student_id,
        )
    )
    earliest: dict[str, datetime] = {}
    for company_id, starts_at in dates:
        if company_id not in earliest or aware(starts_at) < aware(earliest[company_id]):
            earliest[company_id] = starts_at
    session.add_all(
        DatingDateRow(
            dating_event_id=dating_event_id,
            student_id=student_id,
            company_id=company_id,
            starts_at=starts_at,
        )
        for company_id, starts_at in earliest.items()
    )


def put_outcome(
    session: Session, student_id: str, graduated_on: date, outcome: str, recorded_at: datetime
) -> None:
    """Keep the graduate's outcome recorded last: an older one arriving late changes nothing."""
    row = session.get(GraduateOutcomeRow, student_id)
    if row is not None and aware(recorded_at) < aware(row.recorded_at):
        return
    session.merge(
        GraduateOutcomeRow(
            student_id=student_id,
            graduated_on=graduated_on,
            outcome=outcome,
            recorded_at=recorded_at,
        )
    )


def _consenting(student_id: Any) -> Any:
    """Only rows of students whose profile said they consent."""
    return student_id.in_(
        select(AnalyticsConsent.student_id).where(col(AnalyticsConsent.consenting).is_(True))
    )


def vacancy_journeys(session: Session) -> list[VacancyJourney]:
    """Each published vacancy's way through the funnel, with its company's sector and size
    class and the consenting students' applications and placements."""
    steps = (
        select(
            StudentStep.vacancy_id,
            func.max(case((col(StudentStep.step) == "applied", 1), else_=0)).label("applied"),
            func.min(case((col(StudentStep.step) == "placed", StudentStep.at), else_=None)).label(
                "first_placed_at"
            ),
        )
        .where(_consenting(col(StudentStep.student_id)))
        .group_by(col(StudentStep.vacancy_id))
        .subquery()
    )
    statement = (
        select(VacancyFunnel, DemandCompany, steps.c.applied, steps.c.first_placed_at)
        .outerjoin(DemandCompany, col(DemandCompany.company_id) == col(VacancyFunnel.company_id))
        .outerjoin(steps, steps.c.vacancy_id == col(VacancyFunnel.vacancy_id))
        .where(col(VacancyFunnel.published_at).is_not(None))
    )
    journeys = []
    for vacancy, company, applied, first_placed_at in session.exec(statement).all():
        assert vacancy.published_at is not None
        journeys.append(
            VacancyJourney(
                region=vacancy.region,
                vacancy_id=vacancy.vacancy_id,
                published_at=vacancy.published_at,
                kind=vacancy.kind,
                sector=None if company is None else company.sector,
                size_class=None if company is None else company.size_class,
                matched=vacancy.matched > 0,
                first_matched_at=vacancy.first_matched_at,
                notified=vacancy.notified > 0,
                applied=bool(applied),
                first_placed_at=_utc(first_placed_at),
            )
        )
    return journeys


def _utc(moment: datetime | None) -> datetime | None:
    """An aggregate over a time column comes back without the column's type: as text on
    SQLite, naive or aware on PostgreSQL; always an aware datetime here."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return aware(moment)


def dating_rows(session: Session) -> tuple[list[DatingDate], list[FollowUp]]:
    """Consenting students' dates, and their applications and placements at companies."""
    dates = [
        DatingDate(event_id, student_id, company_id, aware(starts_at))
        for event_id, student_id, company_id, starts_at in session.connection().execute(
            select_columns(
                col(DatingDateRow.dating_event_id),
                col(DatingDateRow.student_id),
                col(DatingDateRow.company_id),
                col(DatingDateRow.starts_at),
            ).where(_consenting(col(DatingDateRow.student_id)))
        )
    ]
    daters = select(DatingDateRow.student_id)
    follow_ups = [
        FollowUp(student_id, company_id, step, aware(at))
        for student_id, company_id, step, at in session.connection().execute(
            select_columns(
                col(StudentStep.student_id),
                col(StudentStep.company_id),
                col(StudentStep.step),
                col(StudentStep.at),
            ).where(
                _consenting(col(StudentStep.student_id)), col(StudentStep.student_id).in_(daters)
            )
        )
    ]
    return dates, follow_ups


def graduates(session: Session) -> list[Graduate]:
    """Consenting graduates' latest outcomes."""
    return [
        Graduate(r.graduated_on, r.outcome)
        for r in session.exec(
            select(GraduateOutcomeRow).where(_consenting(col(GraduateOutcomeRow.student_id)))
        ).all()
    ]


def held_on_student(session: Session, student_id: str) -> dict[str, Any]:
    """Everything analytics holds on the student: their consent and the rows counted."""
    consent = session.get(AnalyticsConsent, student_id)
    outcome = session.get(GraduateOutcomeRow, student_id)
    steps = session.exec(select(StudentStep).where(col(StudentStep.student_id) == student_id))
    dates = session.exec(select(DatingDateRow).where(col(DatingDateRow.student_id) == student_id))
    return {
        "analytics_consent": None if consent is None else consent.consenting,
        "applications_and_placements": [s.model_dump(exclude={"student_id"}) for s in steps.all()],
        "dating_dates": [d.model_dump(exclude={"student_id"}) for d in dates.all()],
        "graduate_outcome": None if outcome is None else outcome.model_dump(exclude={"student_id"}),
    }


def _contribution(row: SupplyStudentRow | DemandVacancyRow) -> Contribution:
    required = row.required if isinstance(row, DemandVacancyRow) else True
    return Contribution(row.kind, row.code, row.level, required)  # type: ignore[arg-type]


@dataclass
class _Holding:
    """A student's supply state while a run of their snapshots is worked out: the version
    applied, and the rows valid now, stored (with an id) or still to be inserted."""

    version: int | None
    open: list[dict[str, Any]]


def record_supply_students(
    session: Session,
    snapshots: Sequence[tuple[str, int, datetime, frozenset[Contribution] | None]],
) -> None:
    """Apply a run of students' snapshots ``(student_id, version, at, contributions)`` in
    order: from ``at`` on a student contributes ``contributions``; with ``None`` (no
    analytics consent) every row of theirs goes, past months' too; a version no newer than
    the one applied changes nothing. A few statements for the whole run: their state read
    in two queries, the rows written in one insert, one update and one delete, whatever the
    number of snapshots."""
    ids = {student_id for student_id, *_ in snapshots}
    if not ids:
        return
    holdings = {
        student_id: _Holding(version, [])
        for student_id, version in session.execute(
            select_columns(col(SupplyStudent.student_id), col(SupplyStudent.version)).where(
                col(SupplyStudent.student_id).in_(ids)
            )
        )
    }
    for row_id, student_id, kind, code, level, valid_from in session.execute(
        select_columns(
            col(SupplyStudentRow.id),
            col(SupplyStudentRow.student_id),
            col(SupplyStudentRow.kind),
            col(SupplyStudentRow.code),
            col(SupplyStudentRow.level),
            col(SupplyStudentRow.valid_from),
        ).where(
            col(SupplyStudentRow.student_id).in_(ids), col(SupplyStudentRow.valid_until).is_(None)
        )
    ):
        holdings[student_id].open.append(
            {"id": row_id, "contribution": Contribution(kind, code, level), "from": valid_from}
        )
    states: dict[str, dict[str, Any]] = {}
    wiped: set[str] = set()  # students whose stored rows go, every month's
    closed: dict[int, datetime] = {}  # stored row → valid until
    added: list[dict[str, Any]] = []
    for student_id, version, at, contributions in snapshots:
        holding = holdings.setdefault(student_id, _Holding(None, []))
        if holding.version is not None and version <= holding.version:
            continue
        holding.version = version
        states[student_id] = {
            "student_id": student_id,
            "version": version,
            "consenting": contributions is not None,
        }
        if contributions is None:
            wiped.add(student_id)
            added = [row for row in added if row["student_id"] != student_id]
            holding.open = []
            continue
        if {row["contribution"] for row in holding.open} == contributions:
            continue
        for row in holding.open:
            until = max(at, aware(row["from"]))
            if row["id"] is None:
                row["stored"]["valid_until"] = until
            else:
                closed[row["id"]] = until
        holding.open = []
        for c in sorted(contributions):
            stored = {
                "student_id": student_id,
                "kind": c.kind,
                "code": c.code,
                "level": c.level,
                "valid_from": at,
                "valid_until": None,
            }
            added.append(stored)
            holding.open.append({"id": None, "contribution": c, "from": at, "stored": stored})
    upsert(session, SupplyStudent, list(states.values()))
    if wiped:
        session.execute(delete(SupplyStudentRow).where(col(SupplyStudentRow.student_id).in_(wiped)))
    if closed:
        session.execute(
            update(SupplyStudentRow),
            [{"id": row_id, "valid_until": until} for row_id, until in closed.items()],
        )
    insert_rows(session, SupplyStudentRow, added)


def erase_supply_student(session: Session, student_id: str) -> None:
    """Forget a student: their rows, every month's, and the version last seen."""
    session.execute(delete(SupplyStudentRow).where(col(SupplyStudentRow.student_id) == student_id))
    session.execute(delete(SupplyStudent).where(col(SupplyStudent.student_id) == student_id))


def supply_student_data(session: Session, student_id: str) -> dict[str, Any]:
    """What supply and demand hold on a student (for the personal-data endpoint)."""
    state = session.get(SupplyStudent, student_id)
    if state is None:
        return {}
    rows = session.exec(
        select(SupplyStudentRow)
        .where(SupplyStudentRow.student_id == student_id)
        .order_by(col(SupplyStudentRow.valid_from), col(SupplyStudentRow.id))
    )
    return {
        "supply_student": {
            "version": state.version,
            "consenting": state.consenting,
            "contributions": [
                {
                    "kind": row.kind,
                    "code": row.code,
                    "level": row.level,
                    "valid_from": row.valid_from,
                    "valid_until": row.valid_until,
                }
                for row in rows
            ],
        }
    }


def record_demand_vacancy(
    session: Session,
    vacancy_id: str,
    company_id: str,
    version: int,
    at: datetime,
    contributions: frozenset[Contribution],
) -> bool:
    """Apply a vacancy's snapshot: from ``at`` on it contributes ``contributions`` (none once
    it is no longer open); an older version changes nothing."""
    state = session.get(DemandVacancy, vacancy_id)
    if state is not None and version <= state.version:
        return False
    state = state or DemandVacancy(vacancy_id=vacancy_id, company_id=company_id, version=version)
    state.version, state.company_id = version, company_id
    session.add(state)
    current = list(
        session.exec(
            select(DemandVacancyRow).where(
                DemandVacancyRow.vacancy_id == vacancy_id,
                col(DemandVacancyRow.valid_until).is_(None),
            )
        )
    )
    if {_contribution(row) for row in current} == contributions:
        return True
    for row in current:
        row.valid_until = max(at, row.valid_from)
    session.add_all(current)
    session.add_all(
        DemandVacancyRow(
            vacancy_id=vacancy_id,
            kind=c.kind,
            code=c.code,
            level=c.level,
            required=c.required,
            valid_from=at,
        )
        for c in sorted(contributions)
    )
    return True


def record_demand_company(
    session: Session, company_id: str, version: int, sector: str | None, size: str | None
) -> None:
    """Keep a company's sector and size class (an older version changes nothing)."""
    state = session.get(DemandCompany, company_id)
    if state is not None and version <= state.version:
        return
    state = state or DemandCompany(company_id=company_id, version=version)
    state.version, state.sector, state.size_class = version, sector, size
    session.add(state)


def _valid_at(table: type[SupplyStudentRow] | type[DemandVacancyRow], moment: datetime) -> Any:
    return (col(table.valid_from) < moment) & or_(
        col(table.valid_until).is_(None), col(table.valid_until) >= moment
    )


def _plain_rows(session: Session, statement: Any) -> list[tuple[Any, ...]]:
    """The driver's own tuples of ``statement``'s rows, for columns of text and numbers only
    (no type conversion is applied): a region's month is a million rows or more, and
    SQLAlchemy's row objects for them cost more than the query itself."""
    return list(session.connection().execute(statement).cursor.fetchall())


def holdings_at(session: Session, moment: datetime) -> list[StudentHolding]:
    """Every consenting student's holding as it stood at ``moment``."""
    # Plain rows into plain dicts: no ORM row or Contribution for each of a million rows.
    skills: dict[str, dict[str, int]] = defaultdict(dict)
    languages: dict[str, dict[str, int]] = defaultdict(dict)
    fields: dict[str, str] = {}
    statement = select_columns(
        col(SupplyStudentRow.student_id),
        col(SupplyStudentRow.kind),
        col(SupplyStudentRow.code),
        col(SupplyStudentRow.level),
    ).where(_valid_at(SupplyStudentRow, moment))
    for student_id, kind, code, level in _plain_rows(session, statement):
        held = skills[student_id]  # every student with a row has a holding, skills or not
        if kind == "skill":
            held[code] = level
        elif kind == "language":
            languages[student_id][code] = level
        elif kind == "field":
            fields[student_id] = code
    return [
        StudentHolding(student_id, found, languages.get(student_id, {}), fields.get(student_id))
        for student_id, found in sorted(skills.items())
    ]


def needs_at(session: Session, moment: datetime) -> list[VacancyNeed]:
    """Every open vacancy's need as it stood at ``moment``, with its company's details."""
    rows: dict[str, list[Contribution]] = defaultdict(list)
    companies: dict[str, tuple[str | None, str | None]] = {}
    statement = (
        select_columns(
            col(DemandVacancyRow.vacancy_id),
            col(DemandVacancyRow.kind),
            col(DemandVacancyRow.code),
            col(DemandVacancyRow.level),
            col(DemandVacancyRow.required),
            col(DemandCompany.sector),
            col(DemandCompany.size_class),
        )
        .join(DemandVacancy, col(DemandVacancy.vacancy_id) == col(DemandVacancyRow.vacancy_id))
        .join(
            DemandCompany,
            col(DemandCompany.company_id) == col(DemandVacancy.company_id),
            isouter=True,
        )
        .where(_valid_at(DemandVacancyRow, moment))
    )
    for vacancy_id, kind, code, level, required, sector, size in session.connection().execute(
        statement
    ):
        rows[vacancy_id].append(Contribution(kind, code, level, required))  # type: ignore[arg-type]
        companies[vacancy_id] = (sector, size)
    return [
        VacancyNeed.of(vacancy_id, found, *companies[vacancy_id])
        for vacancy_id, found in sorted(rows.items())
    ]


def vacancy_companies(session: Session) -> dict[str, str]:
    """The company of every vacancy analytics knows one of (from its snapshots or funnel)."""
    companies = {
        vacancy_id: company_id
        for vacancy_id, company_id in session.execute(
            select_columns(col(VacancyFunnel.vacancy_id), col(VacancyFunnel.company_id)).where(
                col(VacancyFunnel.company_id).is_not(None)
            )
        )
    }
    statement = select_columns(col(DemandVacancy.vacancy_id), col(DemandVacancy.company_id))
    companies.update(
        (vacancy_id, company_id) for vacancy_id, company_id in session.execute(statement)
    )
    return companies


def graduates_by_student(session: Session) -> list[tuple[str, Graduate]]:
    """Consenting graduates' latest outcomes, each with the student it is about."""
    statement = select_columns(
        col(GraduateOutcomeRow.student_id),
        col(GraduateOutcomeRow.graduated_on),
        col(GraduateOutcomeRow.outcome),
    ).where(_consenting(col(GraduateOutcomeRow.student_id)))
    return [
        (student_id, Graduate(graduated_on, outcome))
        for student_id, graduated_on, outcome in session.connection().execute(statement)
    ]


# -- Federation: the region's privacy budget, what it published, and every region's
# snapshots (aggregates only: nothing here names a student or a company).


class FederationBudget(SQLModel, table=True):
    """The ε a region has spent on snapshots in a calendar year."""

    __tablename__ = "federation_budget"

    region: str = Field(primary_key=True, max_length=32)
    year: int = Field(primary_key=True)
    yearly_epsilon: float
    spent: float


class FederationRelease(SQLModel, table=True):
    """A snapshot this region published, by the event that carried it."""

    __tablename__ = "federation_release"

    event_id: str = Field(primary_key=True, max_length=64)
    period: str = Field(max_length=7, index=True)
    produced_at: datetime
    epsilon: float


class FederationSnapshot(SQLModel, table=True):
    """The latest snapshot of a region's month, as it was published (its aggregates' JSON)."""

    __tablename__ = "federation_snapshot"

    region: str = Field(primary_key=True, max_length=32)
    period: str = Field(primary_key=True, max_length=7)
    event_id: str = Field(max_length=64)
    produced_at: datetime
    aggregates: str = Field(sa_column=Column(Text, nullable=False))


FEDERATION_TABLES: list[type[SQLModel]] = [FederationBudget, FederationRelease, FederationSnapshot]
TABLES += FEDERATION_TABLES


def budget_of_year(
    session: Session, region: str, year: int, yearly_epsilon: float
) -> FederationBudget:
    """The region's budget of ``year`` (nothing spent when new), locked until the transaction
    ends: two snapshots at once must not both spend what is left."""
    insert_missing(
        session,
        FederationBudget,
        [{"region": region, "year": year, "yearly_epsilon": yearly_epsilon, "spent": 0.0}],
    )
    return session.exec(
        select(FederationBudget)
        .where(FederationBudget.region == region, FederationBudget.year == year)
        .with_for_update()
    ).one()


def put_budget(
    session: Session, region: str, year: int, yearly_epsilon: float, spent: float
) -> None:
    """Keep what the region has spent in ``year``."""
    row = session.get(FederationBudget, (region, year)) or FederationBudget(
        region=region, year=year, yearly_epsilon=yearly_epsilon, spent=spent
    )
    row.yearly_epsilon, row.spent = yearly_epsilon, spent
    session.add(row)


def record_release(
    session: Session, event_id: str, period: str, produced_at: datetime, epsilon: float
) -> None:
    """Note that this region published a snapshot of ``period``."""
    session.add(
        FederationRelease(
            event_id=event_id, period=period, produced_at=produced_at, epsilon=epsilon
        )
    )


def released(session: Session, period: str) -> bool:
    """Whether this region has published a snapshot of ``period``."""
    return (
        session.exec(
            select(FederationRelease.event_id).where(FederationRelease.period == period)
        ).first()
        is not None
    )


def keep_snapshot(
    session: Session,
    region: str,
    period: str,
    event_id: str,
    produced_at: datetime,
    aggregates: str,
) -> bool:
    """Keep a region's snapshot of a month unless a later one of that month is kept."""
    row = session.get(FederationSnapshot, (region, period))
    if row is not None and aware(row.produced_at) >= aware(produced_at):
        return False
    row = row or FederationSnapshot(
        region=region, period=period, event_id=event_id, produced_at=produced_at, aggregates=""
    )
    row.event_id, row.produced_at, row.aggregates = event_id, produced_at, aggregates
    session.add(row)
    return True


def snapshot_versions(
    session: Session, region: str | None = None
) -> list[tuple[str, str, str, datetime]]:
    """``(region, period, event_id, produced_at)`` of the snapshots kept, of every region or
    of one, by region then latest month first: what is held, without the payloads."""
    statement = select(
        FederationSnapshot.region,
        FederationSnapshot.period,
        FederationSnapshot.event_id,
        FederationSnapshot.produced_at,
    )
    if region is not None:
        statement = statement.where(FederationSnapshot.region == region)
    statement = statement.order_by(
        col(FederationSnapshot.region), col(FederationSnapshot.period).desc()
    )
    return [tuple(row) for row in session.exec(statement).all()]  # type: ignore[misc]


def snapshot_payloads(session: Session, event_ids: Sequence[str]) -> dict[str, str]:
    """The aggregates' JSON of the snapshots carried by ``event_ids``."""
    if not event_ids:
        return {}
    statement = select(FederationSnapshot.event_id, FederationSnapshot.aggregates).where(
        col(FederationSnapshot.event_id).in_(event_ids)
    )
    return dict(session.exec(statement).all())
