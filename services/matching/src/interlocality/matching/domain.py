"""Matching's rules: hard conditions, the two-sided score and its explanation (no I/O).

:func:`evaluate_pair` is the reference: one student, one vacancy, every step spelled out.
The vectorised index (:mod:`interlocality.matching.index`) computes the same numbers for
many students or vacancies at once; tests hold the two to each other.

The score, in [0, 1], has three parts:

- *coverage* — how much of the vacancy the student covers: each skill it asks for weighs
  its importance (:data:`REQUIRED_WEIGHT` or :data:`NICE_WEIGHT`) times its specificity
  (:meth:`~interlocality.common.esco_relations.SkillGraph.specificity`: a skill few ESCO
  occupations list says more than teamwork does); a skill counts fully when the student has
  it at the minimum level, a little less below it (:data:`LEVEL_SHORTFALL`), and the
  relation's credit (:data:`~interlocality.common.esco_relations.RELATED_CREDIT`) when the
  student has a narrower, broader or sibling skill instead; languages of the company's
  export markets and nice-to-have languages the student speaks (B1 or better) add
  :data:`LANGUAGE_BONUS` each, up to :data:`MAX_LANGUAGE_BONUS`;
- *focus* — how much of the student the vacancy uses: the share of the student's skills,
  weighed by specificity, that are on the vacancy's topic (:func:`vacancy_topic`: its own
  skills, the essential skills of the ESCO occupation its skills belong to, and, at their
  relation's credit, skills next to its own), so that a student of the trade outranks one
  who collected the same few skills among many unrelated ones; a prior of one skill, a
  quarter on topic (:data:`FOCUS_PRIOR`), keeps a profile of one skill from a focus of 1;
- *fit* — how well the vacancy fits the student: the mean of location, hours and field
  of study closeness;

``score = coverage ** COVERAGE_WEIGHT * focus ** FOCUS_WEIGHT * fit ** FIT_WEIGHT``: a
weighted geometric mean, so no part can carry a bad one. The weights are tuned on the
public seeds of ``bench/matching_quality.py``; the reason for each is given where it is set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from itertools import repeat
from typing import Literal

import numpy as np
import numpy.typing as npt
from babel.languages import get_official_languages

from interlocality.common.esco_relations import Relation, SkillGraph, field_closeness
from interlocality.contracts.students import StudentProfile
from interlocality.contracts.vacancies import Vacancy

__all__ = [
    "CEFR_RANK",
    "COVERAGE_WEIGHT",
    "FIT_WEIGHT",
    "FOCUS_PRIOR",
    "FOCUS_PRIOR_SKILLS",
    "FOCUS_WEIGHT",
    "LEVEL_SHORTFALL",
    "Condition",
    "LanguageNeed",
    "LanguageStatus",
    "PairEvaluation",
    "RequiredSkill",
    "SkillCredit",
    "StudentEntry",
    "Topic",
    "VacancyEntry",
    "VacancyRules",
    "evaluate_pair",
    "focus_of",
    "hours_fit",
    "level_credit",
    "location_fit",
    "market_languages",
    "needs_permit_check",
    "student_entry_of",
    "vacancy_entry_of",
    "vacancy_topic",
    "with_prior",
]

Floats = npt.NDArray[np.float64]
CEFR_RANK: Mapping[str, int] = {"A1": 1, "A2": 2, "B1": 3, "B2": 4, "C1": 5, "C2": 6}
CEFR_NAME = {rank: name for name, rank in CEFR_RANK.items()}

# -- the score's weights: every tuned number in one place, with its reason -------------
# Tuned on seeds 1 and 2 of bench/matching_quality.py (ESCO regions, 300 occupations,
# 6,000 students, 450 vacancies), judged by nDCG@10 of both sides; the figures quoted are
# those of that tuning (default noise: vacancy side, student side), bench/README.md has
# the full run. Specificity (SkillGraph.specificity) is ESCO's own and needs no weight.

# A required skill counts three times a nice-to-have one: what a company cannot do without.
REQUIRED_WEIGHT = 3.0
NICE_WEIGHT = 1.0
# Exponents of the geometric mean. Focus weighs most: with its topic read from the
# vacancy's occupation it is what separates students of the trade from those who
# collected some of the same skills (0.897, 0.818 against 0.824, 0.743 for coverage and
# fit alone; without the occupation the topic is worth 0.005-0.013 only). Coverage keeps
# 0.3 so that covering more of the vacancy still wins between students of the trade;
# fit 0.2, enough for hours and way of working to reorder close candidates. Tried:
# 0.5 / 0.5 / 0 (0.892, 0.811), 0.3 / 0.35 / 0.35 (0.889, 0.811).
COVERAGE_WEIGHT = 0.3
FOCUS_WEIGHT = 0.5
FIT_WEIGHT = 0.2
# Focus is judged with a prior: as if every student also had FOCUS_PRIOR_SKILLS skill of
# typical specificity, a quarter on topic. A student who lists one or two skills has shown
# little of their focus; without the prior one exact skill made a focus of 1 and lifted a
# third of a vacancy's skills to a score of 0.7. On the bench it costs at most 0.001.
FOCUS_PRIOR = 0.25
FOCUS_PRIOR_SKILLS = 1.0
# A level below the minimum takes at most this share of the skill's credit: levels are
# self-assessed, vacancies' minimums rough, and the bench's levels tell nothing of
# relevance; taking all of it (min(1, level / minimum)) cost 0.003, 0.002 by default and
# 0.005, 0.003 with levels drawn independently.
LEVEL_SHORTFALL = 0.2
# Reading a vacancy's occupation: an occupation's optional skills count half its
# essential ones; an occupation is read only when it holds at least half of the
# vacancy's skills (by weight), and the tied best are read together: ESCO lists the same
# skills for many neighbouring occupations (a backend developer's five skills are all
# essential to seven of them). Reading also the near best (within 0.8 of it) was worse.
OCCUPATION_OPTIONAL_SHARE = 0.5
OCCUPATION_MIN_SHARE = 0.5
MAX_OCCUPATIONS = 10

LANGUAGE_BONUS = 0.05
MAX_LANGUAGE_BONUS = 0.1
BONUS_LEVEL = CEFR_RANK["B1"]
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
    weight: float = 1.0  # in coverage: importance (required or nice) × specificity


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
    focus: float = 0.0
    occupations: tuple[str, ...] = ()  # the ESCO occupations the vacancy was read as

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


def level_credit(level: float, reach: float) -> float:
    """What a skill held at ``level`` is worth against a minimum of ``reach`` (1 at or above
    it, down to ``1 - LEVEL_SHORTFALL`` far below it)."""
    return 1.0 - LEVEL_SHORTFALL * (1.0 - min(1.0, level / reach))


@dataclass(frozen=True)
class Topic:
    """What a vacancy is about: the ESCO occupations its skills were read as, and each skill
    on its topic with how far (1 for its own skills and the occupations' essential ones,
    the relation's credit for a skill next to one of its own)."""

    occupations: tuple[str, ...]
    skills: Mapping[str, float]
    weighted: Mapping[str, float]  # each skill's specificity × how far it is on topic


@cache
def _listings(graph: SkillGraph) -> dict[str, tuple[npt.NDArray[np.int64], Floats]]:
    """Per skill, the numbers of the occupations listing it and the share each counts."""
    found: dict[str, tuple[npt.NDArray[np.int64], Floats]] = {}
    for uri in graph.known:
        listed = graph.listed_in(uri)
        if listed:
            found[uri] = (
                np.array([number for number, _ in listed], dtype=np.int64),
                np.array(
                    [1.0 if essential else OCCUPATION_OPTIONAL_SHARE for _, essential in listed]
                ),
            )
    return found


@lru_cache(maxsize=16_384)
def vacancy_topic(graph: SkillGraph, required: tuple[str, ...], nice: tuple[str, ...]) -> Topic:
    """The topic of a vacancy asking for ``required`` and ``nice`` (skills the graph knows).

    The occupation is the one whose skills hold the most of the vacancy's, each weighed as
    in coverage (importance × specificity), an optional skill of the occupation counting
    :data:`OCCUPATION_OPTIONAL_SHARE`; it is read only when it holds at least
    :data:`OCCUPATION_MIN_SHARE` of that weight, and tied best ones (up to
    :data:`MAX_OCCUPATIONS`) are read together. Worked out once per set of skills.
    """
    needs = [(uri, REQUIRED_WEIGHT) for uri in required] + [(uri, NICE_WEIGHT) for uri in nice]
    listings = _listings(graph)
    held = np.zeros(len(graph.occupations))
    total = 0.0
    for uri, importance in needs:
        weight = importance * graph.specificity(uri)
        total += weight
        listing = listings.get(uri)
        if listing is not None:
            held[listing[0]] += weight * listing[1]
    best = float(held.max()) if held.size else 0.0
    read: list[int] = []
    if best > 0 and best >= OCCUPATION_MIN_SHARE * total:
        read = [int(n) for n in np.flatnonzero(held >= best - 1e-9)]
        if len(read) > MAX_OCCUPATIONS:
            read = []
    skills: dict[str, float] = {}
    for number in read:
        for uri in graph.occupations[number].essential:
            skills[uri] = 1.0
    for uri, _ in needs:
        skills[uri] = 1.0
        for related in graph.related(uri):
            if skills.get(related.uri, 0.0) < related.credit:
                skills[related.uri] = related.credit
    weighted = {uri: graph.specificity(uri) * share for uri, share in skills.items()}
    return Topic(tuple(graph.occupations[n].uri for n in read), skills, weighted)


def focus_of(skills: Iterable[str], topic: Topic, graph: SkillGraph) -> float:
    """The share of a student's ``skills`` (those the graph knows, weighed by specificity)
    on ``topic``, with the prior of :data:`FOCUS_PRIOR_SKILLS` skills :data:`FOCUS_PRIOR`
    on topic."""
    on = sum(map(topic.weighted.get, skills, repeat(0.0)))
    return with_prior(on, graph.total_specificity(skills), graph)


def with_prior(on: float, total: float, graph: SkillGraph) -> float:
    """Focus from the specificity on topic and in all, with the prior added to both."""
    prior = FOCUS_PRIOR_SKILLS * graph.typical_specificity
    return (on + FOCUS_PRIOR * prior) / (total + prior)


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
        self._weights = [
            (REQUIRED_WEIGHT if required else NICE_WEIGHT) * graph.specificity(need.uri)
            for need, required in known
        ]
        self._weight = sum(self._weights)
        self.graph = graph
        self.topic = vacancy_topic(
            graph,
            tuple(need.uri for need, required in known if required),
            tuple(need.uri for need, required in known if not required),
        )
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
            SkillCredit(need.uri, required, need.min_level, None, None, None, 0.0, weight)
            for (need, required), weight in zip(known, self._weights, strict=True)
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
        earned = sum(s.weight * s.credit for s in skills)
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
        focus = focus_of(student.skills, self.topic, self.graph)
        score = round(
            coverage**COVERAGE_WEIGHT * focus**FOCUS_WEIGHT * fit**FIT_WEIGHT,
            4,
        )
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
            focus=round(focus, 4),
            occupations=self.topic.occupations,
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
                credit = factor * level_credit(level, reach)
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
                    need.uri,
                    required,
                    need.min_level,
                    via,
                    relation,
                    level,
                    credit,
                    self._weights[position],
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
