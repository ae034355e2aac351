"""Analytics' tables: event counts and vacancy funnels (aggregates only), and the
contribution rows supply and demand are computed from.

Supply and demand keep one row per thing a snapshot contributes (see
:mod:`interlocality.analytics.supply`) with the time it became true and the time it stopped,
so any month's state is the rows valid at its end. Student rows are pseudonymous personal
data: the student id with skills and levels, languages and field of study, nothing else;
they exist only while the student consents to analytics and go, every month's with them,
when the student withdraws or is erased."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, case, cast, delete, func, or_
from sqlalchemy import select as select_columns
from sqlmodel import Field, Session, SQLModel, col, select

from interlocality.analytics.domain import FUNNEL_STEPS, FunnelEntry
from interlocality.analytics.supply import Contribution, StudentHolding, VacancyNeed

__all__ = [
    "TABLES",
    "DemandCompany",
    "DemandVacancy",
    "DemandVacancyRow",
    "EventCount",
    "SupplyStudent",
    "SupplyStudentRow",
    "VacancyFunnel",
    "add_counts",
    "add_funnel_steps",
    "erase_supply_student",
    "event_counts",
    "funnel_rows",
    "holdings_at",
    "needs_at",
    "record_demand_company",
    "record_demand_vacancy",
    "record_supply_student",
    "supply_student_data",
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
    published: bool = False
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
    every month: companies seldom change either)."""

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
    for (region, event_type), added in counts.items():
        row = session.get(EventCount, (region, event_type))
        if row is None:
            row = EventCount(region=region, event_type=event_type, count=0)
        row.count += added
        session.add(row)


def add_funnel_steps(session: Session, steps: Sequence[FunnelEntry]) -> None:
    """Count ``steps`` in their vacancies' funnels: one read for all the vacancies."""
    if not steps:
        return
    ids = {s.vacancy_id for s in steps}
    rows = {
        row.vacancy_id: row
        for row in session.exec(
            select(VacancyFunnel).where(col(VacancyFunnel.vacancy_id).in_(ids))
        ).all()
    }
    added: Counter[tuple[str, str]] = Counter()
    for s in steps:
        row = rows.get(s.vacancy_id)
        if row is None:
            row = rows[s.vacancy_id] = VacancyFunnel(vacancy_id=s.vacancy_id, region=s.region)
        if s.step == "published":
            row.kind = s.kind
            row.published = True
        else:
            added[s.vacancy_id, s.step] += 1
            if s.kind and not row.kind:
                row.kind = s.kind
    for (vacancy_id, step), count in added.items():
        row = rows[vacancy_id]
        setattr(row, step, getattr(row, step) + count)
    session.add_all(rows.values())


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


def _contribution(row: SupplyStudentRow | DemandVacancyRow) -> Contribution:
    required = row.required if isinstance(row, DemandVacancyRow) else True
    return Contribution(row.kind, row.code, row.level, required)  # type: ignore[arg-type]


def record_supply_student(
    session: Session,
    student_id: str,
    version: int,
    at: datetime,
    contributions: frozenset[Contribution] | None,
) -> bool:
    """Apply a student's snapshot: from ``at`` on they contribute ``contributions``; with
    ``None`` (no analytics consent) every row of theirs goes, past months' too. A version
    no newer than the one applied changes nothing; returns whether this one did apply."""
    state = session.get(SupplyStudent, student_id)
    if state is not None and version <= state.version:
        return False
    if state is None:
        state = SupplyStudent(student_id=student_id, version=version, consenting=True)
    state.version = version
    state.consenting = contributions is not None
    session.add(state)
    if contributions is None:
        session.execute(
            delete(SupplyStudentRow).where(col(SupplyStudentRow.student_id) == student_id)
        )
        return True
    current = list(
        session.exec(
            select(SupplyStudentRow).where(
                SupplyStudentRow.student_id == student_id,
                col(SupplyStudentRow.valid_until).is_(None),
            )
        )
    )
    if {_contribution(row) for row in current} == contributions:
        return True
    for row in current:
        row.valid_until = max(at, row.valid_from)
    session.add_all(current)
    session.add_all(
        SupplyStudentRow(
            student_id=student_id, kind=c.kind, code=c.code, level=c.level, valid_from=at
        )
        for c in sorted(contributions)
    )
    return True


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


def holdings_at(session: Session, moment: datetime) -> list[StudentHolding]:
    """Every consenting student's holding as it stood at ``moment``."""
    rows: dict[str, list[Contribution]] = defaultdict(list)
    statement = select(
        SupplyStudentRow.student_id,
        SupplyStudentRow.kind,
        SupplyStudentRow.code,
        SupplyStudentRow.level,
    ).where(_valid_at(SupplyStudentRow, moment))
    for student_id, kind, code, level in session.exec(statement):
        rows[student_id].append(Contribution(kind, code, level))  # type: ignore[arg-type]
    return [StudentHolding.of(student_id, found) for student_id, found in sorted(rows.items())]


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
    for vacancy_id, kind, code, level, required, sector, size in session.execute(statement):
        rows[vacancy_id].append(Contribution(kind, code, level, required))
        companies[vacancy_id] = (sector, size)
    return [
        VacancyNeed.of(vacancy_id, found, *companies[vacancy_id])
        for vacancy_id, found in sorted(rows.items())
    ]
