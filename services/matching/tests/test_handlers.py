"""Matching keeps its view from the topics and publishes found and withdrawn matches."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from interlocality.common.esco import default_vocabulary
from interlocality.common.testing import publish, read_topic, wait_until
from interlocality.contracts.common import SkillLevel, SkillRequirement
from interlocality.contracts.students import (
    PermittedWork,
    StudentErasure,
    StudentProfile,
    StudentProfileErased,
    StudentProfileUpserted,
)
from interlocality.contracts.topics import MATCHES
from interlocality.contracts.vacancies import Vacancy, VacancyClosed, VacancyPublished
from interlocality.matching.app import create_app


def skills() -> list[str]:
    vocabulary = default_vocabulary()
    analyst = next(o for o in vocabulary.occupations.values() if o.label == "data analyst")
    return list(analyst.essential_skills[:3])


def vacancy_event(
    region: str,
    event_type: type,
    status: str,
    version: int,
    required: list[str] | None = None,
    nice: tuple[str, ...] = (),
) -> Any:
    return event_type(
        source=f"/interlocality/{region}/vacancies",
        region=region,
        subject="v-1",
        data=Vacancy(
            vacancy_id="v-1",
            company_id="c-1",
            title="Data analyst (student job)",
            kind="student_job",
            required_skills=[
                SkillRequirement(uri=uri, min_level=2) for uri in required or skills()
            ],
            nice_to_have_skills=[SkillRequirement(uri=uri) for uri in nice],
            languages=[],
            status=status,
            version=version,
            updated_at=datetime.now(UTC),
            hours_per_week=37,
        ),
    )


NL_STUDENT = PermittedWork(country="NL", unrestricted=False, hours_per_week_term=16.0)


def student_event(
    region: str,
    student_id: str,
    owned: list[str],
    version: int = 1,
    permitted: PermittedWork | None = None,
) -> Any:
    return StudentProfileUpserted(
        source=f"/interlocality/{region}/profiles",
        region=region,
        subject=student_id,
        data=StudentProfile(
            student_id=student_id,
            name="Kwame Mensah",
            email="kwame.mensah@students.example.org",
            skills=[SkillLevel(uri=uri, level=4) for uri in owned],
            languages=[],
            engagement_kinds=["student_job"],
            version=version,
            updated_at=datetime.now(UTC),
            permitted_work=permitted,
        ),
    )


def ranked(client: TestClient, path: str) -> list[tuple[str, float]]:
    """The (student, score) pairs of a match list; none while matching has not seen the id."""
    response = client.get(path)
    if response.status_code == 404:
        return []
    return [(item["student_id"], item["score"]) for item in response.json()["items"]]


def test_matches_follow_students_and_vacancies(
    service_settings: Callable[..., Any], kafka_bootstrap: str, region: str
) -> None:
    uris = skills()
    with TestClient(create_app(service_settings("matching"))) as client:
        asyncio.run(
            publish(
                kafka_bootstrap,
                [
                    vacancy_event(region, VacancyPublished, "open", 1),
                    student_event(region, "s-limited", uris, permitted=NL_STUDENT),
                    student_event(region, "s-all", uris),
                    student_event(region, "s-one", uris[:1]),
                    student_event(region, "s-none", []),
                ],
            )
        )
        wait_until(lambda: len(ranked(client, "/v1/vacancies/v-1/matches")) == 2)
        found = ranked(client, "/v1/vacancies/v-1/matches")
        assert [student for student, _ in found] == ["s-all", "s-one"]
        assert found[0][1] > found[1][1] >= 0.3
        explained = client.get("/v1/students/s-one/matches").json()["items"][0]
        assert [s["uri"] for s in explained["missing_skills"]] == uris[1:]
        assert [s["uri"] for s in explained["matched_skills"]] == uris[:1]
        coverage = explained["explanation"]["skills"]
        assert [(s["uri"], s["relation"]) for s in coverage] == [
            (uris[0], "exact"),
            (uris[1], None),
            (uris[2], None),
        ]
        assert explained["labels"][uris[0]]
        gaps = client.get("/v1/students/s-one/skill-gaps").json()
        assert {gap["uri"] for gap in gaps} == set(uris[1:])
        assert all(gap["better_matches"] == 1 and gap["label"] for gap in gaps)
        assert {v["vacancy_id"] for gap in gaps for v in gap["vacancies"]} == {"v-1"}
        assert client.get("/v1/students/nobody/skill-gaps").status_code == 404
        # The student whose permit does not cover 37 h a week is no match, and is told why.
        why = client.get("/v1/students/s-limited/vacancies/v-1/evaluation").json()
        assert why["is_match"] is False
        assert why["failed_conditions"] == [
            "permit: the job's 37 h a week exceed the 16 h a week in term (NL rules) "
            "this student may work"
        ]
        same = client.get("/v1/students/s-one/vacancies/v-1/evaluation").json()
        assert same["is_match"] is True and same["score"] == found[1][1]
        assert client.get("/v1/students/nobody/matches").status_code == 404
        assert client.get("/v1/vacancies/v-none/matches").status_code == 404
        assert client.get("/v1/students/s-one/vacancies/v-none/evaluation").status_code == 404

        # A late older snapshot changes nothing; a better one updates; erasure and losing
        # every skill withdraw.
        asyncio.run(
            publish(
                kafka_bootstrap,
                [
                    student_event(region, "s-one", uris, version=2),
                    student_event(region, "s-one", uris[:1], version=1),
                ],
            )
        )
        wait_until(lambda: ranked(client, "/v1/students/s-one/matches")[0][1] == found[0][1])
        asyncio.run(
            publish(
                kafka_bootstrap,
                [
                    student_event(region, "s-one", [], version=3),
                    StudentProfileErased(
                        source=f"/interlocality/{region}/profiles",
                        region=region,
                        subject="s-all",
                        data=StudentErasure(student_id="s-all", erased_at=datetime.now(UTC)),
                    ),
                ],
            )
        )
        wait_until(lambda: ranked(client, "/v1/vacancies/v-1/matches") == [])
        assert client.get("/v1/students/s-all/matches").status_code == 404

        asyncio.run(publish(kafka_bootstrap, [student_event(region, "s-back", uris[:2])]))
        wait_until(lambda: len(ranked(client, "/v1/students/s-back/matches")) == 1)
        asyncio.run(publish(kafka_bootstrap, [vacancy_event(region, VacancyClosed, "closed", 2)]))
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


def test_pairs_below_the_region_minimum_are_not_matches(
    service_settings: Callable[..., Any], kafka_bootstrap: str, region: str
) -> None:
    uris = skills()
    with TestClient(create_app(service_settings("matching", match_min_score=0.5))) as client:
        asyncio.run(
            publish(
                kafka_bootstrap,
                [
                    vacancy_event(region, VacancyPublished, "open", 1),
                    student_event(region, "s-two", uris[:2]),
                    student_event(region, "s-one", uris[:1]),
                ],
            )
        )
        wait_until(lambda: len(ranked(client, "/v1/vacancies/v-1/matches")) == 1)
        # s-one shares a skill (1/3) but stays under 0.5; once it learns more it matches.
        asyncio.run(publish(kafka_bootstrap, [student_event(region, "s-one", uris, version=2)]))
        wait_until(lambda: len(ranked(client, "/v1/vacancies/v-1/matches")) == 2)
        assert [s for s, _ in ranked(client, "/v1/vacancies/v-1/matches")] == ["s-one", "s-two"]
        # Falling under the minimum again withdraws the match.
        asyncio.run(publish(kafka_bootstrap, [student_event(region, "s-one", uris[:1], version=3)]))
        wait_until(lambda: [s for s, _ in ranked(client, "/v1/vacancies/v-1/matches")] == ["s-two"])


def test_a_vacancy_keeps_its_best_students_up_to_the_limit(
    service_settings: Callable[..., Any], kafka_bootstrap: str, region: str
) -> None:
    uris = skills()
    settings = service_settings("matching", match_limit_per_vacancy=1)
    with TestClient(create_app(settings)) as client:
        asyncio.run(
            publish(
                kafka_bootstrap,
                [student_event(region, "s-all", uris), student_event(region, "s-two", uris[:2])],
            )
        )
        wait_until(lambda: client.get("/v1/students/s-two/matches").status_code == 200)
        asyncio.run(publish(kafka_bootstrap, [vacancy_event(region, VacancyPublished, "open", 1)]))
        wait_until(lambda: len(ranked(client, "/v1/vacancies/v-1/matches")) == 1)
        assert [s for s, _ in ranked(client, "/v1/vacancies/v-1/matches")] == ["s-all"]
        why = client.get("/v1/students/s-two/vacancies/v-1/evaluation").json()
        assert why["is_match"] is True  # a match by the rules, outranked by the limit


CHEMISTRY = "http://data.europa.eu/esco/skill/cde9911c-f92e-4de1-811f-336e177ac4ce"


def test_an_uncovered_nice_to_have_skill_is_said_apart_from_missing_required_ones(
    service_settings: Callable[..., Any], kafka_bootstrap: str, region: str
) -> None:
    uris = skills()
    vacancy = vacancy_event(region, VacancyPublished, "open", 1, uris[:2], nice=(CHEMISTRY,))
    with TestClient(create_app(service_settings("matching"))) as client:
        asyncio.run(publish(kafka_bootstrap, [vacancy, student_event(region, "s-ana", uris[:2])]))
        wait_until(lambda: ranked(client, "/v1/students/s-ana/matches"))
        [match] = client.get("/v1/students/s-ana/matches").json()["items"]
        assert match["missing_skills"] == []
        assert [(s["uri"], s["label"]) for s in match["missing_nice_to_have"]] == [
            (CHEMISTRY, "chemistry")
        ]
        why = client.get("/v1/students/s-ana/vacancies/v-1/evaluation").json()
        assert (why["missing_skills"], why["missing_nice_to_have"]) == (
            [],
            [{"uri": CHEMISTRY, "label": "chemistry"}],
        )
        [found] = asyncio.run(read_topic(kafka_bootstrap, MATCHES.name(region), count=1))
    event = json.loads(found.value)
    assert (event["missing_skills"], event["missing_nice_to_have"]) == ([], [CHEMISTRY])
