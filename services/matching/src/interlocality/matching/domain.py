"""Matching's rules: hard conditions, the two-sided score and its explanation (no I/O).

:func:`evaluate_pair` is the reference: one student, one vacancy, every step spelled out.
The vectorised index (:mod:`interlocality.matching.index`) computes the same numbers for
many students or vacancies at once; tests hold the two to each other.

The score, in [0, 1]:

- *coverage* — how well the student covers the vacancy: each required skill weighs
  :data:`REQUIRED_WEIGHT`, each nice-to-have one 1; a skill counts ``min(1, level / min)``,
  or that times :data:`~interlocality.common.esco_relations.RELATED_CREDIT` when the student
  has a narrower, broader or sibling skill instead; languages of the company's export
  markets and nice-to-have languages the student speaks (B1 or better) add
  :data:`LANGUAGE_BONUS` each, up to :data:`MAX_LANGUAGE_BONUS`;
- *fit* — how well the vacancy fits the student: the mean of location, hours and field
  of study closeness;
- ``score = coverage ** COVERAGE_WEIGHT * fit ** (1 - COVERAGE_WEIGHT)``: a weighted
  geometric mean, so neither side can carry a bad fit on the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Literal

from babel.languages import get_official_languages

from interlocality.common.esco_relations import Relation, SkillGraph, field_closeness
from interlocality.contracts.students import StudentProfile
from interlocality.contracts.vacancies import Vacancy

__all__ = [
    "CEFR_RANK",
    "COVERAGE_WEIGHT",
    "Condition",
    "LanguageNeed",
    "LanguageStatus",
    "PairEvaluation",
    "RequiredSkill",
    "SkillCredit",
    "StudentEntry",
    "VacancyEntry",
    "VacancyRules",
    "evaluate_pair",
    "hours_fit",
    "location_fit",
    "market_languages",
    "needs_permit_check",
    "student_entry_of",
    "vacancy_entry_of",
]

CEFR_RANK: Mapping[str, int] = {"A1": 1, "A2": 2, "B1": 3, "B2": 4, "C1": 5, "C2": 6}
CEFR_NAME = {rank: name for name, rank in CEFR_RANK.items()}
REQUIRED_WEIGHT = 3.0
NICE_WEIGHT = 1.0
LANGUAGE_BONUS = 0.05
MAX_LANGUAGE_BONUS = 0.1
BONUS_LEVEL = CEFR_RANK["B1"]
COVERAGE_WEIGHT = 0.65
NEUTRAL_FIELD_FIT = 0.75
OTHER_REMOTE_MODE_FIT = 0.8
ConditionName = Literal["open", "kind", "languages", "permit", "availability", "location"]
PERMIT_POSITION = 3  # the conditions of a pair come in the order of ConditionName


@dataclass(frozen=True)
class RequiredSkill:
    """A skill a vacancy asks for, at a minimum level 1–5."""

    uri: str
    min_level: int = 1


@dataclass(frozen=True)
class LanguageNeed:
    """A language a vacancy asks for, at a minimum CEFR rank (1 = A1 … 6 = C2)."""

    code: str
    min_rank: int
    required: bool = True


@dataclass(frozen=True)
class StudentEntry:
    """What matching knows of a student who consents to matching (no contact data)."""

    id: str
    version: int
    skills: Mapping[str, int]
    languages: Mapping[str, int] = field(default_factory=dict)
    engagement_kinds: frozenset[str] = frozenset()
    hours_per_week: int | None = None
    available_from: date | None = None
    available_until: date | None = None
    preferred_locations: frozenset[str] = frozenset()
    remote: str | None = None
    study_field: str | None = None
    permitted_hours: float | None = None
    permit_country: str = ""
    curricular_exempt: bool = True


@dataclass(frozen=True)
class VacancyEntry:
    """What matching knows of a vacancy, with its company's export-market languages."""

    id: str
    version: int
    company_id: str
    title: str
    kind: str
    status: str
    required: tuple[RequiredSkill, ...] = ()
    nice: tuple[RequiredSkill, ...] = ()
    languages: tuple[LanguageNeed, ...] = ()
    hours_per_week: int | None = None
    start_date: date | None = None
    location: str = ""
    remote: str | None = None
    curricular: bool = False
    export_languages: frozenset[str] = frozenset()

    @property
    def open(self) -> bool:
        """Whether the vacancy takes matches."""
        return self.status == "open"


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


@dataclass(frozen=True)
class Condition:
    """One hard condition of a pair and whether it holds, in words."""

    name: ConditionName
    met: bool
    detail: str
    caution: bool = False  # met, but worth the student's attention


@dataclass(frozen=True)
class SkillCredit:
    """How one of the vacancy's skills is covered: by which of the student's skills."""

    uri: str
    required: bool
    min_level: int
    via: str | None
    relation: Relation | None
    level: int | None
    credit: float


