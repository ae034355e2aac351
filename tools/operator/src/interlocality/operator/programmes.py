"""The partner programmes ``interlocality up --regions`` starts, and demo data shaped like each.

A region's dashboards suppress every cell built from fewer than a handful of students or
companies, so a region of 25 students shows almost nothing. Each programme here is seeded
with hundreds of students and dozens of SMEs, drawn (deterministically, from a seed) from
what the programme is about:

- **aarhus** (Denmark, rules ``dk``): the Aarhus international talent programme
  (InterResource) takes international students to export-oriented SMEs of Region
  Midtjylland in engineering, IT and agri-food. Most vacancies are English-friendly and ask
  Danish only as nice to have: the coffee-table Danish SMEs worry about, not the work.
- **leipzig** (Germany, rules ``de``): the Leipzig Fachkräfteallianz and "Bleiben lohnt
  sich" keep graduates in the region: manufacturing, logistics around the Schkeuditz hub,
  IT and the internationalisation of SMEs. German at B1 or above is often required.
- **limburg** (Flemish Belgium, rules ``be-vlg``): young international STEM talent for the
  SMEs of Hasselt and Genk in logistics, chemistry and energy, with Dutch as the working
  language of many, and students from the Afrikaans-speaking countries the programme
  recruits in.

:func:`build_programme_region` gives the import rows (NDJSON-ready, idempotent by external
id) and the applications and placements that follow; :func:`seed_programme_region` imports
them through the services' bulk endpoints and plays the applications once the vacancies
service knows the students. ``ProgrammeRegion.graduates`` names the students who graduated
already (in the last four semesters), and ``ProgrammeRegion.outcomes`` what became of each, in
the shares the programme's own figures suggest; :func:`record_programme_outcomes` records
them on the students, as the region's operator would.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import httpx

from interlocality.common.esco import EscoVocabulary, default_vocabulary
from interlocality.contracts.outcomes import GraduateOutcomeKind
from interlocality.operator.accounts import region_accounts
from interlocality.operator.demo import DemoSeedError

__all__ = [
    "PROGRAMMES",
    "SIZES",
    "DemoSize",
    "Origin",
    "Programme",
    "ProgrammeRegion",
    "RegionSize",
    "SeededProgramme",
    "Specialism",
    "build_programme_region",
    "graduation_months",
    "programme_accounts",
    "record_programme_outcomes",
    "seed_programme_region",
    "stage_programme_activity_later",
]

DemoSize = Literal["small", "full"]


@dataclass(frozen=True)
class RegionSize:
    """How many of each a programme region is seeded with."""

    companies: int
    vacancies: int
    students: int


SIZES: dict[str, RegionSize] = {
    # Enough that most dashboard cells hold five or more students or companies.
    "full": RegionSize(companies=36, vacancies=72, students=300),
    # For a test that starts regions end to end and must stay short.
    "small": RegionSize(companies=6, vacancies=10, students=30),
}


@dataclass(frozen=True)
class Specialism:
    """What a programme's SMEs do and its students study: an ESCO occupation (its skills
    are what vacancies ask and students hold), the SMEs' NACE sector, the students' ISCED-F
    field, and words for company names and vacancy titles."""

    occupation: str
    sector: str
    study_field: str
    company_words: tuple[str, ...]
    topics: tuple[str, ...]
    weight: int = 1


@dataclass(frozen=True)
class Origin:
    """Where a programme's international students come from: names and native languages."""

    first_names: tuple[str, ...]
    surnames: tuple[str, ...]
    languages: tuple[str, ...]
    eu: bool
    weight: int = 1


@dataclass(frozen=True)
class Programme:
    """A partner region's programme: where it is, its rules and what its region looks like.

    ``local_levels`` weighs the levels of the region's language students hold (``""``: none);
    ``required_share`` is the share of vacancies that require that language, at
    ``required_levels``; of the others, ``nice_share`` list it as nice to have.
    ``outcome_shares`` weighs what became of the programme's graduates (percent).
    """

    region: str
    title: str
    rules: str
    time_zone: str
    language: str
    locale: Literal["en", "da", "de", "nl", "fi", "it"]
    country: str
    area: str
    cities: tuple[str, ...]
    universities: tuple[str, ...]
    email_domain: str
    company_prefixes: tuple[str, ...]
    company_form: str
    phone_prefix: str
    specialisms: tuple[Specialism, ...]
    origins: tuple[Origin, ...]
    local_levels: Mapping[str, int]
    required_share: float
    required_levels: tuple[str, ...]
    nice_share: float
    outcome_shares: Mapping[GraduateOutcomeKind, int]


