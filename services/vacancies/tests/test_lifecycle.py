"""The vacancy lifecycle, the funnel and imports, through the HTTP API on both databases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from interlocality.common.testing import read_topic
from interlocality.contracts.topics import APPLICATIONS, VACANCIES
from interlocality.vacancies.app import create_app
from interlocality.vacancies.lifecycle import Lifecycle
from interlocality.vacancies.store import KnownStudent

PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"


def company(client: TestClient, **changes: Any) -> str:
    body = {
        "name": "Oulu Robotics Oy",
        "employees": 35,
        "sector": "28",
        "country": "FI",
        "work_languages": ["en", "fi"],
        "social_languages": ["fi"],
        "export_markets": ["SE", "DE"],
        **changes,
    }
    response = client.post("/v1/companies", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["company_id"])


def vacancy(client: TestClient, company_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "company_id": company_id,
        "title": "Robotics thesis",
        "kind": "thesis",
        "required_skills": [{"uri": PYTHON, "min_level": 3}],
        "positions": 2,
        **changes,
    }
    response = client.post("/v1/vacancies", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_company_fields_are_checked_and_the_size_class_derived(
    service_settings: Callable[..., Any],
) -> None:
    with TestClient(create_app(service_settings("vacancies"))) as client:
        company_id = company(client)
        assert client.get(f"/v1/companies/{company_id}").json()["size_class"] == "small"
        bad = client.post(
            "/v1/companies",
            json={"name": "X", "sector": "63.99.9", "country": "XX", "work_languages": ["qq"]},
        )
        assert bad.status_code == 422
        fields = {p["field"] for p in bad.json()["detail"]}
        assert fields == {"body.sector", "body.country", "body.work_languages.0"}


def test_draft_open_applications_placements_fill_the_vacancy(
    service_settings: Callable[..., Any], kafka_bootstrap: str
) -> None:
    settings = service_settings("vacancies")
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        with Session(runtime.engine) as session:
            session.add_all([KnownStudent(id="s-1"), KnownStudent(id="s-2")])
            session.commit()
        draft = vacancy(client, company(client), status="draft")
        vacancy_id = draft["vacancy_id"]
        assert draft["status"] == "draft"
        url = f"/v1/vacancies/{vacancy_id}"
        assert client.post(f"{url}/applications", json={"student_id": "s-1"}).status_code == 409
        assert client.post(f"{url}/publish").json()["status"] == "open"
        assert client.post(f"{url}/applications", json={"student_id": "nobody"}).status_code == 422
        for student in ("s-1", "s-2"):
            assert (
                client.post(f"{url}/applications", json={"student_id": student}).status_code == 201
            )
        assert client.post(f"{url}/applications", json={"student_id": "s-1"}).status_code == 409
        assert (
            client.post(f"{url}/placements", json={"student_id": "s-1"}).json()["status"] == "open"
        )
        filled = client.post(f"{url}/placements", json={"student_id": "s-2"}).json()
        assert (filled["status"], filled["positions_filled"]) == ("filled", 2)
        assert client.post(f"{url}/publish").status_code == 409

        region = settings.region
        lifecycle = asyncio.run(read_topic(kafka_bootstrap, VACANCIES.name(region), 2))
        funnel = asyncio.run(read_topic(kafka_bootstrap, APPLICATIONS.name(region), 4))
    assert [dict(r.headers)["ce_type"].decode().split(".")[2] for r in lifecycle] == [
        "VacancyPublished",
        "VacancyFilled",
    ]
    assert sorted(dict(r.headers)["ce_type"].decode().split(".")[2] for r in funnel) == [
        "ApplicationSubmitted",
        "ApplicationSubmitted",
        "PlacementMade",
        "PlacementMade",
    ]


def test_vacancies_past_their_deadline_expire_on_their_own(
    service_settings: Callable[..., Any], kafka_bootstrap: str
) -> None:
    settings = service_settings("vacancies")
    deadline = date.today() + timedelta(days=3)
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        company_id = company(client)
        due = vacancy(client, company_id, application_deadline=str(deadline))
        later = vacancy(client, company_id, application_deadline=str(deadline + timedelta(days=30)))
        with runtime.transaction() as session:
            assert Lifecycle(runtime).expire_due(session, deadline + timedelta(days=1)) == 1
        assert client.get(f"/v1/vacancies/{due['vacancy_id']}").json()["status"] == "expired"
        assert client.get(f"/v1/vacancies/{later['vacancy_id']}").json()["status"] == "open"
        records = asyncio.run(read_topic(kafka_bootstrap, VACANCIES.name(settings.region), 3))
    expired = [r for r in records if dict(r.headers)["ce_type"].endswith(b"VacancyExpired.v1")]
    assert [r.key.decode() for r in expired] == [due["vacancy_id"]]


def test_dates_in_the_past_and_end_before_start_are_refused(
    service_settings: Callable[..., Any],
) -> None:
    yesterday = str(date.today() - timedelta(days=1))
    with TestClient(create_app(service_settings("vacancies"))) as client:
        company_id = company(client)
        response = client.post(
            "/v1/vacancies",
            json={
                "company_id": company_id,
                "title": "T",
                "kind": "internship",
                "required_skills": [{"uri": PYTHON}],
                "start_date": str(date(2031, 5, 1)),
                "end_date": str(date(2031, 4, 1)),
                "application_deadline": yesterday,
                "hours_per_week": 80,
            },
        )
        assert response.status_code == 422
        assert {p["field"] for p in response.json()["detail"]} == {
            "body.end_date",
            "body.application_deadline",
            "body.hours_per_week",
        }


def test_import_companies_then_vacancies_by_external_id(
    service_settings: Callable[..., Any],
) -> None:
    companies = (
        "external_id,name,employees,sector,country,export_markets,city\n"
        "c-1,Maas Logistics BV,40,52,NL,DE;BE,Venlo\n"
        "c-2,Broken BV,-3,52,NL,,Venlo\n"
    )
    vacancies = (
        "external_id,company_external_id,title,kind,required_skills,languages,curricular\n"
        f"v-1,c-1,Planner,internship,{PYTHON}|2,en:B2;nl:B1:nice,yes\n"
        f"v-2,c-9,Planner,internship,{PYTHON}|2,en:B2,no\n"
        "v-3,c-1,Planner,internship,pyton programing|2,en:B2,\n"
        f"v-4,c-1,Planner,internship,{PYTHON}|2,en:B2,sometimes\n"
    )

    def report(client: TestClient, kind: str, body: str) -> dict[str, Any]:
        response = client.post(f"/v1/imports/{kind}?format=csv", content=body.encode())
        return dict(json.loads(response.text.strip().splitlines()[-1])["report"])

    with TestClient(create_app(service_settings("vacancies"))) as client:
        first = report(client, "companies", companies)
        assert (first["created"], first["failed"]) == (1, 1)
        assert first["errors"][0]["line"] == 3 and first["errors"][0]["field"] == "employees"
        second = report(client, "vacancies", vacancies)
        assert (second["created"], second["failed"]) == (1, 3)
        assert {(e["line"], e["field"]) for e in second["errors"]} == {
            (3, "company_external_id"),
            (4, "required_skills.0.uri"),
            (5, "curricular"),
        }
        again = report(client, "vacancies", vacancies)
        assert (again["created"], again["unchanged"]) == (0, 1)
        listed = client.get("/v1/vacancies?status=open").json()["items"]
        assert [v["vacancy"]["external_id"] for v in listed] == ["v-1"]
        assert listed[0]["vacancy"]["curricular"] is True
        nice = listed[0]["vacancy"]["languages"][1]
        assert (nice["code"], nice["required"]) == ("nl", False)
        by_own_id = client.get("/v1/vacancies", params={"external_id": "v-1"}).json()["items"]
        assert [v["vacancy_id"] for v in by_own_id] == [listed[0]["vacancy_id"]]
        assert client.get("/v1/vacancies", params={"external_id": "v-2"}).json()["items"] == []


def test_an_import_refuses_a_company_registered_under_another_id_and_stays_idempotent(
    service_settings: Callable[..., Any],
) -> None:
    companies = (
        "external_id,name,city\n"
        "c-1,Müller & Søn GmbH,Leipzig\n"
        "c-2,MULLER & SON GMBH,Leipzig\n"  # the same company under a second own id
        "c-3,Müller & Søn GmbH,Dresden\n"
    )

    def report(client: TestClient, body: str) -> dict[str, Any]:
        response = client.post("/v1/imports/companies?format=csv", content=body.encode())
        return dict(json.loads(response.text.strip().splitlines()[-1])["report"])

    with TestClient(create_app(service_settings("vacancies"))) as client:
        http_first = client.post("/v1/companies", json={"name": "Kaffee Kontor", "city": "Halle"})
        first = report(client, companies + "c-4,Kaffee  Kontor,halle\n")
        assert (first["created"], first["failed"]) == (2, 2)
        errors = {e["line"]: e for e in first["errors"]}
        assert {line: e["field"] for line, e in errors.items()} == {3: "name", 5: "name"}
        assert http_first.json()["company_id"] in errors[5]["message"]
        again = report(client, companies)
        assert (again["created"], again["unchanged"], again["failed"]) == (0, 2, 1)
        renamed = report(client, "external_id,name,city\nc-1,Müller & Söhne GmbH,Leipzig\n")
        assert (renamed["updated"], renamed["failed"]) == (1, 0)
        moved = report(client, "external_id,name,city\nc-3,Müller & Söhne GmbH,Leipzig\n")
        assert (moved["updated"], moved["failed"]) == (0, 1)
        by_name = {c["name"]: c for c in client.get("/v1/companies").json()["items"]}
        assert by_name["Müller & Söhne GmbH"]["version"] == 2
