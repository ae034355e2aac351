"""Matching's in-memory view, scored many pairs at a time with numpy (no I/O).

Students and vacancies live in column arrays (one row each) and in postings per skill:
"which students have this skill, at which level" and "which vacancies ask for it, at
which minimum". Scoring a vacancy against every student, or a student against every
vacancy, touches only the postings of the skills involved and applies the hard conditions
and the fit to those candidates as array operations; the numbers are those of
:func:`~interlocality.matching.domain.evaluate_pair`, which then explains the few pairs
that are kept. The database holds the same entries and is the source of truth: after a
rollback the view is marked stale and reloaded.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from interlocality.common.esco_relations import RELATED_CREDIT, SkillGraph, field_closeness
from interlocality.matching.domain import (
    BONUS_LEVEL,
    COVERAGE_WEIGHT,
    FIT_WEIGHT,
    FOCUS_PRIOR,
    FOCUS_PRIOR_SKILLS,
    FOCUS_WEIGHT,
    LANGUAGE_BONUS,
    LEVEL_SHORTFALL,
    MAX_LANGUAGE_BONUS,
    NEUTRAL_FIELD_FIT,
    NICE_WEIGHT,
    OTHER_REMOTE_MODE_FIT,
    REQUIRED_WEIGHT,
    StudentEntry,
    Topic,
    VacancyEntry,
    needs_permit_check,
    vacancy_topic,
)

__all__ = ["Candidate", "MatchIndex"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
KINDS = ("internship", "thesis", "student_job", "graduate_job", "company_project")
REMOTE = {None: 0, "on_site": 1, "hybrid": 2, "remote": 3}
NO_DAY = np.iinfo(np.int32).max


@dataclass(frozen=True)
class Candidate:
    """A pair that meets every hard condition, with its score."""

    student_id: str
    vacancy_id: str
    score: float


class _Postings:
    """Owners of each skill and their numbers, as arrays rebuilt only when changed."""

    def __init__(self) -> None:
        self._owners: dict[str, dict[int, float]] = {}
        self._arrays: dict[str, tuple[Ints, Floats]] = {}

    def add(self, uri: str, row: int, value: float) -> None:
        self._owners.setdefault(uri, {})[row] = value
        self._arrays.pop(uri, None)

    def add_all(self, row: int, values: Iterable[tuple[str, float]]) -> None:
        """:meth:`add` of many skills of one row."""
        owners, arrays = self._owners, self._arrays
        for uri, value in values:
            owners.setdefault(uri, {})[row] = value
            arrays.pop(uri, None)

    def remove(self, uri: str, row: int) -> None:
        owners = self._owners.get(uri)
        if owners is not None and owners.pop(row, None) is not None:
            self._arrays.pop(uri, None)
            if not owners:
                del self._owners[uri]

    def arrays(self, uri: str) -> tuple[Ints, Floats] | None:
        found = self._arrays.get(uri)
        if found is None:
            owners = self._owners.get(uri)
            if not owners:
                return None
            found = (
                np.fromiter(owners.keys(), dtype=np.int64, count=len(owners)),
                np.fromiter(owners.values(), dtype=np.float64, count=len(owners)),
            )
            self._arrays[uri] = found
        return found

    def clear(self) -> None:
        self._owners.clear()
        self._arrays.clear()


class _Rows:
    """Row numbers for ids, reusing the rows of removed entries."""

    def __init__(self) -> None:
        self.of: dict[str, int] = {}
        self.ids: list[str | None] = []
        self._free: list[int] = []

    def take(self, entry_id: str) -> int:
        if entry_id in self.of:
            return self.of[entry_id]
        if self._free:
            row = heapq.heappop(self._free)
            self.ids[row] = entry_id
        else:
            row = len(self.ids)
            self.ids.append(entry_id)
        self.of[entry_id] = row
        return row

    def release(self, entry_id: str) -> int | None:
        row = self.of.pop(entry_id, None)
        if row is not None:
            self.ids[row] = None
            heapq.heappush(self._free, row)
        return row

    def clear(self) -> None:
        self.of.clear()
        self.ids.clear()
        self._free.clear()


class _Columns:
    """Growable numpy columns and language tables (rows × languages), one row per entry."""

    def __init__(
        self, columns: dict[str, tuple[type, float]], tables: tuple[str, ...] = ()
    ) -> None:
        self._spec = columns
        self._tables = tables
        self.capacity = 0
        self.width = 8
        self.data: dict[str, npt.NDArray[Any]] = {}
        self._resize(256, self.width)

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        return self.data[name]

    def ensure(self, row: int) -> None:
        if row >= self.capacity:
            self._resize(max(self.capacity * 2, row + 1), self.width)

    def widen(self, width: int) -> None:
        if width > self.width:
            self._resize(self.capacity, max(self.width * 2, width))

    def _resize(self, capacity: int, width: int) -> None:
        rows = min(self.capacity, capacity)
        for name, (dtype, fill) in self._spec.items():
            fresh: npt.NDArray[Any] = np.full(capacity, fill, dtype=dtype)
            if name in self.data:
                fresh[:rows] = self.data[name][:rows]
            self.data[name] = fresh
        for name in self._tables:
            table = np.zeros((capacity, width), dtype=np.int8)
            if name in self.data:
                table[:rows, : self.width] = self.data[name][:rows]
            self.data[name] = table
        self.capacity, self.width = capacity, width


def _level_credit(levels: Floats | float, reach: Floats | float) -> Floats:
    """:func:`~interlocality.matching.domain.level_credit` of many levels at once."""
    return 1.0 - LEVEL_SHORTFALL * (1.0 - np.minimum(1.0, levels / reach))


def _score(coverage: Floats, focus: Floats, fit: Floats) -> Floats:
    """The score of many pairs from their parts, as :func:`evaluate_pair` rounds it."""
    return np.round(coverage**COVERAGE_WEIGHT * focus**FOCUS_WEIGHT * fit**FIT_WEIGHT, 4)


def _with_prior(on: Floats, total: Floats | float, graph: SkillGraph) -> Floats:
    """:func:`~interlocality.matching.domain.with_prior` of many pairs at once."""
    prior = FOCUS_PRIOR_SKILLS * graph.typical_specificity
    return (on + FOCUS_PRIOR * prior) / (total + prior)


def _best(rows: Ints, scores: Floats, minimum: float, limit: int | None) -> tuple[Ints, Floats]:
    """The rows scoring at least ``minimum``; with a limit, only the best ``limit`` of them
    and any tied with the last (the caller orders ties by id)."""
    keep = scores >= minimum
    rows, scores = rows[keep], scores[keep]
    if limit is not None and scores.size > limit:
        cut = np.partition(scores, scores.size - limit)[scores.size - limit]
        best = scores >= cut
        rows, scores = rows[best], scores[best]
    return rows, scores


class MatchIndex:
    """Students and vacancies, scored against each other in bulk."""

    def __init__(self, graph: SkillGraph, min_score: float = 0.0) -> None:
        self.graph = graph
        self.min_score = min_score
        self.students: dict[str, StudentEntry] = {}
        self.vacancies: dict[str, VacancyEntry] = {}
        self.stale = True
        # The consumer changes the view while requests read it: both hold this lock.
        self.lock = threading.RLock()
        self._student_rows = _Rows()
        self._vacancy_rows = _Rows()
        self._student_skills = _Postings()
        self._required_by = _Postings()  # skill → vacancy row → minimum level
        self._nice_by = _Postings()
        self._topic_by = _Postings()  # skill → vacancy row → how far it is on its topic
        self._languages: dict[str, int] = {}
        self._fields: dict[str | None, int] = {None: 0}
        self._locations: dict[str, set[int]] = {}
        self._place_numbers: dict[str, int] = {}
        self._place_arrays: dict[str, Ints] = {}
        self._s = _Columns(
            {
                "alive": (np.bool_, 0),
                "kinds": (np.uint8, 0),
                "hours": (np.int16, 0),
                "from": (np.int32, 0),
                "until": (np.int32, NO_DAY),
                "remote": (np.int8, 0),
                "anywhere": (np.bool_, 1),
                "field": (np.int32, 0),
                "permitted": (np.float64, np.inf),
                "exempt": (np.bool_, 1),
                "specificity": (np.float64, 0),  # of the student's skills, summed
            },
            tables=("speaks",),
        )
        self._v = _Columns(
            {
                "weight": (np.float64, 0),
                "kind": (np.uint8, 0),
                "hours": (np.int16, 0),
                "counts": (np.bool_, 0),
                "counts_exempt": (np.bool_, 0),
                "start": (np.int32, 0),
                "remote": (np.int8, 0),
                "location": (np.int32, 0),
            },
            tables=("needs", "bonus"),
        )
        self._field_sets: dict[tuple[str, ...], int] = {}
        self._vacancy_fields = _Postings()  # field set → vacancy row → how many skills
        self._field_fits: dict[str | None, Floats] = {}

    # -- columns ---------------------------------------------------------------------

    def _language_column(self, code: str) -> int:
        column = self._languages.get(code)
        if column is None:
            column = len(self._languages)
            self._languages[code] = column
            for columns in (self._s, self._v):
                columns.widen(column + 1)
        return column

    def _location_number(self, place: str) -> int:
        return self._place_numbers.setdefault(place, len(self._place_numbers) + 1)

    # -- changes ---------------------------------------------------------------------

    def company_of(self, vacancy_id: str) -> str | None:
        """The company offering ``vacancy_id``; None for a vacancy not held."""
        with self.lock:
            vacancy = self.vacancies.get(vacancy_id)
        return vacancy.company_id if vacancy is not None else None

    def load(self, students: Iterable[StudentEntry], vacancies: Iterable[VacancyEntry]) -> None:
        """Replace everything with ``students`` and ``vacancies``; the view is fresh again."""
        for rows in (self._student_rows, self._vacancy_rows):
            rows.clear()
        for postings in (
            self._student_skills,
            self._required_by,
            self._nice_by,
            self._topic_by,
            self._vacancy_fields,
        ):
            postings.clear()
        self._field_sets.clear()
        self._field_fits.clear()
        self.students.clear()
        self.vacancies.clear()
        self._locations.clear()
        self._place_arrays.clear()
        self._s["alive"][:] = False
        for student in students:
            self.put_student(student)
        for vacancy in vacancies:
            self.put_vacancy(vacancy)
        self.stale = False

    def put_student(self, entry: StudentEntry) -> None:
        """Add or replace a student."""
        self.remove_student(entry.id)
        row = self._student_rows.take(entry.id)
        self._s.ensure(row)
        self.students[entry.id] = entry
        self._s["alive"][row] = True
        self._s["kinds"][row] = sum(
            1 << KINDS.index(k) for k in entry.engagement_kinds if k in KINDS
        )
        self._s["hours"][row] = entry.hours_per_week or 0
        self._s["from"][row] = entry.available_from.toordinal() if entry.available_from else 0
        self._s["until"][row] = (
            entry.available_until.toordinal() if entry.available_until else NO_DAY
        )
        self._s["remote"][row] = REMOTE.get(entry.remote, 0)
        self._s["anywhere"][row] = not entry.preferred_locations
        for place in entry.preferred_locations:
            self._locations.setdefault(place, set()).add(row)
            self._place_arrays.pop(place, None)
        self._s["field"][row] = self._fields.setdefault(entry.study_field, len(self._fields))
        self._s["permitted"][row] = (
            np.inf if entry.permitted_hours is None else float(entry.permitted_hours)
        )
        self._s["exempt"][row] = entry.curricular_exempt
        self._s["speaks"][row] = 0
        for code, rank in entry.languages.items():
            column = self._language_column(code)  # may widen the table: look it up after
            self._s["speaks"][row, column] = rank
        self._student_skills.add_all(row, entry.skills.items())
        self._s["specificity"][row] = self.graph.total_specificity(entry.skills)

    def remove_student(self, student_id: str) -> None:
        """Forget a student (no-op when unknown)."""
        old = self.students.pop(student_id, None)
        if old is None:
            return
        row = self._student_rows.release(student_id)
        assert row is not None
        self._s["alive"][row] = False
        for uri in old.skills:
            self._student_skills.remove(uri, row)
        for place in old.preferred_locations:
            self._locations.get(place, set()).discard(row)
            self._place_arrays.pop(place, None)

    def put_vacancy(self, entry: VacancyEntry) -> None:
        """Add or replace a vacancy; only open ones are found by students."""
        self.remove_vacancy(entry.id)
        self.vacancies[entry.id] = entry
        if not entry.open:
            return
        row = self._vacancy_rows.take(entry.id)
        self._v.ensure(row)
        required = [s for s in entry.required if s.uri in self.graph]
        nice = [s for s in entry.nice if s.uri in self.graph]
        self._v["weight"][row] = self._weight_of(required, nice)
        self._v["kind"][row] = KINDS.index(entry.kind) if entry.kind in KINDS else 0
        self._v["hours"][row] = entry.hours_per_week or 0
        self._v["counts"][row] = needs_permit_check(entry.kind, entry.curricular, False)
        self._v["counts_exempt"][row] = needs_permit_check(entry.kind, entry.curricular, True)
        self._v["start"][row] = entry.start_date.toordinal() if entry.start_date else 0
        self._v["remote"][row] = REMOTE.get(entry.remote, 0)
        self._v["location"][row] = (
            self._location_number(entry.location.lower()) if entry.location else 0
        )
        self._v["needs"][row] = 0
        self._v["bonus"][row] = 0
        for need in entry.languages:
            column = self._language_column(need.code)  # may widen the tables: index after
            if need.required:
                self._v["needs"][row, column] = need.min_rank
            else:
                self._v["bonus"][row, column] = 1
        for code in entry.export_languages:
            column = self._language_column(code)
            self._v["bonus"][row, column] = 1
        for skill in required:
            self._required_by.add(skill.uri, row, float(skill.min_level))
        for skill in nice:
            self._nice_by.add(skill.uri, row, float(skill.min_level))
        self._topic_by.add_all(row, self._topic_of(entry).weighted.items())
        counted: dict[int, int] = {}
        for skill in (*required, *nice):
            fields = self.graph.fields(skill.uri)
            if fields:
                number = self._field_sets.setdefault(fields, len(self._field_sets))
                counted[number] = counted.get(number, 0) + 1
        for number, count in counted.items():
            self._vacancy_fields.add(str(number), row, float(count))
        self._field_fits.clear()

    def _weight_of(self, required: Iterable[Any], nice: Iterable[Any]) -> float:
        """A vacancy's skills weighed as coverage weighs them (in the same order)."""
        graph = self.graph
        return sum(
            [REQUIRED_WEIGHT * graph.specificity(s.uri) for s in required]
            + [NICE_WEIGHT * graph.specificity(s.uri) for s in nice]
        )

    def _topic_of(self, entry: VacancyEntry) -> Topic:
        graph = self.graph
        return vacancy_topic(
            graph,
            tuple(s.uri for s in entry.required if s.uri in graph),
            tuple(s.uri for s in entry.nice if s.uri in graph),
        )

    def _field_set_numbers(self, entry: VacancyEntry) -> set[int]:
        """The numbers of the field sets of ``entry``'s skills."""
        sets = (self.graph.fields(s.uri) for s in (*entry.required, *entry.nice))
        return {self._field_sets[fields] for fields in sets if fields in self._field_sets}

    def remove_vacancy(self, vacancy_id: str) -> None:
        """Forget a vacancy (no-op when unknown)."""
        old = self.vacancies.pop(vacancy_id, None)
        if old is None:
            return
        row = self._vacancy_rows.release(vacancy_id)
        if row is None:
            return
        self._v["weight"][row] = 0
        for skill in old.required:
            self._required_by.remove(skill.uri, row)
        for skill in old.nice:
            self._nice_by.remove(skill.uri, row)
        for uri in self._topic_of(old).skills:
            self._topic_by.remove(uri, row)
        for number in self._field_set_numbers(old):
            self._vacancy_fields.remove(str(number), row)
        self._field_fits.clear()

    # -- one vacancy against every student -------------------------------------------

    def match_vacancy(
        self, vacancy: VacancyEntry, limit: int | None = None, min_score: float | None = None
    ) -> list[Candidate]:
        """The students ``vacancy`` matches, best first (ties by student id)."""
        minimum = self.min_score if min_score is None else min_score
        if not vacancy.open:
            return []
        size = len(self._student_rows.ids)
        required = [s for s in vacancy.required if s.uri in self.graph]
        nice = [s for s in vacancy.nice if s.uri in self.graph]
        weight = self._weight_of(required, nice)
        if not size or not weight:
            return []
        earned = np.zeros(size)
        for skills, importance in ((required, REQUIRED_WEIGHT), (nice, NICE_WEIGHT)):
            for skill in skills:
                earned += (importance * self.graph.specificity(skill.uri)) * (
                    self._credit_of_students(skill.uri, skill.min_level, size)
                )
        rows = np.flatnonzero(earned)
        if not rows.size:
            return []
        rows = rows[self._s["alive"][rows]]
        rows = rows[self._meets_conditions(rows, vacancy)]
        if not rows.size:
            return []
        coverage = earned[rows] / weight
        bonus_codes = vacancy.export_languages | {
            n.code for n in vacancy.languages if not n.required
        }
        spoken = np.zeros(rows.size)
        for code in bonus_codes:
            column = self._languages.get(code)
            if column is not None:
                spoken += self._s["speaks"][rows, column] >= BONUS_LEVEL
        coverage = np.minimum(
            1.0, coverage + np.minimum(MAX_LANGUAGE_BONUS, LANGUAGE_BONUS * spoken)
        )
        fit = (
            self._location_fit(rows, vacancy.remote)
            + self._hours_fit(self._s["hours"][rows], vacancy.hours_per_week)
            + self._field_fit_of_students(rows, [s.uri for s in (*required, *nice)])
        ) / 3
        scores = _score(coverage, self._focus_of_students(rows, vacancy, size), fit)
        rows, scores = _best(rows, scores, minimum, limit)
        ids = self._student_rows.ids
        return self._ranked(
            [(str(ids[r]), vacancy.id, s) for r, s in zip(rows, scores, strict=True)],
            limit,
            by_student=True,
        )

    def eligible(self, vacancy: VacancyEntry) -> list[str]:
        """The students meeting every hard condition of ``vacancy``, whatever their skills
        (in row order)."""
        if not vacancy.open:
            return []
        rows = np.flatnonzero(self._s["alive"][: len(self._student_rows.ids)])
        rows = rows[self._meets_conditions(rows, vacancy)]
        ids = self._student_rows.ids
        return [str(ids[row]) for row in rows]

    def _credit_of_students(self, uri: str, min_level: int, size: int) -> Floats:
        credit = np.zeros(size)
        floor = float(max(min_level, 1))
        exact = self._student_skills.arrays(uri)
        if exact is not None:
            rows, levels = exact
            credit[rows] = _level_credit(levels, floor)
        for related in self.graph.related(uri):
            found = self._student_skills.arrays(related.uri)
            if found is None:
                continue
            rows, levels = found
            credit[rows] = np.maximum(credit[rows], related.credit * _level_credit(levels, floor))
        return credit

    def _focus_of_students(self, rows: Ints, vacancy: VacancyEntry, size: int) -> Floats:
        """The focus of the students in ``rows`` on ``vacancy``'s topic."""
        on = np.zeros(size)
        arrays = self._student_skills.arrays
        for uri, weight in self._topic_of(vacancy).weighted.items():
            found = arrays(uri)
            if found is not None:
                on[found[0]] += weight
        return _with_prior(on[rows], self._s["specificity"][rows], self.graph)

    def _meets_conditions(self, rows: Ints, vacancy: VacancyEntry) -> npt.NDArray[np.bool_]:
        ok = (self._s["kinds"][rows] & (1 << KINDS.index(vacancy.kind))) != 0
        for need in vacancy.languages:
            if need.required:
                column = self._languages.get(need.code)
                if column is None:
                    return np.zeros(rows.size, dtype=np.bool_)
                ok &= self._s["speaks"][rows, column] >= need.min_rank
        if vacancy.hours_per_week is not None:
            checked = np.fromiter(
                (
                    needs_permit_check(vacancy.kind, vacancy.curricular, bool(e))
                    for e in (True, False)
                ),
                dtype=np.bool_,
                count=2,
            )
            counts = np.where(self._s["exempt"][rows], checked[0], checked[1])
            ok &= ~counts | (self._s["permitted"][rows] >= vacancy.hours_per_week)
        if vacancy.start_date is not None:
            day = vacancy.start_date.toordinal()
            ok &= (self._s["from"][rows] <= day) & (day <= self._s["until"][rows])
        if vacancy.remote != "remote":
            if vacancy.remote == "on_site":
                ok &= self._s["remote"][rows] != REMOTE["remote"]
            place = vacancy.location.lower()
            if place:
                near = self._s["anywhere"][rows].copy()
                wanted = self._place_rows(place)
                if wanted.size:
                    near |= np.isin(rows, wanted)
                ok &= near
        return ok

    def _place_rows(self, place: str) -> Ints:
        """The rows of students who prefer ``place``, as an array kept until one changes."""
        found = self._place_arrays.get(place)
        if found is None:
            wanted = self._locations.get(place, set())
            found = np.fromiter(wanted, dtype=np.int64, count=len(wanted))
            self._place_arrays[place] = found
        return found

    def _location_fit(self, rows: Ints, vacancy_remote: str | None) -> Floats:
        if vacancy_remote is None:
            return np.ones(rows.size)
        mode = self._s["remote"][rows]
        return np.where((mode == 0) | (mode == REMOTE[vacancy_remote]), 1.0, OTHER_REMOTE_MODE_FIT)

    @staticmethod
    def _hours_fit(student_hours: npt.NDArray[np.int16], vacancy_hours: int | None) -> Floats:
        if not vacancy_hours:
            return np.ones(student_hours.size)
        wanted = student_hours.astype(np.float64)
        known = wanted > 0
        fit = np.ones(student_hours.size)
        fit[known] = 1.0 - np.abs(wanted[known] - vacancy_hours) / np.maximum(
            wanted[known], vacancy_hours
        )
        return fit

    def _field_fit_of_students(self, rows: Ints, uris: list[str]) -> Floats:
        fielded = [self.graph.fields(uri) for uri in uris if self.graph.fields(uri)]
        if not fielded:
            return np.full(rows.size, NEUTRAL_FIELD_FIT)
        by_field = np.full(len(self._fields), NEUTRAL_FIELD_FIT)
        for study_field, number in self._fields.items():
            if study_field:
                by_field[number] = sum(field_closeness(study_field, f) for f in fielded) / len(
                    fielded
                )
        return by_field[self._s["field"][rows]]

    # -- one student against every vacancy -------------------------------------------

    def match_student(
        self, student: StudentEntry, limit: int | None = None, min_score: float | None = None
    ) -> list[Candidate]:
        """The open vacancies ``student`` matches, best first (ties by vacancy id)."""
        minimum = self.min_score if min_score is None else min_score
        size = len(self._vacancy_rows.ids)
        if not size or not student.skills:
            return []
        earned = np.zeros(size)
        offers = self._offers(student)
        for postings, importance in (
            (self._required_by, REQUIRED_WEIGHT),
            (self._nice_by, NICE_WEIGHT),
        ):
            for uri, worth in offers.items():
                found = postings.arrays(uri)
                if found is None:
                    continue
                rows, minimums = found
                credit = np.zeros(rows.size)
                for factor, level in worth:
                    credit = np.maximum(credit, factor * _level_credit(level, minimums))
                earned[rows] += (importance * self.graph.specificity(uri)) * credit
        rows = np.flatnonzero(earned)
        if not rows.size:
            return []
        rows = rows[self._vacancies_met(rows, student)]
        if not rows.size:
            return []
        coverage = earned[rows] / self._v["weight"][rows]
        ranks = np.zeros(self._v["bonus"].shape[1], dtype=np.int8)
        for code, rank in student.languages.items():
            column = self._languages.get(code)
            if column is not None:
                ranks[column] = rank
        spoken = (self._v["bonus"][rows] & (ranks >= BONUS_LEVEL)).sum(axis=1)
        coverage = np.minimum(
            1.0, coverage + np.minimum(MAX_LANGUAGE_BONUS, LANGUAGE_BONUS * spoken)
        )
        mode = REMOTE.get(student.remote, 0)
        location = np.where(
            (mode == 0) | (self._v["remote"][rows] == 0) | (self._v["remote"][rows] == mode),
            1.0,
            OTHER_REMOTE_MODE_FIT,
        )
        hours = np.ones(rows.size)
        if student.hours_per_week:
            vacancy_hours = self._v["hours"][rows].astype(np.float64)
            known = vacancy_hours > 0
            hours[known] = 1.0 - np.abs(vacancy_hours[known] - student.hours_per_week) / (
                np.maximum(vacancy_hours[known], student.hours_per_week)
            )
        fit = (location + hours + self._field_fit_of_vacancies(rows, student.study_field)) / 3
        scores = _score(coverage, self._focus_on_vacancies(rows, student, size), fit)
        rows, scores = _best(rows, scores, minimum, limit)
        ids = self._vacancy_rows.ids
        return self._ranked(
            [(student.id, str(ids[r]), s) for r, s in zip(rows, scores, strict=True)],
            limit,
            by_student=False,
        )

    def _focus_on_vacancies(self, rows: Ints, student: StudentEntry, size: int) -> Floats:
        """The student's focus on the topic of each vacancy in ``rows``."""
        on = np.zeros(size)
        for uri in student.skills:
            found = self._topic_by.arrays(uri)
            if found is not None:
                on[found[0]] += found[1]
        return _with_prior(on[rows], self.graph.total_specificity(student.skills), self.graph)

    def _offers(self, student: StudentEntry) -> dict[str, list[tuple[float, float]]]:
        """For each skill a vacancy may ask for: what the student's skills are worth to it."""
        offers: dict[str, list[tuple[float, float]]] = {}
        for uri, level in student.skills.items():
            offers.setdefault(uri, []).append((RELATED_CREDIT["exact"], float(level)))
            for related in self.graph.credited_by(uri):
                offers.setdefault(related.uri, []).append((related.credit, float(level)))
        return offers

    def _vacancies_met(self, rows: Ints, student: StudentEntry) -> npt.NDArray[np.bool_]:
        mask = sum(1 << KINDS.index(k) for k in student.engagement_kinds if k in KINDS)
        ok = ((mask >> self._v["kind"][rows].astype(np.int64)) & 1) == 1
        ranks = np.zeros(self._v["needs"].shape[1], dtype=np.int8)
        for code, rank in student.languages.items():
            column = self._languages.get(code)
            if column is not None:
                ranks[column] = rank
        ok &= (self._v["needs"][rows] <= ranks).all(axis=1)
        if student.permitted_hours is not None:
            counts = (
                self._v["counts_exempt"][rows]
                if student.curricular_exempt
                else self._v["counts"][rows]
            )
            hours = self._v["hours"][rows]
            ok &= ~counts | (hours == 0) | (hours <= student.permitted_hours)
        start = self._v["start"][rows]
        first = student.available_from.toordinal() if student.available_from else 0
        last = student.available_until.toordinal() if student.available_until else NO_DAY
        ok &= (start == 0) | ((first <= start) & (start <= last))
        remote = self._v["remote"][rows]
        on_site_only = student.remote == "remote"
        if on_site_only:
            ok &= remote != REMOTE["on_site"]
        if student.preferred_locations:
            places = [self._place_numbers.get(p, -1) for p in student.preferred_locations]
            where = self._v["location"][rows]
            ok &= (remote == REMOTE["remote"]) | (where == 0) | np.isin(where, places)
        return ok

    def _field_fit_of_vacancies(self, rows: Ints, study_field: str | None) -> Floats:
        # Per study field, the fit of every vacancy row: kept until a vacancy changes.
        fits = self._field_fits.get(study_field)
        if fits is None:
            size = len(self._vacancy_rows.ids)
            total = np.zeros(size)
            count = np.zeros(size)
            for fields, number in self._field_sets.items():
                found = self._vacancy_fields.arrays(str(number))
                if found is None:
                    continue
                owners, counts = found
                closeness = field_closeness(study_field, fields) if study_field else 0.0
                total[owners] += closeness * counts
                count[owners] += counts
            fits = np.full(size, NEUTRAL_FIELD_FIT)
            if study_field:
                fielded = count > 0
                fits[fielded] = total[fielded] / count[fielded]
            self._field_fits[study_field] = fits
        return fits[rows]

    @staticmethod
    def _ranked(
        found: list[tuple[str | None, str, float]] | list[tuple[str, str, float]],
        limit: int | None,
        *,
        by_student: bool,
    ) -> list[Candidate]:
        key = (lambda c: (-c[2], c[0])) if by_student else (lambda c: (-c[2], c[1]))
        ordered = heapq.nsmallest(limit, found, key=key) if limit else sorted(found, key=key)
        return [Candidate(str(s), v, float(score)) for s, v, score in ordered]
