"""Kafka side of matching: keep the view current and reconcile matches on every change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from sqlmodel import Session

from interlocality.common.service import ServiceRuntime
from interlocality.contracts.matches import Match, MatchFound, MatchWithdrawal, MatchWithdrawn
from interlocality.contracts.students import StudentProfileErased, StudentProfileUpserted
from interlocality.contracts.topics import STUDENTS, VACANCIES
from interlocality.contracts.vacancies import (
    VacancyClosed,
    VacancyExpired,
    VacancyFilled,
    VacancyPublished,
)
from interlocality.matching.domain import RequiredSkill, permit_flag, score_pair
from interlocality.matching.store import (
    MatchRecord,
    StudentView,
    VacancyView,
    matches_of_student,
    matches_of_vacancy,
    open_vacancies_sharing,
    set_student_skills,
    set_vacancy_skills,
    students_sharing,
)

__all__ = ["match_found", "register_kafka_handlers"]

WithdrawReason = Literal["vacancy_closed", "student_erased", "consent_withdrawn", "no_longer_fits"]
VacancyEndEvent = VacancyClosed | VacancyFilled | VacancyExpired


def match_found(runtime: ServiceRuntime, record: MatchRecord) -> MatchFound:
    """The ``MatchFound`` event of a stored match (same id for the same basis)."""
    return runtime.event(
        MatchFound,
        subject=record.student_id,
        data=Match(
            student_id=record.student_id,
            vacancy_id=record.vacancy_id,
            company_id=record.company_id,
            vacancy_title=record.vacancy_title,
            score=record.score,
            matched_skills=record.matched_skills,
            missing_skills=record.missing_skills,
            permit_flag=record.permit_flag,
        ),
        version=f"{record.vacancy_id}|{record.found_basis}",
    )


def register_kafka_handlers(runtime: ServiceRuntime) -> None:
    """Subscribe matching to the students and vacancies topics."""

    def withdraw(session: Session, records: Iterable[MatchRecord], reason: WithdrawReason) -> None:
        for record in records:
            session.delete(record)
            runtime.emit(
                session,
                runtime.event(
                    MatchWithdrawn,
                    subject=record.student_id,
                    data=MatchWithdrawal(
                        student_id=record.student_id, vacancy_id=record.vacancy_id, reason=reason
                    ),
                ),
            )

    def reconcile(
        session: Session,
        existing: list[MatchRecord],
        pairs: Iterable[tuple[StudentView, VacancyView]],
    ) -> None:
        """Bring the stored matches of one student or vacancy in line with fresh scores."""
        current = {(m.student_id, m.vacancy_id): m for m in existing}
        seen: set[tuple[str, str]] = set()
        for student, vacancy in pairs:
            result = score_pair(
                student.skills,
                [RequiredSkill(s["uri"], s.get("min_level", 1)) for s in vacancy.required_skills],
            )
            if result is None:
                continue
            key = (student.id, vacancy.id)
            seen.add(key)
            flag = permit_flag(
                kind=vacancy.kind,
                vacancy_hours=vacancy.hours_per_week,
                permitted_hours=student.permitted_hours,
                country=student.permit_country,
            )
            record = current.get(key)
            if record is None:
                record = MatchRecord(
                    student_id=student.id,
                    vacancy_id=vacancy.id,
                    company_id=vacancy.company_id,
                    vacancy_title=vacancy.title,
                    score=result.score,
                    matched_skills=list(result.matched),
                    missing_skills=list(result.missing),
                    permit_flag=flag,
                    found_basis=f"{student.version}.{vacancy.version}",
                )
                session.add(record)
                runtime.emit(session, match_found(runtime, record))
            elif (
                record.score != result.score
                or record.matched_skills != list(result.matched)
                or record.vacancy_title != vacancy.title
                or record.permit_flag != flag
            ):
                record.permit_flag = flag
                record.score = result.score
                record.matched_skills = list(result.matched)
                record.missing_skills = list(result.missing)
                record.vacancy_title = vacancy.title
                record.updated_at = datetime.now(UTC)
                session.add(record)
        withdraw(session, [m for k, m in current.items() if k not in seen], "no_longer_fits")

    def on_student_upserted(event: StudentProfileUpserted, session: Session) -> None:
        profile = event.data
        view = session.get(StudentView, profile.student_id)
        if view is not None and view.version >= profile.version:
            return  # an older snapshot arriving late changes nothing
        if not profile.consents.matching.granted:
            # Without consent to matching the view must not hold the student at all.
            forget_student(session, profile.student_id, "consent_withdrawn")
            return
        skills = {skill.uri: skill.level for skill in profile.skills}
        if view is None:
            view = StudentView(id=profile.student_id, version=profile.version)
        view.skills = skills
        view.engagement_kinds = list(profile.engagement_kinds)
        permitted = profile.permitted_work
        limited = permitted is not None and not permitted.unrestricted
        view.permitted_hours = permitted.hours_per_week_term if limited and permitted else None
        view.permit_country = permitted.country if permitted else ""
        view.version = profile.version
        session.add(view)
        set_student_skills(session, view.id, list(skills))
        vacancies = open_vacancies_sharing(session, list(skills))
        reconcile(
            session,
            matches_of_student(session, view.id),
            ((view, vacancy) for vacancy in vacancies),
        )

    def forget_student(session: Session, student_id: str, reason: WithdrawReason) -> None:
        withdraw(session, matches_of_student(session, student_id), reason)
        set_student_skills(session, student_id, [])
        view = session.get(StudentView, student_id)
        if view is not None:
            session.delete(view)

    def on_student_erased(event: StudentProfileErased, session: Session) -> None:
        forget_student(session, event.data.student_id, "student_erased")

    def store_vacancy(
        event: VacancyPublished | VacancyEndEvent, session: Session
    ) -> VacancyView | None:
        vacancy = event.data
        view = session.get(VacancyView, vacancy.vacancy_id)
        if view is not None and view.version >= vacancy.version:
            return None
        if view is None:
            view = VacancyView(
                id=vacancy.vacancy_id,
                company_id=vacancy.company_id,
                title=vacancy.title,
                kind=vacancy.kind,
                status=vacancy.status,
                version=vacancy.version,
            )
        view.title = vacancy.title
        view.kind = vacancy.kind
        view.hours_per_week = vacancy.hours_per_week
        view.status = vacancy.status
        view.version = vacancy.version
        view.required_skills = [s.model_dump() for s in vacancy.required_skills]
        session.add(view)
        set_vacancy_skills(session, view.id, [s.uri for s in vacancy.required_skills])
        return view

    def on_vacancy_published(event: VacancyPublished, session: Session) -> None:
        view = store_vacancy(event, session)
        if view is None:
            return
        if view.status != "open":
            withdraw(session, matches_of_vacancy(session, view.id), "vacancy_closed")
            return
        students = students_sharing(session, [s["uri"] for s in view.required_skills])
        reconcile(
            session,
            matches_of_vacancy(session, view.id),
            ((student, view) for student in students),
        )

    def on_vacancy_ended(event: VacancyEndEvent, session: Session) -> None:
        view = store_vacancy(event, session)
        if view is not None:
            withdraw(session, matches_of_vacancy(session, view.id), "vacancy_closed")

    runtime.consume(
        STUDENTS,
        {
            StudentProfileUpserted: on_student_upserted,
            StudentProfileErased: on_student_erased,
        },
    )
    runtime.consume(
        VACANCIES,
        {
            VacancyPublished: on_vacancy_published,
            VacancyClosed: on_vacancy_ended,
            VacancyFilled: on_vacancy_ended,
            VacancyExpired: on_vacancy_ended,
        },
    )
