"""Two matching replicas on one PostgreSQL database: one is active and consumes, the other
stands by; every match is found whichever replica took which partition, and when the active
one stops the other takes over with the whole region in its index."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from interlocality.common.testing import publish, signed_in, wait_until
from interlocality.contracts.vacancies import VacancyPublished
from interlocality.matching.app import create_app

STUDENTS = [f"s-{n:02d}" for n in range(12)]  # spread over the students topic's partitions


def matched(client: TestClient, vacancy_id: str) -> set[str]:
    response = client.get(f"/v1/vacancies/{vacancy_id}/matches", params={"limit": 100})
    if response.status_code == 404:
        return set()
    return {item["student_id"] for item in response.json()["items"]}


def vacancy(snapshots: Any, vacancy_id: str) -> VacancyPublished:
    data = snapshots.vacancy("open", 1).model_copy(update={"vacancy_id": vacancy_id})
    return VacancyPublished(
        source=f"/interlocality/{snapshots.region}/vacancies",
        region=snapshots.region,
        subject=vacancy_id,
        data=data,
    )


# replicas share a PostgreSQL database (a SQLite file has one process)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_one_replica_consumes_and_the_other_takes_over_with_the_whole_region(
    service_settings: Callable[..., Any],
    kafka_bootstrap: str,
    snapshots: Any,
    uris: list[str],
) -> None:
    def replica() -> TestClient:
        settings = service_settings(
            "matching",
            active_replica_poll_seconds=0.2,
            standby_refresh_seconds=0.5,
        )
        return signed_in(TestClient(create_app(settings)))

    clients = [replica(), replica()]
    running: list[TestClient] = []
    try:
        for client in clients:
            running.append(client.__enter__())
        runtimes = [c.app.state.runtime for c in clients]  # type: ignore[attr-defined]
        wait_until(lambda: any(r.active for r in runtimes))
        assert sorted(r.active for r in runtimes) == [False, True]
        active, standby = clients if runtimes[0].active else clients[::-1]

        asyncio.run(publish(kafka_bootstrap, [snapshots.upserted(s, uris) for s in STUDENTS]))
        asyncio.run(publish(kafka_bootstrap, [vacancy(snapshots, "v-1")]))
        # every student, whichever partition carried them
        wait_until(lambda: matched(active, "v-1") == set(STUDENTS))
        # the standby serves them too, its view refreshed from the database the active
        # replica keeps
        wait_until(lambda: matched(standby, "v-1") == set(STUDENTS))
        evaluation = "/v1/students/s-03/vacancies/v-1/evaluation"
        assert standby.get(evaluation).json()["is_match"] is True
        assert standby.get("/readyz").status_code == 200
        assert standby.get("/healthz").status_code == 200

        active.__exit__(None, None, None)  # the active replica stops
        running.remove(active)
        wait_until(lambda: standby.app.state.runtime.active)  # type: ignore[attr-defined]
        asyncio.run(publish(kafka_bootstrap, [vacancy(snapshots, "v-2")]))
        wait_until(lambda: matched(standby, "v-2") == set(STUDENTS))
    finally:
        for client in running:
            client.__exit__(None, None, None)
