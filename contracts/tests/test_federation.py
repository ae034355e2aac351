"""A RegionSnapshot can carry aggregates in codes only: no id, name, e-mail, URL or free text
of any region's entity fits in it, by the models and by the committed JSON Schema alike."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from pydantic import ValidationError

from interlocality.contracts.federation import RegionSnapshot
from interlocality.contracts.topics import FEDERATION_TOPICS, SNAPSHOTS, TOPICS, topic_of_event

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "RegionSnapshot.v1.json"


def snapshot_json() -> dict[str, Any]:
    cell = {
        "dimensions": [
            {"name": "skill_group", "value": "http://data.europa.eu/esco/isced-f/0613"},
            {"name": "side", "value": "supply"},
        ],
        "measure": "students",
        "count": 42,
    }
    suppressed = {
        "dimensions": [
            {"name": "skill_group", "value": "http://data.europa.eu/esco/isced-f/0732"},
            {"name": "side", "value": "supply"},
        ],
        "measure": "students",
        "count": None,
        "suppressed": "primary",
    }
    return {
        "source": "/interlocality/aarhus/analytics",
        "subject": "aarhus",
        "region": "aarhus",
        "type": "org.interlocality.RegionSnapshot.v1",
        "data": {
            "region": "aarhus",
            "period": "2026-11",
            "produced_at": "2026-12-01T00:00:00Z",
            "privacy": {
                "k": 5,
                "epsilon": 1.0,
                "mechanism": "discrete_laplace",
                "noise_scale": 6.0,
                "sensitivity": 6,
                "budget_year": 2026,
                "yearly_epsilon": 24.0,
                "epsilon_spent": 3.0,
            },
            "tables": [
                {
                    "name": "skill_groups",
                    "dimensions": ["skill_group", "side"],
                    "sensitivity": 6,
                    "cells": [cell, suppressed],
                }
            ],
            "suppressed": [
                {
                    "table": "skill_groups",
                    "dimensions": suppressed["dimensions"],
                    "measure": "students",
                    "reason": "primary",
                }
            ],
        },
    }


def with_value(dimension: str, value: str) -> dict[str, Any]:
    """The snapshot with its one published cell's first coordinate in ``dimension``."""
    changed = copy.deepcopy(snapshot_json())
    table = changed["data"]["tables"][0]
    table["cells"] = table["cells"][:1]
    table["cells"][0]["dimensions"][0] = {"name": dimension, "value": value}
    table["dimensions"][0] = dimension
    changed["data"]["suppressed"] = []
    return changed


def test_a_snapshot_of_codes_is_valid_and_round_trips() -> None:
    snapshot = RegionSnapshot.model_validate(snapshot_json())
    again = RegionSnapshot.model_validate_json(snapshot.model_dump_json())
    assert again == snapshot
    assert snapshot.data.tables[0].cells[1].count is None
    schema = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))
    assert schema.is_valid(json.loads(snapshot.model_dump_json()))


@pytest.mark.parametrize(
    ("dimension", "value"),
    [
        ("skill_group", "Søren Østergaard"),  # a name
        ("skill_group", "søren.østergaard@students.example.org"),  # an e-mail
        ("skill_group", "https://aarhus.example/students/4711"),  # a URL of an entity
        ("esco_skill", "http://data.europa.eu/esco/skill/Begoña Muñoz"),
        ("isced_field", "Elif Yılmaz"),
        ("isced_field", "0613 software"),
        ("nace", "Ærø Café ApS"),
        ("language", "dansk"),
        ("graduation_semester", "spring of 2026, Elif"),
        ("month", "2026-11 (Søren)"),
    ],
)
def test_a_free_text_dimension_value_is_refused(dimension: str, value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        RegionSnapshot.model_validate(with_value(dimension, value))
    [error] = refused.value.errors()
    assert error["loc"][-2:] == (dimension, "value")
    schema = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))
    assert not schema.is_valid(with_value(dimension, value))


def test_codes_of_every_vocabulary_are_accepted() -> None:
    schema = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))
    for dimension, value in [
        ("esco_skill", "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"),
        ("isced_field", "0613"),
        ("nace", "62.01"),
        ("nace", "J"),
        ("language", "da"),
        ("graduation_semester", "2026-autumn"),
        ("month", "2026-11"),
        ("skill_group", "http://data.europa.eu/esco/isced-f/0732"),
    ]:
        RegionSnapshot.model_validate(with_value(dimension, value))
        assert schema.is_valid(with_value(dimension, value))


def test_no_unknown_field_can_carry_anything() -> None:
    changed = snapshot_json()
    changed["data"]["tables"][0]["cells"][0]["note"] = "Begoña Muñoz applied twice"
    with pytest.raises(ValidationError, match="note"):
        RegionSnapshot.model_validate(changed)
    changed = snapshot_json()
    changed["data"]["tables"][0]["name"] = "students of Elif Yılmaz"
    with pytest.raises(ValidationError):
        RegionSnapshot.model_validate(changed)


def test_the_envelope_names_only_the_region() -> None:
    changed = snapshot_json()
    changed["subject"] = "student-4711"
    with pytest.raises(ValidationError, match="subject"):
        RegionSnapshot.model_validate(changed)
    changed = snapshot_json()
    changed["source"] = "/interlocality/aarhus/analytics?who=søren@example.org"
    with pytest.raises(ValidationError, match="source"):
        RegionSnapshot.model_validate(changed)


def test_a_cell_has_a_count_or_a_reason_and_the_list_names_every_suppressed_one() -> None:
    changed = snapshot_json()
    changed["data"]["tables"][0]["cells"][1]["count"] = 3
    with pytest.raises(ValidationError, match="never both"):
        RegionSnapshot.model_validate(changed)
    changed = snapshot_json()
    changed["data"]["suppressed"] = []
    with pytest.raises(ValidationError, match="exactly the suppressed cells"):
        RegionSnapshot.model_validate(changed)
    changed = snapshot_json()
    changed["data"]["tables"][0]["cells"][0]["count"] = -1
    with pytest.raises(ValidationError, match="count"):
        RegionSnapshot.model_validate(changed)


def test_a_snapshot_cannot_claim_to_spend_past_its_yearly_budget() -> None:
    changed = snapshot_json()
    changed["data"]["privacy"]["epsilon_spent"] = 25.0
    with pytest.raises(ValidationError, match="yearly"):
        RegionSnapshot.model_validate(changed)


def test_the_snapshot_topic_is_federated_and_kept_apart_from_a_regions_own() -> None:
    assert SNAPSHOTS in FEDERATION_TOPICS and SNAPSHOTS not in TOPICS
    assert topic_of_event(RegionSnapshot) is SNAPSHOTS
    assert SNAPSHOTS.name("aarhus") == SNAPSHOTS.name("leipzig")
    assert SNAPSHOTS.name("limburg") == "federation.analytics.snapshots.v1"
    assert SNAPSHOTS.dlq_name("limburg") == "limburg.federation.analytics.snapshots.v1.dlq"
    assert SNAPSHOTS.key == "region"
    assert SNAPSHOTS.config()["cleanup.policy"] == "delete"
    assert int(SNAPSHOTS.config()["retention.ms"]) >= 2 * 365 * 24 * 3600 * 1000
