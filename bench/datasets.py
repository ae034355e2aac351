"""Data for benchmarks and trials, built from ESCO occupations: import files of students,
companies and vacancies with a chosen share of deliberately broken rows, and matching
regions (student and vacancy entries for the matching engine) whose students stray from
their occupation by chosen amounts of noise."""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from interlocality.common.esco import EscoVocabulary
from interlocality.common.esco_relations import SkillGraph
from interlocality.matching.domain import LanguageNeed, RequiredSkill, StudentEntry, VacancyEntry

STUDENT_COLUMNS = [
    "external_id",
    "name",
    "email",
    "home_university",
    "study_field",
    "degree_level",
    "expected_graduation",
    "skills",
    "languages",
    "engagement_kinds",
    "hours_per_week",
    "residence_status",
    "consent_matching",
    "consent_notifications",
    "consent_analytics",
]
COMPANY_COLUMNS = [
    "external_id",
    "name",
    "employees",
    "sector",
    "city",
    "country",
    "work_languages",
    "social_languages",
    "export_markets",
]
VACANCY_COLUMNS = [
    "external_id",
    "company_external_id",
    "title",
    "kind",
    "required_skills",
    "nice_to_have_skills",
    "languages",
    "hours_per_week",
    "positions",
]
FIELDS = ["0613", "0612", "0413", "0715", "0714", "0311", "0411", "0541"]
KINDS = ["internship", "thesis", "student_job", "graduate_job", "company_project"]
LANGUAGES = ["en", "da", "de", "nl", "fi", "it", "es", "zh", "hi", "pt"]
BROKEN = [
    ("email", "not-an-address"),
    ("hours_per_week", "75"),
    ("study_field", "9x9"),
    ("languages", "english:C1"),
    ("skills", "pyton programing|3"),
    ("engagement_kinds", "apprenticeship"),
    ("external_id", ""),
]


def occupation_skills(vocabulary: EscoVocabulary) -> list[tuple[str, list[str], list[str]]]:
    result = []
    for occupation in vocabulary.occupations.values():
        essential = [u for u in occupation.essential_skills if u in vocabulary]
        if len(essential) >= 6:
            optional = [u for u in occupation.optional_skills if u in vocabulary]
            result.append((occupation.label, essential, optional))
    return result


def essential_skills_of(
    vocabulary: EscoVocabulary, labels: Sequence[str], count: int = 4
) -> list[list[str]]:
    """Per occupation named in ``labels``, the first ``count`` of its essential skills."""
    by_label = {o.label: o for o in vocabulary.occupations.values()}
    return [
        [uri for uri in by_label[label].essential_skills if uri in vocabulary][:count]
        for label in labels
    ]


def write_students(
    path: Path, count: int, vocabulary: EscoVocabulary, broken_share: float = 0.0, seed: int = 1
) -> list[int]:
    """Write ``count`` student rows; returns the line numbers that were broken on purpose."""
    rng = random.Random(seed)
    occupations = occupation_skills(vocabulary)
    broken_lines = []
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=STUDENT_COLUMNS)
        writer.writeheader()
        for n in range(count):
            _, essential, optional = occupations[rng.randrange(len(occupations))]
            chosen = rng.sample(essential, k=min(len(essential), rng.randint(4, 10)))
            chosen += rng.sample(optional, k=min(len(optional), rng.randint(0, 3)))
            row = {
                "external_id": f"stu-{n:07d}",
                "name": f"Student {n}",
                "email": f"student{n}@students.example.org",
                "home_university": "Aarhus University",
                "study_field": rng.choice(FIELDS),
                "degree_level": rng.choice(["bachelor", "master", "phd"]),
                "expected_graduation": f"{rng.randint(2026, 2029)}-{rng.randint(1, 12):02d}",
                "skills": ";".join(f"{uri}|{rng.randint(1, 5)}" for uri in dict.fromkeys(chosen)),
                "languages": ";".join(
                    f"{code}:{rng.choice(['B1', 'B2', 'C1', 'C2'])}"
                    for code in ["en", *rng.sample(LANGUAGES[1:], k=rng.randint(0, 2))]
                ),
                "engagement_kinds": ";".join(rng.sample(KINDS, k=rng.randint(1, 3))),
                "hours_per_week": str(rng.choice([10, 15, 20, 37])),
                "residence_status": rng.choice(["eu_eea_citizen", "non_eu_student"]),
                "consent_matching": "yes",
                "consent_notifications": "yes",
                "consent_analytics": rng.choice(["yes", "no"]),
            }
            if rng.random() < broken_share:
                field, value = BROKEN[len(broken_lines) % len(BROKEN)]
                row[field] = value
                broken_lines.append(n + 2)  # header is line 1
            writer.writerow(row)
    return broken_lines


