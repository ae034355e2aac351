"""Every route of every service answers only the callers its declared policy names.

Each service's OpenAPI document is enumerated, and every operation in it is called with no
token, an expired token, a token of another issuer, a token of another region, a token of a
role its policy does not grant, and — where the policy grants a student or a company only
what is theirs — the token of another student or company. A route without a declared
policy keeps its app from starting, which fails this test too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from interlocality.common.access import (
    OPERATOR,
    Policy,
    Role,
    _Own,
    _OwnVia,
    allow,
)
from interlocality.common.issuer import DevelopmentIssuer
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import ServiceSettings, load_settings
from interlocality.common.testing import issuer_of_tests, trusting_tests_issuer
from interlocality.operator.services import SERVICES, app_module

SIGNED_IN_ROLES = tuple(Role)
PROBES_AND_DOCUMENTS = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/asyncapi.json")}
# Who may call a route is a decision: the routes open to anyone, and those open to every
# student or every company of the region rather than to the one whose data it is, are
# pinned here, each with its reason, so that widening one shows in review.
OPEN_TO_ANYONE = {
    "profiles": PROBES_AND_DOCUMENTS,
    "vacancies": PROBES_AND_DOCUMENTS,
    "matching": PROBES_AND_DOCUMENTS,
    # the links in e-mails: the signed token in the link is the credential
    "notifications": PROBES_AND_DOCUMENTS
    | {(m, "/v1/preferences") for m in ("GET", "PUT", "POST")}
    | {(m, "/v1/unsubscribe") for m in ("GET", "POST")},
    # the browser's return from the issuer, and signing out
    "analytics": PROBES_AND_DOCUMENTS | {("GET", "/auth/callback"), ("POST", "/auth/sign-out")},
}
OPEN_TO_EVERY_STUDENT_OR_COMPANY = {
    "profiles": {("GET", "/v1/skills", "company,student")},  # the ESCO vocabulary
    "vacancies": {
        # the region's offers and who makes them (a student sees no drafts, a company lists
        # its own vacancies only: the route narrows them)
        ("GET", "/v1/companies", "company,student"),
        ("GET", "/v1/companies/{company_id}", "student"),
        ("GET", "/v1/vacancies", "company,student"),
        ("GET", "/v1/vacancies/{vacancy_id}", "student"),
        ("POST", "/v1/vacancies", "company"),  # in its own name only (403 otherwise)
        ("POST", "/v1/vacancies/{vacancy_id}/applications", "student"),  # for herself only
    },
    "matching": set(),
    # a student's own endpoints: the route keeps them to their own student_id
    "notifications": {("GET", "/v1/webhooks", "student"), ("POST", "/v1/webhooks", "student")},
    "analytics": set(),
}


@pytest.fixture(scope="module")
def apps(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[FastAPI, TestClient]]]:
    """Every service's app, started, in one region of this module's own."""
    import asyncio

    from interlocality.common.topics_admin import ensure_topics
    from interlocality.operator.services import SERVICE_SETTINGS

    region = "taccess"
    asyncio.run(ensure_topics(kafka_bootstrap, region))
    var = tmp_path_factory.mktemp("access")
    started: dict[str, tuple[FastAPI, TestClient]] = {}
    try:
        for service in SERVICES:
            extra: dict[str, object] = {}
            if service == "notifications":
                extra["mail_sink_dir"] = str(var / "mail")  # the mailbox routes too
            settings = load_settings(
                SERVICE_SETTINGS[service],
                region=region,
                kafka_bootstrap_servers=kafka_bootstrap,
                var_dir=var,
                log_format="console",
                **trusting_tests_issuer(),
                **extra,
            )
            app = app_module(service).create_app(settings)
            client = TestClient(app)
            client.__enter__()
            started[service] = (app, client)
        yield started
    finally:
        for _, client in started.values():
            client.__exit__(None, None, None)


def operations(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]


def filled(path: str, student: str = "s-own", company: str = "c-own") -> str:
    """``path`` with ids in place of its parameters."""
    values = {"student_id": student, "company_id": company, "event_id": str(_EVENT)}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x-1"), path)


_EVENT = "6f0c1c1e-4b8a-4c43-9b7e-2f9a0d6e5c11"


def call(
    client: TestClient, method: str, path: str, token: str | None
) -> tuple[int, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {} if method in ("POST", "PUT", "PATCH") else None
    if path.endswith("/stream"):
        headers["Last-Event-ID"] = "oops"  # answered before any stream starts
    answer = client.request(method, path, headers=headers, json=body)
    return answer.status_code, dict(answer.headers)


def roles_granted(policy: Policy) -> set[Role]:
    return {grant.role for grant in policy.grants}


def whole_region_roles(policy: Policy) -> set[Role]:
    return {g.role for g in policy.grants if not isinstance(g, _Own | _OwnVia)}


def token(region: str, *roles: Role, issuer: DevelopmentIssuer | None = None, **claims: Any) -> str:
    return (issuer or issuer_of_tests()).token(region=region, roles=roles, **claims)


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_answers_only_the_callers_its_policy_names(
    service: str, apps: dict[str, tuple[FastAPI, TestClient]], tmp_path: Path
) -> None:
    app, client = apps[service]
    region = app.state.runtime.settings.region
    policies: dict[tuple[str, str], Policy] = app.state.policies
    stranger = DevelopmentIssuer(issuer_of_tests().url, tmp_path / "another-key.pem")
    expired = issuer_of_tests().token(
        region=region,
        roles=SIGNED_IN_ROLES,
        issued_at=datetime.now(UTC) - timedelta(hours=2),
        lifetime=timedelta(minutes=5),
    )
    checked = 0
    for method, template in operations(app):
        policy = policies.get((method, template))
        assert policy is not None, f"{service}: {method} {template} declares no policy"
        path = filled(template)
        where = f"{service} {method} {template}"
        if policy.public:
            status, _ = call(client, method, path, None)
            assert status not in (401, 403), f"{where} is public yet answered {status}"
            continue
        checked += 1

        status, headers = call(client, method, path, None)
        assert status == 401, f"{where} without a token: {status}"
        assert headers["www-authenticate"].startswith("Bearer"), where

        assert call(client, method, path, expired)[0] == 401, f"{where}: expired token"
        forged = token(region, *SIGNED_IN_ROLES, issuer=stranger)
        assert call(client, method, path, forged)[0] == 401, f"{where}: another issuer's key"
        elsewhere = token("elsewhere", *SIGNED_IN_ROLES, student_id="s-own", company_id="c-own")
        assert call(client, method, path, elsewhere)[0] == 403, f"{where}: another region"

        for role in set(Role) - roles_granted(policy):
            other = token(region, role, student_id="s-own", company_id="c-own")
            assert call(client, method, path, other)[0] == 403, f"{where}: role {role}"

        for grant in policy.grants:
            if not isinstance(grant, _Own | _OwnVia) or grant.role in whole_region_roles(policy):
                continue
            # another student or company, on this one's resources
            someone_else = token(region, grant.role, student_id="s-other", company_id="c-other")
            answered = call(client, method, path, someone_else)[0]
            assert answered in (403, 404), f"{where}: {grant.role} on another's: {answered}"
            assert answered == 403 or grant.role == Role.STUDENT, where
            if isinstance(grant, _Own):  # the owner passes the policy
                owner = token(region, grant.role, student_id="s-own", company_id="c-own")
                assert call(client, method, path, owner)[0] not in (401, 403), f"{where}: owner"

        if Role.OPERATOR in roles_granted(policy):
            status, _ = call(client, method, path, token(region, Role.OPERATOR))
            assert status not in (401, 403), f"{where}: the region's operator got {status}"
    assert checked >= 5, f"{service}: only {checked} signed-in routes found"


@pytest.mark.parametrize("service", SERVICES)
def test_who_may_call_beyond_their_own_data_is_as_decided(
    service: str, apps: dict[str, tuple[FastAPI, TestClient]]
) -> None:
    policies: dict[tuple[str, str], Policy] = apps[service][0].state.policies
    public = {route for route, policy in policies.items() if policy.public}
    assert public == OPEN_TO_ANYONE[service]
    wide = {
        (method, path, ",".join(sorted(roles)))
        for (method, path), policy in policies.items()
        if (roles := whole_region_roles(policy) & {Role.STUDENT, Role.COMPANY})
    }
    assert wide == OPEN_TO_EVERY_STUDENT_OR_COMPANY[service]


def test_an_app_with_a_route_that_declares_no_policy_does_not_start(tmp_path: Path) -> None:
    settings = load_settings(
        ServiceSettings,
        service="vacancies",
        region="tpolicy",
        kafka_bootstrap_servers="127.0.0.1:1",
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        **trusting_tests_issuer(),
    )
    declared, forgotten = APIRouter(prefix="/v1"), APIRouter(prefix="/v1")

    @declared.get("/companies", dependencies=[allow(OPERATOR)])
    def companies() -> list[str]:
        return []

    @forgotten.delete("/companies/{company_id}")
    def remove(company_id: str) -> None:
        return None

    create_service_app(ServiceRuntime(settings, []), [declared], title="t", description="d")
    with pytest.raises(ValueError, match=r"DELETE /v1/companies/\{company_id\}"):
        create_service_app(
            ServiceRuntime(settings, []), [declared, forgotten], title="t", description="d"
        )


def test_a_company_acts_only_for_itself_and_a_student_sees_only_their_own_webhooks(
    apps: dict[str, tuple[FastAPI, TestClient]],
) -> None:
    vacancies_app, vacancies = apps["vacancies"]
    region = vacancies_app.state.runtime.settings.region
    operator = {"Authorization": f"Bearer {token(region, Role.OPERATOR)}"}
    company = vacancies.post(
        "/v1/companies",
        json={"name": "Ærø Øko-Bageri ApS", "city": "Ærøskøbing", "country": "DK"},
        headers=operator,
    )
    assert company.status_code == 201, company.text
    company_id = company.json()["company_id"]

    def as_company(company: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(region, Role.COMPANY, company_id=company)}"}

    # another company may not create a vacancy in this one's name
    refused = vacancies.post(
        "/v1/vacancies", json=_vacancy(company_id), headers=as_company("c-other")
    )
    assert refused.status_code == 403, refused.text
    created = vacancies.post(
        "/v1/vacancies", json=_vacancy(company_id), headers=as_company(company_id)
    )
    assert created.status_code == 201, created.text
    vacancy_id = created.json()["vacancy_id"]
    # its draft is its own: another company neither reads nor publishes it, nor lists it
    assert (
        vacancies.get(f"/v1/vacancies/{vacancy_id}", headers=as_company("c-other")).status_code
        == 403
    )
    assert (
        vacancies.post(
            f"/v1/vacancies/{vacancy_id}/publish", headers=as_company("c-other")
        ).status_code
        == 403
    )
    assert vacancies.get("/v1/vacancies", headers=as_company("c-other")).json()["total"] == 0
    assert vacancies.get("/v1/vacancies", headers=as_company(company_id)).json()["total"] == 1
    published = vacancies.post(
        f"/v1/vacancies/{vacancy_id}/publish", headers=as_company(company_id)
    )
    assert published.status_code == 200, published.text

    _notifications_app, notifications = apps["notifications"]

    def as_student(student: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(region, Role.STUDENT, student_id=student)}"}

    region_wide = notifications.post(
        "/v1/webhooks", json={"url": "https://hooks.example.dk/all"}, headers=as_student("s-1")
    )
    assert region_wide.status_code == 403, "a region-wide webhook is an operator's"
    for_another = notifications.post(
        "/v1/webhooks",
        json={"url": "https://hooks.example.dk/x", "student_id": "s-2"},
        headers=as_student("s-1"),
    )
    assert for_another.status_code == 403
    listed = notifications.get("/v1/webhooks", headers=as_student("s-1"))
    assert listed.status_code == 200 and listed.json() == []


def _vacancy(company_id: str) -> dict[str, Any]:
    return {
        "company_id": company_id,
        "title": "Bageri-assistent (studiejob)",
        "kind": "student_job",
        "location": "Ærøskøbing",
        "required_skills": [
            {"uri": "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"}
        ],
    }
