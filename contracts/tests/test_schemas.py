"""Committed event schemas are the compatibility baseline of each major version."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from interlocality.common.schemas import current_schemas, incompatibilities

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def committed(name: str) -> dict[str, Any]:
    return dict(json.loads((SCHEMAS / name).read_text()))


@pytest.mark.parametrize("name", sorted(current_schemas()))
def test_every_event_schema_is_committed_and_current(name: str) -> None:
    path = SCHEMAS / name
    assert path.exists(), f"{name} is not committed: run `make contracts`"
    assert committed(name) == current_schemas()[name], f"{name} is stale: run `make contracts`"


@pytest.mark.parametrize("name", sorted(current_schemas()))
def test_no_event_changed_incompatibly_within_its_major(name: str) -> None:
    assert incompatibilities(committed(name), current_schemas()[name]) == []


@pytest.fixture
def match_found() -> dict[str, Any]:
    return committed("MatchFound.v1.json")


def data_model(schema: dict[str, Any]) -> dict[str, Any]:
    return dict(schema["$defs"]["Match"])


def test_a_removed_field_is_incompatible(match_found: dict[str, Any]) -> None:
    changed = copy.deepcopy(match_found)
    del data_model(changed)["properties"]["score"]
    assert incompatibilities(match_found, changed) == ["field data.score was removed"]


def test_a_retyped_field_is_incompatible(match_found: dict[str, Any]) -> None:
    changed = copy.deepcopy(match_found)
    changed["$defs"]["Match"]["properties"]["score"] = {"type": "string"}
    assert incompatibilities(match_found, changed) == ["field data.score changed type"]


def test_a_new_required_field_is_incompatible(match_found: dict[str, Any]) -> None:
    changed = copy.deepcopy(match_found)
    changed["$defs"]["Match"]["properties"]["rank"] = {"type": "integer"}
    changed["$defs"]["Match"]["required"].append("rank")
    assert incompatibilities(match_found, changed) == ["required field data.rank was added"]


def test_a_new_optional_field_and_new_descriptions_are_compatible(
    match_found: dict[str, Any],
) -> None:
    changed = copy.deepcopy(match_found)
    changed["$defs"]["Match"]["properties"]["rank"] = {"type": "integer", "default": 0}
    changed["$defs"]["Match"]["properties"]["score"]["description"] = "Two-sided score."
    assert incompatibilities(match_found, changed) == []


def test_an_enumeration_may_gain_values_but_not_lose_them() -> None:
    old = committed("VacancyPublished.v1.json")
    wider = copy.deepcopy(old)
    status = wider["$defs"]["Vacancy"]["properties"]["status"]
    narrower = copy.deepcopy(old)
    status["enum"] = [*status["enum"], "archived"]
    narrower["$defs"]["Vacancy"]["properties"]["status"]["enum"] = ["open"]
    assert incompatibilities(old, wider) == []
    assert incompatibilities(old, narrower) == ["field data.status changed type"]


def test_a_format_may_widen_to_its_internationalised_form_but_not_narrow() -> None:
    current = committed("StudentProfileUpserted.v1.json")
    assert current["$defs"]["StudentProfile"]["properties"]["email"]["format"] == "idn-email"

    def with_format(name: str) -> dict[str, Any]:
        changed = copy.deepcopy(current)
        changed["$defs"]["StudentProfile"]["properties"]["email"]["format"] = name
        return changed

    # every RFC 5322 address is an RFC 6531 one, not the other way round
    assert incompatibilities(with_format("email"), current) == []
    assert incompatibilities(current, with_format("email")) == ["field data.email changed type"]
    assert incompatibilities(with_format("email"), with_format("iri")) == [
        "field data.email changed type"
    ]
