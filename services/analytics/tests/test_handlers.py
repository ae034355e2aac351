"""Analytics counting the region's events through a real broker, many at a time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from interlocality.analytics.app import create_app
from interlocality.common.testing import found, publish, wait_until
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


def test_events_are_counted_once_each_and_make_each_vacancys_funnel(
    service_settings: Callable[..., object], kafka_bootstrap: str, region: str
) -> None:
    matches = [found(region, f"s-{n}", "v-1") for n in range(40)] + [found(region, "s-1", "v-2")]
    events: list[CloudEvent[Any]] = [
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
    with TestClient(create_app(service_settings("analytics"))) as client:  # type: ignore[arg-type]
        asyncio.run(publish(kafka_bootstrap, events))

        def summary() -> dict[str, Any]:
            return client.get("/v1/summary").json()

        wait_until(lambda: summary()["total"] >= len(events) - 2)
        time.sleep(1.0)  # anything counted twice would show by now
        assert summary()["by_region"][region] == {
            "VacancyPublished.v1": 2,
            "MatchFound.v1": 41,
            "NotificationSent.v1": 2,
            "ApplicationSubmitted.v1": 2,
            "PlacementMade.v1": 1,
        }
        report = client.get("/v1/funnel").json()["regions"][region]
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
