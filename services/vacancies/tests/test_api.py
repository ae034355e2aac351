"""The HTTP adapter of vacancies: its answers, error answers and events on the real broker,
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from interlocality.common.outbox import OutboxMessage
from interlocality.common.testing import read_topic, signed_in
from interlocality.contracts.topics import COMPANIES, VACANCIES
from interlocality.vacancies.app import create_app
from interlocality.vacancies.store import KnownStudent, VacancyRecord

PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"


def vacancy(company_id: str, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "company_id": company_id,
        "title": "Data engineering thesis",
        "kind": "thesis",
        "required_skills": [{"uri": PYTHON, "min_level": 3}],
        "languages": [{"code": "en", "min_level": "B2"}],
    }
    body.update(changes)
    return body


def test_register_publish_close_emit_snapshots(
    service_settings: Callable[..., object], kafka_bootstrap: str
) -> None:
    settings = service_settings("vacancies")
    with signed_in(TestClient(create_app(settings))) as client:  # type: ignore[arg-type]
        company = client.post("/v1/companies", json={"name": "Elbtal GmbH", "city": "Leipzig"})
        assert company.status_code == 201
        company_id = company.json()["company_id"]
        created = client.post("/v1/vacancies", json=vacancy(company_id))
        assert created.status_code == 201, created.text
        vacancy_id = created.json()["vacancy_id"]
        closed = client.post(f"/v1/vacancies/{vacancy_id}/close")
        assert (closed.json()["status"], closed.json()["version"]) == ("closed", 2)
        again = client.post(f"/v1/vacancies/{vacancy_id}/close")
        assert again.json()["version"] == 2  # closing twice is one change

        region = settings.region  # type: ignore[attr-defined]
        companies = asyncio.run(read_topic(kafka_bootstrap, COMPANIES.name(region), count=1))
        vacancies = asyncio.run(read_topic(kafka_bootstrap, VACANCIES.name(region), count=2))

    assert [dict(r.headers)["ce_type"] for r in companies] == [
        b"org.interlocality.CompanyRegistered.v1"
    ]
    assert [dict(r.headers)["ce_type"] for r in vacancies] == [
        b"org.interlocality.VacancyPublished.v1",
        b"org.interlocality.VacancyClosed.v1",
    ]
    assert b'"status":"closed"' in vacancies[1].value


def test_a_vacancy_for_an_unknown_company_is_422_and_not_stored(
    service_settings: Callable[..., object],
) -> None:
    with signed_in(TestClient(create_app(service_settings("vacancies")))) as client:  # type: ignore[arg-type]
        response = client.post("/v1/vacancies", json=vacancy("no-such-company"))
        assert response.status_code == 422
        [problem] = response.json()["detail"]
        assert problem["field"] == "body.company_id"
        assert "no-such-company" in problem["msg"]
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        with Session(runtime.engine) as session:
            assert session.exec(select(func.count()).select_from(VacancyRecord)).one() == 0
            assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == 0


def test_bad_vacancy_fields_are_named(service_settings: Callable[..., object]) -> None:
    with signed_in(TestClient(create_app(service_settings("vacancies")))) as client:  # type: ignore[arg-type]
        company_id = client.post("/v1/companies", json={"name": "Kempen NV"}).json()["company_id"]
        response = client.post(
            "/v1/vacancies",
            json=vacancy(
                company_id,
                kind="apprenticeship",
                required_skills=[{"uri": "python", "min_level": 0}],
            ),
        )
        assert response.status_code == 422
        fields = {problem["field"] for problem in response.json()["detail"]}
        assert fields == {
            "body.kind",
            "body.required_skills.0.uri",
            "body.required_skills.0.min_level",
        }


def test_booleans_take_only_true_or_false(service_settings: Callable[..., object]) -> None:
    with signed_in(TestClient(create_app(service_settings("vacancies")))) as client:  # type: ignore[arg-type]
        company_id = client.post("/v1/companies", json={"name": "Ærø Café"}).json()["company_id"]
        response = client.post(
            "/v1/vacancies",
            json=vacancy(
                company_id,
                curricular="yes",
                languages=[{"code": "da", "min_level": "B1", "required": 0}],
            ),
        )
        assert response.status_code == 422
        problems = {p["field"]: p["msg"] for p in response.json()["detail"]}
        assert problems == {
            "body.curricular": 'true or false was expected (without quotes), not "yes"',
            "body.languages.0.required": "true or false was expected (without quotes), not 0",
        }
        strict = client.post(
            "/v1/vacancies",
            json=vacancy(
                company_id,
                curricular=True,
                languages=[{"code": "da", "min_level": "B1", "required": False}],
            ),
        )
        assert strict.status_code == 201, strict.text
        assert strict.json()["vacancy"]["curricular"] is True


def test_a_second_company_of_one_name_in_one_city_is_409_naming_the_first(
    service_settings: Callable[..., object],
) -> None:
    with signed_in(TestClient(create_app(service_settings("vacancies")))) as client:  # type: ignore[arg-type]
        first = client.post("/v1/companies", json={"name": "Ærø Café ApS", "city": "Århus"})
        assert first.status_code == 201, first.text
        first_id = first.json()["company_id"]
        again = client.post("/v1/companies", json={"name": "aerø  cafe aps", "city": "ARHUS"})
        assert again.status_code == 409, again.text
        [problem] = again.json()["detail"]
        assert (problem["field"], problem["company_id"]) == ("body.name", first_id)
        assert (problem["type"], problem["input"]) == (
            "company_registered_already",
            "aerø  cafe aps",
        )
        assert first_id in problem["msg"]


def test_an_external_id_names_one_company_and_one_vacancy_a_second_is_409(
    service_settings: Callable[..., object],
) -> None:
    with signed_in(TestClient(create_app(service_settings("vacancies")))) as client:  # type: ignore[arg-type]
        first = client.post(
            "/v1/companies", json={"name": "Søstrene Nørgaard ApS", "external_id": "crm-7"}
        )
        assert first.status_code == 201, first.text
        company_id = first.json()["company_id"]
        again = client.post("/v1/companies", json={"name": "Peña Studio", "external_id": "crm-7"})
        assert again.status_code == 409, again.text
        [problem] = again.json()["detail"]
        assert (problem["field"], problem["company_id"]) == ("body.external_id", company_id)

        posted = client.post("/v1/vacancies", json=vacancy(company_id, external_id="v-1"))
        assert posted.status_code == 201, posted.text
        twice = client.post("/v1/vacancies", json=vacancy(company_id, external_id="v-1"))
        assert twice.status_code == 409, twice.text
        [problem] = twice.json()["detail"]
        assert problem["field"] == "body.external_id"
        assert problem["vacancy_id"] == posted.json()["vacancy_id"]
        assert client.get("/v1/companies").json()["total"] == 1
        assert client.get("/v1/vacancies").json()["total"] == 1
        by_own_id = client.get("/v1/vacancies", params={"external_id": "v-1"}).json()["items"]
        assert [v["vacancy_id"] for v in by_own_id] == [posted.json()["vacancy_id"]]
        assert client.get("/v1/vacancies", params={"external_id": "v-2"}).json()["items"] == []
        assert client.get("/v1/vacancies", params={"status": "draft"}).json()["total"] == 0


def test_company_fields_are_checked_and_the_size_class_derived(
    service_settings: Callable[..., object],
) -> None:
    with signed_in(TestClient(create_app(service_settings("vacancies")))) as client:  # type: ignore[arg-type]
        company = client.post("/v1/companies", json={"name": "Oulu Robotics Oy", "employees": 35})
        company_id = company.json()["company_id"]
        assert client.get(f"/v1/companies/{company_id}").json()["size_class"] == "small"
        assert client.get("/v1/companies/no-such-company").status_code == 404
        bad = client.post(
            "/v1/companies",
            json={"name": "X", "sector": "63.99.9", "country": "XX", "work_languages": ["qq"]},
        )
        assert bad.status_code == 422
        fields = {p["field"] for p in bad.json()["detail"]}
        assert fields == {"body.sector", "body.country", "body.work_languages.0"}


def test_dates_in_the_past_and_end_before_start_are_refused(
    service_settings: Callable[..., object],
) -> None:
    yesterday = str(date.today() - timedelta(days=1))
    with signed_in(TestClient(create_app(service_settings("vacancies")))) as client:  # type: ignore[arg-type]
        company_id = client.post("/v1/companies", json={"name": "Kempen NV"}).json()["company_id"]
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


def test_the_funnel_routes_answer_each_refusal_with_its_code(
    service_settings: Callable[..., object],
) -> None:
    with signed_in(TestClient(create_app(service_settings("vacancies")))) as client:  # type: ignore[arg-type]
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        with Session(runtime.engine) as session:
            session.add(KnownStudent(id="s-1"))
            session.commit()
        company_id = client.post("/v1/companies", json={"name": "Kempen NV"}).json()["company_id"]
        draft = client.post("/v1/vacancies", json=vacancy(company_id, status="draft")).json()
        url = f"/v1/vacancies/{draft['vacancy_id']}"
        s_1 = {"student_id": "s-1"}
        assert client.post("/v1/vacancies/nothing/applications", json=s_1).status_code == 404
        assert client.post("/v1/vacancies/nothing/publish").status_code == 404
        assert client.get("/v1/vacancies/nothing").json() == {"detail": "no vacancy nothing"}
        assert client.post(f"{url}/applications", json=s_1).status_code == 409
        assert client.post(f"{url}/publish").json()["status"] == "open"
        unknown = client.post(f"{url}/applications", json={"student_id": "nobody"})
        assert unknown.status_code == 422
        [problem] = unknown.json()["detail"]
        assert (problem["field"], problem["type"]) == ("body.student_id", "unknown_student")
        unapplied = client.post(f"{url}/placements", json=s_1)
        assert unapplied.status_code == 422
        assert unapplied.json()["detail"][0]["type"] == "no_application"
        applied = client.post(f"{url}/applications", json=s_1)
        assert applied.status_code == 201
        assert (applied.json()["student_id"], applied.json()["placed"]) == ("s-1", False)
        again = client.post(f"{url}/applications", json=s_1)
        assert again.json() == {"detail": "the student has applied already"}
        assert again.status_code == 409
        placed = client.post(f"{url}/placements", json=s_1)
        assert (placed.status_code, placed.json()["positions_filled"]) == (201, 1)
        assert client.post(f"{url}/close").json()["status"] == "filled"


def test_an_import_answers_progress_then_its_report_as_json_lines(
    service_settings: Callable[..., object],
) -> None:
    companies = "external_id,name,employees\nc-1,Maas Logistics BV,40\nc-2,Broken BV,-3\n"
    with signed_in(TestClient(create_app(service_settings("vacancies")))) as client:  # type: ignore[arg-type]
        response = client.post("/v1/imports/companies?format=csv", content=companies.encode())
        assert response.status_code == 200
        *_, last = (json.loads(line) for line in response.text.strip().splitlines())
        report = last["report"]
        assert (report["created"], report["failed"]) == (1, 1)
        assert (report["errors"][0]["line"], report["errors"][0]["field"]) == (3, "employees")
        assert client.get("/v1/companies").json()["total"] == 1