def write_companies(path: Path, count: int, seed: int = 2) -> None:
    """Write ``count`` company rows."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COMPANY_COLUMNS)
        writer.writeheader()
        for n in range(count):
            writer.writerow(
                {
                    "external_id": f"com-{n:05d}",
                    "name": f"Company {n} ApS",
                    "employees": str(rng.choice([4, 12, 35, 80, 180])),
                    "sector": rng.choice(["62", "71", "28", "46", "73", "C"]),
                    "city": rng.choice(["Aarhus", "Leipzig", "Hasselt", "Oulu", "Bergamo"]),
                    "country": rng.choice(["DK", "DE", "BE", "FI", "IT"]),
                    "work_languages": "en;da",
                    "social_languages": "da",
                    "export_markets": ";".join(rng.sample(["DE", "SE", "NO", "US", "CN"], k=2)),
                }
            )


def write_vacancies(
    path: Path,
    count: int,
    companies: int,
    vocabulary: EscoVocabulary,
    broken_share: float = 0.0,
    seed: int = 3,
) -> list[int]:
    """Write ``count`` vacancy rows for ``companies`` companies; returns broken lines."""
    rng = random.Random(seed)
    occupations = occupation_skills(vocabulary)
    broken_lines = []
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=VACANCY_COLUMNS)
        writer.writeheader()
        for n in range(count):
            label, essential, optional = occupations[rng.randrange(len(occupations))]
            row = {
                "external_id": f"vac-{n:06d}",
                "company_external_id": f"com-{rng.randrange(companies):05d}",
                "title": label.capitalize(),
                "kind": rng.choice(KINDS),
                "required_skills": ";".join(f"{u}|{rng.randint(1, 4)}" for u in essential[:6]),
                "nice_to_have_skills": ";".join(f"{u}|1" for u in optional[:3]),
                "languages": "en:B2" + rng.choice(["", ";da:B1:nice", ";de:B2"]),
                "hours_per_week": str(rng.choice([15, 20, 37])),
                "positions": str(rng.randint(1, 3)),
            }
            if rng.random() < broken_share:
                field, value = [
                    ("company_external_id", "com-missing"),
                    ("hours_per_week", "61"),
                    ("kind", "apprenticeship"),
                    ("languages", "xx:B2"),
                ][len(broken_lines) % 4]
                row[field] = value
                broken_lines.append(n + 2)
            writer.writerow(row)
    return broken_lines


# -- matching regions: entries for the matching engine, built from ESCO occupations ------

TOWNS = ["aarhus", "aarhus", "aarhus", "silkeborg", "randers", "horsens"]
LOCAL_LANGUAGES = ["da", "de", "sv", "no"]
HOURS_OF_KIND: dict[str, list[int | None]] = {
    "internship": [20, 30, 37],
    "thesis": [None, 10],
    "student_job": [10, 15, 20],
    "graduate_job": [37],
    "company_project": [None, 10, 20],
}


@dataclass(frozen=True)
class OccupationProfile:
    """An ESCO occupation as a source of vacancies and of the students who fit them."""

    uri: str
    label: str
    essential: tuple[str, ...]
    optional: tuple[str, ...]
    study_field: str | None  # the ISCED-F field most of its knowledge hangs under


@dataclass(frozen=True)
class StudentNoise:
    """How far a generated student strays from the occupation they were drawn from."""

    drop: float = 0.5  # share of the occupation's essential skills the student does not list
    related: float = 0.3  # share of the listed ones replaced by a narrower, broader or sibling
    extra: int = 4  # up to this many skills of random other occupations
    field: float = 0.3  # chance the study field is not the occupation's own
    # Skill levels. "usual": a student's levels uniform on 1–5, a vacancy's minimum levels
    # uniform on 1–4 (required) and 1–3 (nice to have). "independent": every level and
    # every minimum uniform on 1–5, drawn from a stream of their own, so the region is the
    # usual one of its seed in all but its levels. Either way levels are unrelated to the
    # occupation a student or vacancy was drawn from.
    levels: str = "usual"


@dataclass
class MatchingRegion:
    """Students and vacancies of one region, and the occupation each was drawn from."""

    occupations: list[OccupationProfile]
    students: list[StudentEntry]
    vacancies: list[VacancyEntry]
    occupation_of: dict[str, str]  # student or vacancy id → occupation URI


def occupation_profiles(vocabulary: EscoVocabulary, graph: SkillGraph) -> list[OccupationProfile]:
    """Every ESCO occupation with at least six known essential skills, in URI order."""
    profiles = []
    for occupation in sorted(vocabulary.occupations.values(), key=lambda o: o.uri):
        essential = tuple(u for u in occupation.essential_skills if u in vocabulary)
        if len(essential) < 6:
            continue
        optional = tuple(u for u in occupation.optional_skills if u in vocabulary)
        fields = Counter(code for uri in essential + optional for code in graph.fields(uri))
        profiles.append(
            OccupationProfile(
                uri=occupation.uri,
                label=occupation.label,
                essential=essential,
                optional=optional,
                study_field=fields.most_common(1)[0][0] if fields else None,
            )
        )
    return profiles


def region_student(
    rng: random.Random,
    student_id: str,
    occupation: OccupationProfile,
    graph: SkillGraph,
    noise: StudentNoise,
    every: list[OccupationProfile],
) -> StudentEntry:
    """A student drawn from ``occupation``: some of its skills, some related ones instead,
    a few from elsewhere; conditions mild enough that most vacancies are open to them."""
    kept = [u for u in occupation.essential if rng.random() >= noise.drop]
    kept += rng.sample(occupation.optional, k=min(len(occupation.optional), rng.randint(0, 3)))
    skills: dict[str, int] = {}
    for uri in kept:
        near = graph.related(uri)
        if near and rng.random() < noise.related:
            uri = rng.choice(near).uri
        skills[uri] = rng.randint(1, 5)
    for _ in range(rng.randint(0, noise.extra)):
        skills.setdefault(rng.choice(rng.choice(every).essential), rng.randint(1, 5))
    if noise.levels == "independent":
        levels = random.Random(f"levels of {student_id}: {sorted(skills.items())}")
        skills = {uri: levels.randint(1, 5) for uri in skills}
    study_field = occupation.study_field
    if study_field is None or rng.random() < noise.field:
        study_field = rng.choice(every).study_field
    languages = {"en": rng.randint(4, 6)}
    for code in rng.sample(LOCAL_LANGUAGES, k=rng.randint(0, 2)):
        languages[code] = rng.randint(1, 5)
    kinds = KINDS if rng.random() < 0.8 else rng.sample(KINDS, k=rng.randint(3, 4))
    non_eu = rng.random() < 0.4
    return StudentEntry(
        id=student_id,
        version=1,
        skills=skills,
        languages=languages,
        engagement_kinds=frozenset(kinds),
        hours_per_week=rng.choice([None, 10, 15, 20, 37]),
        available_from=rng.choice([None, None, date(2027, 1, 1), date(2027, 2, 1)]),
        available_until=rng.choice([None, None, None, None, date(2027, 12, 31)]),
        preferred_locations=frozenset(
            () if rng.random() < 0.85 else ("aarhus", rng.choice(TOWNS), rng.choice(TOWNS))
        ),
        remote=rng.choice([None, None, None, "hybrid", "hybrid", "hybrid", "on_site", "remote"]),
        study_field=study_field,
        permitted_hours=20.0 if non_eu else None,
        permit_country="DK" if non_eu else "",
        curricular_exempt=True,
    )


def region_vacancy(
    rng: random.Random, vacancy_id: str, occupation: OccupationProfile, levels: str = "usual"
) -> VacancyEntry:
    """An open vacancy for ``occupation``: some of its essential skills required, some of
    its optional ones nice to have, each at a random minimum level (see
    :attr:`StudentNoise.levels`)."""
    required = rng.sample(occupation.essential, k=min(len(occupation.essential), rng.randint(4, 8)))
    nice = rng.sample(occupation.optional, k=min(len(occupation.optional), rng.randint(0, 3)))
    kind = rng.choice(KINDS)
    languages = []
    if rng.random() < 0.8:
        languages.append(LanguageNeed("en", rng.choice([3, 4]), True))
    if rng.random() < 0.3:
        languages.append(LanguageNeed(rng.choice(LOCAL_LANGUAGES), 3, False))
    company_id = f"c-{rng.randrange(500):03d}"
    required_skills = tuple(RequiredSkill(u, rng.randint(1, 4)) for u in required)
    nice_skills = tuple(RequiredSkill(u, rng.randint(1, 3)) for u in nice if u not in required)
    if levels == "independent":
        draw = random.Random(f"levels of {vacancy_id}: {required_skills} {nice_skills}")
        required_skills = tuple(RequiredSkill(s.uri, draw.randint(1, 5)) for s in required_skills)
        nice_skills = tuple(RequiredSkill(s.uri, draw.randint(1, 5)) for s in nice_skills)
    return VacancyEntry(
        id=vacancy_id,
        version=1,
        company_id=company_id,
        title=occupation.label,
        kind=kind,
        status="open",
        required=required_skills,
        nice=nice_skills,
        languages=tuple(languages),
        hours_per_week=rng.choice(HOURS_OF_KIND[kind]),
        start_date=rng.choice([None, None, date(2027, 3, 1), date(2027, 9, 1)]),
        location=rng.choice(TOWNS).capitalize(),
        remote=rng.choice(["on_site", "hybrid", "hybrid", "remote"]),
        curricular=kind == "internship" and rng.random() < 0.7,
        export_languages=frozenset(rng.sample(LOCAL_LANGUAGES, k=rng.randint(0, 2))),
    )


def matching_region(
    vocabulary: EscoVocabulary,
    graph: SkillGraph,
    *,
    occupations: int,
    students: int,
    vacancies: int,
    noise: StudentNoise,
    seed: int,
) -> MatchingRegion:
    """``students`` and ``vacancies`` drawn evenly at random from ``occupations`` ESCO
    occupations chosen at random (the same seed gives the same region)."""
    rng = random.Random(seed)
    every = occupation_profiles(vocabulary, graph)
    chosen = rng.sample(every, k=min(occupations, len(every)))
    occupation_of: dict[str, str] = {}
    student_entries = []
    for n in range(students):
        occupation = chosen[rng.randrange(len(chosen))]
        entry = region_student(rng, f"s-{n:07d}", occupation, graph, noise, every)
        student_entries.append(entry)
        occupation_of[entry.id] = occupation.uri
    vacancy_entries = []
    for n in range(vacancies):
        occupation = chosen[n % len(chosen)] if n < len(chosen) else rng.choice(chosen)
        vacancy = region_vacancy(rng, f"v-{n:06d}", occupation, noise.levels)
        vacancy_entries.append(vacancy)
        occupation_of[vacancy.id] = occupation.uri
    return MatchingRegion(chosen, student_entries, vacancy_entries, occupation_of)
