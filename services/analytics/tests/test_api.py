"""The supply and demand insights over HTTP: each endpoint's shape with the region's numbers
in it, month ranges for trends, and a 422 naming the query parameter for bad input."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from interlocality.analytics.app import create_app
from interlocality.analytics.handlers import INSIGHT_HANDLERS
from interlocality.analytics.service import AnalyticsService
from interlocality.common.service import ServiceRuntime
from interlocality.common.testing import signed_in

TREND = "from=2026-01&to=2026-03"


@pytest.fixture
def client(service_settings: Callable[..., Any], snapshots: Any, esco: Any) -> Iterator[TestClient]:
    """Analytics of a Danish region holding two students and two vacancies since January."""
    app = create_app(service_settings("analytics", work_rules="dk"))
    at = snapshots.at
    events = [
        snapshots.company("c-1", "Ærø Søfart ApS", 12, "62.01"),
        snapshots.student(
            "s-1", "Søren Østergaard", at("2026-01"), skills={esco.python: 4},
            languages={"da": "C1"}, study_field="0613",
        ),
        snapshots.student(
            "s-2", "Begoña Muñoz", at("2026-02"), skills={esco.python: 2},
            languages={"en": "C1"}, study_field="0612",
        ),
        snapshots.vacancy(
            "v-1", at("2026-01", 12), required={esco.python: 3},
            languages={"da": ("B2", True)}, positions=2,
        ),
        snapshots.vacancy("v-2", at("2026-02", 12), required={esco.welding: 2}),
    ]  # fmt: skip
    with signed_in(TestClient(app)) as client:
        runtime = app.state.provided[ServiceRuntime]
        service = app.state.provided[AnalyticsService]
        with runtime.transaction() as session:
            for event in events:
                INSIGHT_HANDLERS[type(event)](service, event, session)
        yield client


def test_skills_show_each_months_shortages_surpluses_and_followed_skills(
    client: TestClient, region: str, esco: Any
) -> None:
    answer = client.get(f"/v1/insights/skills?{TREND}&skill={esco.python}&limit=5")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["region"], body["group_uri"]) == (region, None)
    assert [m["month"] for m in body["months"]] == ["2026-01", "2026-02", "2026-03"]
    january, february, _ = body["months"]
    assert (january["vacancies"], january["positions"], january["students"]) == (1, 2, 1)
    assert [s["skill_uri"] for s in january["top_shortages"]] == [esco.python]
    [python] = february["followed"]
    assert python == {
        "skill_uri": esco.python,
        "label": "Python (computer programming)",
        "level": 3,
        "positions": 2,
        "vacancies": 1,
        "students": 1,  # Begoña holds it at 2, below the 3 asked
        "students_related": 0,
        "shortage_ratio": 2.0,
        "gap": 1,
        "levels": [{"level": 3, "positions": 2, "students": 1}],
    }
    assert {s["skill_uri"] for s in february["top_shortages"]} == {esco.python, esco.welding}
    ict = "http://data.europa.eu/esco/isced-f/06"
    grouped = client.get(f"/v1/insights/skills?month=2026-02&group={ict}").json()
    assert [s["skill_uri"] for s in grouped["months"][0]["top_shortages"]] == [esco.python]


def test_skill_groups_study_fields_and_languages_answer_their_shapes(
    client: TestClient, region: str
) -> None:
    groups = client.get("/v1/insights/skill-groups?month=2026-02").json()
    assert groups["group_level"] == 2
    ict = next(g for g in groups["months"][0]["groups"] if g["group_uri"].endswith("isced-f/06"))
    assert ict["label"] == "information and communication technologies (icts)"
    assert (ict["positions"], ict["students"], ict["level"]) == (2, 1, 2)
    assert set(ict) == {
        "group_uri", "label", "level", "positions", "vacancies", "students", "skills",
        "shortage_ratio", "gap",
    }  # fmt: skip
    pillars = client.get("/v1/insights/skill-groups?month=2026-02&group_level=1").json()
    assert {g["level"] for g in pillars["months"][0]["groups"]} == {1}

    fields = client.get("/v1/insights/study-fields?month=2026-02&field_digits=3").json()
    assert fields["field_digits"] == 3
    by_code = {f["field_code"]: f for f in fields["months"][0]["fields"]}
    assert by_code["061"] == {
        "field_code": "061",
        "label": "information and communication technologies (icts)",
        "students": 2,
        "vacancies": 1,
        "positions": 2,
        "shortage_ratio": 1.0,
        "by_sector": {"62": 2},
        "by_size_class": {"small": 2},
    }

    languages = client.get(f"/v1/insights/languages?{TREND}").json()
    assert (languages["region"], languages["language"]) == (region, "da")
    february = languages["months"][1]
    b2 = next(x for x in february["requiring"] if x["level"] == "B2")
    assert b2 == {"level": "B2", "vacancies": 1, "positions": 2, "students": 1}
    assert (february["vacancies_requiring"], february["english_friendly"]) == (1, 1)
    assert february["english_friendly_share"] == 0.5
    # v-1 pairs with both students on Python; Begoña has no Danish
    assert (february["pairs_on_skills"], february["pairs_removed"]) == (2, 1)


BAD_MONTHS = [
    ("month=2026-13", "month", "string_pattern_mismatch"),
    ("from=26-01", "from", "string_pattern_mismatch"),
    ("month=2026-01&from=2026-01", "month", "month_and_range"),
    ("from=2026-03&to=2026-01", "to", "range_reversed"),
    ("from=2020-01&to=2026-01", "to", "range_too_long"),
]
BAD_CHOICES = [
    ("skills?group=http://data.europa.eu/esco/skill/nonsense", "query.group"),
    ("skills?limit=0", "query.limit"),
    ("skill-groups?group_level=5", "query.group_level"),
    ("study-fields?field_digits=1", "query.field_digits"),
]


def test_bad_input_is_refused_naming_the_parameter_and_the_schema_documents_each_answer(
    client: TestClient,
) -> None:
    for query, field, kind in BAD_MONTHS:
        for path in ("skills", "skill-groups", "study-fields", "languages"):
            answer = client.get(f"/v1/insights/{path}?{query}")
            assert answer.status_code == 422, (path, query)
            [problem] = answer.json()["detail"]
            assert (problem["field"], problem["type"]) == (f"query.{field}", kind), path
    for path, field in BAD_CHOICES:
        answer = client.get(f"/v1/insights/{path}")
        assert answer.status_code == 422, path
        assert [p["field"] for p in answer.json()["detail"]] == [field]

    # the running month when none is asked
    assert len(client.get("/v1/insights/languages").json()["months"]) == 1
    document = client.get("/openapi.json").json()
    for path, model in [
        ("/v1/insights/skills", "SkillInsights"),
        ("/v1/insights/skill-groups", "SkillGroupInsights"),
        ("/v1/insights/study-fields", "StudyFieldInsights"),
        ("/v1/insights/languages", "LanguageInsights"),
    ]:
        responses = document["paths"][path]["get"]["responses"]
        schema = responses["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model}"}
        assert "422" in responses
