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
from interlocality.matching.index import MatchIndex, StudentEntry, VacancyEntry
from interlocality.matching.store import (
    MatchRecord,
    delete_student,
    load_index,
    matches_of_student,
    matches_of_vacancy,
    save_student,
    save_vacancy,
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


def register_kafka_handlers(runtime: ServiceRuntime, index: MatchIndex) -> None:
    """Subscribe matching to the students and vacancies topics, keeping ``index`` current."""
    minimum = runtime.settings.match_min_score

    def fresh(session: Session) -> MatchIndex:
        if index.stale:
            load_index(session, index)
        return index

    def mark_stale() -> None:
        index.stale = True

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
        pairs: Iterable[tuple[StudentEntry, VacancyEntry]],
    ) -> None:
        """Bring the stored matches of one student or vacancy in line with fresh scores."""
        current = {(m.student_id, m.vacancy_id): m for m in existing}
        seen: set[tuple[str, str]] = set()
        for student, vacancy in pairs:
            result = score_pair(student.skills, vacancy.required)
            if result is None or result.score < minimum:
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
        view = fresh(session)
        known = view.students.get(profile.student_id)
        if known is not None and known.version >= profile.version:
            return  # an older snapshot arriving late changes nothing
        if not profile.consents.matching.granted:
            # Without consent to matching the view must not hold the student at all.
            forget_student(session, profile.student_id, "consent_withdrawn")
            return
        permitted = profile.permitted_work
        limited = permitted is not None and not permitted.unrestricted
        entry = StudentEntry(
            id=profile.student_id,
            version=profile.version,
            skills={skill.uri: skill.level for skill in profile.skills},
            engagement_kinds=tuple(profile.engagement_kinds),
            permitted_hours=permitted.hours_per_week_term if limited and permitted else None,
            permit_country=permitted.country if permitted else "",
        )
        save_student(session, entry)
        # Matches exist only for students in the view: a newcomer has none to look up.
        existing = matches_of_student(session, entry.id) if known is not None else []
        reconcile(
            session,
            existing,
            ((entry, vacancy) for vacancy in view.open_vacancies_sharing(entry.skills)),
        )
        view.put_student(entry)

    def forget_student(session: Session, student_id: str, reason: WithdrawReason) -> None:
        withdraw(session, matches_of_student(session, student_id), reason)
        delete_student(session, student_id)
        index.remove_student(student_id)

    def on_student_erased(event: StudentProfileErased, session: Session) -> None:
        fresh(session)
        forget_student(session, event.data.student_id, "student_erased")

    def store_vacancy(
        event: VacancyPublished | VacancyEndEvent, session: Session
    ) -> VacancyEntry | None:
        vacancy = event.data
        known = fresh(session).vacancies.get(vacancy.vacancy_id)
        if known is not None and known.version >= vacancy.version:
            return None
        entry = VacancyEntry(
            id=vacancy.vacancy_id,
            version=vacancy.version,
            company_id=vacancy.company_id,
            title=vacancy.title,
            kind=vacancy.kind,
            status=vacancy.status,
            hours_per_week=vacancy.hours_per_week,
            required=tuple(RequiredSkill(s.uri, s.min_level) for s in vacancy.required_skills),
        )
        save_vacancy(session, entry)
        index.put_vacancy(entry)
        return entry

    def on_vacancy_published(event: VacancyPublished, session: Session) -> None:
        entry = store_vacancy(event, session)
        if entry is None:
            return
        if not entry.open:
            withdraw(session, matches_of_vacancy(session, entry.id), "vacancy_closed")
            return
        students = index.students_sharing(s.uri for s in entry.required)
        reconcile(
            session,
            matches_of_vacancy(session, entry.id),
            ((student, entry) for student in students),
        )

    def on_vacancy_ended(event: VacancyEndEvent, session: Session) -> None:
        entry = store_vacancy(event, session)
        if entry is not None:
            withdraw(session, matches_of_vacancy(session, entry.id), "vacancy_closed")

    runtime.consume(
        STUDENTS,
        {
            StudentProfileUpserted: on_student_upserted,
            StudentProfileErased: on_student_erased,
        },
        after_rollback=mark_stale,
    )
    runtime.consume(
        VACANCIES,
        {
            VacancyPublished: on_vacancy_published,
            VacancyClosed: on_vacancy_ended,
            VacancyFilled: on_vacancy_ended,
            VacancyExpired: on_vacancy_ended,
        },
        after_rollback=mark_stale,
    )
