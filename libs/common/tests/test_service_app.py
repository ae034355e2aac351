"""What every service's HTTP app answers to requests it cannot serve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from pydantic import BaseModel

from interlocality.common.access import OPERATOR, allow
from interlocality.common.service import Provided, ServiceRuntime, create_service_app
from interlocality.common.settings import ServiceSettings, load_settings
from interlocality.common.testing import signed_in, trusting_tests_issuer


class Company(BaseModel):
    name: str


def app_with(router: APIRouter, tmp_path: Path, provides: tuple[object, ...] = ()) -> TestClient:
    settings = load_settings(
        ServiceSettings,
        service="vacancies",
        region="tapp",
        kafka_bootstrap_servers="127.0.0.1:1",
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        log_format="console",
        **trusting_tests_issuer(),
    )
    app = create_service_app(
        ServiceRuntime(settings, []), [router], title="t", description="d", provides=provides
    )
    return signed_in(TestClient(app))  # no lifespan: these answers need neither broker nor database


def test_half_a_surrogate_pair_is_refused_naming_the_field_not_a_server_error(
    tmp_path: Path,
) -> None:
    router = APIRouter(dependencies=[allow(OPERATOR)])

    @router.post("/v1/companies", status_code=201)
    def register(company: Company) -> Company:
        return company

    client = app_with(router, tmp_path)
    # JSON text may escape half of a surrogate pair; no UTF-8 can carry it on.
    answer = client.post(
        "/v1/companies",
        content=b'{"name": "\\u00c6r\\u00f8 Caf\\u00e9 \\ud800"}',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["detail"]
    assert problem["field"] == "body.name"
    assert problem["input"] == "Ærø Café \ufffd"
    # A whole pair is a character like any other, and an escaped backslash is no escape.
    for text, name in (
        (b'{"name": "Caf\\u00e9 \\ud83d\\ude00"}', "Café 😀"),
        (b'{"name": "C:\\\\ud800"}', "C:\\ud800"),
    ):
        answer = client.post(
            "/v1/companies", content=text, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 201, answer.text
        assert answer.json() == {"name": name}


def test_a_method_the_path_lacks_is_405_naming_every_method_it_has(tmp_path: Path) -> None:
    router = APIRouter(dependencies=[allow(OPERATOR)])

    @router.get("/v1/webhooks")
    def listed() -> list[str]:
        return []

    @router.post("/v1/webhooks", status_code=201)
    def registered() -> dict[str, str]:
        return {}

    @router.delete("/v1/webhooks/{webhook_id}", status_code=204)
    def removed(webhook_id: str) -> None:
        return None

    client = app_with(router, tmp_path)
    answer = client.request("PATCH", "/v1/webhooks")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert client.request("OPTIONS", "/v1/webhooks/w-1").headers["allow"] == "DELETE"
    assert client.get("/v1/webhooks").status_code == 200


class Greeter:
    """A part of a service, as a service layer is."""

    def __init__(self, greeting: str) -> None:
        self.greeting = greeting


def test_a_module_level_route_reaches_the_parts_the_app_was_given(tmp_path: Path) -> None:
    router = APIRouter(dependencies=[allow(OPERATOR)])

    @router.get("/v1/greeting/{name}")
    def greet(
        name: str,
        greeter: Annotated[Greeter, Depends(Provided(Greeter))],
        runtime: Annotated[ServiceRuntime, Depends(Provided(ServiceRuntime))],
    ) -> dict[str, str]:
        return {"text": f"{greeter.greeting}, {name}", "region": runtime.settings.region}

    client = app_with(router, tmp_path, provides=(Greeter("Hej"),))
    answer = client.get("/v1/greeting/Søren")
    assert answer.json() == {"text": "Hej, Søren", "region": "tapp"}

    with pytest.raises(LookupError, match="not given a Greeter"):
        app_with(router, tmp_path).get("/v1/greeting/Åsa")
