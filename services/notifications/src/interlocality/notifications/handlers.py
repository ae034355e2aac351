"""Kafka side of notifications: students, companies, vacancies, matches and Company
Dating agendas, each applied by the service layer in the consumer's transaction."""

from __future__ import annotations

from functools import partial

from sqlmodel import Session

from interlocality.common.consumer import Batched
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.companies import CompanyRegistered
from interlocality.contracts.dating import DatingAgendaIssued
from interlocality.contracts.matches import MatchFound, MatchUpdated, MatchWithdrawn
from interlocality.contracts.students import StudentProfileErased, StudentProfileUpserted
from interlocality.contracts.topics import COMPANIES, DATING_AGENDAS, MATCHES, STUDENTS, VACANCIES
from interlocality.contracts.vacancies import (
    VacancyClosed,
    VacancyExpired,
    VacancyFilled,
    VacancyPublished,
)
from interlocality.notifications.domain import aware
from interlocality.notifications.service import NotificationService

__all__ = [
    "on_agenda_issued",
    "on_company_registered",
    "on_match_updated",
    "on_match_withdrawn",
    "on_matches_found",
    "on_student_erased",
    "on_student_upserted",
    "on_vacancy",
    "subscribe",
]


def on_student_upserted(
    service: NotificationService, event: StudentProfileUpserted, session: Session
) -> None:
    service.take_profile(session, event.data)


def on_student_erased(
    service: NotificationService, event: StudentProfileErased, session: Session
) -> None:
    service.erase_student(session, event.data.student_id)


def on_company_registered(
    service: NotificationService, event: CompanyRegistered, session: Session
) -> None:
    service.take_company(session, event.data)


def on_vacancy(
    service: NotificationService,
    event: VacancyPublished | VacancyClosed | VacancyFilled | VacancyExpired,
    session: Session,
) -> None:
    service.take_vacancy(session, event.data)


def on_matches_found(
    service: NotificationService, events: list[MatchFound], session: Session
) -> None:
    service.notify(session, [event.data for event in events])


def on_match_updated(service: NotificationService, event: MatchUpdated, session: Session) -> None:
    service.update_match(session, event.data)


def on_match_withdrawn(
    service: NotificationService, event: MatchWithdrawn, session: Session
) -> None:
    service.withdraw_match(session, event.data.student_id, event.data.vacancy_id)


def on_agenda_issued(
    service: NotificationService, event: DatingAgendaIssued, session: Session
) -> None:
    service.take_agenda(session, event.data, event.id, aware(event.time))


def subscribe(runtime: ServiceRuntime, service: NotificationService) -> None:
    """Subscribe notifications to students, companies, vacancies, matches and agendas."""
    runtime.consume(
        STUDENTS,
        {
            StudentProfileUpserted: partial(on_student_upserted, service),
            StudentProfileErased: partial(on_student_erased, service),
        },
    )
    runtime.consume(COMPANIES, {CompanyRegistered: partial(on_company_registered, service)})
    vacancy = partial(on_vacancy, service)
    runtime.consume(
        VACANCIES,
        {
            VacancyPublished: vacancy,
            VacancyClosed: vacancy,
            VacancyFilled: vacancy,
            VacancyExpired: vacancy,
        },
    )
    runtime.consume(
        MATCHES,
        {
            MatchFound: Batched(partial(on_matches_found, service)),
            MatchUpdated: partial(on_match_updated, service),
            MatchWithdrawn: partial(on_match_withdrawn, service),
        },
    )
    runtime.consume(DATING_AGENDAS, {DatingAgendaIssued: partial(on_agenda_issued, service)})
