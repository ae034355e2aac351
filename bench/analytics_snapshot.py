"""The analytics service's federation snapshot of a whole region's month.

A region of 100,000 students (85 % consenting to analytics) and 5,000 vacancies of 500
companies, drawn from ESCO occupations (``datasets.matching_region``), with a month of
matches, notifications, applications and placements, a Company Dating event and graduates'
outcomes, is fed through the analytics service's own write path: the methods the consumer
calls (``AnalyticsService.take_student``, ``take_vacancy``, ``take_company``, ``record_step``,
``take_agenda``, ``record_outcome``, ``count_events``), a transaction per 1,000 entities.
Then ``Federation.publish(month)`` — read the region's rows, build the six tables, suppress,
charge the budget, noise, stage the event — is timed, and its peak Python heap measured
(tracemalloc, in a round of its own since tracing slows every allocation).

The peer is the straightforward way: the same tables' counts (distinct students or
companies per cell) recomputed from analytics' tables with plain SQL ``GROUP BY`` queries,
the ESCO skill groups given as a lookup table. Every cell's count must agree with the true
count of the snapshot's tables (before bounds, suppression and noise).

SQLite in a temporary directory by default; ``--database-url postgresql+psycopg://...@host/``
creates a database of its own on that server and drops it at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from datasets import MatchingRegion, StudentNoise, matching_region
from sqlalchemy import (
    Column,
    MetaData,
    String,
    Table,
    and_,
    case,
    distinct,
    exists,
    extract,
    func,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.engine import make_url
from tables import Row, print_table

from interlocality.analytics.app import MIGRATIONS, shipped_taxonomy
from interlocality.analytics.federation import SKILL_GROUP_LEVEL
from interlocality.analytics.service import AnalyticsService, Federation, SupplyAndDemand
from interlocality.analytics.settings import AnalyticsSettings
from interlocality.analytics.skills import SkillTaxonomy
from interlocality.analytics.store import (
    TABLES,
    AnalyticsConsent,
    DatingDateRow,
    DemandVacancy,
    DemandVacancyRow,
    GraduateOutcomeRow,
    StudentStep,
    SupplyStudentRow,
    VacancyFunnel,
)
from interlocality.analytics.supply import CEFR_NAME, month_end
from interlocality.common.esco import default_vocabulary
from interlocality.common.esco_relations import SkillGraph
from interlocality.common.migrations import upgrade
from interlocality.common.service import ServiceRuntime, settle_heap
from interlocality.common.settings import load_settings
from interlocality.common.testing import fresh_databases
from interlocality.contracts.applications import ApplicationSubmitted, FunnelStep, PlacementMade
from interlocality.contracts.common import (
    LanguageRequirement,
    LanguageSkill,
    SkillLevel,
    SkillRequirement,
)
from interlocality.contracts.companies import Company
from interlocality.contracts.dating import AgendaSlot, DatingAgenda
from interlocality.contracts.matches import Match, MatchFound
from interlocality.contracts.notifications import Delivery, NotificationSent
from interlocality.contracts.outcomes import GraduateOutcome
from interlocality.contracts.students import Consent, Consents, StudentProfile
from interlocality.contracts.vacancies import Vacancy, VacancyFilled, VacancyPublished

REGION = "bench"
MONTH = "2026-03"
MONTH_START = datetime(2026, 3, 1, tzinfo=UTC)
PUBLISHED_AT = datetime(2026, 4, 2, 9, tzinfo=UTC)
TARGET_SECONDS = 10.0
BATCH = 1_000
SECTORS = ["62.01", "62.02", "71.12", "28.29", "46.51", "73.11", "72.19", "C", "M70.22"]
EMPLOYEES = [4, 9, 12, 35, 80, 180, 400, 1_200]
OUTCOMES = ["employed_in_region", "employed_elsewhere", "further_study", "unknown"]
WINDOW_DAYS = 90
Counts = dict[tuple[str, tuple[tuple[str, str], ...], str], int]


def moment(rng: random.Random, first: datetime, last: datetime) -> datetime:
    return first + (last - first) * rng.random()


def source(kind: str) -> str:
    return f"/interlocality/{REGION}/{kind}"


# -- the region, fed through the service's write path ---------------------------------


def companies_of(rng: random.Random, count: int) -> list[Company]:
    return [
        Company(
            company_id=f"c-{n:03d}",
            name=f"Company {n} ApS",
            employees=rng.choice(EMPLOYEES),
            sector=rng.choice(SECTORS),
            city="Aarhus",
            version=1,
            updated_at=datetime(2026, 1, 15, tzinfo=UTC),
        )
        for n in range(count)
    ]


def vacancies_of(rng: random.Random, region: MatchingRegion) -> list[Vacancy]:
    """Open vacancies published between February and late March."""
    vacancies = []
    for entry in region.vacancies:
        vacancies.append(
            Vacancy(
                vacancy_id=entry.id,
                company_id=entry.company_id,
                title=entry.title[:200],
                kind=entry.kind,
                required_skills=[
                    SkillRequirement(uri=s.uri, min_level=s.min_level) for s in entry.required
                ],
                nice_to_have_skills=[
                    SkillRequirement(uri=s.uri, min_level=s.min_level) for s in entry.nice
                ],
                languages=[
                    LanguageRequirement(
                        code=n.code, min_level=CEFR_NAME[n.min_rank], required=n.required
                    )
                    for n in entry.languages
                ],
                status="open",
                version=1,
                updated_at=moment(
                    rng, datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 28, tzinfo=UTC)
                ),
                positions=rng.choice([1, 1, 1, 2, 3]),
            )
        )
    return vacancies


def students_of(
    rng: random.Random, region: MatchingRegion, consenting: float
) -> list[StudentProfile]:
    students = []
    for entry in region.students:
        when = moment(rng, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 28, tzinfo=UTC))
        students.append(
            StudentProfile(
                student_id=entry.id,
                name=f"Student {entry.id}",
                email=f"{entry.id}@students.example.org",
                skills=[SkillLevel(uri=uri, level=level) for uri, level in entry.skills.items()],
                languages=[
                    LanguageSkill(code=code, level=CEFR_NAME[rank])
                    for code, rank in entry.languages.items()
                ],
                engagement_kinds=sorted(entry.engagement_kinds),
                study_field=entry.study_field,
                version=1,
                updated_at=when,
                consents=Consents(analytics=Consent(granted=rng.random() < consenting, at=when)),
            )
        )
    return students


def batches(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def fill(
    runtime: ServiceRuntime[AnalyticsSettings], service: AnalyticsService, args: argparse.Namespace
) -> dict[str, int]:
    """The region fed to the service as its consumer would, a transaction per batch."""
    started = time.perf_counter()
    rng = random.Random(args.seed)
    vocabulary = default_vocabulary()
    region = matching_region(
        vocabulary,
        SkillGraph.from_vocabulary(vocabulary),
        occupations=300,
        students=args.students,
        vacancies=args.vacancies,
        noise=StudentNoise(),
        seed=args.seed,
    )
    companies = companies_of(rng, 500)
    vacancies = vacancies_of(rng, region)
    students = students_of(rng, region, consenting=0.85)
    done: dict[str, int] = {}
    print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)

    def each(name: str, items: Sequence[Any], apply: Callable[[Any, Any], None]) -> None:
        started = time.perf_counter()
        for batch in batches(items):
            with runtime.transaction() as session:
                for item in batch:
                    apply(session, item)
        done[name] = len(items)
        print(f"  {len(items):,} {name}: {time.perf_counter() - started:.1f} s", flush=True)

    each("companies", companies, service.take_company)

    def publish(session: Any, vacancy: Vacancy) -> None:
        event = VacancyPublished(
            source=source("vacancies"),
            region=REGION,
            subject=vacancy.vacancy_id,
            time=vacancy.updated_at,
            data=vacancy,
        )
        service.count_events(session, [event])
        service.take_vacancy(session, vacancy)

    each("vacancies", vacancies, publish)
    filled = [
        v.model_copy(
            update={
                "status": "filled",
                "version": 2,
                "updated_at": MONTH_START + timedelta(days=20),
            }
        )
        for v in rng.sample(vacancies, k=len(vacancies) // 20)
    ]

    def fill_vacancy(session: Any, vacancy: Vacancy) -> None:
        event = VacancyFilled(
            source=source("vacancies"), region=REGION, subject=vacancy.vacancy_id, data=vacancy
        )
        service.count_events(session, [event])
        service.take_vacancy(session, vacancy)

    each("vacancies filled", filled, fill_vacancy)
    each("students", students, service.take_student)

    # a month of the funnel: matches and notifications counted, applications and placements
    # kept per consenting student
    ids = [s.student_id for s in students]
    events: list[Any] = []
    steps: list[tuple[FunnelStep, str]] = []
    for vacancy in vacancies:
        seen = vacancy.updated_at + timedelta(hours=6)
        for student_id in rng.sample(ids, k=rng.randint(0, 8)):
            match = Match(
                student_id=student_id,
                vacancy_id=vacancy.vacancy_id,
                company_id=vacancy.company_id,
                vacancy_title=vacancy.title,
                score=0.6,
                matched_skills=[],
                missing_skills=[],
            )
            events.append(
                MatchFound(
                    source=source("matching"),
                    region=REGION,
                    subject=student_id,
                    time=seen,
                    data=match,
                )
            )
            if rng.random() < 0.5:
                delivery = Delivery(
                    notification_id=f"n-{student_id}-{vacancy.vacancy_id}",
                    student_id=student_id,
                    vacancy_id=vacancy.vacancy_id,
                    channel="in_app",
                    sent_at=seen,
                )
                events.append(
                    NotificationSent(
                        source=source("notifications"),
                        region=REGION,
                        subject=student_id,
                        data=delivery,
                    )
                )
            if rng.random() < 0.25:
                step = FunnelStep(
                    vacancy_id=vacancy.vacancy_id,
                    company_id=vacancy.company_id,
                    student_id=student_id,
                    kind=vacancy.kind,
                    at=seen + timedelta(days=rng.randint(1, 10)),
                )
                steps.append((step, "applied"))
                if rng.random() < 0.1:
                    steps.append(
                        (step.model_copy(update={"at": step.at + timedelta(days=7)}), "placed")
                    )
    each(
        "matches and notifications (events)",
        events,
        lambda session, e: service.count_events(session, [e]),
    )

    def record(session: Any, step_of: tuple[FunnelStep, str]) -> None:
        step, name = step_of
        kind = ApplicationSubmitted if name == "applied" else PlacementMade
        event = kind(source=source("vacancies"), region=REGION, subject=step.vacancy_id, data=step)
        service.count_events(session, [event])
        service.record_step(session, step, name)  # type: ignore[arg-type]

    each("applications and placements", steps, record)

    # a Company Dating event on 12 March: 2,000 students with three dates each, and some of
    # them applying to a company they met
    daters = rng.sample(ids, k=min(2_000, len(ids)))
    starts = datetime(2026, 3, 12, 9, tzinfo=UTC)
    agendas = []
    dating_steps: list[tuple[FunnelStep, str]] = []
    for student_id in daters:
        met = rng.sample(companies, k=3)
        slots = [
            AgendaSlot(
                slot=n + 1,
                starts_at=starts + timedelta(minutes=10 * rng.randrange(30)),
                ends_at=starts + timedelta(minutes=10 * rng.randrange(30) + 10),
                table=n + 1,
                counterpart_kind="company",
                counterpart_id=company.company_id,
                counterpart_name=company.name,
                score=0.5,
            )
            for n, company in enumerate(met)
        ]
        agendas.append(
            DatingAgenda(
                dating_event_id="de-2026-03",
                dating_event_name="Company Dating Aarhus",
                participant_kind="student",
                participant_id=student_id,
                slots=slots,
                icalendar="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
            )
        )
        if rng.random() < 0.3:
            company = met[0]
            step = FunnelStep(
                vacancy_id=f"v-dating-{student_id}",
                company_id=company.company_id,
                student_id=student_id,
                kind="internship",
                at=starts + timedelta(days=rng.randint(1, 120)),
            )
            dating_steps.append((step, "applied"))
            if rng.random() < 0.3:
                dating_steps.append((step, "placed"))
    each("Company Dating agendas", agendas, service.take_agenda)
    each("applications after a date", dating_steps, record)

    outcomes = [
        GraduateOutcome(
            student_id=student_id,
            graduated_on=date(2024, 1, 1) + timedelta(days=rng.randrange(800)),
            outcome=rng.choice(OUTCOMES),
            recorded_at=datetime(2026, 2, 1, tzinfo=UTC),
        )
        for student_id in rng.sample(ids, k=min(8_000, len(ids)))
    ]
    each("graduates' outcomes", outcomes, service.record_outcome)
    return done


# -- the straightforward way: plain SQL GROUP BY over analytics' tables ------------------


def skill_groups_table(
    runtime: ServiceRuntime[AnalyticsSettings], taxonomy: SkillTaxonomy
) -> Table:
    """The ESCO skills' groups at the snapshot's level, as a table SQL can join."""
    metadata = MetaData()
    lookup = Table(
        "bench_skill_group",
        metadata,
        Column("uri", String(200), index=True),
        Column("skill_group", String(200)),
    )
    metadata.drop_all(runtime.engine)
    metadata.create_all(runtime.engine)
    rows = [
        {"uri": uri, "skill_group": group}
        for uri in taxonomy.vocabulary.skills
        for group in taxonomy.groups_of(uri, SKILL_GROUP_LEVEL)
    ]
    with runtime.engine.begin() as connection:
        connection.execute(lookup.insert(), rows)
    return lookup


def plain_sql_counts(
    runtime: ServiceRuntime[AnalyticsSettings], lookup: Table, month: str, now: datetime
) -> Counts:
    """Every cell of the snapshot's tables: its distinct contributors, by GROUP BY."""
    end = month_end(month)
    supply = SupplyStudentRow.__table__.c  # type: ignore[attr-defined]
    demand = DemandVacancyRow.__table__.c  # type: ignore[attr-defined]
    vacancies = DemandVacancy.__table__  # type: ignore[attr-defined]
    vacancy = vacancies.c
    funnel = VacancyFunnel.__table__.c  # type: ignore[attr-defined]
    student_steps = StudentStep.__table__  # type: ignore[attr-defined]
    steps = student_steps.c
    dates = DatingDateRow.__table__.c  # type: ignore[attr-defined]
    consent = AnalyticsConsent.__table__.c  # type: ignore[attr-defined]
    graduates = GraduateOutcomeRow.__table__.c  # type: ignore[attr-defined]

    def valid(c: Any) -> Any:
        return and_(c.valid_from < end, or_(c.valid_until.is_(None), c.valid_until >= end))

    consenting = select(consent.student_id).where(consent.consenting.is_(True))
    counts: Counts = {}

    def collect(table: str, names: Sequence[str], measure: str, statement: Any) -> None:
        with runtime.reading() as session:
            for *values, count in session.execute(statement):
                counts[table, tuple(zip(names, (str(v) for v in values), strict=True)), measure] = (
                    count
                )

    needs = select(demand.vacancy_id, demand.code, demand.level, demand.required).where(
        demand.kind == literal("skill"), valid(demand)
    )
    asked = (
        select(demand.code, func.min(demand.level).label("level"))
        .where(demand.kind == "skill", valid(demand))
        .group_by(demand.code)
        .subquery()
    )
    needs_sub = needs.subquery()
    collect(
        "skill_groups",
        ["skill_group"],
        "companies",
        select(lookup.c.skill_group, func.count(distinct(vacancy.company_id)))
        .select_from(needs_sub)
        .join(vacancies, vacancy.vacancy_id == needs_sub.c.vacancy_id)
        .join(lookup, lookup.c.uri == needs_sub.c.code)
        .group_by(lookup.c.skill_group),
    )
    collect(
        "skill_groups",
        ["skill_group"],
        "students",
        select(lookup.c.skill_group, func.count(distinct(supply.student_id)))
        .join(lookup, lookup.c.uri == supply.code)
        .outerjoin(asked, asked.c.code == supply.code)
        .where(
            supply.kind == "skill", valid(supply), supply.level >= func.coalesce(asked.c.level, 1)
        )
        .group_by(lookup.c.skill_group),
    )

    def cefr(rank: Any) -> Any:
        return case(*((rank == n, name) for n, name in CEFR_NAME.items()))

    collect(
        "languages",
        ["language", "cefr_level"],
        "companies",
        select(demand.code, cefr(demand.level), func.count(distinct(vacancy.company_id)))
        .join(vacancies, vacancy.vacancy_id == demand.vacancy_id)
        .where(demand.kind == "language", demand.required.is_(True), valid(demand))
        .group_by(demand.code, demand.level),
    )
    collect(
        "languages",
        ["language", "cefr_level"],
        "students",
        select(supply.code, cefr(supply.level), func.count(distinct(supply.student_id)))
        .where(supply.kind == "language", valid(supply))
        .group_by(supply.code, supply.level),
    )
    broad = func.substr(demand.code, 1, 2)
    collect(
        "study_fields",
        ["isced_field"],
        "companies",
        select(broad, func.count(distinct(vacancy.company_id)))
        .join(vacancies, vacancy.vacancy_id == demand.vacancy_id)
        .where(demand.kind == "field", valid(demand))
        .group_by(broad),
    )
    broad = func.substr(supply.code, 1, 2)
    collect(
        "study_fields",
        ["isced_field"],
        "students",
        select(broad, func.count(distinct(supply.student_id)))
        .where(supply.kind == "field", valid(supply))
        .group_by(broad),
    )

    owner = func.coalesce(vacancy.company_id, funnel.company_id, "vacancy:" + funnel.vacancy_id)
    published = (
        select(
            funnel.vacancy_id, funnel.kind, owner.label("owner"), funnel.matched, funnel.notified
        )
        .outerjoin(vacancies, vacancy.vacancy_id == funnel.vacancy_id)
        .where(
            funnel.published_at.is_not(None),
            funnel.published_at >= month_end(previous(month)),
            funnel.published_at < end,
            funnel.kind.is_not(None),
        )
        .subquery()
    )

    def reached(step: str) -> Any:
        return exists().where(
            steps.vacancy_id == published.c.vacancy_id,
            steps.step == step,
            steps.student_id.in_(consenting),
        )

    for step, condition in [
        ("published", true()),
        ("matched", published.c.matched > 0),
        ("notified", published.c.notified > 0),
        ("applied", reached("applied")),
        ("placed", reached("placed")),
    ]:
        collect(
            "funnel",
            ["engagement_kind", "funnel_step"],
            "companies",
            select(published.c.kind, literal(step), func.count(distinct(published.c.owner)))
            .where(condition)
            .group_by(published.c.kind),
        )

    held = and_(
        dates.starts_at >= month_end(previous(month)),
        dates.starts_at < end,
        dates.starts_at <= now,
        dates.student_id.in_(consenting),
    )
    collect(
        "company_dating",
        ["funnel_step"],
        "students",
        select(literal("dates_held"), func.count(distinct(dates.student_id))).where(held),
    )
    sqlite = runtime.engine.dialect.name == "sqlite"
    for step, name in [
        ("applied", "applications_after_date"),
        ("placed", "placements_within_90_days"),
    ]:
        if sqlite:
            within = and_(
                func.julianday(steps.at) >= func.julianday(dates.starts_at),
                func.julianday(steps.at) <= func.julianday(dates.starts_at) + WINDOW_DAYS,
            )
        else:
            within = and_(
                steps.at >= dates.starts_at,
                steps.at <= dates.starts_at + text(f"interval '{WINDOW_DAYS} days'"),
            )
        collect(
            "company_dating",
            ["funnel_step"],
            "students",
            select(literal(name), func.count(distinct(dates.student_id)))
            .join(
                student_steps,
                and_(
                    steps.student_id == dates.student_id,
                    steps.company_id == dates.company_id,
                    steps.step == step,
                ),
            )
            .where(held, within),
        )
    year = extract("year", graduates.graduated_on)
    half = case((extract("month", graduates.graduated_on) <= 7, "spring"), else_="autumn")
    collect(
        "employability",
        ["year", "half", "outcome"],
        "graduates",
        select(year, half, graduates.outcome, func.count(distinct(graduates.student_id)))
        .where(graduates.graduated_on < end.date(), graduates.student_id.in_(consenting))
        .group_by(year, half, graduates.outcome),
    )
    # semesters are YYYY-half: the year and the half came back as two values
    merged: Counts = {}
    for (table, coordinates, measure), count in counts.items():
        if table == "employability":
            (_, year_value), (_, half_value), outcome = coordinates
            coordinates = (
                ("graduation_semester", f"{int(float(year_value)):04d}-{half_value}"),
                outcome,
            )
        if count:
            merged[table, coordinates, measure] = count
    return merged


