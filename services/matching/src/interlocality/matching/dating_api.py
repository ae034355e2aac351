"""HTTP API of Company Dating: create an event, read its schedule, CSV and agendas."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Response, status
from sqlmodel import Session

from interlocality.common.service import ServiceRuntime, error_answers, problem
from interlocality.contracts.dating import AgendaSlot, DatingAgenda, DatingAgendaIssued
from interlocality.matching.dating import (
    Agenda,
    DatingEventRequest,
    DatingInfeasible,
    DatingSchedule,
    ParticipantKind,
    agenda_file_name,
    agenda_ics,
    plan_dating_event,
    schedule_csv,
    schedule_file_name,
    unknown_participants,
)
from interlocality.matching.dating_store import load_dating_event, save_dating_event
from interlocality.matching.store import (
    best_scores_by_company,
    known_company_ids,
    known_student_ids,
)

__all__ = ["agenda_issued", "attachment", "create_dating_router"]

CALENDAR = "text/calendar; charset=utf-8"
OTHER_SIDE: dict[ParticipantKind, ParticipantKind] = {"student": "company", "company": "student"}


NOT_FOUND = error_answers({404: "No such event, or the participant is not at it."})
REFUSED = error_answers(
    {
        422: "A malformed request, participants matching does not know, or must-meet pairs "
        "no schedule fits; each problem names its field."
    }
)


def attachment(name: str, ascii_name: str) -> str:
    """A ``Content-Disposition`` that saves the file as ``name`` (RFC 6266).

    ``filename*`` carries the name in UTF-8; ``filename``, for clients that cannot read
    it, ``ascii_name`` (which must hold no quotes or backslashes).
    """
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def refuse_unknown_participants(session: Session, request: DatingEventRequest) -> None:
    """Refuse, with a 422 naming each place, a request naming participants matching lacks."""
    unknown = unknown_participants(
        request,
        known_student_ids(session, [s.student_id for s in request.students]),
        known_company_ids(session, [c.company_id for c in request.companies]),
    )
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                problem(u.field, u.message, f"unknown_{u.kind}", input=u.participant_id)
                for u in unknown
            ],
        )


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

    def schedule_or_404(event_id: uuid.UUID) -> DatingSchedule:
        with runtime.reading() as session:
            schedule = load_dating_event(session, str(event_id))
        if schedule is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dating event {event_id}")
        return schedule

    def agenda_file(event_id: uuid.UUID, kind: ParticipantKind, participant_id: str) -> Response:
        schedule = schedule_or_404(event_id)
        agenda = schedule.agenda(kind, participant_id)
        if agenda is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"{kind} {participant_id} is not at dating event {event_id}",
            )
        name = agenda_file_name(schedule, agenda)
        ascii_name = agenda_file_name(schedule, agenda, ascii_only=True)
        return Response(
            agenda_ics(schedule, agenda),
            media_type=CALENDAR,
            headers={"Content-Disposition": attachment(name, ascii_name)},
        )

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        summary="Create a Company Dating event: the best schedule, stored and sent to everyone",
        responses=REFUSED,
    )
    def create_dating_event(request: DatingEventRequest, response: Response) -> DatingSchedule:
        with runtime.reading() as session:
            refuse_unknown_participants(session, request)
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
            # Again where it counts: a participant may have been erased during the solve.
            refuse_unknown_participants(session, request)
            save_dating_event(session, request, schedule)
            for agenda in (*schedule.students, *schedule.companies):
                runtime.emit(session, agenda_issued(runtime, schedule, agenda))
        response.headers["Location"] = f"{router.prefix}/{schedule.event_id}"
        return schedule

    @router.get(
        "/{event_id}",
        summary="A Company Dating event with its schedule and agendas",
        responses=NOT_FOUND,
    )
    def get_dating_event(event_id: uuid.UUID) -> DatingSchedule:
        return schedule_or_404(event_id)

    @router.get(
        "/{event_id}/schedule.csv",
        summary="The whole schedule as CSV, one date a row",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}, **NOT_FOUND},
    )
    def get_schedule_csv(event_id: uuid.UUID) -> Response:
        schedule = schedule_or_404(event_id)
        name = schedule_file_name(schedule)
        ascii_name = schedule_file_name(schedule, ascii_only=True)
        return Response(
            schedule_csv(schedule),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": attachment(name, ascii_name)},
        )

    @router.get(
        "/{event_id}/students/{student_id}/agenda.ics",
        summary="A student's agenda as an iCalendar file",
        response_class=Response,
        responses={200: {"content": {"text/calendar": {}}}, **NOT_FOUND},
    )
    def get_student_agenda(event_id: uuid.UUID, student_id: str) -> Response:
        return agenda_file(event_id, "student", student_id)

    @router.get(
        "/{event_id}/companies/{company_id}/agenda.ics",
        summary="A company's agenda as an iCalendar file",
        response_class=Response,
        responses={200: {"content": {"text/calendar": {}}}, **NOT_FOUND},
    )
    def get_company_agenda(event_id: uuid.UUID, company_id: str) -> Response:
        return agenda_file(event_id, "company", company_id)

    return router
