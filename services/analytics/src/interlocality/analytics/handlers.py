"""Kafka side of analytics: every event of the region counted in runs, the events the
regional insights need applied by the service layer, in the consumer's transaction, and
every region's snapshots kept for the cross-region view."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from sqlmodel import Session

from interlocality.analytics.service import AnalyticsService, Federation
from interlocality.common.consumer import Batched
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.applications import ApplicationSubmitted, PlacementMade
from interlocality.contracts.companies import CompanyRegistered
from interlocality.contracts.dating import DatingAgendaIssued
from interlocality.contracts.federation import RegionSnapshot
from interlocality.contracts.outcomes import GraduateOutcomeRecorded
from interlocality.contracts.students import StudentProfileErased, StudentProfileUpserted
from interlocality.contracts.topics import SNAPSHOTS, TOPICS
from interlocality.contracts.vacancies import (
    VacancyClosed,
    VacancyExpired,
    VacancyFilled,
    VacancyPublished,
)

__all__ = [
    "INSIGHT_HANDLERS",
    "RUN_HANDLERS",
    "on_agenda_issued",
    "on_application_submitted",
    "on_company_registered",
    "on_events",
    "on_graduate_outcome_recorded",
    "on_placement_made",
    "on_region_snapshot",
    "on_student_erased",
    "on_student_upserted",
    "on_students_upserted",
    "on_vacancy_changed",
    "subscribe",
]

VacancySnapshot = VacancyPublished | VacancyClosed | VacancyFilled | VacancyExpired


def on_events(service: AnalyticsService, events: list[Any], session: Session) -> None:
    service.count_events(session, events)


def on_student_upserted(
    service: AnalyticsService, event: StudentProfileUpserted, session: Session
) -> None:
    service.take_student(session, event.data)


def on_students_upserted(
    service: AnalyticsService, events: list[StudentProfileUpserted], session: Session
) -> None:
    service.take_students(session, [event.data for event in events])


def on_student_erased(
    service: AnalyticsService, event: StudentProfileErased, session: Session
) -> None:
    service.erase_student(session, event.data.student_id)


def on_company_registered(
    service: AnalyticsService, event: CompanyRegistered, session: Session
) -> None:
    service.take_company(session, event.data)


def on_vacancy_changed(service: AnalyticsService, event: VacancySnapshot, session: Session) -> None:
    service.take_vacancy(session, event.data)


def on_application_submitted(
    service: AnalyticsService, event: ApplicationSubmitted, session: Session
) -> None:
    service.record_step(session, event.data, "applied")


def on_placement_made(service: AnalyticsService, event: PlacementMade, session: Session) -> None:
    service.record_step(session, event.data, "placed")


def on_agenda_issued(
    service: AnalyticsService, event: DatingAgendaIssued, session: Session
) -> None:
    service.take_agenda(session, event.data)


def on_graduate_outcome_recorded(
    service: AnalyticsService, event: GraduateOutcomeRecorded, session: Session
) -> None:
    service.record_outcome(session, event.data)


def on_region_snapshot(federation: Federation, event: RegionSnapshot, session: Session) -> None:
    federation.take_snapshot(session, event)


INSIGHT_HANDLERS: dict[type, Callable[[AnalyticsService, Any, Session], None]] = {
    StudentProfileUpserted: on_student_upserted,
    StudentProfileErased: on_student_erased,
    CompanyRegistered: on_company_registered,
    VacancyPublished: on_vacancy_changed,
    VacancyClosed: on_vacancy_changed,
    VacancyFilled: on_vacancy_changed,
    VacancyExpired: on_vacancy_changed,
    ApplicationSubmitted: on_application_submitted,
    PlacementMade: on_placement_made,
    DatingAgendaIssued: on_agenda_issued,
    GraduateOutcomeRecorded: on_graduate_outcome_recorded,
}


# Those of the insight handlers with a twin applying a whole run of events at once: a
# region's students are most of what analytics keeps, and one at a time cost a few queries
# each (INSIGHT_HANDLERS stays the reference, one event at a time, which tests hold it to).
RUN_HANDLERS: dict[type, Callable[[AnalyticsService, list[Any], Session], None]] = {
    StudentProfileUpserted: on_students_upserted,
}


def _counted_and(service: AnalyticsService, event_type: type) -> Batched:
    """Count a run of events of one type, then apply them: at once if a run handler takes
    them, else each with its insight handler."""
    run = RUN_HANDLERS.get(event_type)
    handler = INSIGHT_HANDLERS[event_type]

    def apply(events: list[Any], session: Session) -> None:
        on_events(service, events, session)
        if run is not None:
            run(service, events, session)
        else:
            for event in events:
                handler(service, event, session)

    return Batched(apply)


def subscribe(runtime: ServiceRuntime, service: AnalyticsService, federation: Federation) -> None:
    """Subscribe analytics to every topic of the region: every event is counted, and those
    the insights need are applied too; and to the regions' snapshots (this one's among
    them, and MirrorMaker 2's copies of the partners')."""
    # one handler for every type only counted: a batch is one run
    counting = Batched(partial(on_events, service))
    insights = {t: _counted_and(service, t) for t in INSIGHT_HANDLERS}
    for spec in TOPICS:
        runtime.consume(spec, {t: insights.get(t, counting) for t in spec.event_types})
    runtime.consume(SNAPSHOTS, {RegionSnapshot: partial(on_region_snapshot, federation)})