AARHUS = Programme(
    region="aarhus",
    title="Aarhus international talent programme (InterResource)",
    rules="dk",
    time_zone="Europe/Copenhagen",
    language="da",
    locale="da",
    country="DK",
    area="Midtjylland",
    cities=("Aarhus", "Aarhus", "Aarhus", "Silkeborg", "Randers", "Horsens", "Herning", "Viborg"),
    universities=(
        "Aarhus University",
        "Aarhus BSS, Aarhus University",
        "VIA University College",
        "Aarhus School of Architecture",
    ),
    email_domain="post.au.example",
    company_prefixes=(
        "Kattegat",
        "Mols",
        "Gudenå",
        "Djursland",
        "Søhøjland",
        "Brabrand",
        "Risskov",
        "Skejby",
        "Højbjerg",
        "Ådalen",
        "Marselis",
        "Egå",
    ),
    company_form="ApS",
    phone_prefix="+45 86",
    specialisms=(
        Specialism(
            "mechanical engineer",
            "28.25",
            "0715",
            ("Varmepumper", "Maskinteknik", "Vindteknik"),
            ("heat pumps for export", "wind turbine components"),
            3,
        ),
        Specialism(
            "electrical engineer",
            "27.12",
            "0713",
            ("Elteknik", "Energi"),
            ("smart grid control", "power electronics"),
            2,
        ),
        Specialism(
            "software developer",
            "62.01",
            "0613",
            ("Software", "Kode"),
            ("a customer portal", "an IoT backend"),
            3,
        ),
        Specialism(
            "data analyst",
            "62.02",
            "0542",
            ("Data", "Analytics"),
            ("sales dashboards", "export market analysis"),
            2,
        ),
        Specialism(
            "food technologist",
            "10.51",
            "0721",
            ("Fødevarer", "Mejeriteknik"),
            ("plant-based dairy", "shelf life of organic food"),
            2,
        ),
        Specialism(
            "agricultural engineer",
            "28.30",
            "0811",
            ("Agritech", "Landbrugsteknik"),
            ("precision farming sensors", "robotic weeding"),
            2,
        ),
        Specialism(
            "marketing assistant",
            "73.11",
            "0414",
            ("Eksport", "Kommunikation"),
            ("entering the German market", "a campaign for Brazil"),
            1,
        ),
    ),
    origins=(
        Origin(
            ("Rahul", "Priya", "Arjun", "Ananya", "Vikram", "Sneha"),
            ("Mehta", "Sharma", "Iyer", "Reddy", "Nair"),
            ("hi",),
            False,
            3,
        ),
        Origin(
            ("Wei", "Xiaoling", "Hao", "Yu"),
            ("Zhang", "Li", "Wang", "Chen"),
            ("zh",),
            False,
            2,
        ),
        Origin(
            ("Ingrid", "Øystein", "Sølvi", "Håkon"),
            ("Sørlie", "Bjørnstad", "Løvås", "Hægeland"),
            ("no",),
            True,
            2,
        ),
        Origin(
            ("Åsa", "Björn", "Linnéa", "Måns"),
            ("Lindqvist", "Åkesson", "Strömberg", "Söderlund"),
            ("sv",),
            True,
            1,
        ),
        Origin(
            ("Begoña", "Íñigo", "Lucía", "Martín"),
            ("Muñoz", "Ibáñez", "Romero", "Peña"),
            ("es",),
            True,
            2,
        ),
        Origin(
            ("Elif", "Barış", "Ayşe", "Işıl"),
            ("Yılmaz", "Şahin", "Öztürk", "Kılıç"),
            ("tr",),
            False,
            2,
        ),
        Origin(
            ("Lukas", "Jürgen", "Anna", "Jörg"),
            ("Müller", "Schäfer", "Köhler", "Weiß"),
            ("de",),
            True,
            2,
        ),
        Origin(
            ("João", "Luíza", "Gabriel", "Thaís"),
            ("Araújo", "Gonçalves", "Simões", "Conceição"),
            ("pt",),
            False,
            1,
        ),
        Origin(
            ("Ioana", "Andrei", "Mădălina", "Ștefan"),
            ("Popescu", "Ionescu", "Dumitrescu", "Căpraru"),
            ("ro",),
            True,
            1,
        ),
        Origin(
            ("Nguyễn", "Linh", "Minh"),
            ("Trần", "Phạm", "Lê"),
            ("vi",),
            False,
            1,
        ),
    ),
    local_levels={"": 45, "A1": 25, "A2": 15, "B1": 10, "B2": 4, "C1": 1},
    required_share=0.12,
    required_levels=("B1", "B2"),
    nice_share=0.45,
    # Half stay in Midtjylland, the retention the programme works for; a good fifth leave
    # for Copenhagen or abroad.
    outcome_shares={
        "employed_in_region": 50,
        "employed_elsewhere": 22,
        "further_study": 13,
        "unknown": 15,
    },
)

