"""A small demo region built from ESCO occupations and their essential skills."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from interlocality.common.esco import EscoVocabulary, Occupation

__all__ = ["DEMO_OCCUPATIONS", "DemoRegion", "build_demo_region"]

# Occupations the partner regions' SMEs most often recruit international students for.
DEMO_OCCUPATIONS = (
    "software developer",
    "data analyst",
    "mechanical engineer",
    "marketing assistant",
    "electrical engineer",
    "logistics analyst",
)
DEMO_COMPANIES = (
    ("Nordlys Software ApS", "Aarhus"),
    ("Elbtal Maschinenbau GmbH", "Leipzig"),
    ("Maasvallei Logistics BV", "Maastricht"),
    ("Kempen Marketing NV", "Hasselt"),
)
STUDENT_NAMES = (
    "Ana Souza",
    "Wei Zhang",
    "Priya Natarajan",
    "Kwame Mensah",
    "Lucía Romero",
    "Amir Haddad",
    "Mei Tanaka",
    "Oluwaseun Adeyemi",
    "Elif Yılmaz",
    "Nguyen Van An",
    "Sofia Petrova",
    "Rahul Mehta",
)
LANGUAGE_SETS = (
    [{"code": "en", "level": "C1"}, {"code": "pt", "level": "C2"}],
    [{"code": "en", "level": "B2"}, {"code": "zh", "level": "C2"}, {"code": "da", "level": "A2"}],
    [{"code": "en", "level": "C2"}, {"code": "de", "level": "B1"}],
    [{"code": "en", "level": "C1"}, {"code": "nl", "level": "A2"}],
)
KINDS = ("internship", "thesis", "student_job", "graduate_job")
# How the demo students hear of their matches: each locale, instant e-mail and digests, so
# the embedded mailbox has messages in several languages as soon as the region is up.
NOTIFICATION_CHOICES = (
    {"channels": ["in_app", "email"], "locale": "en", "time_zone": "Europe/Copenhagen"},
    {"channels": ["in_app", "email"], "locale": "da", "time_zone": "Europe/Copenhagen"},
    {"channels": ["in_app", "email"], "locale": "de", "time_zone": "Europe/Berlin"},
    {"channels": ["in_app", "email"], "locale": "nl", "time_zone": "Europe/Amsterdam"},
    {"channels": ["in_app", "email"], "locale": "fi", "time_zone": "Europe/Helsinki"},
    {"channels": ["in_app", "email"], "locale": "it", "time_zone": "Europe/Rome"},
    {"channels": ["in_app"], "locale": "en", "time_zone": "Europe/Brussels"},
    {
        "frequency": "daily",
        "channels": ["in_app", "email"],
        "locale": "de",
        "time_zone": "Europe/Berlin",
        "digest_hour": 8,
    },
    {
        "frequency": "weekly",
        "channels": ["in_app", "email"],
        "locale": "nl",
        "time_zone": "Europe/Brussels",
        "digest_weekday": "monday",
    },
    {
        "channels": ["in_app", "email"],
        "locale": "en",
        "time_zone": "Europe/Copenhagen",
        "min_score": 0.6,
    },
)


@dataclass
class DemoRegion:
    """Request bodies for the demo: companies, then vacancies, then students."""

    companies: list[dict[str, Any]] = field(default_factory=list)
    vacancies: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    students: list[dict[str, Any]] = field(default_factory=list)


def _occupation(vocabulary: EscoVocabulary, label: str) -> Occupation | None:
    for occupation in vocabulary.occupations.values():
        if occupation.label == label and occupation.essential_skills:
            return occupation
    return None


def build_demo_region(vocabulary: EscoVocabulary, seed: int = 7) -> DemoRegion:
    """Companies with vacancies from ESCO occupations; students whose skills come from them.

    Vacancies ask for the occupation's first essential skills; each student holds most of
    one occupation's essential skills at varied levels, so every vacancy has matches of
    different quality. ``vacancies`` pairs each body with the index of its company. The
    students choose their notifications from :data:`NOTIFICATION_CHOICES` in turn.
    """
    rng = random.Random(seed)
    occupations = [o for o in (_occupation(vocabulary, label) for label in DEMO_OCCUPATIONS) if o]
    region = DemoRegion(companies=[{"name": n, "city": c} for n, c in DEMO_COMPANIES])
    for i, occupation in enumerate(occupations):
        kind = KINDS[i % len(KINDS)]
        skills = [uri for uri in occupation.essential_skills if uri in vocabulary][:8]
        region.vacancies.append(
            (
                i % len(DEMO_COMPANIES),
                {
                    "title": f"{occupation.label.capitalize()} ({kind.replace('_', ' ')})",
                    "kind": kind,
                    "required_skills": [
                        {"uri": uri, "min_level": rng.choice((2, 3))} for uri in skills
                    ],
                    "languages": [{"code": "en", "min_level": "B2"}],
                },
            )
        )
    for i, name in enumerate(STUDENT_NAMES):
        occupation = occupations[i % len(occupations)]
        pool = [uri for uri in occupation.essential_skills if uri in vocabulary]
        chosen = rng.sample(pool, k=max(1, min(len(pool), rng.randint(3, 8))))
        region.students.append(
            {
                "name": name,
                "email": f"{name.lower().replace(' ', '.')}@students.example.org",
                "skills": [{"uri": uri, "level": rng.randint(1, 5)} for uri in chosen],
                "languages": LANGUAGE_SETS[i % len(LANGUAGE_SETS)],
                "engagement_kinds": rng.sample(KINDS, k=2),
                "notification_preferences": NOTIFICATION_CHOICES[i % len(NOTIFICATION_CHOICES)],
            }
        )
    return region