def previous(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year - 1:04d}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"


def snapshot_counts(federation: Federation, month: str, now: datetime) -> Counts:
    """The snapshot's tables' true counts: each cell's distinct contributors."""
    with federation.runtime.reading() as session:
        tables = federation.tables(session, month, now)
    return {
        (
            table.name,
            tuple(sorted(cell.dimensions.items(), key=lambda d: table.dimensions.index(d[0]))),
            cell.measure,
        ): len(cell.contributors)
        for table in tables
        for cell in table.cells
    }


# -- the run ------------------------------------------------------------------------------


@contextmanager
def database(url: str | None, workdir: Path | None) -> Iterator[str]:
    """SQLite in ``workdir`` or a temporary directory, or a database of its own on ``url``'s
    server."""
    if workdir:
        workdir.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{workdir}/analytics.db"
        return
    if not url:
        with tempfile.TemporaryDirectory(prefix="bench-snapshot-") as temporary:
            yield f"sqlite:///{temporary}/analytics.db"
        return
    server = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    with fresh_databases(server, [f"bench_snapshot_{os.getpid()}"]) as (fresh,):
        yield fresh


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--vacancies", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3, help="timed snapshots (each spends ε)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default="", help="a PostgreSQL server; SQLite if empty")
    parser.add_argument("--profile", type=Path, help="write a cProfile of one snapshot here")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the SQLite database here; a region filled there before is reused",
    )
    args = parser.parse_args()

    with database(args.database_url, args.workdir) as url:
        settings = load_settings(
            AnalyticsSettings,
            region=REGION,
            database_url=url,
            kafka_bootstrap_servers="127.0.0.1:1",  # never connected: nothing is relayed
            log_format="console",
            # every run publishes the same month several times: a budget that never refuses
            federation_yearly_epsilon=1e6,
        )
        runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)
        upgrade(runtime.engine, MIGRATIONS, runtime.tables)
        taxonomy = shipped_taxonomy()
        settle_heap()  # as the service does once started
        supply = SupplyAndDemand(settings.language, lambda: taxonomy)
        service = AnalyticsService(supply)
        federation = Federation(runtime, supply)
        try:
            rows = run(runtime, service, federation, taxonomy, args)
        finally:
            runtime.engine.dispose()
    dialect = "PostgreSQL" if args.database_url else "SQLite"
    print_table(
        f"Federation snapshot of {MONTH}: {args.students:,} students, {args.vacancies:,} "
        f"vacancies ({dialect})",
        rows,
    )


