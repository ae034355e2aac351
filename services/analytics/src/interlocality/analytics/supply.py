"""Supply and demand of a region: its students' skills, fields and languages against its open
vacancies' (pure logic, no I/O).

What a snapshot contributes is a set of :class:`Contribution` rows: a student's skills with
their levels, languages with their CEFR rank and field of study (nothing else, and nothing
at all without analytics consent); an open vacancy's engagement kind, required and
nice-to-have skills with their minimum levels, languages and ISCED-F field, each carrying
the vacancy's positions. The store keeps each row with the time it became and stopped
being true, so the state at the end of any month is the rows valid then; the functions
here turn one month's state into balances.

Demand is counted in positions (a vacancy for three people needs three), supply in
distinct students. A student supplies a skill when they hold it at the level asked for or
above; when open vacancies ask for a skill at different levels, its headline level is the
lowest asked (a student at it can fill at least one of them) and each level asked is
shown on its own. The shortage ratio is positions per student supplying.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from interlocality.analytics.skills import SkillTaxonomy
from interlocality.contracts.students import StudentProfile
from interlocality.contracts.vacancies import Vacancy

__all__ = [
    "CEFR_NAME",
    "CEFR_RANK",
    "MONTH_PATTERN",
    "SIZE_CLASSES",
    "UNKNOWN",
    "Contribution",
    "FieldBalance",
    "GroupBalance",
    "LanguageBalance",
    "LanguageLevel",
    "LanguageNeed",
    "LevelBalance",
    "SkillBalance",
    "StudentHolding",
    "VacancyNeed",
    "field_balances",
    "group_balances",
    "language_balance",
    "month_end",
    "month_range",
    "nace_division",
    "shortage_ratio",
    "skill_balances",
    "student_contributions",
    "top_shortages",
    "top_surpluses",
    "vacancy_contributions",
]

CEFR_RANK: Mapping[str, int] = {"A1": 1, "A2": 2, "B1": 3, "B2": 4, "C1": 5, "C2": 6}
CEFR_NAME: Mapping[int, str] = {rank: name for name, rank in CEFR_RANK.items()}
SizeClass = Literal["micro", "small", "medium", "large"]
SIZE_CLASSES: tuple[SizeClass, ...] = ("micro", "small", "medium", "large")
# YYYY-MM of the years 1900–2199: months far outside any region's history have no state,
# and the end of December 9999 is past what a datetime can hold.
MONTH_PATTERN = r"^(19|20|21)\d{2}-(0[1-9]|1[0-2])$"
UNKNOWN = "unknown"
ENGLISH = "en"

ContributionKind = Literal["student", "skill", "language", "field", "vacancy", "nice"]


def nace_division(sector: str | None) -> str:
    """The NACE Rev. 2 division (two digits) of a sector code such as ``62.01`` or
    ``J62.01``; cells by division stay large enough to read."""
    digits = "".join(c for c in (sector or "") if c.isdigit())
    return digits[:2] if len(digits) >= 2 else UNKNOWN


def month_end(month: str) -> datetime:
    """The first instant after ``month`` (UTC): the month's state is what is valid then."""
    year, number = (int(part) for part in month.split("-"))
    return datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)


def month_range(first: str, last: str) -> list[str]:
    """The months from ``first`` to ``last``, both included (empty when ``last`` is earlier)."""
    year, number = (int(part) for part in first.split("-"))
    months: list[str] = []
    while (current := f"{year:04d}-{number:02d}") <= last:
        months.append(current)
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return months


def shortage_ratio(positions: int, students: int) -> float | None:
    """Positions per student supplying; ``None`` when no student supplies (no ratio, the
    shortage is total when positions are open)."""
    return round(positions / students, 4) if students else None


@dataclass(frozen=True, order=True)
class Contribution:
    """One thing a snapshot adds to the aggregates: a skill, language or field with its level
    (skill 1–5, CEFR rank 1–6, 0 for a field); for a vacancy also whether a language is
    required. Every student has a ``student`` row (counted even without skills), every
    open vacancy a ``vacancy`` row with its engagement kind and its positions as level."""

    kind: ContributionKind
    code: str
    level: int = 0
    required: bool = True


def student_contributions(profile: StudentProfile) -> frozenset[Contribution] | None:
    """What a student adds to the aggregates; ``None`` without analytics consent (then they
    are in no aggregate, past months included)."""
    if not profile.consents.analytics.granted:
        return None
    rows = {Contribution("student", "")}
    rows |= {Contribution("skill", s.uri, s.level) for s in profile.skills}
    rows |= {
        Contribution("language", lang.code, CEFR_RANK[lang.level]) for lang in profile.languages
    }
    if profile.study_field:
        rows.add(Contribution("field", profile.study_field))
    return frozenset(rows)