LEIPZIG = Programme(
    region="leipzig",
    title="Fachkräfteallianz Leipzig and „Bleiben lohnt sich“",
    rules="de",
    time_zone="Europe/Berlin",
    language="de",
    locale="de",
    country="DE",
    area="Sachsen",
    cities=("Leipzig", "Leipzig", "Leipzig", "Schkeuditz", "Markkleeberg", "Taucha", "Delitzsch"),
    universities=(
        "Universität Leipzig",
        "HTWK Leipzig",
        "HHL Leipzig Graduate School of Management",
        "Hochschule für Telekommunikation Leipzig",
    ),
    email_domain="studserv.uni-leipzig.example",
    company_prefixes=(
        "Auenwald",
        "Plagwitzer",
        "Connewitzer",
        "Lindenauer",
        "Pleiße",
        "Elster",
        "Gohliser",
        "Reudnitzer",
        "Mitteldeutsche",
        "Saale",
        "Völkerschlacht",
        "Südvorstädter",
    ),
    company_form="GmbH",
    phone_prefix="+49 341",
    specialisms=(
        Specialism(
            "automotive engineer",
            "29.32",
            "0716",
            ("Fahrzeugteile", "Antriebstechnik"),
            ("battery housings for e-cars", "lightweight body parts"),
            3,
        ),
        Specialism(
            "production engineer",
            "28.99",
            "0715",
            ("Maschinenbau", "Metallbau", "Automatisierung"),
            ("a lean assembly line", "predictive maintenance"),
            3,
        ),
        Specialism(
            "logistics analyst",
            "52.29",
            "0413",
            ("Logistik", "Lagertechnik"),
            ("the air freight hub", "cross-docking to Poland"),
            3,
        ),
        Specialism(
            "supply chain manager",
            "52.10",
            "0413",
            ("Spedition", "Supply Chain"),
            ("supplier risk in Central Europe", "green logistics"),
            2,
        ),
        Specialism(
            "software developer",
            "62.01",
            "0613",
            ("Softwarewerkstatt", "Digital"),
            ("a booking platform", "digitising the shop floor"),
            3,
        ),
        Specialism(
            "data analyst",
            "62.02",
            "0542",
            ("Datenlabor", "Analytik"),
            ("demand forecasting", "regional qualification demand"),
            1,
        ),
        Specialism(
            "business developer",
            "70.22",
            "0413",
            ("Außenhandel", "Beratung"),
            ("entering markets abroad", "an export strategy for SMEs"),
            1,
        ),
    ),
    origins=(
        Origin(
            ("Oleksandr", "Olena", "Dmytro", "Kateryna"),
            ("Kovalenko", "Shevchenko", "Bondarenko", "Tkachenko"),
            ("uk", "ru"),
            False,
            3,
        ),
        Origin(
            ("Aarav", "Ishita", "Rohan", "Kavya"),
            ("Patel", "Gupta", "Banerjee", "Menon"),
            ("hi",),
            False,
            3,
        ),
        Origin(
            ("Şebnem", "Emre", "Gülşen", "Oğuz"),
            ("Aydın", "Çelik", "Doğan", "Güneş"),
            ("tr",),
            False,
            2,
        ),
        Origin(
            ("Reza", "Maryam", "Ali", "Shirin"),
            ("Ahmadi", "Hosseini", "Karimi", "Rahimi"),
            ("fa",),
            False,
            2,
        ),
        Origin(
            ("Yara", "Omar", "Lina", "Khaled"),
            ("Haddad", "Al-Khatib", "Nasser", "Saleh"),
            ("ar",),
            False,
            2,
        ),
        Origin(
            ("Tomáš", "Kateřina", "Jiří", "Zuzana"),
            ("Dvořák", "Novák", "Černá", "Růžička"),
            ("cs",),
            True,
            1,
        ),
        Origin(
            ("Paweł", "Agnieszka", "Łukasz", "Małgorzata"),
            ("Wójcik", "Zieliński", "Kowalczyk", "Łuczak"),
            ("pl",),
            True,
            1,
        ),
        Origin(
            ("Thi Lan", "Quang", "Thu Hà"),
            ("Nguyễn", "Hoàng", "Đặng"),
            ("vi",),
            False,
            1,
        ),
        Origin(
            ("Begoña", "Nuño", "Inés"),
            ("Muñoz", "Núñez", "Castaño"),
            ("es",),
            True,
            1,
        ),
    ),
    local_levels={"": 10, "A2": 15, "B1": 30, "B2": 30, "C1": 15},
    required_share=0.6,
    required_levels=("B1", "B1", "B2"),
    nice_share=0.8,
    # "Bleiben lohnt sich": most stay in the Leipzig region; fewer are not heard of again,
    # the alliance follows its graduates closely.
    outcome_shares={
        "employed_in_region": 56,
        "employed_elsewhere": 20,
        "further_study": 14,
        "unknown": 10,
    },
)

