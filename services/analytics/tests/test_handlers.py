"""Analytics counting the region's events through a real broker, many at a time, and
keeping its regional insights from them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from interlocality.analytics.app import create_app
from interlocality.common.testing import publish, wait_until
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
    with TestClient(create_app(service_settings("analytics"))) as client:  # type: ignore[arg-type]
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
    with TestClient(create_app(service_settings("analytics"))) as client:  # type: ignore[arg-type]

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
