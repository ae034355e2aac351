"""Topic ``<region>.matching.dating-agendas.v1``: Company Dating agendas, keyed by participant id.

Matching schedules a Company Dating event (speed dates between students and companies) and
issues one agenda per participant, student or company, with its iCalendar file, so that
notifications can send everyone their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from interlocality.contracts.envelope import CloudEvent

__all__ = ["AgendaSlot", "DatingAgenda", "DatingAgendaEvent", "DatingAgendaIssued"]

ParticipantKind = Literal["student", "company"]


class AgendaSlot(BaseModel):
    """One date in a participant's agenda."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    slot: Annotated[
        int, Field(title="Slot", description="Number of the slot in the event, from 1.", ge=1)
    ]
    starts_at: Annotated[datetime, Field(title="Starts at", description="When the date starts.")]
    ends_at: Annotated[datetime, Field(title="Ends at", description="When the date ends.")]
    table: Annotated[
        int, Field(title="Table", description="The company's table number, from 1.", ge=1)
    ]
    counterpart_kind: Annotated[
        ParticipantKind,
        Field(title="Counterpart kind", description="Whom the participant meets: the other side."),
    ]
    counterpart_id: Annotated[
        str,
        Field(
            title="Counterpart id", description="Id of the company or student met.", min_length=1
        ),
    ]
    counterpart_name: Annotated[
        str | None,
        Field(
            title="Counterpart name",
            description="The company's or the student's name, when one was given.",
        ),
    ] = None
    score: Annotated[
        float,
        Field(
            title="Score",
            description="Best match score of the student with the company's vacancies, 0 if none.",
            ge=0.0,
            le=1.0,
        ),
    ]
    must_meet: Annotated[
        bool,
        Field(title="Must meet", description="The organisers asked for this meeting."),
    ] = False


class DatingAgenda(BaseModel):
    """Everything one participant of a Company Dating event has to be at."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dating_event_id: Annotated[
        str,
        Field(title="Dating event id", description="The Company Dating event.", min_length=1),
    ]
    dating_event_name: Annotated[
        str, Field(title="Dating event name", description="What the event is called.")
    ]
    venue: Annotated[
        str | None, Field(title="Venue", description="Where the event takes place, if given.")
    ] = None
    participant_kind: Annotated[
        ParticipantKind,
        Field(
            title="Participant kind",
            description="Whether the agenda is a student's or a company's.",
        ),
    ]
    participant_id: Annotated[
        str,
        Field(
            title="Participant id",
            description="The student or company the agenda is for; the record key.",
            min_length=1,
        ),
    ]
    slots: Annotated[
        list[AgendaSlot],
        Field(
            title="Slots",
            description="The participant's dates in time order; empty when they got none.",
        ),
    ]
    icalendar: Annotated[
        str,
        Field(
            title="iCalendar",
            description="The agenda as an RFC 5545 iCalendar file (text/calendar), to attach.",
        ),
    ]


class DatingAgendaIssued(CloudEvent[DatingAgenda]):
    """A participant's agenda for a Company Dating event was computed."""

    type: Literal["org.interlocality.DatingAgendaIssued.v1"] = (
        "org.interlocality.DatingAgendaIssued.v1"
    )
    dataschema: str = "urn:interlocality:schema:DatingAgendaIssued:v1"


# One event type today, like the deliveries topic.
DatingAgendaEvent = DatingAgendaIssued