@dataclass(frozen=True)
class LanguageStatus:
    """A language the vacancy asks for, and what the student has."""

    code: str
    needed: str
    has: str | None
    required: bool
    met: bool


@dataclass(frozen=True)
class PairEvaluation:
    """Everything about one student and one vacancy: conditions, score and its parts."""

    conditions: tuple[Condition, ...]
    skills: tuple[SkillCredit, ...]
    languages: tuple[LanguageStatus, ...]
    ignored_skills: tuple[str, ...]
    coverage: float
    language_bonus: float
    location: float
    hours: float
    field: float
    score: float
    permit: str

    @property
    def conditions_met(self) -> bool:
        """Whether every hard condition holds."""
        return all(condition.met for condition in self.conditions)

    @property
    def failed(self) -> tuple[Condition, ...]:
        """The hard conditions that do not hold."""
        return tuple(c for c in self.conditions if not c.met)

    @property
    def cautions(self) -> tuple[str, ...]:
        """What holds but deserves the student's attention, in words."""
        return tuple(c.detail for c in self.conditions if c.caution)

    @property
    def fit(self) -> float:
        """How well the vacancy fits the student."""
        return (self.location + self.hours + self.field) / 3

    @property
    def matched(self) -> tuple[SkillCredit, ...]:
        """The vacancy's skills the student covers, exactly or through a related skill."""
        return tuple(s for s in self.skills if s.via is not None)

    @property
    def missing_required(self) -> tuple[str, ...]:
        """Required skills the student has nothing for."""
        return tuple(s.uri for s in self.skills if s.required and s.via is None)

    @property
    def missing_nice_to_have(self) -> tuple[str, ...]:
        """Nice-to-have skills the student has nothing for."""
        return tuple(s.uri for s in self.skills if not s.required and s.via is None)


@cache
def _official_languages(country: str) -> tuple[str, ...]:
    return tuple(
        code for code in get_official_languages(country.upper(), de_facto=True) if len(code) == 2
    )


def market_languages(markets: Iterable[str]) -> frozenset[str]:
    """The ISO 639-1 languages spoken officially (or de facto) in export markets (CLDR)."""
    return frozenset(code for market in markets for code in _official_languages(market))


def needs_permit_check(kind: str, curricular: bool, exempt: bool) -> bool:
    """Whether a vacancy's hours count against a student's permitted work.

    Student jobs do; internships too unless they are part of the curriculum and the
    region's rules exempt those; theses, company projects and graduate jobs (a graduate's
    permit differs from a student's) do not.
    """
    if kind == "student_job":
        return True
    if kind == "internship":
        return not (curricular and exempt)
    return False


def location_fit(student_remote: str | None, vacancy_remote: str | None) -> float:
    """1 when the vacancy's way of working is the one the student prefers, else less."""
    if student_remote is None or vacancy_remote is None or student_remote == vacancy_remote:
        return 1.0
    return OTHER_REMOTE_MODE_FIT


def hours_fit(student_hours: int | None, vacancy_hours: int | None) -> float:
    """1 when the hours are what the student wants, falling with the difference."""
    if not student_hours or not vacancy_hours:
        return 1.0
    return 1.0 - abs(student_hours - vacancy_hours) / max(student_hours, vacancy_hours)


def _rank_name(rank: int | None) -> str | None:
    return CEFR_NAME.get(rank) if rank else None


