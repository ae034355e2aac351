"""Kafka side of matching: keep the view current and reconcile matches on every change."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from sqlmodel import Session

from interlocality.common.db import insert_rows
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.companies import CompanyRegistered
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.matches import (
    ConditionCheck,
    LanguageCheck,
    Match,
    MatchExplanation,
    MatchFound,
    MatchUpdated,
    MatchWithdrawal,
    MatchWithdrawn,
    ScoreComponents,
    SkillCoverage,
)
from interlocality.contracts.students import (
    StudentProfile,
    StudentProfileErased,
    StudentProfileUpserted,
)
from interlocality.contracts.topics import COMPANIES, STUDENTS, VACANCIES
from interlocality.contracts.vacancies import (
    Vacancy,
    VacancyClosed,
    VacancyExpired,
    VacancyFilled,
    VacancyPublished,
)
from interlocality.matching.dating.store import forget_student as forget_dating_student
from interlocality.matching.domain import (
    CEFR_RANK,
    LanguageNeed,
    PairEvaluation,
    RequiredSkill,
    StudentEntry,
    VacancyEntry,
    VacancyRules,
    market_languages,
)
from interlocality.matching.index import Candidate, MatchIndex
from interlocality.matching.store import (
    MatchRecord,
    company_export_markets,
    delete_student,
    load_index,
    matches_of_student,
    matches_of_vacancy,
    open_vacancies_of_company,
    save_company,
    save_student,
    save_vacancy,
    vacancy_entry,
)

__all__ = [
    "explanation_of",
    "match_found",
    "missing_nice_to_have",
    "register_kafka_handlers",
    "student_entry_of",
    "vacancy_entry_of",
]

WithdrawReason = Literal["vacancy_closed", "student_erased", "consent_withdrawn", "no_longer_fits"]
VacancyEndEvent = VacancyClosed | VacancyFilled | VacancyExpired
# Moving within a student's best matches is worth telling them; below that it is noise.
RANKED_PLACES = 10


def student_entry_of(profile: StudentProfile) -> StudentEntry:
    """Matching's entry for a student snapshot."""
    permitted = profile.permitted_work
    limited = permitted is not None and not permitted.unrestricted
    return StudentEntry(
        id=profile.student_id,
        version=profile.version,
        skills={skill.uri: skill.level for skill in profile.skills},
        languages={lang.code: CEFR_RANK[lang.level] for lang in profile.languages},
        engagement_kinds=frozenset(profile.engagement_kinds),
        hours_per_week=profile.hours_per_week,
        available_from=profile.available_from,
        available_until=profile.available_until,
        preferred_locations=frozenset(p.strip().lower() for p in profile.preferred_locations),
        remote=profile.remote,
        study_field=profile.study_field,
        permitted_hours=permitted.hours_per_week_term if limited and permitted else None,
        permit_country=permitted.country if permitted else "",
        curricular_exempt=permitted.curricular_internships_exempt if permitted else True,
    )


def vacancy_entry_of(vacancy: Vacancy, export_languages: frozenset[str]) -> VacancyEntry:
    """Matching's entry for a vacancy snapshot."""
    return VacancyEntry(
        id=vacancy.vacancy_id,
        version=vacancy.version,
        company_id=vacancy.company_id,
        title=vacancy.title,
        kind=vacancy.kind,
        status=vacancy.status,
        required=tuple(RequiredSkill(s.uri, s.min_level) for s in vacancy.required_skills),
        nice=tuple(RequiredSkill(s.uri, s.min_level) for s in vacancy.nice_to_have_skills),
        languages=tuple(
            LanguageNeed(n.code, CEFR_RANK[n.min_level], n.required) for n in vacancy.languages
        ),
        hours_per_week=vacancy.hours_per_week,
        start_date=vacancy.start_date,
        location=vacancy.location,
        remote=vacancy.remote,
        curricular=vacancy.curricular,
        export_languages=export_languages,
    )


