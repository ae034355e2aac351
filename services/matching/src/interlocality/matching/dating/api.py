"""HTTP API of Company Dating: create an event, read its schedule, CSV and agendas."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Response, status

from interlocality.common.access import OPERATOR, allow, the_company, the_student
from interlocality.common.service import Provided, ServiceRuntime, error_answers, problem
from interlocality.matching.dating.export import (
    agenda_file_name,
    agenda_ics,
    schedule_csv,
    schedule_file_name,
)
from interlocality.matching.dating.models import (
    DatingEventRequest,
    DatingSchedule,
    ParticipantKind,
)
from interlocality.matching.dating.plan import DatingInfeasible
from interlocality.matching.dating.service import DatingService, ParticipantsUnknown
from interlocality.matching.dating.store import load_dating_event

__all__ = ["attachment", "router"]

CALENDAR = "text/calendar; charset=utf-8"

NOT_FOUND = error_answers({404: "No such event, or the participant is not at it."})
REFUSED = error_answers(
    {
        422: "A malformed request, participants matching does not know, or must-meet pairs "
        "no schedule fits; each problem names its field."
    }
)

Runtime = Annotated[ServiceRuntime, Depends(Provided(ServiceRuntime))]
Dating = Annotated[DatingService, Depends(Provided(DatingService))]

router = APIRouter(prefix="/v1/dating-events", tags=["company dating"])


def attachment(name: str, ascii_name: str) -> str:
    """A ``Content-Disposition`` that saves the file as ``name`` (RFC 6266).

    ``filename*`` carries the name in UTF-8; ``filename``, for clients that cannot read
    it, ``ascii_name`` (which must hold no quotes or backslashes).
    """
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def schedule_or_404(runtime: ServiceRuntime, event_id: uuid.UUID) -> DatingSchedule:
    with runtime.reading() as session:
        schedule = load_dating_event(session, str(event_id))
    if schedule is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dating event {event_id}")
    return schedule


def agenda_file(
    runtime: ServiceRuntime, event_id: uuid.UUID, kind: ParticipantKind, participant_id: str
) -> Response:
    schedule = schedule_or_404(runtime, event_id)
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
    dependencies=[allow(OPERATOR)],
    status_code=status.HTTP_201_CREATED,
    summary="Create a Company Dating event: the best schedule, stored and sent to everyone",
    responses=REFUSED,
)
def create_dating_event(
    request: DatingEventRequest, response: Response, dating: Dating
) -> DatingSchedule:
    try:
        schedule = dating.create_event(request)
    except ParticipantsUnknown as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                problem(u.field, u.message, f"unknown_{u.kind}", input=u.participant_id)
                for u in exc.unknown
            ],
        ) from exc
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
    response.headers["Location"] = f"{router.prefix}/{schedule.event_id}"
    return schedule


@router.get(
    "/{event_id}",
    dependencies=[allow(OPERATOR, audit="list")],
    summary="A Company Dating event with its schedule and agendas",
    responses=NOT_FOUND,
)
def get_dating_event(event_id: uuid.UUID, runtime: Runtime) -> DatingSchedule:
    return schedule_or_404(runtime, event_id)


@router.get(
    "/{event_id}/schedule.csv",
    dependencies=[allow(OPERATOR, audit="list")],
    summary="The whole schedule as CSV, one date a row",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **NOT_FOUND},
)
def get_schedule_csv(event_id: uuid.UUID, runtime: Runtime) -> Response:
    schedule = schedule_or_404(runtime, event_id)
    name = schedule_file_name(schedule)
    ascii_name = schedule_file_name(schedule, ascii_only=True)
    return Response(
        schedule_csv(schedule),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": attachment(name, ascii_name)},
    )


@router.get(
    "/{event_id}/students/{student_id}/agenda.ics",
    dependencies=[allow(OPERATOR, the_student(), audit="read")],
    summary="A student's agenda as an iCalendar file",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, **NOT_FOUND},
)
def get_student_agenda(event_id: uuid.UUID, student_id: str, runtime: Runtime) -> Response:
    return agenda_file(runtime, event_id, "student", student_id)


@router.get(
    "/{event_id}/companies/{company_id}/agenda.ics",
    dependencies=[allow(OPERATOR, the_company())],
    summary="A company's agenda as an iCalendar file",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, **NOT_FOUND},
)
def get_company_agenda(event_id: uuid.UUID, company_id: str, runtime: Runtime) -> Response:
    return agenda_file(runtime, event_id, "company", company_id)
