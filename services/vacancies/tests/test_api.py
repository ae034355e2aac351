"""Companies and vacancies over HTTP, on SQLite and PostgreSQL, through a real broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from interlocality.common.outbox import OutboxMessage
from interlocality.common.testing import read_topic
from interlocality.contracts.topics import COMPANIES, VACANCIES
from interlocality.vacancies.app import create_app
from interlocality.vacancies.store import VacancyRecord

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
    with TestClient(create_app(settings)) as client:  # type: ignore[arg-type]
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
    with TestClient(create_app(service_settings("vacancies"))) as client:  # type: ignore[arg-type]
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
    with TestClient(create_app(service_settings("vacancies"))) as client:  # type: ignore[arg-type]
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
    with TestClient(create_app(service_settings("vacancies"))) as client:  # type: ignore[arg-type]
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


def test_a_second_company_of_one_name_in_one_city_is_refused_naming_the_first(
    service_settings: Callable[..., object],
) -> None:
    with TestClient(create_app(service_settings("vacancies"))) as client:  # type: ignore[arg-type]
        first = client.post("/v1/companies", json={"name": "Ærø Café ApS", "city": "Århus"})
        assert first.status_code == 201, first.text
        first_id = first.json()["company_id"]
        for name, city in (("Ærø Café ApS", "Århus"), ("aerø  cafe aps", "ARHUS")):
            again = client.post("/v1/companies", json={"name": name, "city": city})
            assert again.status_code == 409, (name, city, again.text)
            [problem] = again.json()["detail"]
            assert (problem["field"], problem["company_id"]) == ("body.name", first_id)
            assert first_id in problem["msg"]
        elsewhere = client.post("/v1/companies", json={"name": "Ærø Café ApS", "city": "Odense"})
        assert elsewhere.status_code == 201, elsewhere.text
        other_name = client.post("/v1/companies", json={"name": "Ærø Bageri", "city": "Århus"})
        assert other_name.status_code == 201, other_name.text
        listed = client.get("/v1/companies").json()
        assert listed["total"] == 3 and len(listed["items"]) == 3


def test_an_external_id_names_one_company_and_one_vacancy_a_second_is_409(
    service_settings: Callable[..., object],
) -> None:
    with TestClient(create_app(service_settings("vacancies"))) as client:  # type: ignore[arg-type]
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
