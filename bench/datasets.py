"""Import files for benchmarks and trials: students, companies and vacancies built from
ESCO occupations, with a chosen share of deliberately broken rows."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from interlocality.common.esco import EscoVocabulary

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


def _occupations(vocabulary: EscoVocabulary) -> list[tuple[str, list[str], list[str]]]:
    result = []
    for occupation in vocabulary.occupations.values():
        essential = [u for u in occupation.essential_skills if u in vocabulary]
        if len(essential) >= 6:
            optional = [u for u in occupation.optional_skills if u in vocabulary]
            result.append((occupation.label, essential, optional))
    return result


def write_students(
    path: Path, count: int, vocabulary: EscoVocabulary, broken_share: float = 0.0, seed: int = 1
) -> list[int]:
    """Write ``count`` student rows; returns the line numbers that were broken on purpose."""
    rng = random.Random(seed)
    occupations = _occupations(vocabulary)
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
    occupations = _occupations(vocabulary)
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