def vacancy_contributions(vacancy: Vacancy, study_field: str | None) -> frozenset[Contribution]:
    """What an open vacancy adds to the demand, with the ISCED-F field derived for it;
    nothing once it is closed, filled or expired."""
    if vacancy.status != "open":
        return frozenset()
    rows = {Contribution("vacancy", vacancy.kind, vacancy.positions)}
    rows |= {Contribution("skill", s.uri, s.min_level) for s in vacancy.required_skills}
    rows |= {Contribution("nice", s.uri, s.min_level) for s in vacancy.nice_to_have_skills}
    rows |= {
        Contribution("language", n.code, CEFR_RANK[n.min_level], n.required)
        for n in vacancy.languages
    }
    if study_field:
        rows.add(Contribution("field", study_field))
    return frozenset(rows)


@dataclass(frozen=True)
class StudentHolding:
    """A consenting student's skills, languages and field of study at some moment."""

    student_id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    languages: Mapping[str, int] = field(default_factory=dict)
    study_field: str | None = None


@dataclass(frozen=True)
class LanguageNeed:
    """A language a vacancy asks for at a CEFR rank; required or nice to have."""

    code: str
    rank: int
    required: bool = True


@dataclass(frozen=True)
class VacancyNeed:
    """An open vacancy's demand at some moment, with its company's sector and size class."""

    vacancy_id: str
    positions: int = 1
    required: Mapping[str, int] = field(default_factory=dict)
    nice: Mapping[str, int] = field(default_factory=dict)
    languages: tuple[LanguageNeed, ...] = ()
    study_field: str | None = None
    sector: str = UNKNOWN
    size_class: str = UNKNOWN

    @classmethod
    def of(
        cls,
        vacancy_id: str,
        rows: Iterable[Contribution],
        sector: str | None = None,
        size: str | None = None,
    ) -> VacancyNeed:
        """The need made of a vacancy's contribution rows and its company's details."""
        positions = 1
        required: dict[str, int] = {}
        nice: dict[str, int] = {}
        languages: list[LanguageNeed] = []
        study_field = None
        for row in sorted(rows):
            if row.kind == "skill":
                required[row.code] = row.level
            elif row.kind == "nice":
                nice[row.code] = row.level
            elif row.kind == "language":
                languages.append(LanguageNeed(row.code, row.level, row.required))
            elif row.kind == "field":
                study_field = row.code
            elif row.kind == "vacancy":
                positions = row.level
        return cls(
            vacancy_id,
            positions,
            required,
            nice,
            tuple(languages),
            study_field,
            nace_division(sector),
            size or UNKNOWN,
        )


@dataclass(frozen=True)
class LevelBalance:
    """Positions asking for a skill at one minimum level, and students at it or above."""

    level: int
    positions: int
    students: int


@dataclass(frozen=True)
class SkillBalance:
    """One skill's demand and supply in a month."""

    uri: str
    level: int
    positions: int
    vacancies: int
    students: int
    students_related: int
    levels: tuple[LevelBalance, ...] = ()

    @property
    def ratio(self) -> float | None:
        """Positions per student supplying."""
        return shortage_ratio(self.positions, self.students)

    @property
    def gap(self) -> int:
        """Positions more than students (negative: a surplus of students)."""
        return self.positions - self.students


def _held(holdings: Iterable[StudentHolding]) -> dict[str, dict[str, int]]:
    """Skill → student → level."""
    held: dict[str, dict[str, int]] = defaultdict(dict)
    for holding in holdings:
        for uri, level in holding.skills.items():
            held[uri][holding.student_id] = level
    return held


def _demand(needs: Iterable[VacancyNeed]) -> dict[str, Counter[int]]:
    """Skill → minimum level → positions, over the vacancies' required skills."""
    demand: dict[str, Counter[int]] = defaultdict(Counter)
    for need in needs:
        for uri, level in need.required.items():
            demand[uri][level] += need.positions
    return demand


def _at_least(holders: Mapping[str, int], level: int) -> set[str]:
    return {student for student, has in holders.items() if has >= level}


