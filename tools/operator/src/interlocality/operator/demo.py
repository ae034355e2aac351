"""The demo region ``interlocality up`` seeds: a small region of the partner programmes.

Eight SMEs of Aarhus, Leipzig, Maastricht, Hasselt, Oulu and Bologna offer twelve vacancies
of every engagement kind, each asking for skills of an ESCO occupation. Twenty-five
international students hold part of the essential skills of the occupations they study
for — some most of them at a good level, some fewer or lower, some only neighbouring ones —
so every vacancy has several matches of clearly different quality. Some pairs are honestly
not matches, for reasons matching explains: English, German or Spanish below the level
asked, a full week of work that a non-EU student may not do in term, a start before the
student is available, a city the student does not want. Two of them graduated a few
months ago; the operator has recorded what became of them.

:func:`build_demo_region` turns that into request bodies (the same for a seed and a
moment); :func:`seed_demo_region` registers them as a user would, over HTTP;
:func:`stage_demo_activity` then waits until matching has scored the region and plays what
follows: a Company Dating event whose agendas are sent, applications and a placement.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from interlocality.common.esco import EscoVocabulary, Occupation, default_vocabulary
from interlocality.contracts.outcomes import GraduateOutcomeKind
from interlocality.operator.accounts import region_accounts

__all__ = [
    "COMPANIES",
    "STUDENTS",
    "VACANCIES",
    "DemoActivity",
    "DemoCompany",
    "DemoRegion",
    "DemoSeedError",
    "DemoStudent",
    "DemoVacancy",
    "SeededRegion",
    "build_demo_region",
    "dating_event_request",
    "demo_accounts",
    "seed_demo_region",
    "stage_demo_activity",
    "stage_demo_activity_later",
]


@dataclass(frozen=True)
class DemoCompany:
    """An SME of the demo region and the person students and the operator talk to."""

    name: str
    employees: int
    sector: str  # NACE Rev. 2
    city: str
    region: str
    country: str
    work_languages: tuple[str, ...]
    social_languages: tuple[str, ...]
    export_markets: tuple[str, ...]
    contact: tuple[str, str, str]  # name, e-mail, phone
    tables: int = 1  # at Company Dating


@dataclass(frozen=True)
class DemoVacancy:
    """A vacancy asking for skills of one ESCO occupation, named by their English labels.

    ``languages`` reads like ``"en B2, da B1 nice"``: a code, the lowest CEFR level and
    whether it is only nice to have.
    """

    company: str
    title: str
    kind: str
    occupation: str
    required: tuple[tuple[str, int], ...]  # an essential skill of the occupation, lowest level
    nice: tuple[str, ...]  # skills of the occupation, nice to have
    languages: str
    hours_per_week: int
    starts_in_days: int
    weeks: int | None
    remote: str
    description: str
    curricular: bool = False
    positions: int = 1
    applicants: int = 0  # how many of its best matches apply once the region is scored
    placement: bool = False  # and whether the best of them is hired


@dataclass(frozen=True)
class DemoStudent:
    """An international student: who they are, what they studied and how they want to hear.

    ``studies`` names ESCO occupations with the share of their essential skills the student
    holds; ``levels`` bounds the levels (1–5) of those skills. ``languages`` reads like
    ``"sv C2, en C1"``. ``outcome`` is what became of a graduate, as the operator records it.
    """

    name: str
    email: str
    home_university: str
    study_field: str  # ISCED-F 2013
    degree_level: str
    graduates_in_months: int  # negative: graduated that long ago
    residence_status: str
    languages: str
    engagement_kinds: tuple[str, ...]
    studies: tuple[tuple[str, float], ...]
    levels: tuple[int, int]
    hours_per_week: int
    notifications: Mapping[str, Any]
    preferred_locations: tuple[str, ...] = ()
    remote: str | None = None
    available_in_days: int = 0
    outcome: GraduateOutcomeKind | None = None


def _instant(locale: str, zone: str, **more: Any) -> dict[str, Any]:
    """Instant e-mail, in ``locale``."""
    return {"channels": ["in_app", "email"], "locale": locale, "time_zone": zone, **more}


CPH, BER, AMS, BRU, HEL, ROM = (
    "Europe/Copenhagen",
    "Europe/Berlin",
    "Europe/Amsterdam",
    "Europe/Brussels",
    "Europe/Helsinki",
    "Europe/Rome",
)
EMAIL_DOMAIN = "students.example.org"
# A daily digest at the first full hour of the student's zone after the region is seeded
# (build_demo_region sets the hour): notifications counts a new student's digest from the
# moment it hears of them, so no earlier digest can be due.
DAILY_DIGEST = {"frequency": "daily", "channels": ["in_app", "email"], "digest_max_items": 5}

COMPANIES: tuple[DemoCompany, ...] = (
    DemoCompany(
        name="Kattegat Varmepumper ApS",
        employees=38,
        sector="28.25",
        city="Aarhus",
        region="Midtjylland",
        country="DK",
        work_languages=("da", "en"),
        social_languages=("da",),
        export_markets=("DE", "SE", "NO"),
        contact=("Søren Østergaard", "soeren@kattegat-varme.example", "+45 86 12 34 56"),
        tables=2,
    ),
    DemoCompany(
        name="Ådalen Data ApS",
        employees=14,
        sector="62.02",
        city="Aarhus",
        region="Midtjylland",
        country="DK",
        work_languages=("en", "da"),
        social_languages=("da", "en"),
        export_markets=("DE", "NL", "GB"),
        contact=("Mette Kjærgaard", "mette@aadalen-data.example", "+45 87 65 43 21"),
        tables=2,
    ),
    DemoCompany(
        name="Auenwald Logistik GmbH",
        employees=85,
        sector="52.29",
        city="Leipzig",
        region="Sachsen",
        country="DE",
        work_languages=("de",),
        social_languages=("de",),
        export_markets=("PL", "CZ", "AT"),
        contact=("Jörg Weißenborn", "j.weissenborn@auenwald.example", "+49 341 2345678"),
    ),
    DemoCompany(
        name="Plagwitzer Softwarewerkstatt GmbH",
        employees=23,
        sector="62.01",
        city="Leipzig",
        region="Sachsen",
        country="DE",
        work_languages=("de", "en"),
        social_languages=("de",),
        export_markets=("AT", "CH"),
        contact=("Anja Schönfeld", "anja@plagwitzer.example", "+49 341 8765432"),
    ),
    DemoCompany(
        name="Jekerdal Marketing BV",
        employees=19,
        sector="73.11",
        city="Maastricht",
        region="Limburg",
        country="NL",
        work_languages=("nl", "en"),
        social_languages=("nl",),
        export_markets=("BE", "DE"),
        contact=("Maartje Vroemen", "maartje@jekerdal.example", "+31 43 321 4567"),
    ),
    DemoCompany(
        name="Kempen Mechatronica NV",
        employees=120,
        sector="28.41",
        city="Hasselt",
        region="Limburg",
        country="BE",
        work_languages=("nl", "en"),
        social_languages=("nl",),
        export_markets=("NL", "DE", "FR"),
        contact=("Pieter Vanhoof", "pieter.vanhoof@kempen-mechatronica.example", "+32 11 22 33 44"),
    ),
    DemoCompany(
        name="Pohjoisvalo Sensors Oy",
        employees=42,
        sector="26.51",
        city="Oulu",
        region="Pohjois-Pohjanmaa",
        country="FI",
        work_languages=("en", "fi"),
        social_languages=("fi",),
        export_markets=("SE", "DE", "US"),
        contact=("Päivi Hämäläinen", "paivi@pohjoisvalo.example", "+358 8 555 0123"),
    ),
    DemoCompany(
        name="Officine Reno S.r.l.",
        employees=64,
        sector="28.29",
        city="Bologna",
        region="Emilia-Romagna",
        country="IT",
        work_languages=("it", "en"),
        social_languages=("it",),
        export_markets=("ES", "DE", "FR"),
        contact=("Chiara Benedetti", "chiara.benedetti@officinereno.example", "+39 051 123 4567"),
    ),
)

VACANCIES: tuple[DemoVacancy, ...] = (
    DemoVacancy(
        company="Kattegat Varmepumper ApS",
        title="Heat pump design engineer",
        kind="graduate_job",
        occupation="mechanical engineer",
        required=(
            ("types of heat pumps", 3),
            ("mechanical engineering", 3),
            ("mechanics", 2),
            ("domestic cooling systems", 2),
            ("building automation", 2),
        ),
        nice=("refrigerants", "geothermal energy systems"),
        languages="en B2, da B1 nice",
        hours_per_week=37,
        starts_in_days=75,
        weeks=None,
        remote="on_site",
        description="Design air-to-water heat pumps for Scandinavian homes with our R&D team.",
        applicants=2,
    ),
    DemoVacancy(
        company="Kattegat Varmepumper ApS",
        title="Thesis: heat pumps that follow the smart grid",
        kind="thesis",
        occupation="electrical engineer",
        required=(
            ("smart grids systems", 3),
            ("electricity principles", 2),
            ("engineering principles", 2),
            ("integrated design", 2),
        ),
        nice=("electric heating systems",),
        languages="en B2",
        hours_per_week=30,
        starts_in_days=30,
        weeks=20,
        remote="hybrid",
        description="Master's thesis: shift heat pump load to hours of cheap wind power.",
    ),
    DemoVacancy(
        company="Ådalen Data ApS",
        title="Student data analyst",
        kind="student_job",
        occupation="data analyst",
        required=(
            ("statistics", 3),
            ("data mining", 2),
            ("query languages", 3),
            ("business intelligence", 2),
            ("visual presentation techniques", 2),
        ),
        nice=("use spreadsheets software", "web analytics"),
        languages="en B2, da B1 nice",
        hours_per_week=15,
        starts_in_days=14,
        weeks=52,
        remote="hybrid",
        description="Turn our clients' sales data into dashboards, next to your studies.",
        positions=2,
        applicants=3,
        placement=True,
    ),
    DemoVacancy(
        company="Ådalen Data ApS",
        title="Backend developer",
        kind="graduate_job",
        occupation="software developer",
        required=(
            ("computer programming", 3),
            ("ICT debugging tools", 2),
            ("integrated development environment software", 2),
            ("tools for software configuration management", 2),
            ("provide technical documentation", 2),
        ),
        nice=("Java (computer programming)", "JavaScript"),
        languages="en C1",
        hours_per_week=37,
        starts_in_days=60,
        weeks=None,
        remote="remote",
        description="Build and document the APIs behind our clients' data products; fully remote.",
    ),
    DemoVacancy(
        company="Auenwald Logistik GmbH",
        title="Werkstudent logistics analytics",
        kind="student_job",
        occupation="logistics analyst",
        required=(
            ("supply chain management", 2),
            ("use spreadsheets software", 3),
            ("use methods of logistical data analysis", 3),
            ("maintain logistics databases", 2),
            ("detect bottlenecks", 2),
        ),
        nice=("lean manufacturing", "perform data analysis"),
        languages="de B2, en B1 nice",
        hours_per_week=16,
        starts_in_days=21,
        weeks=52,
        remote="on_site",
        description="Find the bottlenecks of our cross-docking hub with the planners (in German).",
    ),
    DemoVacancy(
        company="Auenwald Logistik GmbH",
        title="Curricular internship in green logistics",
        kind="internship",
        occupation="logistics analyst",
        required=(
            ("green logistics", 2),
            ("supply chain management", 2),
            ("theory of constraints", 2),
            ("analyse relation between supply chain improvement and profit", 2),
        ),
        nice=("lean manufacturing",),
        languages="en B2, de B1 nice",
        hours_per_week=37,
        starts_in_days=45,
        weeks=24,
        remote="on_site",
        description="The mandatory internship of your programme: cut our trucks' CO₂ to Poland.",
        curricular=True,
    ),
    DemoVacancy(
        company="Plagwitzer Softwarewerkstatt GmbH",
        title="Company project: an accessible booking page",
        kind="company_project",
        occupation="web developer",
        required=(
            ("web programming", 3),
            ("style sheet languages", 2),
            ("World Wide Web Consortium standards", 2),
            ("use markup languages", 2),
            ("computer programming", 2),
        ),
        nice=("JavaScript", "Sass"),
        languages="en B2, de B1 nice",
        hours_per_week=10,
        starts_in_days=21,
        weeks=12,
        remote="remote",
        description="A semester project: make our customers' booking page work for everyone.",
    ),
    DemoVacancy(
        company="Jekerdal Marketing BV",
        title="Marketing internship (full time)",
        kind="internship",
        occupation="marketing assistant",
        required=(
            ("market research", 3),
            ("marketing management", 2),
            ("assist in developing marketing campaigns", 2),
            ("use different communication channels", 2),
            ("prepare presentation material", 2),
        ),
        nice=("social media management", "apply social media marketing"),
        languages="en C1, nl B1 nice",
        hours_per_week=32,
        starts_in_days=30,
        weeks=20,
        remote="hybrid",
        description="Five months on campaigns for cross-border retailers; not a curricular one.",
    ),
    DemoVacancy(
        company="Kempen Mechatronica NV",
        title="Thesis: predictive maintenance of press lines",
        kind="thesis",
        occupation="mechatronics engineer",
        required=(
            ("mechatronics", 3),
            ("control engineering", 2),
            ("electronics", 2),
            ("mechanical engineering", 2),
            ("mathematics", 3),
        ),
        nice=("hydraulics", "pneumatics"),
        languages="en B2, nl B1 nice",
        hours_per_week=30,
        starts_in_days=40,
        weeks=22,
        remote="on_site",
        description="Predict failures of our press lines from their sensors, at our Hasselt plant.",
    ),
    DemoVacancy(
        company="Pohjoisvalo Sensors Oy",
        title="Electronics test engineer",
        kind="graduate_job",
        occupation="mechatronics engineer",
        required=(
            ("electronics", 3),
            ("electrical engineering", 2),
            ("physics", 2),
            ("computer engineering", 2),
        ),
        nice=("firmware", "design firmware"),
        languages="en B2, fi A2 nice",
        hours_per_week=37,
        starts_in_days=90,
        weeks=None,
        remote="on_site",
        description="Test the optical sensors we ship to Arctic mines, from our lab in Oulu.",
    ),
    DemoVacancy(
        company="Officine Reno S.r.l.",
        title="Mechatronics internship in packaging machines",
        kind="internship",
        occupation="mechatronics engineer",
        required=(
            ("mechatronics", 2),
            ("control engineering", 2),
            ("mechanical engineering", 2),
            ("design drawings", 2),
            ("electrical engineering", 2),
        ),
        nice=("pneumatics",),
        languages="en B2, it B1 nice",
        hours_per_week=40,
        starts_in_days=60,
        weeks=24,
        remote="on_site",
        description="A curricular internship in the Packaging Valley: commission a cartoner.",
        curricular=True,
    ),
    DemoVacancy(
        company="Officine Reno S.r.l.",
        title="Company project: the Spanish market for our machines",
        kind="company_project",
        occupation="marketing assistant",
        required=(
            ("market research", 2),
            ("perform business research", 2),
            ("prepare presentation material", 2),
        ),
        nice=("speak different languages",),
        languages="es B2, en B2",
        hours_per_week=12,
        starts_in_days=30,
        weeks=14,
        remote="remote",
        description="Which Spanish food producers need our machines? A study for our sales team.",
        applicants=1,
    ),
)

STUDENTS: tuple[DemoStudent, ...] = (
    DemoStudent(
        name="Åsa Lindqvist",
        email=f"asa.lindqvist@{EMAIL_DOMAIN}",
        home_university="Aarhus University",
        study_field="0715",
        degree_level="master",
        graduates_in_months=6,
        residence_status="eu_eea_citizen",
        languages="sv C2, en C1, da B2",
        engagement_kinds=("graduate_job", "thesis"),
        studies=(("mechanical engineer", 0.8),),
        levels=(3, 5),
        hours_per_week=37,
        notifications=_instant("da", CPH),
        preferred_locations=("Aarhus",),
    ),
    DemoStudent(
        name="Elif Yılmaz",
        email=f"elif.yılmaz@{EMAIL_DOMAIN}",
        home_university="Aarhus University",
        study_field="0713",
        degree_level="master",
        graduates_in_months=10,
        residence_status="non_eu_student",
        languages="tr C2, en C1, de B1, da A2",
        engagement_kinds=("thesis", "internship", "student_job"),
        studies=(("electrical engineer", 0.75), ("mechatronics engineer", 0.15)),
        levels=(2, 5),
        hours_per_week=20,
        notifications=_instant("en", CPH),
    ),
    DemoStudent(
        name="Amir Haddad",
        email=f"amir.haddad@{EMAIL_DOMAIN}",
        home_university="UHasselt",
        study_field="0715",
        degree_level="master",
        graduates_in_months=12,
        residence_status="non_eu_student",
        languages="ar C2, fr C1, en C1, nl A2",
        engagement_kinds=("thesis", "internship"),
        studies=(("mechatronics engineer", 0.7),),
        levels=(3, 5),
        hours_per_week=30,
        notifications=_instant("en", BRU),
    ),
    DemoStudent(
        name="Rahul Mehta",
        email=f"rahul.mehta@{EMAIL_DOMAIN}",
        home_university="Università di Bologna",
        study_field="0714",
        degree_level="master",
        graduates_in_months=8,
        residence_status="non_eu_student",
        languages="hi C2, en C1, it A2",
        engagement_kinds=("internship", "graduate_job", "thesis"),
        studies=(("mechatronics engineer", 0.45), ("electrical engineer", 0.3)),
        levels=(2, 4),
        hours_per_week=40,
        notifications={**DAILY_DIGEST, "locale": "it", "time_zone": ROM},
    ),
    DemoStudent(
        name="Oluwaseun Adeyemi",
        email=f"oluwaseun.adeyemi@{EMAIL_DOMAIN}",
        home_university="University of Oulu",
        study_field="0714",
        degree_level="master",
        graduates_in_months=-2,
        residence_status="non_eu_graduate_job_seeker",
        languages="yo C2, en C2, fi A2",
        engagement_kinds=("graduate_job",),
        studies=(
            ("mechatronics engineer", 0.6),
            ("electrical engineer", 0.4),
            ("software developer", 0.3),
        ),
        levels=(3, 5),
        hours_per_week=37,
        notifications=_instant("en", HEL),
        # works in Oulu for now, and looks for a graduate job in the partner regions
        outcome="employed_elsewhere",
    ),
    DemoStudent(
        name="Kertu Tamm",
        email=f"kertu.tamm@{EMAIL_DOMAIN}",
        home_university="University of Oulu",
        study_field="0714",
        degree_level="bachelor",
        graduates_in_months=5,
        residence_status="eu_eea_citizen",
        languages="et C2, fi B2, en C1",
        engagement_kinds=("thesis", "graduate_job", "internship"),
        studies=(("mechatronics engineer", 0.6),),
        levels=(2, 4),
        hours_per_week=37,
        notifications=_instant("fi", HEL),
    ),
    DemoStudent(
        name="Dragoș Ionescu",
        email=f"dragos.ionescu@{EMAIL_DOMAIN}",
        home_university="Università di Bologna",
        study_field="0715",
        degree_level="master",
        graduates_in_months=9,
        residence_status="eu_eea_citizen",
        languages="ro C2, it B2, en B2",
        engagement_kinds=("internship", "graduate_job", "thesis"),
        studies=(("mechanical engineer", 0.5), ("mechatronics engineer", 0.3)),
        levels=(2, 4),
        hours_per_week=40,
        notifications=_instant("it", ROM),
    ),
    DemoStudent(
        name="Zeynep Öztürk",
        email=f"zeynep.ozturk@{EMAIL_DOMAIN}",
        home_university="Aarhus University",
        study_field="0713",
        degree_level="master",
        graduates_in_months=14,
        residence_status="non_eu_student",
        languages="tr C2, en B2, da A2",
        engagement_kinds=("thesis", "student_job"),
        studies=(("electrical engineer", 0.45), ("mechanical engineer", 0.2)),
        levels=(2, 3),
        hours_per_week=20,
        notifications=_instant("en", CPH),
    ),
    DemoStudent(
        name="Wei Zhang",
        email=f"wei.zhang@{EMAIL_DOMAIN}",
        home_university="Aarhus University",
        study_field="0613",
        degree_level="master",
        graduates_in_months=11,
        residence_status="non_eu_student",
        languages="zh C2, en B2, da A1",
        engagement_kinds=("student_job", "graduate_job", "company_project"),
        studies=(("software developer", 0.7), ("data analyst", 0.35)),
        levels=(3, 5),
        hours_per_week=15,
        notifications={"channels": ["in_app"], "locale": "en", "time_zone": CPH},
    ),
    DemoStudent(
        name="Nguyen Van An",
        email=f"nguyen.van.an@{EMAIL_DOMAIN}",
        home_university="HTWK Leipzig",
        study_field="0613",
        degree_level="bachelor",
        graduates_in_months=7,
        residence_status="non_eu_student",
        languages="vi C2, de B2, en B2",
        engagement_kinds=("company_project", "student_job", "graduate_job"),
        studies=(("web developer", 0.7), ("software developer", 0.35)),
        levels=(2, 5),
        hours_per_week=12,
        notifications=_instant("de", BER),
    ),
    DemoStudent(
        name="Priya Natarajan",
        email=f"priya.natarajan@{EMAIL_DOMAIN}",
        home_university="Aarhus University",
        study_field="0542",
        degree_level="master",
        graduates_in_months=-3,
        residence_status="non_eu_graduate_job_seeker",
        languages="ta C2, hi B2, en C2",
        engagement_kinds=("graduate_job", "student_job"),
        studies=(("data analyst", 0.8), ("software developer", 0.2)),
        levels=(3, 5),
        hours_per_week=20,
        notifications=_instant("en", CPH),
        # a PhD at Aarhus University, with a student job beside it
        outcome="further_study",
    ),
    DemoStudent(
        name="Ana Souza",
        email=f"ana.souza@{EMAIL_DOMAIN}",
        home_university="Maastricht University",
        study_field="0414",
        degree_level="master",
        graduates_in_months=8,
        residence_status="eu_eea_citizen",
        languages="pt C2, en C1, es B2, nl A2",
        engagement_kinds=("student_job", "internship", "company_project"),
        studies=(("marketing assistant", 0.6), ("data analyst", 0.4)),
        levels=(2, 4),
        hours_per_week=20,
        notifications=_instant("en", AMS),
    ),
    DemoStudent(
        name="Matteo Conti",
        email=f"matteo.conti@{EMAIL_DOMAIN}",
        home_university="Aarhus University",
        study_field="0613",
        degree_level="master",
        graduates_in_months=4,
        residence_status="eu_eea_citizen",
        languages="it C2, en C1, da A2",
        engagement_kinds=("graduate_job", "company_project"),
        studies=(("software developer", 0.85),),
        levels=(3, 5),
        hours_per_week=37,
        notifications=_instant("it", CPH),
        remote="remote",
    ),
    DemoStudent(
        name="Mei Tanaka",
        email=f"mei.tanaka@{EMAIL_DOMAIN}",
        home_university="Maastricht University",
        study_field="0414",
        degree_level="master",
        graduates_in_months=9,
        residence_status="non_eu_student",
        languages="ja C2, en C1, nl A1",
        engagement_kinds=("internship", "company_project"),
        studies=(("marketing assistant", 0.6), ("web developer", 0.45)),
        levels=(3, 5),
        hours_per_week=12,
        notifications=_instant("en", AMS),
    ),
    DemoStudent(
        name="Björn Håkansson",
        email=f"bjorn.hakansson@{EMAIL_DOMAIN}",
        home_university="Universität Leipzig",
        study_field="0613",
        degree_level="bachelor",
        graduates_in_months=6,
        residence_status="eu_eea_citizen",
        languages="sv C2, en C1, de B1",
        engagement_kinds=("company_project", "graduate_job"),
        studies=(("web developer", 0.4), ("software developer", 0.4)),
        levels=(2, 3),
        hours_per_week=37,
        notifications=_instant("de", BER),
        available_in_days=45,
    ),
    DemoStudent(
        name="Camila Restrepo",
        email=f"camila.restrepo@{EMAIL_DOMAIN}",
        home_university="Maastricht University",
        study_field="0414",
        degree_level="master",
        graduates_in_months=11,
        residence_status="non_eu_student",
        languages="es C2, en C1, nl A2",
        engagement_kinds=("company_project", "internship"),
        studies=(("marketing assistant", 0.6),),
        levels=(2, 4),
        hours_per_week=20,
        notifications=_instant("en", AMS),
    ),
    DemoStudent(
        name="Lucía Romero",
        email=f"lucía.romero@{EMAIL_DOMAIN}",
        home_university="Università di Bologna",
        study_field="0414",
        degree_level="master",
        graduates_in_months=7,
        residence_status="eu_eea_citizen",
        languages="es C2, en C1, it B2",
        engagement_kinds=("company_project", "internship"),
        studies=(("marketing assistant", 0.75),),
        levels=(3, 5),
        hours_per_week=32,
        notifications=_instant("it", ROM),
    ),
    DemoStudent(
        name="Begoña Muñoz",
        email=f"begona.munoz@{EMAIL_DOMAIN}",
        home_university="Universität Leipzig",
        study_field="0413",
        degree_level="master",
        graduates_in_months=8,
        residence_status="eu_eea_citizen",
        languages="es C2, de B2, en B2",
        engagement_kinds=("student_job", "internship"),
        studies=(("logistics analyst", 0.75),),
        levels=(3, 5),
        hours_per_week=16,
        notifications=_instant("de", BER),
    ),
    DemoStudent(
        name="Kwame Mensah",
        email=f"kwame.mensah@{EMAIL_DOMAIN}",
        home_university="Universität Leipzig",
        study_field="0413",
        degree_level="master",
        graduates_in_months=10,
        residence_status="non_eu_student",
        languages="en C2, de B1, tw C2",
        engagement_kinds=("student_job", "internship"),
        studies=(("logistics analyst", 0.6),),
        levels=(2, 5),
        hours_per_week=16,
        notifications=_instant("en", BER, min_score=0.5),
    ),
    DemoStudent(
        name="Oksana Kovalenko",
        email=f"oksana.kovalenko@{EMAIL_DOMAIN}",
        home_university="HTWK Leipzig",
        study_field="0413",
        degree_level="bachelor",
        graduates_in_months=5,
        residence_status="non_eu_work_permit",
        languages="uk C2, ru C2, de B2, en B2",
        engagement_kinds=("student_job", "internship", "graduate_job"),
        studies=(("logistics analyst", 0.45),),
        levels=(2, 4),
        hours_per_week=20,
        notifications=_instant("de", BER),
    ),
    DemoStudent(
        name="Sofia Petrova",
        email=f"sofia.petrova@{EMAIL_DOMAIN}",
        home_university="Maastricht University",
        study_field="0414",
        degree_level="bachelor",
        graduates_in_months=6,
        residence_status="eu_eea_citizen",
        languages="bg C2, en C1, nl B1, es A2",
        engagement_kinds=("internship", "company_project"),
        studies=(("marketing assistant", 0.55),),
        levels=(2, 4),
        hours_per_week=32,
        notifications=_instant("nl", AMS),
    ),
    DemoStudent(
        name="Ingrid Sæther",
        email=f"ingrid.saether@{EMAIL_DOMAIN}",
        home_university="Maastricht University",
        study_field="0414",
        degree_level="master",
        graduates_in_months=8,
        residence_status="eu_eea_citizen",
        languages="no C2, en C2, nl B2, da B1",
        engagement_kinds=("internship",),
        studies=(("marketing assistant", 0.4),),
        levels=(2, 4),
        hours_per_week=32,
        notifications={
            "frequency": "weekly",
            "channels": ["in_app", "email"],
            "locale": "nl",
            "time_zone": AMS,
            "digest_weekday": "monday",
        },
    ),
    DemoStudent(
        name="Reza Ahmadi",
        email=f"reza.ahmadi@{EMAIL_DOMAIN}",
        home_university="UHasselt",
        study_field="0413",
        degree_level="master",
        graduates_in_months=9,
        residence_status="non_eu_student",
        languages="fa C2, en C1, nl A2",
        engagement_kinds=("internship", "student_job"),
        studies=(("logistics analyst", 0.5),),
        levels=(2, 4),
        hours_per_week=20,
        notifications=_instant("nl", BRU),
    ),
    DemoStudent(
        name="Nomvula Dlamini",
        email=f"nomvula.dlamini@{EMAIL_DOMAIN}",
        home_university="University of Oulu",
        study_field="0414",
        degree_level="bachelor",
        graduates_in_months=10,
        residence_status="non_eu_student",
        languages="zu C2, en C2",
        engagement_kinds=("student_job", "company_project"),
        studies=(("data analyst", 0.35), ("marketing assistant", 0.3)),
        levels=(2, 4),
        hours_per_week=15,
        notifications=_instant("fi", HEL),
    ),
    DemoStudent(
        name="Lukas Novák",
        email=f"lukas.novak@{EMAIL_DOMAIN}",
        home_university="Universität Leipzig",
        study_field="0413",
        degree_level="master",
        graduates_in_months=7,
        residence_status="eu_eea_citizen",
        languages="cs C2, de C1, en B2, pl B1",
        engagement_kinds=("student_job", "internship"),
        studies=(("logistics analyst", 0.25),),
        levels=(1, 3),
        hours_per_week=16,
        notifications=_instant("en", BER),
    ),
)


@dataclass
class DemoRegion:
    """Request bodies for the demo: companies, then vacancies, then students, then the
    graduates' outcomes.

    ``vacancies`` pairs each body with the index of its company, ``outcomes`` with the index
    of its student.
    """

    companies: list[dict[str, Any]] = field(default_factory=list)
    vacancies: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    students: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[tuple[int, dict[str, str]]] = field(default_factory=list)


def _occupation(vocabulary: EscoVocabulary, label: str) -> Occupation:
    for occupation in vocabulary.occupations.values():
        if occupation.label == label and occupation.essential_skills:
            return occupation
    raise LookupError(f"ESCO has no occupation {label!r} with essential skills")


def _skill_uri(vocabulary: EscoVocabulary, occupation: Occupation, label: str) -> str:
    for uri in (*occupation.essential_skills, *occupation.optional_skills):
        skill = vocabulary.skill(uri)
        if skill is not None and skill.label == label:
            return uri
    raise LookupError(f"{label!r} is not a skill of the ESCO occupation {occupation.label!r}")


def _languages(text: str) -> list[list[str]]:
    return [part.split() for part in text.split(",")]


def _month(day: date, months: int) -> str:
    index = day.year * 12 + day.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _next_full_hour(now: datetime, zone: str) -> int:
    """The local hour of ``zone`` that starts first after ``now``, leaving the student a few
    minutes to be registered everywhere before it."""
    local = (now + timedelta(minutes=5)).astimezone(ZoneInfo(zone))
    return (local.hour + 1) % 24


def _company_body(company: DemoCompany) -> dict[str, Any]:
    contact_name, contact_email, contact_phone = company.contact
    return {
        "name": company.name,
        "employees": company.employees,
        "sector": company.sector,
        "city": company.city,
        "region": company.region,
        "country": company.country,
        "work_languages": list(company.work_languages),
        "social_languages": list(company.social_languages),
        "export_markets": list(company.export_markets),
        "contact": {"name": contact_name, "email": contact_email, "phone": contact_phone},
    }


def _vacancy_body(
    vacancy: DemoVacancy, company: DemoCompany, vocabulary: EscoVocabulary, today: date
) -> dict[str, Any]:
    occupation = _occupation(vocabulary, vacancy.occupation)
    start = today + timedelta(days=vacancy.starts_in_days)
    return {
        "title": vacancy.title,
        "description": vacancy.description,
        "kind": vacancy.kind,
        "required_skills": [
            {"uri": _skill_uri(vocabulary, occupation, label), "min_level": level}
            for label, level in vacancy.required
        ],
        "nice_to_have_skills": [
            {"uri": _skill_uri(vocabulary, occupation, label), "min_level": 2}
            for label in vacancy.nice
        ],
        "languages": [
            {"code": code, "min_level": level, "required": not nice}
            for code, level, *nice in _languages(vacancy.languages)
        ],
        "hours_per_week": vacancy.hours_per_week,
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(weeks=vacancy.weeks)).isoformat() if vacancy.weeks else None,
        "location": company.city,
        "remote": vacancy.remote,
        "positions": vacancy.positions,
        "application_deadline": (start - timedelta(days=10)).isoformat(),
        "curricular": vacancy.curricular,
    }


def _student_skills(
    student: DemoStudent, vocabulary: EscoVocabulary, rng: random.Random
) -> list[dict[str, int | str]]:
    levels: dict[str, int] = {}
    for label, share in student.studies:
        pool = [uri for uri in _occupation(vocabulary, label).essential_skills if uri in vocabulary]
        for uri in rng.sample(pool, k=max(1, round(share * len(pool)))):
            levels[uri] = max(levels.get(uri, 0), rng.randint(*student.levels))
    return [{"uri": uri, "level": level} for uri, level in levels.items()]


def _student_body(
    student: DemoStudent, vocabulary: EscoVocabulary, rng: random.Random, now: datetime
) -> dict[str, Any]:
    today = now.date()
    preferences = dict(student.notifications)
    if preferences.get("frequency") == "daily":
        preferences["digest_hour"] = _next_full_hour(now, preferences["time_zone"])
    body: dict[str, Any] = {
        "name": student.name,
        "email": student.email,
        "home_university": student.home_university,
        "study_field": student.study_field,
        "degree_level": student.degree_level,
        "expected_graduation": _month(today, student.graduates_in_months),
        "skills": _student_skills(student, vocabulary, rng),
        "languages": [
            {"code": code, "level": level} for code, level in _languages(student.languages)
        ],
        "engagement_kinds": list(student.engagement_kinds),
        "hours_per_week": student.hours_per_week,
        "available_from": (today + timedelta(days=student.available_in_days)).isoformat(),
        "preferred_locations": list(student.preferred_locations),
        "residence_status": student.residence_status,
        # Consent is opt-in: these fictional students say they agreed to everything, so the
        # demo shows matches, notifications and the region's figures.
        "consents": {"matching": True, "notifications": True, "analytics": True},
        "notification_preferences": preferences,
    }
    if student.remote:
        body["remote"] = student.remote
    return body


def _outcome_body(student: DemoStudent, outcome: str, today: date) -> dict[str, str]:
    """A graduate's outcome, graduated on the last day of the month they graduated in."""
    year, month = (int(part) for part in _month(today, student.graduates_in_months + 1).split("-"))
    return {
        "graduated_on": (date(year, month, 1) - timedelta(days=1)).isoformat(),
        "outcome": outcome,
    }