LIMBURG = Programme(
    region="limburg",
    title="Young international STEM talent for Limburg's SMEs",
    rules="be-vlg",
    time_zone="Europe/Brussels",
    language="nl",
    locale="nl",
    country="BE",
    area="Limburg",
    cities=("Hasselt", "Hasselt", "Genk", "Genk", "Diepenbeek", "Beringen", "Lommel", "Tongeren"),
    universities=("UHasselt", "PXL Hogeschool", "KU Leuven campus Diepenbeek"),
    email_domain="student.uhasselt.example",
    company_prefixes=(
        "Kempen",
        "Haspengouw",
        "Maasland",
        "Demer",
        "Genker",
        "Albertkanaal",
        "Bokrijk",
        "Zwartberg",
        "Herkenrode",
        "Winterslag",
        "Hoge Kempen",
        "Sint-Truidense",
    ),
    company_form="NV",
    phone_prefix="+32 11",
    specialisms=(
        Specialism(
            "logistics engineer",
            "52.10",
            "0413",
            ("Logistiek", "Distributie"),
            ("the Genk logistics park", "barge transport on the Albert Canal"),
            3,
        ),
        Specialism(
            "supply chain manager",
            "52.29",
            "0413",
            ("Supply Chain", "Trimodaal"),
            ("trimodal supply chains", "warehouse automation"),
            2,
        ),
        Specialism(
            "chemical engineer",
            "20.16",
            "0711",
            ("Chemie", "Polymeren", "Coatings"),
            ("recycled polymers", "low-solvent coatings"),
            3,
        ),
        Specialism(
            "chemical engineering technician",
            "20.59",
            "0711",
            ("Procestechniek", "Labo"),
            ("process safety", "a pilot reactor"),
            2,
        ),
        Specialism(
            "energy engineer",
            "35.11",
            "0713",
            ("Energie", "Warmtenet"),
            ("a district heating network", "energy communities"),
            2,
        ),
        Specialism(
            "solar energy engineer",
            "35.11",
            "0713",
            ("Zonnetechniek", "Solar"),
            ("solar carports", "batteries next to solar parks"),
            2,
        ),
        Specialism(
            "mechatronics engineer",
            "28.41",
            "0714",
            ("Mechatronica", "Automatisering"),
            ("robot cells", "predictive maintenance of press lines"),
            1,
        ),
    ),
    origins=(
        Origin(
            ("Pieter", "Anri", "Johan", "Elmarie"),
            ("van der Merwe", "Botha", "Du Plessis", "Pretorius"),
            ("af",),
            False,
            3,
        ),
        Origin(
            ("Ndapewa", "Tangeni", "Hilma", "Ndeshi"),
            ("Shikongo", "Nghifikwa", "Amukoto", "Iipinge"),
            ("af",),
            False,
            2,
        ),
        Origin(
            ("Yusuf", "Zeynep", "Gökhan", "Büşra"),
            ("Öztürk", "Yıldız", "Koç", "Aktaş"),
            ("tr",),
            False,
            2,
        ),
        Origin(
            ("Fatima Zahra", "Yassine", "Salma", "Mehdi"),
            ("El Amrani", "Benali", "Ouchane", "Tazi"),
            ("ar", "fr"),
            False,
            2,
        ),
        Origin(
            ("Sanjay", "Divya", "Karthik", "Meera"),
            ("Krishnan", "Rao", "Pillai", "Subramaniam"),
            ("ta",),
            False,
            2,
        ),
        Origin(
            ("Begoña", "Pilar", "Agustín", "Nuria"),
            ("Muñoz", "Cañizares", "Ordóñez", "Gámez"),
            ("es",),
            True,
            1,
        ),
        Origin(
            ("Jörn", "Lena", "Björn", "Sünje"),
            ("Jürgensen", "Böhm", "Schröder", "Krüger"),
            ("de",),
            True,
            1,
        ),
        Origin(
            ("Kwame", "Abena", "Kofi", "Ama"),
            ("Mensah", "Owusu", "Boateng", "Asante"),
            ("ak",),
            False,
            1,
        ),
    ),
    local_levels={"": 30, "A1": 15, "A2": 20, "B1": 20, "B2": 12, "C1": 3},
    required_share=0.4,
    required_levels=("B1", "B2"),
    nice_share=0.7,
    # Antwerp, Brussels and the Dutch Brainport are close: more leave than in the others;
    # UHasselt's doctoral schools keep some in further study.
    outcome_shares={
        "employed_in_region": 42,
        "employed_elsewhere": 27,
        "further_study": 16,
        "unknown": 15,
    },
)

PROGRAMMES: dict[str, Programme] = {p.region: p for p in (AARHUS, LEIPZIG, LIMBURG)}

ENGLISH_LEVELS = {"B1": 1, "B2": 4, "C1": 4, "C2": 1}
KINDS = ("internship", "thesis", "student_job", "graduate_job", "company_project")
KIND_WEIGHTS = (4, 2, 3, 3, 1)
CORE_SKILLS = 12  # the essential skills of an occupation its vacancies mostly ask


@dataclass(frozen=True)
class ProgrammeRegion:
    """A programme region's import rows and the activity that follows them.

    Companies, vacancies and students are JSON Lines rows of the bulk imports, each with an
    ``external_id``; vacancies name their company by ``company_external_id``. Applications
    and placements pair a student's external id with a vacancy's.
    """

    programme: Programme
    companies: list[dict[str, Any]]
    vacancies: list[dict[str, Any]]
    students: list[dict[str, Any]]
    applications: list[tuple[str, str]] = field(default_factory=list)
    placements: list[tuple[str, str]] = field(default_factory=list)
    outcomes: dict[str, dict[str, str]] = field(default_factory=dict)
    """A graduate's external id → the body of ``PUT /v1/students/{id}/outcome``."""

    @property
    def graduates(self) -> list[str]:
        """External ids of the students whose expected graduation has passed: the ones whose
        outcome (employed in the region, elsewhere, further study) an operator records."""
        this_month = datetime.now(UTC).strftime("%Y-%m")
        return [
            row["external_id"]
            for row in self.students
            if row.get("expected_graduation") and row["expected_graduation"] < this_month
        ]


