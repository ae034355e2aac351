"""The five HTTP APIs share one shape, read from the OpenAPI document each service serves:
identifiers are named ``<thing>_id``, every list is a page with its total, every error
answer is documented with one body, and imports document the NDJSON they answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from interlocality.common.settings import load_settings
from interlocality.common.testing import signed_in, trusting_tests_issuer
from interlocality.common.topics_admin import ensure_topics
from interlocality.operator.services import SERVICE_SETTINGS, SERVICES

# The one route that answers for any id: what a service holds on a student, maybe nothing.
ANSWERS_FOR_ANY_ID = {"/v1/privacy/students/{student_id}"}
IMPORTS = {
    "profiles": ["/v1/imports/students"],
    "vacancies": ["/v1/imports/companies", "/v1/imports/vacancies"],
}
Document = dict[str, Any]


def build(service: str, kafka_bootstrap: str, directory: Path, region: str = "shapes") -> FastAPI:
    settings = load_settings(
        SERVICE_SETTINGS[service],
        region=region,
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=f"sqlite:///{directory / 'service.db'}",
        var_dir=directory,
        mail_sink_dir=str(directory / "mail"),
        log_format="console",
        **trusting_tests_issuer(),
    )
    app: FastAPI = import_module(f"interlocality.{service}.app").create_app(settings)
    return app


@pytest.fixture(scope="module")
def documents(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Document]:
    return {
        service: build(service, kafka_bootstrap, tmp_path_factory.mktemp(service)).openapi()
        for service in SERVICES
    }


def operations(document: Document) -> Iterator[tuple[str, str, Document]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def resolved(document: Document, schema: Document) -> Document:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return resolved(document, document["components"]["schemas"][ref.rsplit("/", 1)[1]])
    return schema


def property_names(document: Document, node: Any, where: str, seen: set[str]) -> Iterator[str]:
    """``<schema>.<property>`` of every object schema reachable from ``node``."""
    if isinstance(node, list):
        for item in node:
            yield from property_names(document, item, where, seen)
        return
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        if name not in seen:
            seen.add(name)
            yield from property_names(document, document["components"]["schemas"][name], name, seen)
    properties = node.get("properties")
    if isinstance(properties, dict):
        yield from (f"{node.get('title', where)}.{name}" for name in properties)
    for key, value in node.items():
        yield from property_names(document, value, f"{where}.{key}", seen)


def answer_schemas(document: Document) -> Iterator[tuple[str, Document]]:
    for path, method, operation in operations(document):
        for status, response in operation.get("responses", {}).items():
            for media_type, content in response.get("content", {}).items():
                answer = f"{method.upper()} {path} {status} {media_type}"
                if "schema" in content:
                    yield answer, content["schema"]
                if "itemSchema" in content:  # an event stream: its frames' data, not their ids
                    data = content["itemSchema"].get("properties", {}).get("data", {})
                    yield answer, data.get("contentSchema", {})


def test_no_answer_has_a_bare_id_every_identifier_is_named_for_its_thing(
    documents: dict[str, Document],
) -> None:
    bare: list[str] = []
    named: set[str] = set()
    for service, document in documents.items():
        for answer, schema in answer_schemas(document):
            for found in property_names(document, schema, answer, set()):
                name = found.rsplit(".", 1)[1]
                if name == "id":
                    bare.append(f"{service}: {answer}: {found}")
                elif name.endswith("_id"):
                    named.add(name)
    assert bare == []
    # the walk reaches every service's identifiers (it cannot pass by seeing nothing)
    assert {
        "student_id",
        "company_id",
        "vacancy_id",
        "application_id",
        "notification_id",
        "webhook_id",
        "dating_event_id",
        "delivery_id",
    } <= named


def test_every_list_is_a_page_with_its_total(documents: dict[str, Document]) -> None:
    pages: dict[str, set[str]] = {}
    for service, document in documents.items():
        for path, method, operation in operations(document):
            for content in operation["responses"].get("200", {}).get("content", {}).values():
                schema = resolved(document, content.get("schema", {}))
                if "items" in schema.get("properties", {}):
                    pages[f"{service} {method.upper()} {path}"] = set(schema["properties"])
    assert set(pages) == {
        "profiles GET /v1/students",
        "vacancies GET /v1/companies",
        "vacancies GET /v1/vacancies",
        "matching GET /v1/students/{student_id}/matches",
        "matching GET /v1/vacancies/{vacancy_id}/matches",
        "notifications GET /v1/students/{student_id}/notifications",
        "notifications GET /v1/mailbox",
    }
    for route, fields in pages.items():
        paging = fields - {"items", "total", "limit"}
        assert {"items", "total", "limit"} <= fields, route
        assert paging in ({"offset"}, {"next_cursor"}), route


def test_every_route_documents_its_error_answers_with_one_body(
    documents: dict[str, Document],
) -> None:
    undocumented: list[str] = []
    other_bodies: list[str] = []
    for service, document in documents.items():
        for path, method, operation in operations(document):
            route = f"{service} {method.upper()} {path}"
            responses = operation["responses"]
            names_an_id = any(p["in"] == "path" for p in operation.get("parameters", []))
            if names_an_id and path not in ANSWERS_FOR_ANY_ID and "404" not in responses:
                undocumented.append(f"{route}: 404")
            if "requestBody" in operation and "413" not in responses:
                undocumented.append(f"{route}: 413")
            for status, response in responses.items():
                if status.startswith("4"):
                    schema = response.get("content", {}).get("application/json", {}).get("schema")
                    if schema != {"$ref": "#/components/schemas/ErrorAnswer"}:
                        other_bodies.append(f"{route}: {status} {schema}")
    assert undocumented == []
    assert other_bodies == []
    answer = documents["vacancies"]["components"]["schemas"]["ErrorAnswer"]
    assert set(answer["properties"]) == {"detail"}
    conflict = documents["vacancies"]["paths"]["/v1/companies"]["post"]["responses"]["409"]
    assert "company_id" in conflict["description"]


def test_imports_document_the_ndjson_lines_they_answer(
    documents: dict[str, Document], kafka_bootstrap: str, region: str, tmp_path: Path
) -> None:
    for service, paths in IMPORTS.items():
        for path in paths:
            operation = documents[service]["paths"][path]["post"]
            content = operation["responses"]["200"]["content"]
            assert set(content) == {"application/x-ndjson"}, (service, path)
            line = content["application/x-ndjson"]["schema"]
            assert set(line["properties"]) == {"progress", "report"}
            assert {"text/csv", "application/x-ndjson"} <= set(operation["requestBody"]["content"])
    asyncio.run(ensure_topics(kafka_bootstrap, region))
    app = build("vacancies", kafka_bootstrap, tmp_path, region)
    documented = app.openapi()["paths"]["/v1/imports/companies"]["post"]["responses"]["200"]
    [(media_type, content)] = documented["content"].items()
    with signed_in(TestClient(app)) as client:
        answer = client.post(
            "/v1/imports/companies?format=csv",
            content="external_id,name,city\nc-1,Åbo Ångström Oy,Turku\n".encode(),
        )
    assert answer.headers["content-type"].split(";")[0] == media_type
    lines = [json.loads(text) for text in answer.text.splitlines()]
    assert all(set(line) <= set(content["schema"]["properties"]) for line in lines)
    assert lines[-1]["report"]["created"] == 1
