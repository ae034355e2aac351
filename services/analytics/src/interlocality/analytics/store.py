"""Aggregates only: analytics holds no personal data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, case, cast, func
from sqlmodel import Field, Session, SQLModel, col, select

__all__ = [
    "FUNNEL_STEPS",
    "TABLES",
    "EventCount",
    "VacancyFunnel",
    "count_event",
    "count_funnel_step",
    "event_counts",
    "funnel_rows",
    "note_vacancy",
]

FUNNEL_STEPS = ("matched", "notified", "applied", "placed")


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


def count_event(session: Session, region: str, event_type: str) -> None:
    """Add one to the count of ``event_type`` in ``region``."""
    row = session.get(EventCount, (region, event_type))
    if row is None:
        row = EventCount(region=region, event_type=event_type, count=0)
    row.count += 1
    session.add(row)


def _funnel_of(session: Session, region: str, vacancy_id: str) -> VacancyFunnel:
    row = session.get(VacancyFunnel, vacancy_id)
    return row if row is not None else VacancyFunnel(vacancy_id=vacancy_id, region=region)


def note_vacancy(session: Session, region: str, vacancy_id: str, kind: str) -> None:
    """Record that ``vacancy_id`` was published, and its kind."""
    row = _funnel_of(session, region, vacancy_id)
    row.kind = kind
    row.published = True
    session.add(row)


def count_funnel_step(
    session: Session, region: str, vacancy_id: str, step: str, kind: str | None = None
) -> None:
    """Add one to ``step`` (one of :data:`FUNNEL_STEPS`) of ``vacancy_id``."""
    row = _funnel_of(session, region, vacancy_id)
    setattr(row, step, getattr(row, step) + 1)
    if kind and not row.kind:
        row.kind = kind
    session.add(row)


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
