"""The HTTP API answers ranked, explained matches, evaluations and skill gaps from matching's
view, here filled through the service layer of the app itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from interlocality.common.migrations import upgrade
from interlocality.common.service import ServiceRuntime
from interlocality.common.testing import signed_in
from interlocality.contracts.students import PermittedWork
from interlocality.matching.app import MIGRATIONS, create_app
from interlocality.matching.service import MatchingService

NL_STUDENT = PermittedWork(country="NL", unrestricted=False, hours_per_week_term=16.0)
CHEMISTRY = "http://data.europa.eu/esco/skill/cde9911c-f92e-4de1-811f-336e177ac4ce"


@dataclass
class Served:
    """The matching app, not started (no broker), and the service layer it was given."""

    client: TestClient
    service: MatchingService

    def write(self, use_case: Callable[..., None], *args: Any) -> None:
        with self.service.runtime.transaction() as session:
            use_case(session, *args)


@pytest.fixture
def served(service_settings: Callable[..., Any]) -> Iterator[Callable[..., Served]]:
    runtimes: list[ServiceRuntime] = []

    def make(**overrides: Any) -> Served:
        app = create_app(service_settings("matching", **overrides))
        runtime: ServiceRuntime = app.state.runtime
        runtimes.append(runtime)
        upgrade(runtime.engine, MIGRATIONS, runtime.tables)
        return Served(signed_in(TestClient(app)), app.state.provided[MatchingService])

    yield make
    for runtime in runtimes:
        runtime.engine.dispose()


def ranked(client: TestClient, path: str) -> list[tuple[str, float]]:
    return [(item["student_id"], item["score"]) for item in client.get(path).json()["items"]]


def test_matches_are_ranked_explained_and_advised(
    served: Callable[..., Served], snapshots: Any, uris: list[str]
) -> None:
    app = served()
    client, service = app.client, app.service
    app.write(service.apply_vacancy, snapshots.vacancy("open", 1))
    app.write(service.apply_student, snapshots.student("s-limited", uris, permitted=NL_STUDENT))
    app.write(service.apply_student, snapshots.student("s-all", uris))
    app.write(service.apply_student, snapshots.student("s-one", uris[:1]))
    app.write(service.apply_student, snapshots.student("s-none", []))

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


def test_a_vacancy_keeps_its_best_students_up_to_the_limit(
    served: Callable[..., Served], snapshots: Any, uris: list[str]
) -> None:
    app = served(match_limit_per_vacancy=1)
    app.write(app.service.apply_student, snapshots.student("s-all", uris))
    app.write(app.service.apply_student, snapshots.student("s-two", uris[:2]))
    assert app.client.get("/v1/students/s-two/matches").status_code == 200
    app.write(app.service.apply_vacancy, snapshots.vacancy("open", 1))
    assert [s for s, _ in ranked(app.client, "/v1/vacancies/v-1/matches")] == ["s-all"]
    why = app.client.get("/v1/students/s-two/vacancies/v-1/evaluation").json()
    assert why["is_match"] is True  # a match by the rules, outranked by the limit


def test_an_uncovered_nice_to_have_skill_is_said_apart_from_missing_required_ones(
    served: Callable[..., Served], snapshots: Any, uris: list[str]
) -> None:
    app = served()
    vacancy = snapshots.vacancy("open", 1, uris[:2], nice=(CHEMISTRY,))
    app.write(app.service.apply_vacancy, vacancy)
    app.write(app.service.apply_student, snapshots.student("s-ana", uris[:2]))
    [match] = app.client.get("/v1/students/s-ana/matches").json()["items"]
    assert match["missing_skills"] == []
    assert [(s["uri"], s["label"]) for s in match["missing_nice_to_have"]] == [
        (CHEMISTRY, "chemistry")
    ]
    why = app.client.get("/v1/students/s-ana/vacancies/v-1/evaluation").json()
    assert (why["missing_skills"], why["missing_nice_to_have"]) == (
        [],
        [{"uri": CHEMISTRY, "label": "chemistry"}],
    )
