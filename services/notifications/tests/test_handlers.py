"""Notifications from match events delivered through a real broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from interlocality.common.testing import found, publish, signed_in, upserted, wait_until
from interlocality.contracts.matches import MatchWithdrawal, MatchWithdrawn
from interlocality.notifications.app import create_app


def withdrawn(region: str, student_id: str, vacancy_id: str) -> MatchWithdrawn:
    return MatchWithdrawn(
        source=f"/interlocality/{region}/matching",
        region=region,
        subject=student_id,
        data=MatchWithdrawal(student_id=student_id, vacancy_id=vacancy_id, reason="vacancy_closed"),
    )


def feed(client: TestClient, student_id: str) -> list[dict]:
    response = client.get(f"/v1/students/{student_id}/notifications")
    return response.json()["items"] if response.status_code == 200 else []


def test_one_notification_per_student_and_vacancy_however_often_matched(
    service_settings: Callable[..., object], kafka_bootstrap: str, region: str
) -> None:
    first = found(region, "s-1", "v-1")
    with signed_in(TestClient(create_app(service_settings("notifications")))) as client:  # type: ignore[arg-type]
        # The same event redelivered, and the same match found again under a new event id.
        asyncio.run(
            publish(
                kafka_bootstrap,
                [
                    upserted(region, "s-1", name="Ayşe Ñúñez Ådahl"),
                    first,
                    first,
                    found(region, "s-1", "v-1"),
                    found(region, "s-1", "v-2"),
                ],
            )
        )
        wait_until(lambda: len(feed(client, "s-1")) == 2)
        time.sleep(1.0)
        items = feed(client, "s-1")
        assert sorted(n["vacancy_id"] for n in items) == ["v-1", "v-2"]
        page = client.get("/v1/students/s-1/notifications", params={"limit": 1}).json()
        assert (len(page["items"]), page["total"], page["limit"], page["offset"]) == (1, 2, 1, 0)
        assert page["items"][0]["notification_id"] in {n["notification_id"] for n in items}
        assert items[0]["content"]["why"] == "You have 1 of the 2 skills this vacancy asks for."

        asyncio.run(publish(kafka_bootstrap, [withdrawn(region, "s-1", "v-1")]))
        wait_until(
            lambda: (
                {n["vacancy_id"]: n["available"] for n in feed(client, "s-1")}
                == {"v-1": False, "v-2": True}
            )
        )
