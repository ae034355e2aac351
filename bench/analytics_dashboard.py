"""The dashboards' answer times with ten partner regions and two years of their snapshots.

    uv run python bench/analytics_dashboard.py [--regions 10] [--months 24] [--requests 60]
        [--students 20000] [--vacancies 1000] [--database-url postgresql+psycopg://...]

The analytics service of one region runs on a socket of its own (uvicorn, the embedded
broker, SQLite in a temporary directory or a database of its own on a PostgreSQL server),
its own region fed through the service's write path (``analytics_snapshot.fill``: students
drawn from ESCO occupations, vacancies, a month of matches, applications, placements,
Company Dating and graduates). ``--regions`` partner regions each send a snapshot of every
one of ``--months`` months, released as a partner's analytics releases them: its skill
groups, languages, study fields, funnel, Company Dating and graduates, counted from a few
hundred to a few thousand contributors, suppressed where small and noised.

Timed, one request after another after a warm-up, p50 and p95 of ``--requests`` each:
``GET /dashboard/regions`` (every region's chosen month and two years of trend),
``GET /v1/federation/compare`` (the same as JSON), a chart's CSV, and ``GET /dashboard``
(the region's own insights over twelve months, counted at most every
``INTERLOCALITY_DASHBOARD_REFRESH_SECONDS`` and in the background; the first request
counts them, and its time is what each recount costs).

The straightforward ways, in the same run: the cross-region page reading and validating
every snapshot held on every request, as it did before snapshots were kept parsed (the
parsed ones are dropped before each request); and the region's page counting its figures
on every request.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from analytics_snapshot import database, fill
from tables import Row, print_table

from interlocality.analytics.app import create_app, shipped_taxonomy
from interlocality.analytics.dashboard import RegionFigures
from interlocality.analytics.federation import SKILL_GROUP_LEVEL
from interlocality.analytics.privacy import (
    AggregateCell,
    AggregateTable,
    PrivacyBudget,
    release_snapshot,
)
from interlocality.analytics.service import AnalyticsService, Federation
from interlocality.analytics.settings import AnalyticsSettings
from interlocality.analytics.skills import SkillTaxonomy
from interlocality.common.embedded_broker import EmbeddedBroker
from interlocality.common.settings import load_settings
from interlocality.common.testing import authorization, served, trusting_tests_issuer
from interlocality.common.topics_admin import ensure_topics
from interlocality.contracts.federation import RegionSnapshot

REGION = "bench"
TARGET_P95 = 0.300
LANGUAGES = ("en", "da", "de", "nl", "fi", "it", "fr", "es", "pl", "uk", "hi", "zh")
LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")
FIELDS = ("01", "02", "03", "04", "05", "06", "07", "08", "09", "10")
KINDS = ("internship", "thesis", "student_job", "graduate_job", "company_project")
STEPS = ("published", "matched", "notified", "applied", "placed")
OUTCOMES = ("employed_in_region", "employed_elsewhere", "further_study", "unknown")


def months_back(last: str, count: int) -> list[str]:
    """``count`` months up to ``last``, oldest first."""
    year, month = (int(part) for part in last.split("-"))
    index = year * 12 + month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


def contributors(rng: random.Random, prefix: str, population: int, share: float) -> list[str]:
    """A cell's distinct contributors: about ``share`` of ``population``."""
    count = max(0, round(rng.gauss(share, share / 4) * population))
    return [f"{prefix}:{n}" for n in rng.sample(range(population), min(count, population))]


