"""Writes of the matching service: its view of students, vacancies and companies, and the
matches that view holds, each change stored with the events it causes in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from interlocality.common.db import insert_rows
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.companies import Company
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.matches import MatchFound
from interlocality.contracts.students import StudentProfile
from interlocality.contracts.vacancies import Vacancy
from interlocality.matching.dating.store import forget_student as forget_dating_student
from interlocality.matching.domain import (
    PairEvaluation,
    VacancyEntry,
    VacancyRules,
    market_languages,
    student_entry_of,
    vacancy_entry_of,
)
from interlocality.matching.events import (
    WithdrawReason,
    explanation_of,
    match_found,
    match_updated,
    match_withdrawn,
)
from interlocality.matching.index import Candidate, MatchIndex
from interlocality.matching.store import (
    MatchRecord,
    StudentView,
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

__all__ = ["RANKED_PLACES", "MatchingService"]

# Moving within a student's best matches is worth telling them; below that it is noise.
RANKED_PLACES = 10


class MatchingService:
    """Applies the snapshots of students, vacancies and companies, and reconciles matches.

    The index is the fast in-memory copy of the stored view: every use case holds its lock
    (requests read it meanwhile) and reloads it first when a rolled-back transaction left
    it stale (:meth:`mark_stale`). Use cases run in the Kafka consumer's ``session``.
    """

    def __init__(self, runtime: ServiceRuntime, index: MatchIndex) -> None:
        self.runtime = runtime
        self.index = index
        self.update_step = runtime.settings.match_update_step
        self.per_student = runtime.settings.match_limit_per_student
        self.per_vacancy = runtime.settings.match_limit_per_vacancy

    # -- the view ---------------------------------------------------------------------

    def load_view(self) -> None:
        """Fill the index from the stored view (at start)."""
        with self.runtime.reading() as session, self.index.lock:
            load_index(session, self.index)

    def mark_stale(self) -> None:
        """Have the index reloaded before its next use: its changes were rolled back."""
        self.index.stale = True

    def _fresh(self, session: Session) -> MatchIndex:
        if self.index.stale:
            load_index(session, self.index)
        return self.index

    # -- use cases --------------------------------------------------------------------

    def apply_student(self, session: Session, profile: StudentProfile) -> None:
        """Take a student's snapshot into the view and reconcile their matches."""
        with self.index.lock:
            view = self._fresh(session)
            known = view.students.get(profile.student_id)
            if known is not None and known.version >= profile.version:
                return  # an older snapshot arriving late changes nothing
            if not profile.consents.matching.granted:
                # Without consent to matching the view must not hold the student at all.
                self._forget_student(session, profile.student_id, "consent_withdrawn")
                return
            entry = student_entry_of(profile)
            save_student(session, entry)
            view.put_student(entry)
            # Matches exist only for students in the view: a newcomer has none to look up.
            existing = matches_of_student(session, entry.id) if known is not None else []
            found = view.match_student(entry, limit=self.per_student)
            self.reconcile(session, existing, found, student_ranks=True)

    def erase_student(self, session: Session, student_id: str) -> None:
        """Forget an erased student and withdraw their matches; the outbox keeps nothing
        staged about them before."""
        self.runtime.forget_in_outbox(session, student_id)
        with self.index.lock:
            self._fresh(session)
            self._forget_student(session, student_id, "student_erased")

    def apply_vacancy(self, session: Session, vacancy: Vacancy) -> None:
        """Take a vacancy's snapshot into the view and reconcile its matches (all withdrawn
        once it is no longer open)."""
        with self.index.lock:
            known = self._fresh(session).vacancies.get(vacancy.vacancy_id)
            if known is not None and known.version >= vacancy.version:
                return
            languages = market_languages(company_export_markets(session, vacancy.company_id))
            self._rescore_vacancy(session, vacancy_entry_of(vacancy, languages))

    def apply_company(self, session: Session, company: Company) -> None:
        """Keep a company's export markets; its open vacancies are scored again where that
        changes the languages counting in a student's favour."""
        with self.index.lock:
            self._fresh(session)
            save_company(session, company.company_id, company.export_markets)
            languages = market_languages(company.export_markets)
            for row in open_vacancies_of_company(session, company.company_id):
                entry = vacancy_entry(row, languages)
                known = self.index.vacancies.get(entry.id, entry)
                if entry.export_languages != known.export_languages:
                    self._rescore_vacancy(session, entry)

    def reconcile(
        self,
        session: Session,
        existing: Sequence[MatchRecord],
        candidates: Sequence[Candidate],
        *,
        student_ranks: bool,
    ) -> None:
        """Bring the stored matches of one student or vacancy in line with the index's
        ``candidates``: new ones are found, changed ones updated (told when the score moves
        by more than the update step or the place among a student's best changes), the rest
        withdrawn."""
        index = self.index
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
            basis = f"{student.version}.{vacancy.version}"
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
                    "found_basis": basis,
                    "updated_at": now,
                }
                new_rows.append(row)
                found.append(match_found(self.runtime, row, explained))
                continue
            if record.explanation == explanation and record.vacancy_title == vacancy.title:
                continue  # a replayed or unrelated change: nothing to say
            moved = abs(record.score - evaluation.score) > self.update_step
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
                self.runtime.emit(session, match_updated(self.runtime, record, basis))
        if new_rows:
            insert_rows(session, MatchRecord, new_rows)
            self.runtime.emit_many(session, found)
        self.withdraw(session, [m for k, m in current.items() if k not in seen], "no_longer_fits")

    def withdraw(
        self, session: Session, records: Iterable[MatchRecord], reason: WithdrawReason
    ) -> None:
        """Delete matches and tell why they are gone."""
        for record in records:
            session.delete(record)
            self.runtime.emit(session, match_withdrawn(self.runtime, record, reason))

    def _forget_student(self, session: Session, student_id: str, reason: WithdrawReason) -> None:
        self.withdraw(session, matches_of_student(session, student_id), reason)
        delete_student(session, student_id)
        forget_dating_student(session, student_id)
        self.index.remove_student(student_id)

    def _rescore_vacancy(self, session: Session, entry: VacancyEntry) -> None:
        save_vacancy(session, entry)
        self.index.put_vacancy(entry)
        existing = matches_of_vacancy(session, entry.id)
        if not entry.open:
            self.withdraw(session, existing, "vacancy_closed")
            return
        found = self.index.match_vacancy(entry, limit=self.per_vacancy)
        self.reconcile(session, existing, found, student_ranks=False)

    # -- what the runtime asks of the service -----------------------------------------

    def current_matches(self, session: Session) -> Iterator[MatchFound]:
        """Every stored match as its ``MatchFound`` event (for a replay)."""
        for record in session.exec(select(MatchRecord)):
            yield match_found(self.runtime, record)

    def personal_data(self, session: Session, student_id: str) -> dict[str, Any]:
        """What matching holds of a student."""
        view = session.get(StudentView, student_id)
        return {
            "skills": view.entry.get("skills") if view else None,
            "view": view.entry if view else None,
            "matches": [m.model_dump(mode="json") for m in matches_of_student(session, student_id)],
        }


def _permit_caution(evaluation: PairEvaluation) -> str | None:
    return "; ".join(evaluation.cautions) or None


def _places(matches: Sequence[MatchRecord] | Sequence[Candidate]) -> dict[tuple[str, str], int]:
    """The place of each of one student's best matches (1 = best)."""
    pairs = [(m.score, m.student_id, m.vacancy_id) for m in matches]
    ordered = sorted(pairs, key=lambda m: (-m[0], m[2]))[:RANKED_PLACES]
    return {(s, v): place for place, (_, s, v) in enumerate(ordered, start=1)}