def explanation_of(evaluation: PairEvaluation) -> MatchExplanation:
    """The wire explanation of an evaluated pair."""
    return MatchExplanation(
        skills=[
            SkillCoverage(
                uri=s.uri,
                required=s.required,
                min_level=s.min_level,
                via=s.via,
                relation=s.relation,
                level=s.level,
                credit=round(s.credit, 4),
            )
            for s in evaluation.skills
        ],
        ignored_skills=list(evaluation.ignored_skills),
        languages=[
            LanguageCheck(code=x.code, needed=x.needed, has=x.has, required=x.required, met=x.met)
            for x in evaluation.languages
        ],
        conditions=[
            ConditionCheck(name=c.name, met=c.met, detail=c.detail) for c in evaluation.conditions
        ],
        permit=evaluation.permit,
        components=ScoreComponents(
            coverage=evaluation.coverage,
            language_bonus=evaluation.language_bonus,
            location=evaluation.location,
            hours=evaluation.hours,
            field=evaluation.field,
            fit=round(evaluation.fit, 4),
        ),
    )


def missing_nice_to_have(explanation: MatchExplanation | None) -> list[str]:
    """The nice-to-have skills an explained match leaves uncovered (its stored explanation
    says so for every match, also those found before matches said it apart)."""
    if explanation is None:
        return []
    return [s.uri for s in explanation.skills if not s.required and s.via is None]


def _match_of(
    record: MatchRecord | dict[str, Any], explanation: MatchExplanation | None = None
) -> Match:
    values = record if isinstance(record, dict) else record.model_dump()
    if explanation is None and values["explanation"]:
        explanation = MatchExplanation.model_validate(values["explanation"])
    return Match(
        student_id=values["student_id"],
        vacancy_id=values["vacancy_id"],
        company_id=values["company_id"],
        vacancy_title=values["vacancy_title"],
        score=values["score"],
        matched_skills=values["matched_skills"],
        missing_skills=values["missing_skills"],
        missing_nice_to_have=missing_nice_to_have(explanation),
        permit_flag=values["permit_flag"],
        explanation=explanation,
    )


def match_found(
    runtime: ServiceRuntime,
    record: MatchRecord | dict[str, Any],
    explanation: MatchExplanation | None = None,
) -> MatchFound:
    """The ``MatchFound`` event of a stored match (same id for the same basis)."""
    match = _match_of(record, explanation)
    basis = record["found_basis"] if isinstance(record, dict) else record.found_basis
    return runtime.event(
        MatchFound,
        subject=match.student_id,
        data=match,
        version=f"{match.vacancy_id}|{basis}",
    )


def _permit_caution(evaluation: PairEvaluation) -> str | None:
    return "; ".join(evaluation.cautions) or None