def run(
    runtime: ServiceRuntime[AnalyticsSettings],
    service: AnalyticsService,
    federation: Federation,
    taxonomy: SkillTaxonomy,
    args: argparse.Namespace,
) -> list[Row]:
    with runtime.reading() as session:
        filled_before = session.execute(select(func.count()).select_from(SupplyStudentRow)).scalar()
    if filled_before:
        fill_figure = "reused"
    else:
        fill_seconds, done = timed(lambda: fill(runtime, service, args))
        fill_figure = f"{fill_seconds:.1f} s"
        print(f"filled in {fill_figure}: " + ", ".join(f"{n:,} {what}" for what, n in done.items()))

    publish_times = []
    for _ in range(args.rounds):
        seconds, _ = timed(lambda: federation.publish(MONTH, PUBLISHED_AT))
        publish_times.append(seconds)
    tracemalloc.start()
    traced_seconds, _ = timed(lambda: federation.publish(MONTH, PUBLISHED_AT))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if args.profile:
        import cProfile

        cProfile.runctx(
            "federation.publish(MONTH, PUBLISHED_AT)",
            globals(),
            {"federation": federation, "MONTH": MONTH, "PUBLISHED_AT": PUBLISHED_AT},
            str(args.profile),
        )

    lookup = skill_groups_table(runtime, taxonomy)
    peer_times = []
    for _ in range(args.rounds):
        seconds, peer = timed(lambda: plain_sql_counts(runtime, lookup, MONTH, PUBLISHED_AT))
        peer_times.append(seconds)
    ours = snapshot_counts(federation, MONTH, PUBLISHED_AT)
    differing = sorted(key for key in ours.keys() | peer.keys() if ours.get(key) != peer.get(key))
    for key in differing[:10]:
        print(f"differs: {key}: snapshot {ours.get(key)}, plain SQL {peer.get(key)}")
    samples = sorted(ours)[:: max(1, len(ours) // 4)][:4]
    for key in samples:
        print(f"agrees: {key[0]} {dict(key[1])} {key[2]}: {ours[key]:,} = {peer[key]:,}")

    publish = statistics.median(publish_times)
    peer_time = statistics.median(peer_times)
    return [
        Row("fill through the service's write path", fill_figure),
        Row(
            f"Federation.publish(month), median of {args.rounds}",
            f"{publish:.2f} s",
            f"<= {TARGET_SECONDS:.0f} s",
            publish <= TARGET_SECONDS,
        ),
        Row("  each round", " / ".join(f"{t:.2f}" for t in publish_times) + " s"),
        Row(
            "  peak Python heap (tracemalloc round)",
            f"{peak / 2**20:.0f} MiB ({traced_seconds:.1f} s)",
        ),
        Row(
            f"plain SQL GROUP BY, same cells (the peer), median of {args.rounds}",
            f"{peer_time:.2f} s ({publish / peer_time:.1f}x)",
        ),
        Row(
            "cells agreeing (true counts)",
            f"{len(ours) - len(differing):,} of {len(ours | peer):,}",
            "all",
            not differing,
        ),
    ]


if __name__ == "__main__":
    main()
