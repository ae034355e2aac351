"""Company Dating's state as wire events: the only place that builds them."""

from __future__ import annotations

from interlocality.common.service import ServiceRuntime
from interlocality.contracts.dating import AgendaSlot, DatingAgenda, DatingAgendaIssued
from interlocality.matching.dating.export import agenda_ics
from interlocality.matching.dating.models import Agenda, DatingSchedule, ParticipantKind

__all__ = ["agenda_issued", "agendas_issued"]

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


def agendas_issued(runtime: ServiceRuntime, schedule: DatingSchedule) -> list[DatingAgendaIssued]:
    """One agenda event for every student, then every company, of ``schedule``."""
    return [
        agenda_issued(runtime, schedule, agenda)
        for agenda in (*schedule.students, *schedule.companies)
    ]
