"""Aggregates only: analytics holds no personal data."""

from __future__ import annotations

from sqlmodel import Field, Session, SQLModel, select

__all__ = ["TABLES", "EventCount", "count_event", "event_counts"]


class EventCount(SQLModel, table=True):
    """How many events of a type a region produced."""

    __tablename__ = "event_count"

    region: str = Field(primary_key=True, max_length=32)
    event_type: str = Field(primary_key=True, max_length=200)
    count: int = 0


TABLES: list[type[SQLModel]] = [EventCount]


def count_event(session: Session, region: str, event_type: str) -> None:
    """Add one to the count of ``event_type`` in ``region``."""
    row = session.get(EventCount, (region, event_type))
    if row is None:
        row = EventCount(region=region, event_type=event_type, count=0)
    row.count += 1
    session.add(row)


def event_counts(session: Session) -> list[EventCount]:
    """All counts, by region and type."""
    return list(session.exec(select(EventCount).order_by(EventCount.region, EventCount.event_type)))