def register_kafka_handlers(runtime: ServiceRuntime, index: MatchIndex) -> None:
    """Subscribe matching to the students, companies and vacancies topics."""
    step = runtime.settings.match_update_step
    per_student = runtime.settings.match_limit_per_student
    per_vacancy = runtime.settings.match_limit_per_vacancy

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
        existing: Sequence[MatchRecord],
        candidates: Sequence[Candidate],
        *,
        student_ranks: bool,
    ) -> None:
        """Bring the stored matches of one student or vacancy in line with the engine."""
        current = {(m.student_id, m.vacancy_id): m for m in existing}
        before = _places(existing) if student_ranks else {}
        after = _places(candidates) if student_ranks else {}
        seen: set[tuple[str, str]] = set()
        now = datetime.now(UTC)
        # New matches, the common case, are written in one statement with their events.
        new_rows: list[dict[str, Any]] = []
        found: list[CloudEvent[Any]] = []
        # A vacancy's side of the evaluation, worked out once for all its candidates
        vacancy_rules: dict[str, VacancyRules] = {}
        for candidate in candidates:
            student = index.students[candidate.student_id]
            vacancy = index.vacancies[candidate.vacancy_id]
            key = (student.id, vacancy.id)
            seen.add(key)
            rules = vacancy_rules.get(vacancy.id)
            if rules is None:
                rules = vacancy_rules[vacancy.id] = VacancyRules(vacancy, index.graph)
            evaluation = rules.evaluate(student)
            explained = explanation_of(evaluation)
            explanation = explained.model_dump(mode="json")
            matched = [s.uri for s in evaluation.matched]
            record = current.get(key)
            if record is None:
                row = {
                    "student_id": student.id,
                    "vacancy_id": vacancy.id,
                    "company_id": vacancy.company_id,
                    "vacancy_title": vacancy.title,
                    "score": evaluation.score,
                    "matched_skills": matched,
                    "missing_skills": list(evaluation.missing_required),
                    "permit_flag": _permit_caution(evaluation),
                    "explanation": explanation,
                    "found_basis": f"{student.version}.{vacancy.version}",
                    "updated_at": now,
                }
                new_rows.append(row)
                found.append(match_found(runtime, row, explained))
                continue
            if record.explanation == explanation and record.vacancy_title == vacancy.title:
                continue  # a replayed or unrelated change: nothing to say
            moved = abs(record.score - evaluation.score) > step
            placed = before.get(key) != after.get(key)
            record.score = evaluation.score
            record.matched_skills = matched
            record.missing_skills = list(evaluation.missing_required)
            record.permit_flag = _permit_caution(evaluation)
            record.explanation = explanation
            record.vacancy_title = vacancy.title
            record.updated_at = now
            session.add(record)
            if moved or placed:
                runtime.emit(
                    session,
                    runtime.event(
                        MatchUpdated,
                        subject=record.student_id,
                        data=_match_of(record),
                        version=f"{vacancy.id}|{student.version}.{vacancy.version}|updated",
                    ),
                )
        if new_rows:
            insert_rows(session, MatchRecord, new_rows)
            runtime.emit_many(session, found)
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
        entry = student_entry_of(profile)
        save_student(session, entry)
        view.put_student(entry)
        # Matches exist only for students in the view: a newcomer has none to look up.
        existing = matches_of_student(session, entry.id) if known is not None else []
        found = view.match_student(entry, limit=per_student)
        reconcile(session, existing, found, student_ranks=True)

    def forget_student(session: Session, student_id: str, reason: WithdrawReason) -> None:
        withdraw(session, matches_of_student(session, student_id), reason)
        delete_student(session, student_id)
        forget_dating_student(session, student_id)
        index.remove_student(student_id)

    def on_student_erased(event: StudentProfileErased, session: Session) -> None:
        fresh(session)
        forget_student(session, event.data.student_id, "student_erased")

    def rescore_vacancy(session: Session, entry: VacancyEntry) -> None:
        save_vacancy(session, entry)
        index.put_vacancy(entry)
        existing = matches_of_vacancy(session, entry.id)
        if not entry.open:
            withdraw(session, existing, "vacancy_closed")
            return
        found = index.match_vacancy(entry, limit=per_vacancy)
        reconcile(session, existing, found, student_ranks=False)

    def on_vacancy_changed(event: VacancyPublished | VacancyEndEvent, session: Session) -> None:
        vacancy = event.data
        known = fresh(session).vacancies.get(vacancy.vacancy_id)
        if known is not None and known.version >= vacancy.version:
            return
        languages = market_languages(company_export_markets(session, vacancy.company_id))
        rescore_vacancy(session, vacancy_entry_of(vacancy, languages))

    def on_company_registered(event: CompanyRegistered, session: Session) -> None:
        company = event.data
        fresh(session)
        save_company(session, company.company_id, company.export_markets)
        languages = market_languages(company.export_markets)
        for row in open_vacancies_of_company(session, company.company_id):
            entry = vacancy_entry(row, languages)
            if entry.export_languages != index.vacancies.get(entry.id, entry).export_languages:
                rescore_vacancy(session, entry)

    def holding_the_view(handler: Callable[[Any, Session], None]) -> Callable[[Any, Session], None]:
        def locked(event: Any, session: Session) -> None:
            with index.lock:
                handler(event, session)

        return locked

    runtime.consume(
        STUDENTS,
        {
            StudentProfileUpserted: holding_the_view(on_student_upserted),
            StudentProfileErased: holding_the_view(on_student_erased),
        },
        after_rollback=mark_stale,
    )
    runtime.consume(
        COMPANIES,
        {CompanyRegistered: holding_the_view(on_company_registered)},
        after_rollback=mark_stale,
    )
    on_vacancy = holding_the_view(on_vacancy_changed)
    runtime.consume(
        VACANCIES,
        {
            VacancyPublished: on_vacancy,
            VacancyClosed: on_vacancy,
            VacancyFilled: on_vacancy,
            VacancyExpired: on_vacancy,
        },
        after_rollback=mark_stale,
    )


def _places(matches: Sequence[MatchRecord] | Sequence[Candidate]) -> dict[tuple[str, str], int]:
    """The place of each of one student's best matches (1 = best)."""
    pairs = [(m.score, m.student_id, m.vacancy_id) for m in matches]
    ordered = sorted(pairs, key=lambda m: (-m[0], m[2]))[:RANKED_PLACES]
    return {(s, v): place for place, (_, s, v) in enumerate(ordered, start=1)}