def partner_tables(
    rng: random.Random, groups: list[str], students: int, companies: int
) -> list[AggregateTable]:
    """A partner region's month: every table of a snapshot, over its populations."""

    def cells(
        rows: list[tuple[dict[str, str], str, float]],
    ) -> tuple[AggregateCell, ...]:
        return tuple(
            AggregateCell.counting(
                where,
                measure,
                contributors(
                    rng,
                    "student" if measure in ("students", "graduates") else "company",
                    students if measure in ("students", "graduates") else companies,
                    share,
                ),
            )
            for where, measure, share in rows
        )

    skill_rows = [
        ({"skill_group": g}, measure, rng.uniform(0.0, 0.3))
        for g in groups
        for measure in ("students", "companies")
    ]
    language_rows = [
        ({"language": code, "cefr_level": level}, measure, rng.uniform(0.0, 0.08))
        for code in LANGUAGES
        for level in LEVELS
        for measure in ("students", "companies")
    ]
    field_rows = [
        ({"isced_field": field}, measure, rng.uniform(0.01, 0.2))
        for field in FIELDS
        for measure in ("students", "companies")
    ]
    funnel_rows = [
        ({"engagement_kind": kind, "funnel_step": step}, "companies", 0.3 / (1 + n))
        for kind in KINDS
        for n, step in enumerate(STEPS)
    ]
    dating_rows = [
        ({"funnel_step": step}, "students", share)
        for step, share in (
            ("dates_held", 0.05),
            ("applications_after_date", 0.02),
            ("placements_within_90_days", 0.01),
        )
    ]
    outcome_rows = [
        ({"graduation_semester": f"{year}-{half}", "outcome": outcome}, "graduates", 0.01)
        for year in (2024, 2025)
        for half in ("spring", "autumn")
        for outcome in OUTCOMES
    ]
    return [
        AggregateTable(
            "skill_groups", ("skill_group",), cells(skill_rows), max_cells_per_contributor=3
        ),
        AggregateTable(
            "languages",
            ("language", "cefr_level"),
            cells(language_rows),
            max_cells_per_contributor=3,
        ),
        AggregateTable(
            "study_fields", ("isced_field",), cells(field_rows), max_cells_per_contributor=2
        ),
        AggregateTable(
            "funnel",
            ("engagement_kind", "funnel_step"),
            cells(funnel_rows),
            max_cells_per_contributor=5,
        ),
        AggregateTable(
            "company_dating", ("funnel_step",), cells(dating_rows), max_cells_per_contributor=3
        ),
        AggregateTable("employability", ("graduation_semester", "outcome"), cells(outcome_rows)),
    ]


def partner_snapshots(
    taxonomy: SkillTaxonomy, regions: int, months: int, last: str, seed: int
) -> list[RegionSnapshot]:
    """``regions`` partners' snapshots of ``months`` months each, released as theirs are."""
    rng = random.Random(seed)
    groups = sorted(
        g for g in taxonomy.vocabulary.groups if taxonomy.level_of(g) == SKILL_GROUP_LEVEL
    )
    snapshots = []
    for number in range(regions):
        region = f"partner-{number + 1:02d}"
        students, companies = rng.randrange(300, 4_000), rng.randrange(30, 400)
        budget = PrivacyBudget(region, 96.0, int(last[:4]) - 1)
        for month in months_back(last, months):
            produced = datetime(int(month[:4]), int(month[5:]), 28, 12, tzinfo=UTC)
            if budget.year != produced.year:
                budget = PrivacyBudget(region, 96.0, produced.year)
            aggregates, budget = release_snapshot(
                region=region,
                period=month,
                tables=partner_tables(rng, groups, students, companies),
                k=5,
                epsilon=4.0,
                budget=budget,
                produced_at=produced,
            )
            snapshots.append(
                RegionSnapshot(
                    source=f"/interlocality/{region}/analytics",
                    region=region,
                    subject=region,
                    data=aggregates,
                )
            )
    return snapshots


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def timed_requests(
    client: httpx.Client, path: str, count: int, before: Callable[[], None] = lambda: None
) -> tuple[float, float, int]:
    """p50 and p95 seconds of ``count`` requests of ``path`` (after two unmeasured), and the
    answer's size."""
    size = 0
    times = []
    for number in range(count + 2):
        before()
        started = time.perf_counter()
        answer = client.get(path)
        elapsed = time.perf_counter() - started
        if answer.status_code != 200:
            raise SystemExit(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
        size = len(answer.content)
        if number >= 2:
            times.append(elapsed)
    p50, p95 = percentiles(times)
    return p50, p95, size


@contextmanager
def analytics(url: str, bootstrap: str) -> Iterator[tuple[str, Any]]:
    settings = load_settings(
        AnalyticsSettings,
        region=REGION,
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        log_format="console",
        log_level="WARNING",
        work_rules="dk",
        federation_yearly_epsilon=1e6,
        **trusting_tests_issuer(),
    )
    app = create_app(settings)
    with served(app) as base_url:
        yield base_url, app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=10)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--students", type=int, default=20_000, help="of the region itself")
    parser.add_argument("--vacancies", type=int, default=1_000, help="of the region itself")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default="", help="a PostgreSQL server; SQLite if empty")
    args = parser.parse_args()

    taxonomy = shipped_taxonomy()
    running = datetime.now(UTC)
    last = months_back(f"{running.year:04d}-{running.month:02d}", 2)[0]
    started = time.perf_counter()
    snapshots = partner_snapshots(taxonomy, args.regions, args.months, last, args.seed)
    sizes = [len(s.data.model_dump_json()) for s in snapshots]
    print(
        f"{len(snapshots)} snapshots released in {time.perf_counter() - started:.1f} s, "
        f"{statistics.mean(sizes) / 1024:.0f} KiB each on average",
        flush=True,
    )

    with (
        tempfile.TemporaryDirectory(prefix="bench-dashboard-") as workdir,
        EmbeddedBroker(log_path=Path(workdir) / "broker.log") as broker,
        database(args.database_url, None) as url,
    ):
        asyncio.run(ensure_topics(broker.bootstrap_servers, REGION))
        with analytics(url, broker.bootstrap_servers) as (base_url, app):
            federation: Federation = app.state.provided[Federation]
            service: AnalyticsService = app.state.provided[AnalyticsService]
            print("filling the region itself …", flush=True)
            fill(federation.runtime, service, args)
            with federation.runtime.transaction() as session:
                for event in snapshots:
                    federation.take_snapshot(session, event)
            rows = measure(base_url, app, args)
    dialect = "PostgreSQL" if args.database_url else "SQLite"
    print_table(
        f"Dashboards with {args.regions} partner regions × {args.months} months of snapshots, "
        f"the region itself {args.students:,} students × {args.vacancies:,} vacancies "
        f"({dialect}; {args.requests} requests each, one at a time)",
        rows,
    )