def _weighted(rng: random.Random, weights: Mapping[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _month(day: date, months: int) -> str:
    index = day.year * 12 + day.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _skills_of(vocabulary: EscoVocabulary, label: str) -> tuple[list[str], list[str]]:
    """The essential and optional skills of the ESCO occupation ``label`` the vocabulary
    knows, in the vocabulary's order."""
    for occupation in vocabulary.occupations.values():
        if occupation.label == label and occupation.essential_skills:
            essential = [uri for uri in occupation.essential_skills if uri in vocabulary]
            optional = [uri for uri in occupation.optional_skills if uri in vocabulary]
            return essential, optional
    raise LookupError(f"ESCO has no occupation {label!r} with essential skills")


def graduation_months(today: date) -> list[str]:
    """The months (``YYYY-MM``) before this one of the last four semesters that have any:
    when a programme region's graduates graduated. Semesters as analytics counts them:
    January–July, August–December."""
    this = today.year * 12 + today.month - 1
    last = this - 1
    start = last - last % 12 + (0 if last % 12 < 7 else 7)
    for _ in range(3):
        # Before January comes the August of the year before; before August, January.
        start -= 5 if start % 12 == 0 else 7
    return [f"{index // 12:04d}-{index % 12 + 1:02d}" for index in range(start, this)]


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower().replace(" ", ".") if ch.isalnum() or ch in ".-")


def _companies(
    programme: Programme, size: RegionSize, rng: random.Random
) -> list[tuple[dict[str, Any], Specialism]]:
    weights = {s: s.weight for s in programme.specialisms}
    rows: list[tuple[dict[str, Any], Specialism]] = []
    names: set[str] = set()
    for n in range(size.companies):
        # Every specialism has companies before any has a second one.
        specialism = (
            programme.specialisms[n] if n < len(programme.specialisms) else _weighted(rng, weights)
        )
        name = ""
        while not name or name in names:
            prefix = rng.choice(programme.company_prefixes)
            name = f"{prefix} {rng.choice(specialism.company_words)} {programme.company_form}"
            if name in names:
                name = (
                    f"{prefix} {rng.choice(specialism.company_words)} {n} {programme.company_form}"
                )
        names.add(name)
        origin = rng.choice(programme.origins)  # SMEs hire internationals too
        contact = f"{rng.choice(origin.first_names)} {rng.choice(origin.surnames)}"
        local = programme.language
        english_friendly = rng.random() > programme.required_share
        rows.append(
            (
                {
                    "external_id": f"{programme.region}-company-{n + 1:03d}",
                    "name": name,
                    "employees": rng.choice((6, 9, 14, 18, 23, 31, 38, 45, 64, 85, 120, 190)),
                    "sector": specialism.sector,
                    "city": rng.choice(programme.cities),
                    "region": programme.area,
                    "country": programme.country,
                    "work_languages": [local, "en"] if english_friendly else [local],
                    "social_languages": [local],
                    "export_markets": rng.sample(
                        ["DE", "SE", "NO", "NL", "PL", "FR", "GB", "US", "CZ", "AT", "BR", "CN"],
                        k=3,
                    ),
                    "contact": {
                        "name": contact,
                        "email": f"contact{n + 1}@{_slug(name.rsplit(' ', 1)[0])}.example",
                        "phone": f"{programme.phone_prefix} {rng.randint(100000, 999999)}",
                    },
                },
                specialism,
            )
        )
    return rows


def _hours(kind: str, rng: random.Random) -> int:
    return {
        "internship": rng.choice((30, 37)),
        "thesis": rng.choice((20, 30)),
        "student_job": rng.choice((10, 15, 20)),
        "graduate_job": 37,
        "company_project": rng.choice((6, 8, 10)),
    }[kind]


def _vacancy_title(kind: str, specialism: Specialism, topic: str) -> str:
    role = specialism.occupation
    return {
        "internship": f"Internship: {role} — {topic}",
        "thesis": f"Thesis: {topic}",
        "student_job": f"Student job: {role}",
        "graduate_job": f"Graduate {role}",
        "company_project": f"Company project: {topic}",
    }[kind]


def _vacancies(
    programme: Programme,
    size: RegionSize,
    companies: Sequence[tuple[dict[str, Any], Specialism]],
    skills: Mapping[str, tuple[list[str], list[str]]],
    rng: random.Random,
    today: date,
) -> list[tuple[dict[str, Any], Specialism]]:
    rows: list[tuple[dict[str, Any], Specialism]] = []
    for n in range(size.vacancies):
        company, specialism = companies[n % len(companies)]
        essential, optional = skills[specialism.occupation]
        core = essential[:CORE_SKILLS]
        required = rng.sample(core, k=min(len(core), rng.randint(3, 5)))
        nice_pool = [uri for uri in (optional or essential) if uri not in required]
        kind = rng.choices(KINDS, weights=KIND_WEIGHTS)[0]
        languages = [{"code": "en", "min_level": rng.choice(("B2", "B2", "C1")), "required": True}]
        if rng.random() < programme.required_share:
            level = rng.choice(programme.required_levels)
            languages.append({"code": programme.language, "min_level": level, "required": True})
            if rng.random() < 0.5:
                languages[0]["required"] = False
        elif rng.random() < programme.nice_share:
            languages.append({"code": programme.language, "min_level": "B1", "required": False})
        start = today + timedelta(days=rng.randint(20, 120))
        weeks = {"graduate_job": None, "student_job": 52}.get(kind, rng.choice((12, 20, 24)))
        rows.append(
            (
                {
                    "external_id": f"{programme.region}-vacancy-{n + 1:03d}",
                    "company_external_id": company["external_id"],
                    "title": _vacancy_title(kind, specialism, rng.choice(specialism.topics)),
                    "description": f"{company['name']}, {company['city']}: "
                    f"{rng.choice(specialism.topics)}.",
                    "kind": kind,
                    "required_skills": [
                        {"uri": uri, "min_level": rng.choice((2, 2, 3))} for uri in required
                    ],
                    "nice_to_have_skills": [
                        {"uri": uri, "min_level": 2}
                        for uri in rng.sample(nice_pool, k=min(2, len(nice_pool)))
                    ],
                    "languages": languages,
                    "hours_per_week": _hours(kind, rng),
                    "start_date": start.isoformat(),
                    "end_date": (start + timedelta(weeks=weeks)).isoformat() if weeks else None,
                    "location": company["city"],
                    "remote": rng.choice(("on_site", "on_site", "hybrid", "remote")),
                    "positions": rng.choice((1, 1, 1, 2, 3)),
                    "application_deadline": (start - timedelta(days=10)).isoformat(),
                    "curricular": kind == "internship" and rng.random() < 0.4,
                },
                specialism,
            )
        )
    return rows


def _notification_preferences(programme: Programme, rng: random.Random) -> dict[str, Any]:
    locale = programme.locale if rng.random() < 0.3 else "en"
    base = {"locale": locale, "time_zone": programme.time_zone}
    # Mostly digests and the in-app feed: hundreds of students mailed at every match would
    # flood the region's mailbox.
    choice = rng.random()
    if choice < 0.5:
        return {**base, "frequency": "weekly", "channels": ["in_app", "email"]}
    if choice < 0.85:
        return {**base, "frequency": "instant", "channels": ["in_app"]}
    return {**base, "frequency": "instant", "channels": ["in_app", "email"], "min_score": 0.7}


def _students(
    programme: Programme,
    size: RegionSize,
    skills: Mapping[str, tuple[list[str], list[str]]],
    rng: random.Random,
    today: date,
    graduations: random.Random,
) -> list[tuple[dict[str, Any], Specialism]]:
    """The students; ``graduations`` draws when the graduates among them graduated, so the
    other draws stay those of ``rng``."""
    specialisms = {s: s.weight for s in programme.specialisms}
    graduated_in = graduation_months(today)
    origins = {o: o.weight for o in programme.origins}
    rows: list[tuple[dict[str, Any], Specialism]] = []
    for n in range(size.students):
        origin: Origin = _weighted(rng, origins)
        specialism: Specialism = _weighted(rng, specialisms)
        name = f"{rng.choice(origin.first_names)} {rng.choice(origin.surnames)}"
        low = rng.choice((1, 2, 2, 3))
        levels: dict[str, int] = {}
        studies = [(specialism, rng.uniform(0.4, 0.85))]
        if rng.random() < 0.35:
            studies.append((_weighted(rng, specialisms), rng.uniform(0.15, 0.4)))
        for studied, share in studies:
            essential, optional = skills[studied.occupation]
            core = essential[:CORE_SKILLS]
            held = rng.sample(core, k=max(1, round(share * len(core))))
            held += rng.sample(essential[CORE_SKILLS:], k=min(3, len(essential[CORE_SKILLS:])))
            held += rng.sample(optional, k=min(2, len(optional)))
            for uri in held:
                levels[uri] = max(levels.get(uri, 0), rng.randint(low, min(5, low + 2)))
        languages = [{"code": code, "level": "C2"} for code in origin.languages]
        known = set(origin.languages)
        if "en" not in known:
            languages.append({"code": "en", "level": _weighted(rng, ENGLISH_LEVELS)})
            known.add("en")
        local = _weighted(rng, programme.local_levels)
        if local and programme.language not in known:
            languages.append({"code": programme.language, "level": local})
        graduates_in = rng.randint(-10, 24)
        graduated = graduates_in < 0
        residence = (
            "eu_eea_citizen"
            if origin.eu
            else ("non_eu_graduate_job_seeker" if graduated else "non_eu_student")
        )
        kinds = (
            ["graduate_job"]
            if graduated
            else rng.sample(["internship", "thesis", "student_job", "company_project"], k=2)
            + (["graduate_job"] if graduates_in < 6 else [])
        )
        rows.append(
            (
                {
                    "external_id": f"{programme.region}-student-{n + 1:04d}",
                    "name": name,
                    "email": f"{_slug(name)}.{n + 1}@{programme.email_domain}",
                    "home_university": rng.choice(programme.universities),
                    "study_field": specialism.study_field,
                    "degree_level": rng.choice(("bachelor", "master", "master", "phd")),
                    "expected_graduation": graduations.choice(graduated_in)
                    if graduated
                    else _month(today, graduates_in),
                    "skills": [{"uri": uri, "level": level} for uri, level in levels.items()],
                    "languages": languages,
                    "engagement_kinds": kinds,
                    "hours_per_week": 37 if graduated else rng.choice((10, 15, 20, 30, 37)),
                    "available_from": (today + timedelta(days=rng.randint(0, 60))).isoformat(),
                    "preferred_locations": rng.sample(programme.cities[:4], k=1)
                    if rng.random() < 0.3
                    else [],
                    "residence_status": residence,
                    # Consent is opt-in: each fictional student says what they agreed to.
                    "consents": {
                        "matching": True,
                        "notifications": rng.random() > 0.05,
                        "analytics": rng.random() > 0.12,
                    },
                    "notification_preferences": _notification_preferences(programme, rng),
                },
                specialism,
            )
        )
    return rows


def _quotas(shares: Mapping[GraduateOutcomeKind, int], n: int) -> list[GraduateOutcomeKind]:
    """``n`` outcomes in the shares given, each rounded by the largest remainder: the
    region's figures are the programme's, not a draw's luck."""
    total = sum(shares.values())
    counts = {kind: n * weight // total for kind, weight in shares.items()}
    by_remainder = sorted(shares, key=lambda kind: -(n * shares[kind] % total))
    for kind in by_remainder[: n - sum(counts.values())]:
        counts[kind] += 1
    return [kind for kind, count in counts.items() for _ in range(count)]


def _outcomes(
    programme: Programme,
    students: Sequence[dict[str, Any]],
    rng: random.Random,
    today: date,
) -> dict[str, dict[str, str]]:
    """What became of each graduate: the programme's shares dealt out at random, graduated
    on a day of the month they graduated in."""
    this_month = _month(today, 0)
    graduates = [row for row in students if row["expected_graduation"] < this_month]
    kinds = _quotas(programme.outcome_shares, len(graduates))
    rng.shuffle(kinds)
    outcomes: dict[str, dict[str, str]] = {}
    for row, kind in zip(graduates, kinds, strict=True):
        year, month = (int(part) for part in row["expected_graduation"].split("-"))
        day = date(year, month, rng.randint(1, 28))
        outcomes[row["external_id"]] = {"graduated_on": day.isoformat(), "outcome": kind}
    return outcomes


def build_programme_region(
    programme: Programme,
    size: DemoSize | RegionSize = "full",
    *,
    vocabulary: EscoVocabulary | None = None,
    seed: int = 15,
    today: date | None = None,
) -> ProgrammeRegion:
    """The programme region's import rows: the same for the same ``seed`` and ``today``.

    Companies each work in one of the programme's specialisms; a vacancy asks 3–5 of the
    core essential skills of its specialism's ESCO occupation (and two of its other skills
    as nice to have); a student holds a share of the core skills of what they study (and
    sometimes of a second specialism), so most vacancies have matches of varied quality.
    Some vacancies get applications from students of their specialism, and some of those a
    placement. Graduates graduated in the last four semesters, each with an outcome.
    """
    vocabulary = vocabulary or default_vocabulary()
    today = today or datetime.now(UTC).date()
    sizes = SIZES[size] if isinstance(size, str) else size
    rng = random.Random(f"{programme.region}:{seed}")
    skills = {s.occupation: _skills_of(vocabulary, s.occupation) for s in programme.specialisms}
    companies = _companies(programme, sizes, rng)
    vacancies = _vacancies(programme, sizes, companies, skills, rng, today)
    graduations = random.Random(f"{programme.region}:{seed}:graduates")
    students = _students(programme, sizes, skills, rng, today, graduations)
    by_specialism: dict[Specialism, list[dict[str, Any]]] = {}
    for student, specialism in students:
        by_specialism.setdefault(specialism, []).append(student)
    applications: list[tuple[str, str]] = []
    placements: list[tuple[str, str]] = []
    for vacancy, specialism in vacancies:
        candidates = [
            s for s in by_specialism.get(specialism, []) if vacancy["kind"] in s["engagement_kinds"]
        ]
        if not candidates or rng.random() < 0.3:
            continue
        applicants = rng.sample(candidates, k=min(len(candidates), rng.randint(1, 4)))
        applications += [(s["external_id"], vacancy["external_id"]) for s in applicants]
        if rng.random() < 0.4:
            placements.append((applicants[0]["external_id"], vacancy["external_id"]))
    return ProgrammeRegion(
        programme,
        companies=[row for row, _ in companies],
        vacancies=[row for row, _ in vacancies],
        students=[row for row, _ in students],
        applications=applications,
        placements=placements,
        outcomes=_outcomes(programme, [row for row, _ in students], graduations, today),
    )


# -- seeding over HTTP ---------------------------------------------------------------------


@dataclass(frozen=True)
class SeededProgramme:
    """A programme region as its services registered it: external id → the service's id."""

    region: ProgrammeRegion
    company_ids: dict[str, str]
    vacancy_ids: dict[str, str]
    student_ids: dict[str, str]

    @property
    def counts(self) -> dict[str, int]:
        """How many of each the services hold."""
        return {
            "companies": len(self.company_ids),
            "vacancies": len(self.vacancy_ids),
            "students": len(self.student_ids),
        }


def programme_accounts(seeded: SeededProgramme) -> list[dict[str, Any]]:
    """The accounts of the programme region's people (see
    :mod:`interlocality.operator.accounts`)."""
    region = seeded.region
    return region_accounts(
        region.programme.region,
        (
            (row["name"], seeded.company_ids[row["external_id"]])
            for row in region.companies
            if row["external_id"] in seeded.company_ids
        ),
        (
            (row["name"], seeded.student_ids[row["external_id"]])
            for row in region.students
            if row["external_id"] in seeded.student_ids
        ),
    )


def _ndjson(rows: Iterable[Mapping[str, Any]]) -> bytes:
    return b"".join(json.dumps(row, ensure_ascii=False).encode() + b"\n" for row in rows)


def _bulk_import(
    client: httpx.Client,
    url: str,
    kind: str,
    rows: Sequence[Mapping[str, Any]],
    progress: Callable[[str, int, int], None],
) -> None:
    """POST ``rows`` to an import endpoint as JSON Lines, passing on its progress lines;
    :class:`DemoSeedError` with the first bad rows when any failed."""
    report: dict[str, Any] = {}
    with client.stream(
        "POST", f"{url}/v1/imports/{kind}", params={"format": "jsonl"}, content=_ndjson(rows)
    ) as response:
        if response.is_error:
            response.read()
            raise DemoSeedError(
                f"import of {kind} answered {response.status_code}: {response.text}"
            )
        for line in response.iter_lines():
            if not line.strip():
                continue
            message = json.loads(line)
            if "progress" in message:
                progress(kind, int(message["progress"]["rows"]), len(rows))
            elif "report" in message:
                report = message["report"]
    if report.get("failed"):
        errors = "; ".join(
            f"line {e['line']} {e['field']}: {e['message']}" for e in report["errors"][:3]
        )
        raise DemoSeedError(f"{report['failed']} of {len(rows)} {kind} were refused: {errors}")
    progress(kind, int(report.get("rows", len(rows))), len(rows))


def _ids_by_external_id(
    client: httpx.Client, url: str, extract: Callable[[dict[str, Any]], tuple[str | None, str]]
) -> dict[str, str]:
    """Every item of a paged list, as external id → id."""
    ids: dict[str, str] = {}
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, params=params)
        if response.is_error:
            raise DemoSeedError(f"GET {url} answered {response.status_code}: {response.text}")
        page = response.json()
        for item in page["items"]:
            external, own = extract(item)
            if external:
                ids[external] = own
        cursor = page.get("next_cursor")
        if not cursor:
            return ids


def seed_programme_region(
    urls: Mapping[str, str],
    client: httpx.Client,
    region: ProgrammeRegion,
    progress: Callable[[str, int, int], None] = lambda kind, done, total: None,
) -> SeededProgramme:
    """Import the region's companies, vacancies and students through the bulk endpoints
    (idempotent by external id: a second seed changes nothing), read back their ids and
    record the graduates' outcomes."""
    vacancies, profiles = urls["vacancies"], urls["profiles"]
    _bulk_import(client, vacancies, "companies", region.companies, progress)
    _bulk_import(client, vacancies, "vacancies", region.vacancies, progress)
    _bulk_import(client, profiles, "students", region.students, progress)
    seeded = SeededProgramme(
        region,
        company_ids=_ids_by_external_id(
            client,
            f"{vacancies}/v1/companies",
            lambda item: (item.get("external_id"), str(item["company_id"])),
        ),
        vacancy_ids=_ids_by_external_id(
            client,
            f"{vacancies}/v1/vacancies",
            lambda item: (item["vacancy"].get("external_id"), str(item["vacancy_id"])),
        ),
        student_ids=_ids_by_external_id(
            client,
            f"{profiles}/v1/students",
            lambda item: (item.get("external_id"), str(item["student_id"])),
        ),
    )
    record_programme_outcomes(profiles, client, seeded, progress)
    return seeded


def record_programme_outcomes(
    profiles_url: str,
    client: httpx.Client,
    seeded: SeededProgramme,
    progress: Callable[[str, int, int], None] = lambda kind, done, total: None,
) -> int:
    """Record each graduate's outcome on the student, as the operator would (the same
    outcome again changes nothing); ``progress`` hears of every fiftieth and the last.
    Returns how many were recorded."""
    outcomes = seeded.region.outcomes
    for done, (external_id, body) in enumerate(outcomes.items(), start=1):
        url = f"{profiles_url}/v1/students/{seeded.student_ids[external_id]}/outcome"
        response = client.put(url, json=body)
        if response.is_error:
            raise DemoSeedError(f"PUT {url} answered {response.status_code}: {response.text[:300]}")
        if done % 50 == 0 or done == len(outcomes):
            progress("outcomes", done, len(outcomes))
    return len(outcomes)


def _stage_activity(
    vacancies_url: str, client: httpx.Client, seeded: SeededProgramme, timeout: float
) -> tuple[int, int]:
    """Post the region's applications, then its placements; a student the vacancies
    service has not heard of yet (from the students topic) is asked for again."""
    deadline = time.monotonic() + timeout
    applied = placed = 0
    for kind, pairs in (
        ("applications", seeded.region.applications),
        ("placements", seeded.region.placements),
    ):
        for student, vacancy in pairs:
            url = f"{vacancies_url}/v1/vacancies/{seeded.vacancy_ids[vacancy]}/{kind}"
            body = {"student_id": seeded.student_ids[student]}
            while True:
                response = client.post(url, json=body)
                unknown = response.status_code == 422 and "unknown_student" in response.text
                if not unknown or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            if response.status_code in (200, 201):
                applied += kind == "applications"
                placed += kind == "placements"
            elif response.status_code != 409:  # applied or placed already: a second seed
                raise DemoSeedError(
                    f"POST {url} answered {response.status_code}: {response.text[:300]}"
                )
    return applied, placed


def _publish_snapshot(
    analytics_url: str, client: httpx.Client, applied: int, placed: int, timeout: float
) -> str:
    """Once analytics has counted the staged applications and placements, publish the
    region's snapshot of the running month, so the partner regions' page shows the region
    at once rather than at the next scheduled snapshot; returns its month."""
    deadline = time.monotonic() + timeout
    while True:
        counted = client.get(f"{analytics_url}/v1/summary").json()["by_type"]
        if (
            counted.get("ApplicationSubmitted.v1", 0) >= applied
            and counted.get("PlacementMade.v1", 0) >= placed
        ) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    response = client.post(f"{analytics_url}/v1/federation/snapshots", json={})
    if response.status_code != 201:
        raise DemoSeedError(
            f"POST /v1/federation/snapshots answered {response.status_code}: {response.text[:300]}"
        )
    return str(response.json()["snapshot"]["period"])


def stage_programme_activity_later(
    urls: Mapping[str, str],
    seeded: SeededProgramme,
    *,
    say: Callable[[str], None],
    timeout: float = 120.0,
    auth: httpx.Auth | None = None,
) -> threading.Thread:
    """The region's applications and placements in a thread of its own, announced through
    ``say``, then its snapshot for the partner regions: waiting for the vacancies service
    to hear of every student need not hold back the region's start. ``auth`` signs its
    requests in."""
    name = seeded.region.programme.region

    def stage() -> None:
        try:
            with httpx.Client(timeout=30.0, auth=auth) as client:
                applied, placed = _stage_activity(urls["vacancies"], client, seeded, timeout)
        except (DemoSeedError, httpx.HTTPError) as exc:
            say(f"{name}: demo activity not staged: {exc}")
            return
        say(f"{name}: {applied} applications and {placed} placements staged")
        try:
            with httpx.Client(timeout=30.0, auth=auth) as client:
                month = _publish_snapshot(urls["analytics"], client, applied, placed, timeout)
        except (DemoSeedError, httpx.HTTPError) as exc:
            say(f"{name}: no snapshot for the partner regions: {exc}")
            return
        say(f"{name}: snapshot of {month} published to the partner regions")

    thread = threading.Thread(target=stage, name=f"programme-activity-{name}")
    thread.start()
    return thread