def build_demo_region(
    vocabulary: EscoVocabulary, seed: int = 23, now: datetime | None = None
) -> DemoRegion:
    """The demo's request bodies: the same for the same ``seed`` and ``now``.

    Dates count from ``now`` (vacancies start in the coming weeks, students graduate in the
    coming months); which of an occupation's essential skills a student holds, and at which
    level, is drawn from ``seed`` and the student's name (so that changing one student
    leaves the others as they were). A daily digest is due at the first full hour after ``now``
    in the student's zone.
    """
    now = now or datetime.now(UTC)
    by_name = {company.name: index for index, company in enumerate(COMPANIES)}
    return DemoRegion(
        companies=[_company_body(company) for company in COMPANIES],
        vacancies=[
            (
                by_name[vacancy.company],
                _vacancy_body(vacancy, COMPANIES[by_name[vacancy.company]], vocabulary, now.date()),
            )
            for vacancy in VACANCIES
        ],
        students=[
            _student_body(student, vocabulary, random.Random(f"{seed}: {student.name}"), now)
            for student in STUDENTS
        ],
        outcomes=[
            (index, _outcome_body(student, student.outcome, now.date()))
            for index, student in enumerate(STUDENTS)
            if student.outcome is not None
        ],
    )


# -- seeding over HTTP ---------------------------------------------------------------------


