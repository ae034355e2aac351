"""The regional insights over HTTP: the documented shapes, the numbers, and 422s that name
the field and what was expected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from interlocality.analytics.app import create_app
from interlocality.analytics.service import AnalyticsService, SupplyAndDemand
from interlocality.common.service import ServiceRuntime
from interlocality.common.testing import signed_in

from .conftest import InsightEvents
from .test_insights_service import apply

Check = Callable[[str, dict[str, Any], dict[str, Any], dict[str, Any]], None]
ROUTES = ("/v1/insights/funnel", "/v1/insights/company-dating", "/v1/insights/employability")


@pytest.fixture
def client(
    supply: SupplyAndDemand,
    service_settings: Callable[..., object],
    runtime: ServiceRuntime,
    insight_events: InsightEvents,
) -> TestClient:
    """The HTTP API over a database the region's events were applied to; no consumer runs."""
    apply(runtime, AnalyticsService(supply), insight_events.happened)
    return signed_in(TestClient(create_app(service_settings("analytics"))))  # type: ignore[arg-type]


def test_the_insights_answer_the_regions_numbers(
    client: TestClient, insights_as_told: Check
) -> None:
    answers = [client.get(route) for route in ROUTES]
    assert [a.status_code for a in answers] == [200, 200, 200]
    insights_as_told("happened", *(a.json() for a in answers))
    assert client.get("/v1/funnel").json()["regions"]  # the per-vacancy funnel stays


def test_the_funnel_is_cut_and_limited_to_months_as_asked(client: TestClient) -> None:
    answer = client.get(
        "/v1/insights/funnel", params={"by": "size_class", "from": "2025-01", "to": "2025-01"}
    ).json()
    assert set(answer) == {"by", "from_month", "to_month", "regions"}
    assert (answer["by"], answer["from_month"], answer["to_month"]) == (
        "size_class",
        "2025-01",
        "2025-01",
    )
    [region] = answer["regions"]
    assert set(region) == {"region", "total", "months", "groups"}
    assert [(g["group"], g["total"]["placed"]) for g in region["groups"]] == [
        ("large", 1),
        ("micro", 1),
    ]
    assert set(region["groups"][0]["months"][0]) == {
        "month",
        "published",
        "matched",
        "notified",
        "applied",
        "placed",
        "median_days_to_first_match",
        "median_days_to_placement",
    }
    dating = client.get("/v1/insights/company-dating", params={"from": "2025-01"}).json()
    assert set(dating) == {"region", "window_days", "from_month", "to_month", "total", "months"}
    assert [m["month"] for m in dating["months"]] == ["2025-01"]
    employability = client.get("/v1/insights/employability", params={"to": "2024-07"}).json()
    assert [s["semester"] for s in employability["semesters"]] == ["2024-spring"]
    assert set(employability["semesters"][0]["outcomes"][0]) == {"outcome", "count", "share"}


@pytest.mark.parametrize(
    ("route", "params", "field", "kind"),
    [
        ("/v1/insights/funnel", {"by": "region"}, "query.by", "literal_error"),
        ("/v1/insights/funnel", {"from": "2025-13"}, "query.from", "string_pattern_mismatch"),
        ("/v1/insights/company-dating", {"to": "January"}, "query.to", "string_pattern_mismatch"),
        (
            "/v1/insights/employability",
            {"from": "2025-06", "to": "2025-01"},
            "query.to",
            "month_range",
        ),
    ],
)
def test_bad_queries_are_refused_naming_the_field_and_what_was_expected(
    client: TestClient, route: str, params: dict[str, str], field: str, kind: str
) -> None:
    answer = client.get(route, params=params)
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert (problem["field"], problem["type"]) == (field, kind)
    assert problem["msg"]


def test_each_insight_documents_its_answer_and_its_422(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    models = {
        "/v1/insights/funnel": "FunnelInsights",
        "/v1/insights/company-dating": "DatingOutcomes",
        "/v1/insights/employability": "Employability",
    }
    for route, model in models.items():
        responses = document["paths"][route]["get"]["responses"]
        schema = responses["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model}"}
        assert responses["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorAnswer"
        }
        assert document["components"]["schemas"][model]["description"]
    parameters = {p["name"] for p in document["paths"]["/v1/insights/funnel"]["get"]["parameters"]}
    assert parameters == {"by", "from", "to"}


def test_what_analytics_holds_on_a_student_is_ids_times_and_kinds(client: TestClient) -> None:
    holds = client.get("/v1/privacy/students/s-soren").json()["holds"]
    assert holds["analytics_consent"] is True
    assert holds["graduate_outcome"]["outcome"] == "employed_elsewhere"
    assert len(holds["dating_dates"]) == 2
    assert "Søren" not in str(holds)