class VacancyRules:
    """One vacancy's side of :func:`evaluate_pair`, worked out once for many students.

    Which of a student's skills would stand in for which of the vacancy's, the weights,
    the bonus languages and the field fit per field of study do not depend on the student;
    explaining a vacancy's hundred best students, or a student against the same vacancy
    again, only looks the student's own skills up.
    """

    def __init__(self, vacancy: VacancyEntry, graph: SkillGraph) -> None:
        self.vacancy = vacancy
        known = [(s, True) for s in vacancy.required if s.uri in graph] + [
            (s, False) for s in vacancy.nice if s.uri in graph
        ]
        self._needs = known
        self._ignored = tuple(
            s.uri for s in (*vacancy.required, *vacancy.nice) if s.uri not in graph
        )
        self._weight = sum(REQUIRED_WEIGHT if required else NICE_WEIGHT for _, required in known)
        # student's skill -> (need, preference, relation, credit, the need's level to reach):
        # the exact skill is preferred over related ones, and related ones in the graph's
        # order, on equal credit
        self._offers: dict[str, list[tuple[int, int, Relation, float, int]]] = {}
        for position, (need, _) in enumerate(known):
            reach = max(need.min_level, 1)
            self._offers.setdefault(need.uri, []).append((position, -1, "exact", 1.0, reach))
            for order, related in enumerate(graph.related(need.uri)):
                self._offers.setdefault(related.uri, []).append(
                    (position, order, related.relation, related.credit, reach)
                )
        self._uncovered = tuple(
            SkillCredit(need.uri, required, need.min_level, None, None, None, 0.0)
            for need, required in known
        )
        self._skill_fields = [
            codes for codes in (graph.fields(need.uri) for need, _ in known) if codes
        ]
        self._field_fits: dict[str, float] = {}
        self._bonus_codes = vacancy.export_languages | {
            n.code for n in vacancy.languages if not n.required
        }
        # The conditions that depend on the vacancy alone, or on little of the student,
        # are worded once.
        self._open = _open_condition(vacancy)
        self._available = _available(vacancy)
        self._placed = _placed(vacancy)
        self._kinds: dict[bool, Condition] = {}  # whether the student wants the kind
        self._permits: dict[tuple[float | None, str, bool], Condition] = {}

    def evaluate(self, student: StudentEntry) -> PairEvaluation:
        """Every hard condition, the score's parts and the explanation of the pair."""
        vacancy = self.vacancy
        conditions = self._conditions(student)
        skills = self._credits(student.skills)
        earned = sum((REQUIRED_WEIGHT if s.required else NICE_WEIGHT) * s.credit for s in skills)
        skill_coverage = earned / self._weight if self._weight else 0.0
        student_languages = student.languages
        languages = tuple(
            LanguageStatus(
                code=need.code,
                needed=CEFR_NAME[need.min_rank],
                has=_rank_name(student_languages.get(need.code)),
                required=need.required,
                met=student_languages.get(need.code, 0) >= need.min_rank,
            )
            for need in vacancy.languages
        )
        spoken = sum(
            1 for code in self._bonus_codes if student_languages.get(code, 0) >= BONUS_LEVEL
        )
        bonus = min(MAX_LANGUAGE_BONUS, LANGUAGE_BONUS * spoken) if skill_coverage > 0 else 0.0
        coverage = min(1.0, skill_coverage + bonus)
        location = location_fit(student.remote, vacancy.remote)
        hours = hours_fit(student.hours_per_week, vacancy.hours_per_week)
        field_fit = self._field_fit(student.study_field)
        fit = (location + hours + field_fit) / 3
        score = round(coverage**COVERAGE_WEIGHT * fit ** (1 - COVERAGE_WEIGHT), 4)
        permit = conditions[PERMIT_POSITION].detail
        return PairEvaluation(
            conditions=conditions,
            skills=skills,
            languages=languages,
            ignored_skills=self._ignored,
            coverage=round(skill_coverage, 4),
            language_bonus=round(bonus, 4),
            location=round(location, 4),
            hours=round(hours, 4),
            field=round(field_fit, 4),
            score=score,
            permit=permit,
        )

    def _credits(self, skills: Mapping[str, int]) -> tuple[SkillCredit, ...]:
        # per need: (credit, preference, via, relation, level) of the best stand-in so far
        best: dict[int, tuple[float, int, str, Relation, int]] = {}
        offers = self._offers
        # Most of a student's skills stand in for none of the vacancy's: keep the others
        # in C. The order does not matter: a tie between two stand-ins is never equal in
        # both credit and preference.
        for uri in skills.keys() & offers.keys():
            level = skills[uri]
            for position, order, relation, factor, reach in offers[uri]:
                credit = factor * min(1.0, level / reach)
                held = best.get(position)
                if held is None or credit > held[0] or (credit == held[0] and order < held[1]):
                    best[position] = (credit, order, uri, relation, level)
        if not best:
            return self._uncovered
        credits = list(self._uncovered)
        for position, (credit, order, via, relation, level) in best.items():
            if credit > 0.0 or order == -1:
                need, required = self._needs[position]
                credits[position] = SkillCredit(
                    need.uri, required, need.min_level, via, relation, level, credit
                )
        return tuple(credits)

    def _kind(self, wanted: bool) -> Condition:
        kind = self._kinds.get(wanted)
        if kind is None:
            kind = self._kinds[wanted] = _kind_condition(self.vacancy, wanted)
        return kind

    def _conditions(self, student: StudentEntry) -> tuple[Condition, ...]:
        """The hard conditions, in the order of :data:`ConditionName`."""
        vacancy = self.vacancy
        key = (student.permitted_hours, student.permit_country, student.curricular_exempt)
        permit = self._permits.get(key)
        if permit is None:
            permit = self._permits[key] = _permit_condition(student, vacancy)
        return (
            self._open,
            self._kind(vacancy.kind in student.engagement_kinds),
            _language_condition(student, vacancy),
            permit,
            _unavailable(student, vacancy) or self._available,
            _misplaced(student, vacancy) or self._placed,
        )

    def _field_fit(self, study_field: str | None) -> float:
        if not study_field:
            return NEUTRAL_FIELD_FIT
        fit = self._field_fits.get(study_field)
        if fit is None:
            if self._skill_fields:
                closeness = [field_closeness(study_field, codes) for codes in self._skill_fields]
                fit = sum(closeness) / len(closeness)
            else:
                fit = NEUTRAL_FIELD_FIT
            self._field_fits[study_field] = fit
        return fit


