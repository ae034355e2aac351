"""Profiles over HTTP, on SQLite and PostgreSQL, publishing through a real broker."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jsonschema_rs
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from interlocality.common.outbox import OutboxMessage
from interlocality.common.testing import read_topic, signed_in
from interlocality.contracts.topics import STUDENTS
from interlocality.profiles.app import create_app
from interlocality.profiles.store import StudentRecord

SCHEMAS = Path(__file__).resolve().parents[3] / "contracts" / "schemas"
PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
UNKNOWN = "http://data.europa.eu/esco/skill/00000000-0000-0000-0000-000000000000"


def student(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "Priya Natarajan",
        "email": "priya.natarajan@students.example.org",
        "skills": [{"uri": PYTHON, "level": 4}],
        "languages": [{"code": "en", "level": "C1"}, {"code": "da", "level": "A2"}],
        "engagement_kinds": ["internship", "thesis"],
        "consents": {"matching": True, "notifications": True, "analytics": True},
    }
    body.update(changes)
    return body


def stored_rows(client: TestClient) -> tuple[int, int]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with Session(runtime.engine) as session:
        students = session.exec(select(func.count()).select_from(StudentRecord)).one()
        outbox = session.exec(select(func.count()).select_from(OutboxMessage)).one()
    return students, outbox


def test_create_read_replace_erase_publish_snapshots_then_a_tombstone(
    service_settings: Callable[..., object], kafka_bootstrap: str
) -> None:
    settings = service_settings("profiles")
    with signed_in(TestClient(create_app(settings))) as client:  # type: ignore[arg-type]
        created = client.post("/v1/students", json=student())
        assert created.status_code == 201, created.text
        student_id = created.json()["student_id"]
        assert created.json()["version"] == 1
        assert client.get(f"/v1/students/{student_id}").json()["name"] == "Priya Natarajan"

        replaced = client.put(f"/v1/students/{student_id}", json=student(name="Priya N."))
        assert replaced.json()["version"] == 2
        topic = STUDENTS.name(settings.region)  # type: ignore[attr-defined]
        # both snapshots published before the erasure (one still waiting would be deleted
        # from the outbox with her, never to be published)
        assert len(asyncio.run(read_topic(kafka_bootstrap, topic, count=2))) == 2
        assert client.delete(f"/v1/students/{student_id}").status_code == 204
        assert client.get(f"/v1/students/{student_id}").status_code == 404
        assert client.delete(f"/v1/students/{student_id}").status_code == 404

        records = asyncio.run(read_topic(kafka_bootstrap, topic, count=4))

    types = [dict(r.headers).get("ce_type", b"").decode() for r in records]
    assert types == [
        "org.interlocality.StudentProfileUpserted.v1",
        "org.interlocality.StudentProfileUpserted.v1",
        "org.interlocality.StudentProfileErased.v1",
        "",
    ]
    assert {r.key for r in records} == {student_id.encode()}
    assert records[-1].value is None  # the tombstone compaction keeps in the end


def test_bad_fields_are_422_naming_each_field_and_nothing_is_stored(
    service_settings: Callable[..., object],
) -> None:
    with signed_in(TestClient(create_app(service_settings("profiles")))) as client:  # type: ignore[arg-type]
        response = client.post(
            "/v1/students",
            json=student(
                email="not-an-address",
                skills=[{"uri": PYTHON, "level": 6}],
                languages=[{"code": "eng", "level": "D1"}],
                engagement_kinds=[],
            ),
        )
        assert response.status_code == 422
        fields = {problem["field"] for problem in response.json()["detail"]}
        assert fields == {
            "body.email",
            "body.skills.0.level",
            "body.languages.0.code",
            "body.languages.0.level",
            "body.engagement_kinds",
        }
        messages = {problem["field"]: problem["msg"] for problem in response.json()["detail"]}
        assert messages["body.email"] == (
            "'not-an-address' is not an e-mail address such as name@example.org"
        )
        assert stored_rows(client) == (0, 0)


def published_schema(definition: str) -> jsonschema_rs.Validator:
    """A validator of ``definition`` in the committed JSON Schema of the students topic,
    formats checked."""
    document = json.loads((SCHEMAS / "StudentProfileUpserted.v1.json").read_text())
    schema = {"$ref": f"#/$defs/{definition}", "$defs": document["$defs"]}
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def test_internationalised_addresses_are_stored_answered_and_published_as_the_schema_says(
    service_settings: Callable[..., object], kafka_bootstrap: str
) -> None:
    given = {
        "lucía.romero@students.example.org": "lucía.romero@students.example.org",
        "elif.yılmaz@students.example.org": "elif.yılmaz@students.example.org",
        "ana@universität.example": "ana@universität.example",
        # normalised: NFC (an í typed as i + combining accent), the domain lower case
        "Luci\u0301a.Romero@Universität.EXAMPLE": "Lucía.Romero@universität.example",
        "ana@xn--universitt-y5a.example": "ana@universität.example",
    }
    settings = service_settings("profiles")
    with signed_in(TestClient(create_app(settings))) as client:  # type: ignore[arg-type]
        for address in given:
            created = client.post("/v1/students", json=student(email=address))
            assert created.status_code == 201, created.text
        answered = client.get("/v1/students").json()["items"]
        topic = STUDENTS.name(settings.region)  # type: ignore[attr-defined]
        records = asyncio.run(read_topic(kafka_bootstrap, topic, count=len(given)))

    assert sorted(s["email"] for s in answered) == sorted(given.values())
    profile = published_schema("StudentProfile")
    for answer in answered:
        profile.validate(answer)
    published = [json.loads(record.value) for record in records]
    assert sorted(p["email"] for p in published) == sorted(given.values())
    for data in published:
        profile.validate(data)


def test_an_address_that_is_no_address_is_422_saying_what_is_expected(
    service_settings: Callable[..., object],
) -> None:
    with signed_in(TestClient(create_app(service_settings("profiles")))) as client:  # type: ignore[arg-type]
        for address, reason in (
            ("lucía.romero", "'lucía.romero' is not an e-mail address such as name@example.org"),
            (
                "lucía..romero@students.example.org",
                "'lucía..romero@students.example.org' is not an e-mail address such as "
                "name@example.org: An email address cannot have two periods in a row.",
            ),
            (
                "elif@students.invalid",
                "'elif@students.invalid' is not an e-mail address such as name@example.org: "
                "The part after the @-sign is a special-use or reserved name that cannot be "
                "used with email.",
            ),
        ):
            response = client.post("/v1/students", json=student(email=address))
            assert response.status_code == 422, address
            [problem] = response.json()["detail"]
            assert (problem["field"], problem["msg"]) == ("body.email", reason)
        assert stored_rows(client) == (0, 0)


def test_an_unknown_esco_skill_is_422_naming_it(service_settings: Callable[..., object]) -> None:
    with signed_in(TestClient(create_app(service_settings("profiles")))) as client:  # type: ignore[arg-type]
        response = client.post(
            "/v1/students",
            json=student(skills=[{"uri": PYTHON, "level": 3}, {"uri": UNKNOWN, "level": 2}]),
        )
        assert response.status_code == 422
        [problem] = response.json()["detail"]
        assert problem["field"] == "body.skills.1.uri"
        assert problem["input"] == UNKNOWN
        assert UNKNOWN in problem["msg"]
        assert stored_rows(client) == (0, 0)

        typo = PYTHON[:-1] + "f"
        response = client.post("/v1/students", json=student(skills=[{"uri": typo, "level": 3}]))
        assert response.status_code == 422
        [problem] = response.json()["detail"]
        assert problem["suggestions"][0] == {
            "uri": PYTHON,
            "label": "Python (computer programming)",
        }
        assert "did you mean 'Python (computer programming)'" in problem["msg"]


def test_bodies_over_one_mebibyte_are_refused(service_settings: Callable[..., object]) -> None:
    with signed_in(TestClient(create_app(service_settings("profiles")))) as client:  # type: ignore[arg-type]
        response = client.post(
            "/v1/students",
            content=b'{"name": "' + b"x" * (1024 * 1024) + b'"}',
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 413
        assert stored_rows(client) == (0, 0)


def test_consents_take_only_true_or_false(service_settings: Callable[..., object]) -> None:
    with signed_in(TestClient(create_app(service_settings("profiles")))) as client:  # type: ignore[arg-type]
        for loose in (0, 1, "yes", "on", "t", "false", None):
            response = client.post(
                "/v1/students", json=student(consents={"matching": loose, "analytics": True})
            )
            assert response.status_code == 422, (loose, response.text)
            [problem] = response.json()["detail"]
            assert problem["field"] == "body.consents.matching"
            assert problem["msg"] == (
                f"true or false was expected (without quotes), not {json.dumps(loose)}"
            )
        assert stored_rows(client) == (0, 0)

        created = client.post("/v1/students", json=student(name="Søren Ørsted"))
        student_id = created.json()["student_id"]
        refused = client.put(f"/v1/students/{student_id}/consents", json={"analytics": "no"})
        assert refused.status_code == 422
        assert [p["field"] for p in refused.json()["detail"]] == ["body.analytics"]
        given = client.put(f"/v1/students/{student_id}/consents", json={"analytics": False})
        assert given.json()["consents"]["analytics"]["granted"] is False


def test_consent_withdrawal_and_export(service_settings: Callable[..., object]) -> None:
    with signed_in(TestClient(create_app(service_settings("profiles")))) as client:  # type: ignore[arg-type]
        created = client.post(
            "/v1/students",
            json={
                "name": "Elif",
                "email": "elif@students.example.org",
                "engagement_kinds": ["graduate_job"],
                "residence_status": "non_eu_student",
            },
        ).json()
        assert created["permitted_work"]["hours_per_week_term"] == 20.8
        student_id = created["student_id"]
        withdrawn = client.put(
            f"/v1/students/{student_id}/consents",
            json={"matching": False, "notifications": True, "analytics": True},
        ).json()
        assert withdrawn["consents"]["matching"]["granted"] is False
        assert withdrawn["version"] == 2
        export = client.get(f"/v1/students/{student_id}/export").json()
        assert export["profile"]["name"] == "Elif"
        assert export["profile"]["consents"]["matching"]["granted"] is False
        held = client.get(f"/v1/privacy/students/{student_id}").json()
        assert held["holds"]["profile"]["email"] == "elif@students.example.org"


def test_a_student_consents_only_by_saying_so(service_settings: Callable[..., object]) -> None:
    with signed_in(TestClient(create_app(service_settings("profiles")))) as client:  # type: ignore[arg-type]
        body = student(name="Åsa Ørsted-Yılmaz")
        del body["consents"]
        created = client.post("/v1/students", json=body).json()
        student_id = created["student_id"]
        unsaid = {"granted": False, "at": None}
        assert created["consents"] == {
            "matching": unsaid,
            "notifications": unsaid,
            "analytics": unsaid,
        }
        given = client.put(f"/v1/students/{student_id}/consents", json={"matching": True})
        consents = given.json()["consents"]
        assert consents["matching"]["granted"] is True and consents["matching"]["at"]
        assert consents["notifications"]["granted"] is consents["analytics"]["granted"] is False
        # A profile replaced without a word on consents keeps them as the student said.
        replaced = client.put(f"/v1/students/{student_id}", json={**body, "hours_per_week": 12})
        assert replaced.json()["version"] == 3
        assert replaced.json()["consents"] == consents


def test_skill_search_is_ranked_and_typo_tolerant(service_settings: Callable[..., object]) -> None:
    with signed_in(TestClient(create_app(service_settings("profiles")))) as client:  # type: ignore[arg-type]
        hits = client.get("/v1/skills", params={"q": "pyton programing", "limit": 3}).json()
        assert hits[0]["uri"] == PYTHON
        assert client.get("/v1/skills", params={"q": ""}).status_code == 422


def test_writers_racing_on_one_student_lose_no_update(
    service_settings: Callable[..., object],
    staged_snapshots: Callable[..., list[tuple[str, dict[str, Any]]]],
) -> None:
    settings = service_settings("profiles")
    with signed_in(TestClient(create_app(settings))) as client:  # type: ignore[arg-type]
        student_id = client.post("/v1/students", json=student()).json()["student_id"]
        writers: list[Callable[[], Any]] = [
            lambda i=i: client.put(f"/v1/students/{student_id}", json=student(name=f"W{i}"))
            for i in range(6)
        ]
        writers.append(
            lambda: client.put(
                f"/v1/students/{student_id}/consents",
                json={"matching": True, "notifications": True, "analytics": False},
            )
        )
        start = threading.Barrier(len(writers))

        def write(writer: Callable[[], Any]) -> Any:
            start.wait()
            return writer()

        with ThreadPoolExecutor(len(writers)) as pool:
            answers = list(pool.map(write, writers))
        assert [a.status_code for a in answers] == [200] * len(writers)
        final = client.get(f"/v1/students/{student_id}").json()
        snapshots = staged_snapshots(client.app.state.runtime.engine, student_id)  # type: ignore[attr-defined]

    versions = [data["version"] for _, data in snapshots]
    assert sorted(versions) == list(range(1, len(writers) + 2)), versions
    assert len({event_id for event_id, _ in snapshots}) == len(snapshots)
    assert final["version"] == len(writers) + 1
    # Each snapshot is its predecessor with one writer's change: none was written over.
    by_version = {data["version"]: data for _, data in snapshots}
    names = {f"W{i}" for i in range(6)}
    withdrawn = 0
    for version in range(2, len(writers) + 2):
        before, after = by_version[version - 1], by_version[version]
        granted = {name: c["granted"] for name, c in after["consents"].items()}
        if after["name"] != before["name"]:
            names.remove(after["name"])  # a replacement: every consent given again
            assert granted == {"matching": True, "notifications": True, "analytics": True}
        else:
            withdrawn += 1  # the withdrawal of the analytics consent
            assert granted == {"matching": True, "notifications": True, "analytics": False}
    assert not names and withdrawn == 1
    assert final == by_version[len(writers) + 1]
