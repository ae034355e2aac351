"""Replicas counting at once: two consumers of the same region's events (two partitions of
a topic, or two replicas) add to the same counts and the same vacancy's funnel in
transactions that overlap, and neither's increments may be lost."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from interlocality.analytics.app import MIGRATIONS
from interlocality.analytics.service import AnalyticsService, SupplyAndDemand
from interlocality.analytics.store import TABLES, VacancyFunnel, event_counts
from interlocality.common.db import create_db_engine, transaction
from interlocality.common.migrations import COMMON_TABLES, upgrade
from interlocality.common.testing import found
from interlocality.contracts.applications import ApplicationSubmitted

from .conftest import matched_at, notified, published, step

RUNS_PER_REPLICA = 150


def migrated(url: str) -> Engine:
    engine = create_db_engine(url)
    upgrade(engine, MIGRATIONS, [*TABLES, *COMMON_TABLES])
    return engine


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = migrated(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[Engine]:
    engine = migrated(postgres_url)
    yield engine
    engine.dispose()


def test_runs_merge_into_a_stored_funnel_as_one_run_would(
    engine: Engine, supply: SupplyAndDemand, region: str
) -> None:
    service = AnalyticsService(supply)
    day = [datetime(2026, 3, d, 9, tzinfo=UTC) for d in range(1, 6)]
    runs = [
        # an application says the kind before the vacancy's snapshot arrives
        [step(ApplicationSubmitted, region, "v-1", "thesis", company_id="c-7", at=day[3])],
        [published(region, "v-1", "internship", company_id="c-7", at=day[2])],
        [matched_at(region, "s-1", "v-1", day[4]), matched_at(region, "s-2", "v-1", day[1])],
        # a late redelivery of an earlier snapshot, then a match without a kind
        [
            published(region, "v-1", "internship", at=day[0]),
            matched_at(region, "s-3", "v-1", day[4]),
        ],
    ]
    for run in runs:
        with transaction(engine) as session:
            service.count_events(session, run)

    with transaction(engine) as session:
        funnel = session.get(VacancyFunnel, "v-1")
    assert funnel is not None
    assert (funnel.kind, funnel.company_id, funnel.published) == ("internship", "c-7", True)
    assert (funnel.matched, funnel.notified, funnel.applied, funnel.placed) == (3, 0, 1, 0)
    assert (funnel.published_at, funnel.first_matched_at) == (day[0], day[1])


def test_replicas_counting_at_once_lose_no_increment(
    postgres: Engine, supply: SupplyAndDemand, region: str
) -> None:
    service = AnalyticsService(supply)
    opened = datetime(2026, 3, 2, 9, tzinfo=UTC)
    seen = [
        published(region, "v-1", "internship", at=opened),
        found(region, "s-0", "v-1"),
        notified(region, "s-0", "v-1"),
    ]
    with transaction(postgres) as session:  # the rows exist: each replica only adds to them
        service.count_events(session, seen)
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def replica(name: str) -> None:
        try:
            start.wait(timeout=10)
            for n in range(RUNS_PER_REPLICA):
                run = [found(region, f"{name}-{n}", "v-1"), notified(region, f"{name}-{n}", "v-1")]
                with transaction(postgres) as session:
                    service.count_events(session, run)
        except BaseException as exc:  # the test reports it below
            failures.append(exc)

    threads = [threading.Thread(target=replica, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not failures, failures
    total = 1 + 2 * RUNS_PER_REPLICA
    with transaction(postgres) as session:
        counts = {
            row.event_type.removeprefix("org.interlocality."): row.count
            for row in event_counts(session)
            if row.region == region
        }
        funnel = session.get(VacancyFunnel, "v-1")
    assert counts == {
        "VacancyPublished.v1": 1,
        "MatchFound.v1": total,
        "NotificationSent.v1": total,
    }
    assert funnel is not None
    assert (funnel.matched, funnel.notified) == (total, total)
    assert (funnel.published, funnel.kind, funnel.company_id) == (True, "internship", "c-1")