def skill_balances(
    needs: Sequence[VacancyNeed], holdings: Sequence[StudentHolding], taxonomy: SkillTaxonomy
) -> list[SkillBalance]:
    """Every skill open vacancies require or students hold: positions requiring it, students
    holding it at the (lowest) level asked, and students holding only a related skill at it;
    largest shortage first."""
    held = _held(holdings)
    demand = _demand(needs)
    vacancies = Counter(uri for need in needs for uri in need.required)
    balances = []
    for uri in demand.keys() | held.keys():
        asked = demand.get(uri, Counter())
        level = min(asked, default=1)
        exact = _at_least(held.get(uri, {}), level)
        related: set[str] = set()
        for other in taxonomy.related(uri):
            related |= _at_least(held.get(other, {}), level)
        balances.append(
            SkillBalance(
                uri=uri,
                level=level,
                positions=sum(asked.values()),
                vacancies=vacancies[uri],
                students=len(exact),
                students_related=len(related - exact),
                levels=tuple(
                    LevelBalance(lvl, asked[lvl], len(_at_least(held.get(uri, {}), lvl)))
                    for lvl in sorted(asked)
                ),
            )
        )
    balances.sort(key=lambda b: (-b.gap, b.uri))
    return balances


def top_shortages(balances: Iterable[SkillBalance], limit: int) -> list[SkillBalance]:
    """The skills with most positions beyond their students, largest gap first."""
    return sorted((b for b in balances if b.gap > 0), key=lambda b: (-b.gap, b.uri))[:limit]


def top_surpluses(balances: Iterable[SkillBalance], limit: int) -> list[SkillBalance]:
    """The skills with most students beyond their positions, largest surplus first."""
    return sorted((b for b in balances if b.gap < 0), key=lambda b: (b.gap, b.uri))[:limit]


@dataclass(frozen=True)
class GroupBalance:
    """One skill group's demand and supply in a month."""

    uri: str
    level: int
    positions: int
    vacancies: int
    students: int
    skills: int

    @property
    def ratio(self) -> float | None:
        """Positions per student supplying."""
        return shortage_ratio(self.positions, self.students)

    @property
    def gap(self) -> int:
        """Positions more than students (negative: a surplus of students)."""
        return self.positions - self.students


def group_balances(
    needs: Sequence[VacancyNeed],
    holdings: Sequence[StudentHolding],
    taxonomy: SkillTaxonomy,
    level: int,
) -> list[GroupBalance]:
    """Demand and supply of the skill groups at ``level``: a vacancy counts its positions
    once in each group any of its required skills is in; a student supplies a group when
    they hold one of its skills at the (lowest) level vacancies ask for it, any level when
    none asks; largest shortage first."""
    asked_level = {uri: min(levels) for uri, levels in _demand(needs).items()}
    positions: Counter[str] = Counter()
    vacancies: Counter[str] = Counter()
    skills: dict[str, set[str]] = defaultdict(set)
    students: dict[str, set[str]] = defaultdict(set)
    for need in needs:
        groups = {g for uri in need.required for g in taxonomy.groups_of(uri, level)}
        for group in groups:
            positions[group] += need.positions
            vacancies[group] += 1
        for uri in need.required:
            for group in taxonomy.groups_of(uri, level):
                skills[group].add(uri)
    for holding in holdings:
        for uri, has in holding.skills.items():
            if has >= asked_level.get(uri, 1):
                for group in taxonomy.groups_of(uri, level):
                    students[group].add(holding.student_id)
                    skills[group].add(uri)
    balances = [
        GroupBalance(
            uri=group,
            level=taxonomy.level_of(group) or level,
            positions=positions[group],
            vacancies=vacancies[group],
            students=len(students[group]),
            skills=len(skills[group]),
        )
        for group in positions.keys() | students.keys()
    ]
    balances.sort(key=lambda b: (-b.gap, b.uri))
    return balances


@dataclass(frozen=True)
class FieldBalance:
    """One ISCED-F field's students against the vacancies whose skills point to it, with
    the positions by NACE division and company size class."""

    code: str
    students: int
    vacancies: int
    positions: int
    by_sector: Mapping[str, int]
    by_size_class: Mapping[str, int]

    @property
    def ratio(self) -> float | None:
        """Positions per student of the field."""
        return shortage_ratio(self.positions, self.students)