class DemoSeedError(RuntimeError):
    """The demo could not be seeded or its activity staged; the message says why."""


@dataclass(frozen=True)
class SeededRegion:
    """The demo region as the services registered it, with the ids they gave, and the
    outcomes recorded (the graduate's name and outcome)."""

    region: DemoRegion
    company_ids: list[str]
    vacancy_ids: list[str]
    student_ids: list[str]
    outcomes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """How many of each were registered."""
        return {
            "companies": len(self.company_ids),
            "vacancies": len(self.vacancy_ids),
            "students": len(self.student_ids),
        }


def _answer(response: httpx.Response) -> Any:
    if response.is_error:
        raise DemoSeedError(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json()


def _new_id(response: httpx.Response, kind: str) -> str:
    """The id a service gave what it created (its ``<kind>_id``)."""
    return str(_answer(response)[f"{kind}_id"])


def seed_demo_region(
    urls: Mapping[str, str],
    client: httpx.Client,
    *,
    now: datetime | None = None,
    vocabulary: EscoVocabulary | None = None,
) -> SeededRegion:
    """Register the demo's companies, vacancies and students as a user would, over HTTP.

    ``urls`` maps each service's name to its base URL. The students choose how they hear of
    their matches as they register: instant e-mail in every locale, a daily digest due
    within the hour, a weekly one, the in-app feed only. The graduates' outcomes follow.
    """
    region = build_demo_region(vocabulary or default_vocabulary(), now=now)
    vacancies, profiles = urls["vacancies"], urls["profiles"]
    company_ids = [
        _new_id(client.post(f"{vacancies}/v1/companies", json=body), "company")
        for body in region.companies
    ]
    vacancy_ids = [
        _new_id(
            client.post(
                f"{vacancies}/v1/vacancies", json={**body, "company_id": company_ids[company]}
            ),
            "vacancy",
        )
        for company, body in region.vacancies
    ]
    student_ids = [
        _new_id(client.post(f"{profiles}/v1/students", json=body), "student")
        for body in region.students
    ]
    outcomes = []
    for index, body in region.outcomes:
        url = f"{profiles}/v1/students/{student_ids[index]}/outcome"
        recorded = _answer(client.put(url, json=body))
        outcomes.append((region.students[index]["name"], str(recorded["outcome"])))
    return SeededRegion(region, company_ids, vacancy_ids, student_ids, outcomes)


@dataclass(frozen=True)
class DemoActivity:
    """What followed the demo's registration, with where to look at it."""

    dating_event_url: str
    dating_event_day: date
    dating_dates: int
    dating_students: int
    dating_companies: int
    applications: list[tuple[str, str]]  # student name, vacancy title
    placements: list[tuple[str, str]]
    digests: list[tuple[str, str]]  # student name, when
    funnel_url: str

    def announcement(self) -> list[str]:
        """The activity in a few lines, for the operator's terminal."""
        lines = [
            f"Company Dating on {self.dating_event_day:%A %Y-%m-%d}: {self.dating_dates} dates "
            f"of {self.dating_students} students with {self.dating_companies} companies, "
            f"agendas sent: {self.dating_event_url}",
            f"{len(self.applications)} applications, "
            + ", ".join(f"{name} hired as {title}" for name, title in self.placements)
            + f": {self.funnel_url}",
        ]
        lines += [f"daily digest of {name} due at {when}" for name, when in self.digests]
        return lines


def dating_event_request(
    seeded: SeededRegion, time_zone: str, today: date | None = None
) -> dict[str, Any]:
    """The demo's Company Dating event: every company and student, on the first Thursday
    at least three days ahead, ten-minute dates from 14:00 in the region's zone with a
    coffee break."""
    zone = ZoneInfo(time_zone)
    today = today or datetime.now(zone).date()
    day = today + timedelta(days=3)
    day += timedelta(days=(3 - day.weekday()) % 7)
    first = datetime.combine(day, clock(14), tzinfo=zone)
    return {
        "name": "Company Dating: international talent meets the region's SMEs",
        "venue": "Business Lounge, Åboulevarden 12, 8000 Aarhus C",
        "slot_minutes": 10,
        "slot_starts": [(first + timedelta(minutes=12 * n)).isoformat() for n in range(9)],
        "breaks": [5],
        "companies": [
            {"company_id": company_id, "name": company.name, "tables": company.tables}
            for company_id, company in zip(seeded.company_ids, COMPANIES, strict=True)
        ],
        "students": [
            {"student_id": student_id, "max_dates": 3} for student_id in seeded.student_ids
        ],
    }


def _post_once_known(
    client: httpx.Client, url: str, body: dict[str, Any], deadline: float
) -> httpx.Response:
    """POST again while the answer is that the student is not known yet: every service
    learns of students from the students topic, at its own pace."""
    while True:
        response = client.post(url, json=body)
        if response.status_code != 422 or "unknown_student" not in response.text:
            return response
        if time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def _scored_matches(
    urls: Mapping[str, str], client: httpx.Client, seeded: SeededRegion, deadline: float
) -> dict[str, list[dict[str, Any]]]:
    """Each vacancy's matches, best first, once matching knows every student and vacancy
    of the demo and two readings agree (each pair is scored when the later of the two
    arrives)."""
    matching = urls["matching"]
    unknown_students = list(seeded.student_ids)
    previous: dict[str, list[dict[str, Any]]] | None = None
    while True:
        unknown_students = [
            student_id
            for student_id in unknown_students
            if client.get(f"{matching}/v1/students/{student_id}/matches").status_code == 404
        ]
        matches: dict[str, list[dict[str, Any]]] = {}
        for vacancy_id in seeded.vacancy_ids:
            response = client.get(f"{matching}/v1/vacancies/{vacancy_id}/matches")
            if response.status_code != 404:
                matches[vacancy_id] = list(_answer(response)["items"])
        if not unknown_students and len(matches) == len(seeded.vacancy_ids):
            if matches == previous:
                return matches
            previous = matches
        if time.monotonic() > deadline:
            raise DemoSeedError(
                f"matching has not settled on the demo region in time: it does not know "
                f"{len(unknown_students)} of {len(seeded.student_ids)} students and "
                f"{len(seeded.vacancy_ids) - len(matches)} of {len(seeded.vacancy_ids)} "
                "vacancies yet, or their matches still change; see the matching service's log"
            )
        time.sleep(0.3)


def _applicants(
    seeded: SeededRegion, matches: Mapping[str, list[dict[str, Any]]]
) -> Iterator[tuple[int, str, list[str]]]:
    """For each demo vacancy that has applicants: its index, id and the students who
    apply (its best matches among the demo's students, best first)."""
    ours = set(seeded.student_ids)
    for index, (vacancy, vacancy_id) in enumerate(zip(VACANCIES, seeded.vacancy_ids, strict=True)):
        if vacancy.applicants:
            best = [m["student_id"] for m in matches[vacancy_id] if m["student_id"] in ours]
            yield index, vacancy_id, best[: vacancy.applicants]


def stage_demo_activity(
    urls: Mapping[str, str],
    client: httpx.Client,
    seeded: SeededRegion,
    *,
    time_zone: str = "Europe/Copenhagen",
    timeout: float = 90.0,
) -> DemoActivity:
    """Once matching has scored the demo region: a Company Dating event (its agendas are
    published and mailed), applications of some vacancies' best matches and one
    placement, all over HTTP. :class:`DemoSeedError` says what did not happen in time."""
    deadline = time.monotonic() + timeout
    matches = _scored_matches(urls, client, seeded, deadline)
    request = dating_event_request(seeded, time_zone)
    schedule = _answer(client.post(f"{urls['matching']}/v1/dating-events", json=request))
    names = {
        student_id: body["name"]
        for student_id, body in zip(seeded.student_ids, seeded.region.students, strict=True)
    }
    applications: list[tuple[str, str]] = []
    placements: list[tuple[str, str]] = []
    vacancies = urls["vacancies"]
    for index, vacancy_id, students in _applicants(seeded, matches):
        title = VACANCIES[index].title
        applied = f"{vacancies}/v1/vacancies/{vacancy_id}/applications"
        for student_id in students:
            _answer(_post_once_known(client, applied, {"student_id": student_id}, deadline))
            applications.append((names[student_id], title))
        if VACANCIES[index].placement and students:
            _answer(
                client.post(
                    f"{vacancies}/v1/vacancies/{vacancy_id}/placements",
                    json={"student_id": students[0]},
                )
            )
            placements.append((names[students[0]], title))
    digests = [
        (body["name"], f"{preferences['digest_hour']:02d}:00 {preferences['time_zone']}")
        for body in seeded.region.students
        if (preferences := body["notification_preferences"]).get("frequency") == "daily"
    ]
    totals = schedule["totals"]
    return DemoActivity(
        dating_event_url=f"{urls['matching']}/v1/dating-events/{schedule['dating_event_id']}",
        dating_event_day=date.fromisoformat(request["slot_starts"][0][:10]),
        dating_dates=int(totals["dates"]),
        dating_students=int(totals["students_with_a_date"]),
        dating_companies=len(schedule["companies"]),
        applications=applications,
        placements=placements,
        digests=digests,
        funnel_url=f"{urls['analytics']}/v1/funnel",
    )


def demo_accounts(region: str, seeded: SeededRegion) -> list[dict[str, Any]]:
    """The accounts of the demo's people (see :mod:`interlocality.operator.accounts`)."""
    return region_accounts(
        region,
        zip((c["name"] for c in seeded.region.companies), seeded.company_ids, strict=True),
        zip((s["name"] for s in seeded.region.students), seeded.student_ids, strict=True),
    )


def stage_demo_activity_later(
    urls: Mapping[str, str],
    seeded: SeededRegion,
    *,
    say: Callable[[str], None],
    time_zone: str = "Europe/Copenhagen",
    timeout: float = 90.0,
    auth: httpx.Auth | None = None,
) -> threading.Thread:
    """:func:`stage_demo_activity` in a thread of its own, announced through ``say`` when
    done (or why not): waiting for matching need not hold back the region's start. ``auth``
    signs its requests in."""

    def stage() -> None:
        try:
            with httpx.Client(timeout=30.0, auth=auth) as client:
                activity = stage_demo_activity(
                    urls, client, seeded, time_zone=time_zone, timeout=timeout
                )
        except httpx.TransportError as exc:  # e.g. the region is stopping
            say(f"demo activity not staged: a service stopped answering ({exc})")
            return
        except (DemoSeedError, httpx.HTTPError) as exc:
            say(f"demo activity not staged: {exc}")
            return
        for line in activity.announcement():
            say(f"demo: {line}")

    thread = threading.Thread(target=stage, name="demo-activity")
    thread.start()
    return thread
