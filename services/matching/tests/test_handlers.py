"""Matching keeps its view from the topics and publishes found and withdrawn matches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from interlocality.common.testing import publish, read_topic, signed_in, wait_until
from interlocality.contracts.students import PermittedWork
from interlocality.contracts.topics import MATCHES
from interlocality.contracts.vacancies import VacancyClosed, VacancyPublished
from interlocality.matching.app import create_app

NL_STUDENT = PermittedWork(country="NL", unrestricted=False, hours_per_week_term=16.0)


def ranked(client: TestClient, path: str) -> list[tuple[str, float]]:
    """The (student, score) pairs of a match list; none while matching has not seen the id."""
    response = client.get(path)
    if response.status_code == 404:
        return []
    return [(item["student_id"], item["score"]) for item in response.json()["items"]]


def test_matches_follow_students_and_vacancies(
    service_settings: Callable[..., Any],
    kafka_bootstrap: str,
    region: str,
    snapshots: Any,
    uris: list[str],
) -> None:
    with signed_in(TestClient(create_app(service_settings("matching")))) as client:
        asyncio.run(
            publish(
                kafka_bootstrap,
                [
                    snapshots.vacancy_event(VacancyPublished, "open", 1),
                    snapshots.upserted("s-limited", uris, permitted=NL_STUDENT),
                    snapshots.upserted("s-all", uris),
                    snapshots.upserted("s-one", uris[:1]),
                    snapshots.upserted("s-none", []),
                ],
            )
        )
        wait_until(lambda: len(ranked(client, "/v1/vacancies/v-1/matches")) == 2)
        found = ranked(client, "/v1/vacancies/v-1/matches")
        assert [student for student, _ in found] == ["s-all", "s-one"]
        assert found[0][1] > found[1][1] >= 0.3

        # A late older snapshot changes nothing; a better one updates; erasure and losing
        # every skill withdraw.
        asyncio.run(
            publish(
                kafka_bootstrap,
                [
                    snapshots.upserted("s-one", uris, version=2),
                    snapshots.upserted("s-one", uris[:1], version=1),
                ],
            )
        )
        wait_until(lambda: ranked(client, "/v1/students/s-one/matches")[0][1] == found[0][1])
        asyncio.run(
            publish(
                kafka_bootstrap,
                [snapshots.upserted("s-one", [], version=3), snapshots.erased("s-all")],
            )
        )
        wait_until(lambda: ranked(client, "/v1/vacancies/v-1/matches") == [])
        assert client.get("/v1/students/s-all/matches").status_code == 404

        asyncio.run(publish(kafka_bootstrap, [snapshots.upserted("s-back", uris[:2])]))
        wait_until(lambda: len(ranked(client, "/v1/students/s-back/matches")) == 1)
        closed = snapshots.vacancy_event(VacancyClosed, "closed", 2)
        asyncio.run(publish(kafka_bootstrap, [closed]))
        wait_until(lambda: ranked(client, "/v1/students/s-back/matches") == [])
        records = asyncio.run(read_topic(kafka_bootstrap, MATCHES.name(region), count=7))

    story = [(dict(r.headers)["ce_type"].decode().split(".")[2], r.key.decode()) for r in records]
    assert sorted(story) == sorted(
        [
            ("MatchFound", "s-all"),
            ("MatchFound", "s-one"),
            ("MatchUpdated", "s-one"),
            ("MatchWithdrawn", "s-one"),
            ("MatchWithdrawn", "s-all"),
            ("MatchFound", "s-back"),
            ("MatchWithdrawn", "s-back"),
        ]
    )
    reasons = sorted(
        r.value.decode().split('"reason":"')[1].split('"')[0]
        for r in records
        if b'"reason"' in r.value
    )
    assert reasons == ["no_longer_fits", "student_erased", "vacancy_closed"]


def test_a_registered_company_rescores_its_open_vacancies(
    service_settings: Callable[..., Any], kafka_bootstrap: str, snapshots: Any, uris: list[str]
) -> None:
    with signed_in(TestClient(create_app(service_settings("matching")))) as client:
        student = snapshots.upserted("s-da", uris[:1], languages={"da": "B2"})
        vacancy = snapshots.vacancy_event(VacancyPublished, "open", 1)
        asyncio.run(publish(kafka_bootstrap, [vacancy, student]))
        wait_until(lambda: ranked(client, "/v1/vacancies/v-1/matches"))
        [(_, before)] = ranked(client, "/v1/vacancies/v-1/matches")
        asyncio.run(publish(kafka_bootstrap, [snapshots.registered(["DK"])]))
        wait_until(lambda: ranked(client, "/v1/vacancies/v-1/matches")[0][1] > before)
