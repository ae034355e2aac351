"""Analytics' tables on a migrated database of this test, and the events of a region that
it counts: vacancies published, matched, notified, applied to and filled."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from interlocality.analytics.app import MIGRATIONS, shipped_taxonomy
from interlocality.analytics.service import SupplyAndDemand
from interlocality.analytics.skills import SkillTaxonomy
from interlocality.analytics.store import TABLES
from interlocality.common.migrations import upgrade
from interlocality.common.service import ServiceRuntime
from interlocality.common.testing import found
from interlocality.contracts.applications import ApplicationSubmitted, FunnelStep, PlacementMade
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.notifications import Delivery, NotificationSent
from interlocality.contracts.vacancies import Vacancy, VacancyPublished


def published(region: str, vacancy_id: str, kind: str) -> VacancyPublished:
    return VacancyPublished(
        source=f"/interlocality/{region}/vacancies",
        region=region,
        subject=vacancy_id,
        data=Vacancy(
            vacancy_id=vacancy_id,
            company_id="c-1",
            title="Data intern",
            kind=kind,
            required_skills=[],
            languages=[],
            status="open",
            version=1,
            updated_at=datetime.now(UTC),
        ),
    )


def notified(region: str, student_id: str, vacancy_id: str) -> NotificationSent:
    return NotificationSent(
        source=f"/interlocality/{region}/notifications",
        region=region,
        subject=student_id,
        data=Delivery(
            notification_id=f"n-{student_id}-{vacancy_id}",
            student_id=student_id,
            vacancy_id=vacancy_id,
            channel="in_app",
            sent_at=datetime.now(UTC),
        ),
    )


def step(
    event_type: type[ApplicationSubmitted] | type[PlacementMade],
    region: str,
    vacancy_id: str,
    kind: str,
) -> ApplicationSubmitted | PlacementMade:
    return event_type(
        source=f"/interlocality/{region}/vacancies",
        region=region,
        subject=vacancy_id,
        data=FunnelStep(
            vacancy_id=vacancy_id,
            company_id="c-1",
            student_id="s-1",
            kind=kind,
            at=datetime.now(UTC),
        ),
    )


@pytest.fixture
def region_events(region: str) -> list[CloudEvent[Any]]:
    """Events of two vacancies' funnels and a third's application; two of them redelivered,
    which each count once."""
    matches = [found(region, f"s-{n}", "v-1") for n in range(40)] + [found(region, "s-1", "v-2")]
    return [
        published(region, "v-1", "internship"),
        published(region, "v-2", "thesis"),
        *matches,
        matches[0],  # redelivered: counted once
        matches[5],
        notified(region, "s-1", "v-1"),
        notified(region, "s-2", "v-1"),
        step(ApplicationSubmitted, region, "v-1", "internship"),
        step(PlacementMade, region, "v-1", "internship"),
        # a vacancy analytics never saw published takes its kind from the application
        step(ApplicationSubmitted, region, "v-3", "student_job"),
    ]


@pytest.fixture(scope="session")
def taxonomy() -> SkillTaxonomy:
    """The shipped ESCO taxonomy, built once for the whole run."""
    return shipped_taxonomy()


@pytest.fixture
def supply(taxonomy: SkillTaxonomy) -> SupplyAndDemand:
    """Supply and demand of a Danish-speaking region."""
    return SupplyAndDemand("da", lambda: taxonomy)


@pytest.fixture
def runtime(service_settings: Callable[..., object]) -> Iterator[ServiceRuntime]:
    """The runtime of analytics, its schema migrated, neither started nor subscribed."""
    runtime = ServiceRuntime(service_settings("analytics"), TABLES, MIGRATIONS)  # type: ignore[arg-type]
    upgrade(runtime.engine, MIGRATIONS, runtime.tables)
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def counted_as_published(region: str) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    """Checks a region's counts by event type and its funnel report against
    :func:`region_events`, each event counted once."""

    def check(by_type: dict[str, Any], report: dict[str, Any]) -> None:
        assert by_type == {
            "VacancyPublished.v1": 2,
            "MatchFound.v1": 41,
            "NotificationSent.v1": 2,
            "ApplicationSubmitted.v1": 2,
            "PlacementMade.v1": 1,
        }
        by_step = {s["step"]: s for s in report["steps"]}
        assert by_step["published"]["vacancies"] == 2
        assert (by_step["matched"]["vacancies"], by_step["matched"]["events"]) == (2, 41)
        assert (by_step["notified"]["vacancies"], by_step["notified"]["events"]) == (1, 2)
        assert (by_step["applied"]["vacancies"], by_step["applied"]["events"]) == (2, 2)
        assert (by_step["placed"]["vacancies"], by_step["placed"]["events"]) == (1, 1)
        assert set(report["by_kind"]) == {"internship", "thesis", "student_job"}
        thesis = {s["step"]: s for s in report["by_kind"]["thesis"]}
        assert (thesis["matched"]["vacancies"], thesis["matched"]["events"]) == (1, 1)
        student_job = {s["step"]: s for s in report["by_kind"]["student_job"]}
        assert (student_job["published"]["vacancies"], student_job["applied"]["events"]) == (0, 1)

    return check
