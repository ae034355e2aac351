"""Analytics counting the region's events through a real broker, many at a time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from interlocality.analytics.app import create_app
from interlocality.common.testing import publish, wait_until
from interlocality.contracts.envelope import CloudEvent

Counted = Callable[[dict[str, Any], dict[str, Any]], None]


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
