"""Analytics counting the region's events through a real broker, many at a time, and
keeping its regional insights from them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from interlocality.analytics.app import create_app
from interlocality.common.testing import publish, signed_in, wait_until
from interlocality.contracts.envelope import CloudEvent

from .conftest import InsightEvents

Counted = Callable[[dict[str, Any], dict[str, Any]], None]
Check = Callable[[str, dict[str, Any], dict[str, Any], dict[str, Any]], None]


def test_events_are_counted_once_each_and_make_each_vacancys_funnel(
    service_settings: Callable[..., object],
    kafka_bootstrap: str,
    region: str,
    region_events: list[CloudEvent[Any]],
    counted_as_published: Counted,
) -> None:
    with signed_in(TestClient(create_app(service_settings("analytics")))) as client:  # type: ignore[arg-type]
        asyncio.run(publish(kafka_bootstrap, region_events))

        def summary() -> dict[str, Any]:
            return client.get("/v1/summary").json()

        wait_until(lambda: summary()["total"] >= len(region_events) - 2)
        time.sleep(1.0)  # anything counted twice would show by now
        by_type = summary()["by_region"][region]
        counted_as_published(by_type, client.get("/v1/funnel").json()["regions"][region])


def test_insights_follow_the_topics_and_students_leave_them_through_the_broker(
    service_settings: Callable[..., object],
    kafka_bootstrap: str,
    insight_events: InsightEvents,
    insights_as_told: Check,
) -> None:
    with signed_in(TestClient(create_app(service_settings("analytics")))) as client:  # type: ignore[arg-type]

        def told(stage: str) -> bool:
            answers = [
                client.get(route).json()
                for route in (
                    "/v1/insights/funnel",
                    "/v1/insights/company-dating",
                    "/v1/insights/employability",
                )
            ]
            try:
                insights_as_told(stage, *answers)
            except (AssertionError, KeyError, ValueError):
                return False
            return True

        # the topics arrive in any order between them: the numbers do not depend on it
        asyncio.run(publish(kafka_bootstrap, insight_events.happened))
        wait_until(lambda: told("happened"))
        asyncio.run(publish(kafka_bootstrap, insight_events.withdrawal))
        wait_until(lambda: told("withdrawn"))
        asyncio.run(publish(kafka_bootstrap, insight_events.erasure))
        wait_until(lambda: told("erased"))
        holds = client.get("/v1/privacy/students/s-soren").json()["holds"]
        assert all(value in (None, []) for value in holds.values()), holds


def test_snapshots_through_the_broker_make_supply_and_demand_and_an_erasure_unmakes_it(
    service_settings: Callable[..., object],
    kafka_bootstrap: str,
    snapshots: Any,
    esco: Any,
) -> None:
    at = snapshots.at
    events = [
        snapshots.company("c-1", "Ærø Søfart ApS", 12, "62.01"),
        snapshots.student(
            "s-1", "Elif Yılmaz", at("2026-01"), skills={esco.python: 4},
            languages={"da": "B2"}, study_field="0613",
        ),
        snapshots.student(
            "s-2", "Begoña Muñoz", at("2026-01"), skills={esco.python: 3}, study_field="0613"
        ),
        snapshots.vacancy("v-1", at("2026-01", 12), required={esco.python: 3}, positions=3),
    ]  # fmt: skip
    with signed_in(TestClient(create_app(service_settings("analytics")))) as client:  # type: ignore[arg-type]

        def python() -> dict[str, Any]:
            body = client.get(f"/v1/insights/skills?month=2026-01&skill={esco.python}").json()
            followed = body["months"][0]["followed"]
            return followed[0] if followed else {}

        asyncio.run(publish(kafka_bootstrap, events))
        # students and vacancies come on topics of their own, in either order
        wait_until(lambda: (python().get("students"), python().get("positions")) == (2, 3))
        assert python()["shortage_ratio"] == 1.5
        by_type = client.get("/v1/summary").json()["by_region"][snapshots.region]
        assert by_type["StudentProfileUpserted.v1"] == 2  # the counts still count

        asyncio.run(publish(kafka_bootstrap, [snapshots.erased("s-1", at("2026-02"))]))
        wait_until(lambda: python().get("students") == 1)
        held = client.get("/v1/privacy/students/s-1").json()["holds"]
        assert all(value in (None, [], {}) for value in held.values()), held
        fields = client.get("/v1/insights/study-fields?month=2026-01").json()
        assert fields["months"][0]["fields"][0]["students"] == 1
