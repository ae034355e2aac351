"""Aggregates only: analytics holds no personal data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Integer, case, cast, func
from sqlmodel import Field, Session, SQLModel, col, select

from interlocality.analytics.domain import FUNNEL_STEPS, FunnelEntry

__all__ = [
    "TABLES",
    "EventCount",
    "VacancyFunnel",
    "add_counts",
    "add_funnel_steps",
    "event_counts",
    "funnel_rows",
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


TABLES: list[type[SQLModel]] = [EventCount, VacancyFunnel]


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
