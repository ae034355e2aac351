"""Bulk import over HTTP: every bad row reported, every good row stored, re-imports idempotent."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from interlocality.common.testing import read_topic, signed_in
from interlocality.contracts.topics import STUDENTS
from interlocality.profiles.app import create_app

PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
COLUMNS = [
    "external_id",
    "name",
    "email",
    "study_field",
    "skills",
    "languages",
    "engagement_kinds",
    "hours_per_week",
    "consent_matching",
]


def rows() -> list[dict[str, str]]:
    good = {
        "name": "Student",
        "email": "s@students.example.org",
        "study_field": "0613",
        "skills": f"{PYTHON}|4;Java (computer programming)|2",
        "languages": "en:C1;da:A2",
        "engagement_kinds": "thesis;internship",
        "hours_per_week": "15",
        "consent_matching": "yes",
    }
    return [
        {**good, "external_id": "au-1"},
        {**good, "external_id": "au-2", "email": "broken"},  # line 3
        {**good, "external_id": "au-3", "skills": "pyton programing|3"},  # line 4
        {**good, "external_id": "au-4", "hours_per_week": "75"},  # line 5
        {**good, "external_id": "", "name": "No Id"},  # line 6
        {**good, "external_id": "au-5", "languages": "english:C1"},  # line 7
        {**good, "external_id": "au-6", "name": "Kwame"},
    ]


def as_csv(data: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(data)
    return out.getvalue().encode()


def run(client: TestClient, body: bytes, fmt: str = "csv") -> dict[str, Any]:
    response = client.post(f"/v1/imports/students?format={fmt}", content=body)
    assert response.status_code == 200, response.text
    lines = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    return dict(lines[-1]["report"])


def test_import_reports_bad_rows_stores_good_ones_and_is_idempotent(
    service_settings: Callable[..., Any], kafka_bootstrap: str
) -> None:
    settings = service_settings("profiles")
    data = rows()
    with signed_in(TestClient(create_app(settings))) as client:
        report = run(client, as_csv(data))
        assert (report["rows"], report["created"], report["failed"]) == (7, 2, 5)
        errors = {(e["line"], e["field"]) for e in report["errors"]}
        assert errors == {
            (3, "email"),
            (4, "skills.0.uri"),
            (5, "hours_per_week"),
            (6, "external_id"),
            (7, "languages.0.code"),
        }
        email = next(e for e in report["errors"] if e["line"] == 3)
        assert email["message"] == "'broken' is not an e-mail address such as name@example.org"
        typo = next(e for e in report["errors"] if e["line"] == 4)
        assert "Python (computer programming)" in typo["message"]

        again = run(client, as_csv(data))
        assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)

        data[1]["email"] = "fixed@students.example.org"  # the operator fixes line 3
        data[6]["hours_per_week"] = "20"  # and changes au-6
        fixed = run(client, as_csv(data))
        assert (fixed["created"], fixed["updated"], fixed["unchanged"]) == (1, 1, 1)

        listed = client.get("/v1/students?limit=2").json()
        assert len(listed["items"]) == 2 and listed["next_cursor"]
        assert (listed["total"], listed["limit"]) == (3, 2)
        rest = client.get(f"/v1/students?limit=10&cursor={listed['next_cursor']}").json()
        assert rest["next_cursor"] is None and rest["total"] == 3
        everyone = listed["items"] + rest["items"]
        assert sorted(s["external_id"] for s in everyone) == ["au-1", "au-2", "au-6"]
        au6 = next(s for s in everyone if s["external_id"] == "au-6")
        assert au6["version"] == 2 and au6["hours_per_week"] == 20
        java = next(s for s in au6["skills"] if s["level"] == 2)
        assert java["uri"].startswith("http://data.europa.eu/esco/skill/")
        found = client.get("/v1/students", params={"external_id": "au-6"}).json()["items"]
        assert [s["student_id"] for s in found] == [au6["student_id"]]
        assert client.get("/v1/students", params={"external_id": "au-4"}).json()["items"] == []

        records = asyncio.run(read_topic(kafka_bootstrap, STUDENTS.name(settings.region), 4))
    # Two created, then one created and one updated: four snapshots, no more.
    assert len(records) == 4


def test_json_lines_import_uses_the_api_shape(service_settings: Callable[..., Any]) -> None:
    lines = [
        {
            "external_id": "j-1",
            "name": "Ana",
            "email": "ana@students.example.org",
            "skills": [{"uri": PYTHON, "level": 3}],
            "engagement_kinds": ["student_job"],
        },
        {
            "external_id": "j-2",
            "name": "Wei",
            "email": "wei@students.example.org",
            "skills": [{"uri": PYTHON, "level": 9}],
            "engagement_kinds": ["student_job"],
        },
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode() + b"\n{not json\n"
    with signed_in(TestClient(create_app(service_settings("profiles")))) as client:
        report = run(client, body, "jsonl")
    assert (report["created"], report["failed"]) == (1, 2)
    assert {(e["line"], e["field"]) for e in report["errors"]} == {(2, "skills.0.level"), (3, "")}


def test_an_empty_upload_is_refused_before_any_import_starts(
    service_settings: Callable[..., Any],
) -> None:
    with signed_in(TestClient(create_app(service_settings("profiles")))) as client:
        for body, fmt in ((b"", "csv"), (b"\n  \n", "jsonl")):
            answer = client.post(f"/v1/imports/students?format={fmt}", content=body)
            assert answer.status_code == 422, answer.text
            [problem] = answer.json()["detail"]
            assert problem["field"] == "body" and "the file is empty" in problem["msg"]
        assert client.get("/v1/students").json()["total"] == 0


def test_a_file_in_the_wrong_shape_is_refused_before_any_row_is_read(
    service_settings: Callable[..., Any],
) -> None:
    with signed_in(TestClient(create_app(service_settings("profiles")))) as client:
        # A spreadsheet set to a regional format separates its columns by semicolons.
        excel = "name;email;engagement_kinds\nJosé Núñez;jose@students.example.org;thesis\n"
        answer = client.post("/v1/imports/students", content=excel.encode())
        assert answer.status_code == 422, answer.text
        [problem] = answer.json()["detail"]
        assert problem["field"] == "body"
        assert "lacks name, email, engagement_kinds" in problem["msg"]
        assert "separated by ';': separate them by commas" in problem["msg"]
        answer = client.post("/v1/imports/students", content=b"name,city\nAna,Oulu\n")
        assert answer.status_code == 422, answer.text
        assert "lacks email, engagement_kinds; it names name, city" in answer.text
        array = b'[{"name": "Ana", "email": "ana@students.example.org"}]'
        answer = client.post("/v1/imports/students?format=jsonl", content=array)
        assert answer.status_code == 422, answer.text
        assert "looks like one JSON array: put each of its objects on a line" in answer.text
        assert client.get("/v1/students").json()["total"] == 0


def test_csv_consents_are_yes_or_no_and_anything_else_is_reported(
    service_settings: Callable[..., Any],
) -> None:
    good = rows()[0]
    data = [
        {**good, "external_id": "au-1", "consent_matching": "No"},
        {**good, "external_id": "au-2", "consent_matching": "maybe"},  # line 3
    ]
    with signed_in(TestClient(create_app(service_settings("profiles")))) as client:
        report = run(client, as_csv(data))
        assert (report["created"], report["failed"]) == (1, 1)
        [error] = report["errors"]
        assert (error["line"], error["field"]) == (3, "consent_matching")
        assert error["message"] == "'maybe' is not yes or no"
        [stored] = client.get("/v1/students").json()["items"]
        assert stored["consents"]["matching"]["granted"] is False


def test_an_import_gives_only_the_consents_its_file_gives(
    service_settings: Callable[..., Any],
) -> None:
    good = {k: v for k, v in rows()[0].items() if k != "consent_matching"}
    silent = [{**good, "external_id": "au-1", "name": "Iñaki Yılmaz"}]
    with signed_in(TestClient(create_app(service_settings("profiles")))) as client:
        assert run(client, as_csv(silent))["created"] == 1
        [stored] = client.get("/v1/students").json()["items"]
        assert {name: c["granted"] for name, c in stored["consents"].items()} == {
            "matching": False,
            "notifications": False,
            "analytics": False,
        }
        client.put(f"/v1/students/{stored['student_id']}/consents", json={"analytics": True})
        # A changed row that says nothing of consents keeps what the student gave since.
        assert run(client, as_csv([{**silent[0], "hours_per_week": "10"}]))["updated"] == 1
        [stored] = client.get("/v1/students").json()["items"]
        assert stored["consents"]["analytics"]["granted"] is True
        assert stored["consents"]["matching"]["granted"] is False
        said = [{**silent[0], "consent_matching": "yes", "consent_analytics": "no"}]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=[*COLUMNS, "consent_analytics"])
        writer.writeheader()
        writer.writerows(said)
        assert run(client, out.getvalue().encode())["updated"] == 1
        [stored] = client.get("/v1/students").json()["items"]
        assert stored["consents"]["matching"]["granted"] is True
        assert stored["consents"]["analytics"]["granted"] is False
        jsonl = json.dumps(
            {
                "external_id": "au-2",
                "name": "Åsa Ørsted-Yılmaz",
                "email": "asa.orsted@example.dk",
                "engagement_kinds": ["thesis"],
                "consents": {"notifications": True},
            }
        )
        assert run(client, jsonl.encode(), "jsonl")["created"] == 1
        [asa] = client.get("/v1/students", params={"external_id": "au-2"}).json()["items"]
        assert {name: c["granted"] for name, c in asa["consents"].items()} == {
            "matching": False,
            "notifications": True,
            "analytics": False,
        }
