"""Matching's in-memory view: students and vacancies with skill indexes (no I/O).

The database holds the same entries and is the source of truth; this view answers "which
vacancies share a skill with this student" (and the reverse) without a query per event.
After a rollback the view is marked stale and reloaded from the database before use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from interlocality.matching.domain import RequiredSkill

__all__ = ["MatchIndex", "StudentEntry", "VacancyEntry"]


@dataclass(frozen=True)
class StudentEntry:
    """What matching knows of a student who consents to matching (no contact data)."""

    id: str
    version: int
    skills: Mapping[str, int]
    engagement_kinds: tuple[str, ...] = ()
    permitted_hours: float | None = None
    permit_country: str = ""


@dataclass(frozen=True)
class VacancyEntry:
    """What matching knows of a vacancy."""

    id: str
    version: int
    company_id: str
    title: str
    kind: str
    status: str
    required: tuple[RequiredSkill, ...] = ()
    hours_per_week: int | None = None

    @property
    def open(self) -> bool:
        """Whether the vacancy takes matches."""
        return self.status == "open"


class MatchIndex:
    """Students and vacancies by id, and who has or needs each skill."""

    def __init__(self) -> None:
        self.students: dict[str, StudentEntry] = {}
        self.vacancies: dict[str, VacancyEntry] = {}
        self._students_by_skill: dict[str, set[str]] = {}
        self._open_vacancies_by_skill: dict[str, set[str]] = {}
        self.stale = True

    def load(self, students: Iterable[StudentEntry], vacancies: Iterable[VacancyEntry]) -> None:
        """Replace everything with ``students`` and ``vacancies``; the view is fresh again."""
        self.students.clear()
        self.vacancies.clear()
        self._students_by_skill.clear()
        self._open_vacancies_by_skill.clear()
        for student in students:
            self.put_student(student)
        for vacancy in vacancies:
            self.put_vacancy(vacancy)
        self.stale = False

    def put_student(self, entry: StudentEntry) -> None:
        """Add or replace a student."""
        self.remove_student(entry.id)
        self.students[entry.id] = entry
        for uri in entry.skills:
            self._students_by_skill.setdefault(uri, set()).add(entry.id)

    def remove_student(self, student_id: str) -> None:
        """Forget a student (no-op when unknown)."""
        old = self.students.pop(student_id, None)
        if old is not None:
            _unindex(self._students_by_skill, student_id, old.skills)

    def put_vacancy(self, entry: VacancyEntry) -> None:
        """Add or replace a vacancy; only open ones are found by skill."""
        old = self.vacancies.get(entry.id)
        if old is not None:
            _unindex(self._open_vacancies_by_skill, entry.id, (s.uri for s in old.required))
        self.vacancies[entry.id] = entry
        if entry.open:
            for skill in entry.required:
                self._open_vacancies_by_skill.setdefault(skill.uri, set()).add(entry.id)

    def open_vacancies_sharing(self, uris: Iterable[str]) -> list[VacancyEntry]:
        """Open vacancies requiring at least one of ``uris``, in a stable order."""
        found: set[str] = set()
        for uri in uris:
            found |= self._open_vacancies_by_skill.get(uri, set())
        return [self.vacancies[vacancy_id] for vacancy_id in sorted(found)]

    def students_sharing(self, uris: Iterable[str]) -> list[StudentEntry]:
        """Students having at least one of ``uris``, in a stable order."""
        found: set[str] = set()
        for uri in uris:
            found |= self._students_by_skill.get(uri, set())
        return [self.students[student_id] for student_id in sorted(found)]


def _unindex(index: dict[str, set[str]], owner: str, uris: Iterable[str]) -> None:
    for uri in uris:
        owners = index.get(uri)
        if owners is not None:
            owners.discard(owner)
            if not owners:
                del index[uri]
