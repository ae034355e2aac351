"""Company Dating's tables: each event with its companies, students and dates, and the
queries that store, load, show and forget them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, insert
from sqlmodel import Field, Session, SQLModel, col, delete, select

from interlocality.matching.dating.models import (
    DatingCompany,
    DatingEventRequest,
    DatingSchedule,
    DatingStudent,
    ScheduledDate,
    ScheduleTotals,
)
from interlocality.matching.dating.plan import build_schedule

__all__ = [
    "DATING_TABLES",
    "DatingCompanyRecord",
    "DatingDateRecord",
    "DatingEventRecord",
    "DatingStudentRecord",
    "dating_personal_data",
    "forget_student",
    "load_dating_event",
    "save_dating_event",
]


class DatingEventRecord(SQLModel, table=True):
    """A Company Dating event: its slots, and how good its schedule is."""

    __tablename__ = "dating_event"

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    venue: str | None = Field(default=None, max_length=300)
    slot_minutes: int
    # ISO 8601 with the operator's UTC offset, which the agendas show.
    slot_starts: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    breaks: list[int] = Field(default_factory=list, sa_column=Column(JSON))
    totals: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    notes: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    issued_at: datetime


class DatingCompanyRecord(SQLModel, table=True):
    """A company at an event; ``position`` keeps the operator's order."""

    __tablename__ = "dating_company"

    event_id: str = Field(primary_key=True, max_length=36)
    company_id: str = Field(primary_key=True, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    tables: int
    position: int


class DatingStudentRecord(SQLModel, table=True):
    """A student registered for an event, with the name the operator gave."""

    __tablename__ = "dating_student"

    event_id: str = Field(primary_key=True, max_length=36)
    student_id: str = Field(primary_key=True, max_length=64, index=True)
    name: str | None = Field(default=None, max_length=200)
    max_dates: int
    position: int


class DatingDateRecord(SQLModel, table=True):
    """A date: a student at a company's table in a slot."""

    __tablename__ = "dating_date"
    # A student is in one place at a time; the index also finds a student's dates.
    __table_args__ = (
        Index("ix_dating_date_student_slot", "student_id", "event_id", "slot", unique=True),
    )

    event_id: str = Field(primary_key=True, max_length=36)
    slot: int = Field(primary_key=True)
    company_id: str = Field(primary_key=True, max_length=64)
    table_number: int = Field(primary_key=True)
    student_id: str = Field(max_length=64)
    score: float
    must_meet: bool = False


DATING_TABLES: list[type[SQLModel]] = [
    DatingEventRecord,
    DatingCompanyRecord,
    DatingStudentRecord,
    DatingDateRecord,
]


def save_dating_event(
    session: Session, request: DatingEventRequest, schedule: DatingSchedule
) -> None:
    """Store an event with its schedule."""
    session.add(
        DatingEventRecord(
            id=schedule.event_id,
            name=schedule.name,
            venue=schedule.venue,
            slot_minutes=schedule.slot_minutes,
            slot_starts=[start.isoformat() for start in request.slot_starts],
            breaks=list(request.breaks),
            totals=schedule.totals.model_dump(mode="json"),
            notes=list(schedule.notes),
            issued_at=schedule.issued_at,
        )
    )
    session.flush()
    rows: list[tuple[type[SQLModel], list[dict[str, Any]]]] = [
        (
            DatingCompanyRecord,
            [
                {
                    "event_id": schedule.event_id,
                    "company_id": c.company_id,
                    "name": c.name,
                    "tables": c.tables,
                    "position": position,
                }
                for position, c in enumerate(request.companies)
            ],
        ),
        (
            DatingStudentRecord,
            [
                {
                    "event_id": schedule.event_id,
                    "student_id": s.student_id,
                    "name": s.name,
                    "max_dates": s.max_dates,
                    "position": position,
                }
                for position, s in enumerate(request.students)
            ],
        ),
        (
            DatingDateRecord,
            [
                {
                    "event_id": schedule.event_id,
                    "slot": d.slot,
                    "company_id": d.company_id,
                    "table_number": d.table,
                    "student_id": d.student_id,
                    "score": d.score,
                    "must_meet": d.must_meet,
                }
                for d in schedule.dates
            ],
        ),
    ]
    for model, values in rows:
        if values:
            session.execute(insert(model), values)


def load_dating_event(session: Session, event_id: str) -> DatingSchedule | None:
    """An event with its schedule and agendas, or ``None`` if there is no such event."""
    event = session.get(DatingEventRecord, event_id)
    if event is None:
        return None
    companies = session.exec(
        select(DatingCompanyRecord)
        .where(DatingCompanyRecord.event_id == event_id)
        .order_by(col(DatingCompanyRecord.position))
    ).all()
    students = session.exec(
        select(DatingStudentRecord)
        .where(DatingStudentRecord.event_id == event_id)
        .order_by(col(DatingStudentRecord.position))
    ).all()
    dates = session.exec(select(DatingDateRecord).where(DatingDateRecord.event_id == event_id))
    # Stored requests were validated when they came in (and may since have lost students
    # to erasure), so they are rebuilt without validating again.
    request = DatingEventRequest.model_construct(
        name=event.name,
        venue=event.venue,
        slot_minutes=event.slot_minutes,
        slot_starts=[datetime.fromisoformat(start) for start in event.slot_starts],
        breaks=list(event.breaks),
        companies=[
            DatingCompany.model_construct(company_id=c.company_id, name=c.name, tables=c.tables)
            for c in companies
        ],
        students=[
            DatingStudent.model_construct(
                student_id=s.student_id, name=s.name, max_dates=s.max_dates
            )
            for s in students
        ],
        must_meet=[],
    )
    company_names = {c.company_id: c.name for c in companies}
    student_names = {s.student_id: s.name for s in students}
    scheduled = []
    for date in dates:
        starts_at, ends_at = request.slot_times(date.slot)
        scheduled.append(
            ScheduledDate(
                slot=date.slot,
                starts_at=starts_at,
                ends_at=ends_at,
                table=date.table_number,
                student_id=date.student_id,
                student_name=student_names.get(date.student_id),
                company_id=date.company_id,
                company_name=company_names.get(date.company_id),
                score=date.score,
                must_meet=date.must_meet,
            )
        )
    return build_schedule(
        request,
        scheduled,
        ScheduleTotals.model_validate(event.totals),
        event_id=event.id,
        issued_at=event.issued_at,
        notes=event.notes,
    )


def forget_student(session: Session, student_id: str) -> None:
    """Remove everything Company Dating holds on a student: registrations and dates."""
    session.execute(delete(DatingDateRecord).where(col(DatingDateRecord.student_id) == student_id))
    session.execute(
        delete(DatingStudentRecord).where(col(DatingStudentRecord.student_id) == student_id)
    )


def dating_personal_data(session: Session, student_id: str) -> dict[str, Any]:
    """What Company Dating holds on a student: the events and their dates there."""
    registrations = session.exec(
        select(DatingStudentRecord, DatingEventRecord)
        .join(DatingEventRecord, col(DatingEventRecord.id) == col(DatingStudentRecord.event_id))
        .where(DatingStudentRecord.student_id == student_id)
        .order_by(col(DatingEventRecord.issued_at), col(DatingEventRecord.id))
    ).all()
    dates = session.exec(
        select(DatingDateRecord)
        .where(DatingDateRecord.student_id == student_id)
        .order_by(col(DatingDateRecord.event_id), col(DatingDateRecord.slot))
    ).all()
    by_event: dict[str, list[dict[str, Any]]] = {}
    for date in dates:
        by_event.setdefault(date.event_id, []).append(
            {
                "slot": date.slot,
                "company_id": date.company_id,
                "table": date.table_number,
                "score": date.score,
                "must_meet": date.must_meet,
            }
        )
    return {
        "dating_events": [
            {
                "event_id": event.id,
                "name": event.name,
                "student_name": registration.name,
                "max_dates": registration.max_dates,
                "dates": by_event.get(event.id, []),
            }
            for registration, event in registrations
        ]
    }
