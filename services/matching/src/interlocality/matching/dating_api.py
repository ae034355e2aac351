"""HTTP API of Company Dating: create an event, read its schedule, CSV and agendas."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Response, status

from interlocality.common.service import ServiceRuntime, problem
from interlocality.contracts.dating import AgendaSlot, DatingAgenda, DatingAgendaIssued
from interlocality.matching.dating import (
    Agenda,
    DatingEventRequest,
    DatingInfeasible,
    DatingSchedule,
    ParticipantKind,
    agenda_ics,
    plan_dating_event,
    schedule_csv,
)
from interlocality.matching.dating_store import load_dating_event, save_dating_event
from interlocality.matching.store import best_scores_by_company

__all__ = ["agenda_issued", "create_dating_router"]

CALENDAR = "text/calendar; charset=utf-8"
OTHER_SIDE: dict[ParticipantKind, ParticipantKind] = {"student": "company", "company": "student"}


def agenda_issued(
    runtime: ServiceRuntime, schedule: DatingSchedule, agenda: Agenda
) -> DatingAgendaIssued:
    """The event that hands a participant their agenda (same id for the same schedule)."""
    return runtime.event(
        DatingAgendaIssued,
        subject=agenda.participant_id,
        data=DatingAgenda(
            dating_event_id=schedule.event_id,
            dating_event_name=schedule.name,
            venue=schedule.venue,
            participant_kind=agenda.participant_kind,
            participant_id=agenda.participant_id,
            slots=[
                AgendaSlot(
                    slot=entry.slot,
                    starts_at=entry.starts_at,
                    ends_at=entry.ends_at,
                    table=entry.table,
                    counterpart_kind=OTHER_SIDE[agenda.participant_kind],
                    counterpart_id=entry.counterpart_id,
                    counterpart_name=entry.counterpart_name,
                    score=entry.score,
                    must_meet=entry.must_meet,
                )
                for entry in agenda.dates
            ],
            icalendar=agenda_ics(schedule, agenda),
        ),
        version=f"{schedule.event_id}|{agenda.participant_kind}",
    )


def create_dating_router(runtime: ServiceRuntime) -> APIRouter:
    """Routes for Company Dating events."""
    router = APIRouter(prefix="/v1/dating-events", tags=["company dating"])

    def schedule_or_404(event_id: str) -> DatingSchedule:
        with runtime.reading() as session:
            schedule = load_dating_event(session, event_id)
        if schedule is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dating event {event_id}")
        return schedule

    def agenda_file(event_id: str, kind: ParticipantKind, participant_id: str) -> Response:
        schedule = schedule_or_404(event_id)
        agenda = schedule.agenda(kind, participant_id)
        if agenda is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"{kind} {participant_id} is not at dating event {event_id}",
            )
        return Response(
            agenda_ics(schedule, agenda),
            media_type=CALENDAR,
            headers={"Content-Disposition": f'attachment; filename="agenda-{event_id}-{kind}.ics"'},
        )

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        summary="Create a Company Dating event: the best schedule, stored and sent to everyone",
        responses={
            422: {"description": "A malformed request, or must-meet pairs no schedule fits"}
        },
    )
    def create_dating_event(request: DatingEventRequest, response: Response) -> DatingSchedule:
        with runtime.reading() as session:
            scores = best_scores_by_company(
                session,
                [s.student_id for s in request.students],
                [c.company_id for c in request.companies],
            )
        # Planned outside the write transaction: on SQLite it would hold the write lock
        # (and the consumers) for the whole solve.
        try:
            schedule = plan_dating_event(
                request, scores, event_id=str(uuid.uuid4()), issued_at=datetime.now(UTC)
            )
        except DatingInfeasible as exc:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                [
                    problem(
                        p.field,
                        p.message,
                        f"dating_{p.constraint}",
                        constraint=p.constraint,
                        participant_id=p.participant_id,
                    )
                    for p in exc.problems
                ],
            ) from exc
        with runtime.transaction() as session:
            save_dating_event(session, request, schedule)
            for agenda in (*schedule.students, *schedule.companies):
                runtime.emit(session, agenda_issued(runtime, schedule, agenda))
        response.headers["Location"] = f"{router.prefix}/{schedule.event_id}"
        return schedule

    @router.get("/{event_id}", summary="A Company Dating event with its schedule and agendas")
    def get_dating_event(event_id: str) -> DatingSchedule:
        return schedule_or_404(event_id)

    @router.get(
        "/{event_id}/schedule.csv",
        summary="The whole schedule as CSV, one date a row",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
    )
    def get_schedule_csv(event_id: str) -> Response:
        schedule = schedule_or_404(event_id)
        return Response(
            schedule_csv(schedule),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="schedule-{event_id}.csv"'},
        )

    @router.get(
        "/{event_id}/students/{student_id}/agenda.ics",
        summary="A student's agenda as an iCalendar file",
        response_class=Response,
        responses={200: {"content": {"text/calendar": {}}}},
    )
    def get_student_agenda(event_id: str, student_id: str) -> Response:
        return agenda_file(event_id, "student", student_id)

    @router.get(
        "/{event_id}/companies/{company_id}/agenda.ics",
        summary="A company's agenda as an iCalendar file",
        response_class=Response,
        responses={200: {"content": {"text/calendar": {}}}},
    )
    def get_company_agenda(event_id: str, company_id: str) -> Response:
        return agenda_file(event_id, "company", company_id)

    return router