def field_balances(
    needs: Sequence[VacancyNeed], holdings: Sequence[StudentHolding], digits: int
) -> list[FieldBalance]:
    """Students by field of study against vacancies by field, both cut to ``digits`` of the
    ISCED-F code (2 broad, 3 narrow, 4 detailed); ``unknown`` gathers vacancies whose
    skills point to no field and students who gave none; most positions first."""
    students: Counter[str] = Counter(
        (h.study_field[:digits] if h.study_field else UNKNOWN) for h in holdings
    )
    vacancies: Counter[str] = Counter()
    positions: Counter[str] = Counter()
    sectors: dict[str, Counter[str]] = defaultdict(Counter)
    sizes: dict[str, Counter[str]] = defaultdict(Counter)
    for need in needs:
        code = need.study_field[:digits] if need.study_field else UNKNOWN
        vacancies[code] += 1
        positions[code] += need.positions
        sectors[code][need.sector] += need.positions
        sizes[code][need.size_class] += need.positions
    balances = [
        FieldBalance(
            code=code,
            students=students[code],
            vacancies=vacancies[code],
            positions=positions[code],
            by_sector=dict(sorted(sectors[code].items())),
            by_size_class={
                size: sizes[code][size] for size in (*SIZE_CLASSES, UNKNOWN) if sizes[code][size]
            },
        )
        for code in students.keys() | vacancies.keys()
    ]
    balances.sort(key=lambda b: (-b.positions, -b.students, b.code))
    return balances


@dataclass(frozen=True)
class LanguageLevel:
    """Vacancies requiring the region's language at a CEFR level, and students at it or
    above."""

    level: str
    vacancies: int
    positions: int
    students: int


@dataclass(frozen=True)
class LanguageBalance:
    """The region's language in its vacancies and among its students in a month."""

    language: str
    vacancies: int
    positions: int
    students: int
    requiring: tuple[LanguageLevel, ...]
    nice_to_have: int
    english_friendly: int
    pairs_on_skills: int
    pairs_removed: int
    pairs_removed_by_region_language: int

    @property
    def english_friendly_share(self) -> float | None:
        """Share of open vacancies whose only required language, if any, is English."""
        return round(self.english_friendly / self.vacancies, 4) if self.vacancies else None


def language_balance(
    needs: Sequence[VacancyNeed],
    holdings: Sequence[StudentHolding],
    taxonomy: SkillTaxonomy,
    language: str,
) -> LanguageBalance:
    """The region's ``language`` in demand and supply, and the matches language requirements
    remove.

    A pair of a student and an open vacancy *matches on skills* when the student holds one
    of the vacancy's required or nice-to-have skills, or a skill ESCO relates to one (what
    matching needs besides its hard conditions and score threshold); such a pair is
    *removed* when the student is below a language the vacancy requires. Analytics holds
    no student's wanted kinds, permit, availability or places, so these pairs ignore those
    conditions and the score threshold: the numbers are an upper bound of the matches the
    language requirements cost, and of the pairs they leave.
    """
    requiring: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    nice_to_have = english_friendly = 0
    for need in needs:
        required = [n for n in need.languages if n.required]
        for n in need.languages:
            if n.code == language and n.required:
                requiring[n.rank][0] += 1
                requiring[n.rank][1] += need.positions
            elif n.code == language:
                nice_to_have += 1
        if all(n.code == ENGLISH for n in required):
            english_friendly += 1
    speakers = [h.languages.get(language, 0) for h in holdings]
    levels = tuple(
        LanguageLevel(
            level=CEFR_NAME[rank],
            vacancies=requiring[rank][0] if rank in requiring else 0,
            positions=requiring[rank][1] if rank in requiring else 0,
            students=sum(1 for has in speakers if has >= rank),
        )
        for rank in sorted(CEFR_NAME)
    )
    pairs, removed, removed_here = _pairs_removed(needs, holdings, taxonomy, language)
    return LanguageBalance(
        language=language,
        vacancies=len(needs),
        positions=sum(need.positions for need in needs),
        students=len(holdings),
        requiring=levels,
        nice_to_have=nice_to_have,
        english_friendly=english_friendly,
        pairs_on_skills=pairs,
        pairs_removed=removed,
        pairs_removed_by_region_language=removed_here,
    )


def _pairs_removed(
    needs: Sequence[VacancyNeed],
    holdings: Sequence[StudentHolding],
    taxonomy: SkillTaxonomy,
    language: str,
) -> tuple[int, int, int]:
    by_skill: dict[str, set[int]] = defaultdict(set)
    for index, holding in enumerate(holdings):
        for uri in holding.skills:
            by_skill[uri].add(index)
    pairs = removed = removed_here = 0
    for need in needs:
        wanted = set(need.required) | set(need.nice)
        wanted |= {other for uri in list(wanted) for other in taxonomy.related(uri)}
        candidates: set[int] = set()
        for uri in wanted & by_skill.keys():
            candidates |= by_skill[uri]
        pairs += len(candidates)
        required = [n for n in need.languages if n.required]
        if not required:
            continue
        for index in candidates:
            spoken = holdings[index].languages
            short = [n.code for n in required if spoken.get(n.code, 0) < n.rank]
            if short:
                removed += 1
                removed_here += language in short
    return pairs, removed, removed_here