def evaluate_pair(
    student: StudentEntry, vacancy: VacancyEntry, graph: SkillGraph
) -> PairEvaluation:
    """Every hard condition, the score's parts and the explanation of one pair."""
    return VacancyRules(vacancy, graph).evaluate(student)


def _open_condition(vacancy: VacancyEntry) -> Condition:
    return Condition(
        "open",
        vacancy.open,
        "the vacancy is open" if vacancy.open else f"the vacancy is {vacancy.status}",
    )


def _kind_condition(vacancy: VacancyEntry, wanted: bool) -> Condition:
    kind_label = vacancy.kind.replace("_", " ")
    article = "an" if kind_label[:1] in "aeiou" else "a"
    return Condition(
        "kind",
        wanted,
        f"the student looks for {article} {kind_label}"
        if wanted
        else f"the student does not look for {article} {kind_label}",
    )


def _language_condition(student: StudentEntry, vacancy: VacancyEntry) -> Condition:
    short = [
        f"{need.code} {CEFR_NAME[need.min_rank]} (has "
        f"{_rank_name(student.languages.get(need.code)) or 'none'})"
        for need in vacancy.languages
        if need.required and student.languages.get(need.code, 0) < need.min_rank
    ]
    if not short:
        return _EVERY_LANGUAGE
    return Condition("languages", False, "below the required level in " + ", ".join(short))


_EVERY_LANGUAGE = Condition("languages", True, "every required language at its level")


def _permit_condition(student: StudentEntry, vacancy: VacancyEntry) -> Condition:
    rules = f" ({student.permit_country} rules)" if student.permit_country else ""
    if student.permitted_hours is None:
        return Condition("permit", True, "no limit on the student's working hours")
    if not needs_permit_check(vacancy.kind, vacancy.curricular, student.curricular_exempt):
        reason = (
            "a curricular internship is outside the limit"
            if vacancy.kind == "internship"
            else f"a {vacancy.kind.replace('_', ' ')} does not count against the limit"
        )
        return Condition("permit", True, f"{reason}{rules}")
    limit = f"{student.permitted_hours:g} h a week in term{rules}"
    if vacancy.hours_per_week is None:
        return Condition(
            "permit",
            True,
            f"the job's hours are not stated; the student may work {limit}",
            caution=True,
        )
    if vacancy.hours_per_week <= student.permitted_hours:
        return Condition("permit", True, f"{vacancy.hours_per_week} h a week within {limit}")
    return Condition(
        "permit",
        False,
        f"the job's {vacancy.hours_per_week} h a week exceed the {limit} this student may work",
    )


def _unavailable(student: StudentEntry, vacancy: VacancyEntry) -> Condition | None:
    """The failed availability condition, or ``None`` when the student is available."""
    start = vacancy.start_date
    if start is None:
        return None
    if student.available_from is not None and start < student.available_from:
        return Condition(
            "availability",
            False,
            f"starts {start}, before the student is available ({student.available_from})",
        )
    if student.available_until is not None and start > student.available_until:
        return Condition(
            "availability",
            False,
            f"starts {start}, after the student's availability ends ({student.available_until})",
        )
    return None


def _available(vacancy: VacancyEntry) -> Condition:
    """The availability condition of any student who is available."""
    if vacancy.start_date is None:
        return Condition("availability", True, "the vacancy has no fixed start")
    return Condition(
        "availability", True, f"the student is available at the start ({vacancy.start_date})"
    )


def _misplaced(student: StudentEntry, vacancy: VacancyEntry) -> Condition | None:
    """The failed location condition, or ``None`` when the place suits the student."""
    if vacancy.remote == "remote":
        return None
    if student.remote == "remote" and vacancy.remote == "on_site":
        return Condition("location", False, "the student wants remote work; this one is on site")
    place = vacancy.location.lower()
    if not student.preferred_locations or not place or place in student.preferred_locations:
        return None
    return Condition(
        "location", False, f"{vacancy.location} is not among the student's preferred locations"
    )


def _placed(vacancy: VacancyEntry) -> Condition:
    """The location condition of any student the place suits."""
    if vacancy.remote == "remote":
        return Condition("location", True, "fully remote")
    where = vacancy.location or "the company's site"
    return Condition("location", True, f"{where} suits the student")