def measure(base_url: str, app: Any, args: argparse.Namespace) -> list[Row]:
    federation: Federation = app.state.provided[Federation]
    figures: RegionFigures = app.state.provided[RegionFigures]
    rows = []
    with httpx.Client(base_url=base_url, timeout=600, headers=authorization(REGION)) as client:
        started = time.perf_counter()
        client.get("/dashboard").raise_for_status()
        rows.append(
            Row(
                "GET /dashboard, its figures counted (the first request; a recount, in the "
                "background, costs the same)",
                f"{time.perf_counter() - started:.2f} s",
            )
        )
        for path in (
            "/dashboard/regions",
            "/v1/federation/compare",
            "/dashboard/regions/skill-groups.csv",
            "/dashboard",
            "/dashboard/funnel.csv",
        ):
            p50, p95, size = timed_requests(client, path, args.requests)
            rows.append(
                Row(
                    f"GET {path} ({size / 1024:.0f} KiB) p50 / p95",
                    f"{p50 * 1000:.0f} / {p95 * 1000:.0f} ms",
                    "p95 ≤ 300 ms",
                    p95 <= TARGET_P95,
                )
            )
        # the straightforward ways: every snapshot read and validated on every request, as
        # before they were kept parsed; the region's figures counted on every request
        for path in ("/dashboard/regions", "/v1/federation/compare"):
            p50, p95, _ = timed_requests(
                client, path, max(10, args.requests // 4), before=federation._read.clear
            )
            rows.append(
                Row(
                    f"peer: GET {path}, every snapshot read and validated per request",
                    f"{p50 * 1000:.0f} / {p95 * 1000:.0f} ms",
                )
            )
        figures.max_age = 0
        p50, p95, _ = timed_requests(client, "/dashboard", 5)
        rows.append(
            Row(
                "peer: GET /dashboard, its figures counted on every request (5)",
                f"{p50 * 1000:.0f} / {p95 * 1000:.0f} ms",
            )
        )
    return rows


if __name__ == "__main__":
    main()
