"""A Company Dating request refuses what no schedule, calendar or file could hold, naming
the field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from interlocality.matching.dating.models import DatingEventRequest

Body = Callable[..., dict[str, Any]]


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"slot_minutes": 15}, "slot_starts", "slot 2 starts at {second_slot}"),
        ({"breaks": [4]}, "breaks", "break 4 is not a slot number: slots are numbered 1 to 3"),
        ({"breaks": [1, 2, 3]}, "breaks", "every slot is a break"),
        ({"companies": [{"company_id": "a"}, {"company_id": "a"}]}, "companies", "'a' is listed"),
        ({"students": [{"student_id": "s1", "max_dates": 0}]}, "students", "greater than or"),
        (
            {"must_meet": [{"student_id": "s9", "company_id": "a"}]},
            "must_meet",
            "must-meet pair 0 names student 's9', who is not registered",
        ),
        (
            {"must_meet": [{"student_id": "s1", "company_id": "a"}] * 2},
            "must_meet",
            "must-meet pair 1 (s1, a) is listed twice",
        ),
        ({"slot_starts": ["2027-03-12T14:00:00"]}, "slot_starts", "with its UTC offset"),
    ],
)
def test_malformed_requests_name_the_field(
    change: dict[str, Any],
    field: str,
    says: str,
    valid_body: Body,
    start: datetime,
) -> None:
    with pytest.raises(ValidationError) as raised:
        DatingEventRequest.model_validate(valid_body(**change))
    [error] = raised.value.errors()
    assert error["loc"][0] == field
    second_slot = (start + timedelta(minutes=10)).isoformat()
    assert says.format(second_slot=second_slot) in error["msg"]


@pytest.mark.parametrize(
    ("where", "character", "named"),
    [
        (("name",), "\n", "a line break"),
        (("venue",), "\r", "a carriage return"),
        (("companies", 0, "name"), "\t", "a tab"),
        (("companies", 0, "company_id"), "\x00", "the control character U+0000"),
        (("students", 0, "student_id"), "\u2028", "a line separator (U+2028)"),
        (("students", 0, "name"), "\x85", "the control character U+0085"),
        (("must_meet", 0, "company_id"), "\x1b", "the control character U+001B"),
    ],
)
def test_names_and_ids_are_one_line(
    where: tuple[str | int, ...], character: str, named: str, valid_body: Body
) -> None:
    body = valid_body(must_meet=[{"student_id": "s1", "company_id": "a"}])
    body["students"][0]["name"] = "Lucía Romero"
    parent: Any = body
    for step in where[:-1]:
        parent = parent[step]
    parent[where[-1]] = f"ab{character}c"
    with pytest.raises(ValidationError) as raised:
        DatingEventRequest.model_validate(body)
    [error] = raised.value.errors()
    assert error["loc"] == where
    assert error["msg"] == (
        f"should be one line of text without control characters, but has {named} at position 3"
    )


def test_names_are_not_blank_and_lose_surrounding_spaces(valid_body: Body) -> None:
    with pytest.raises(ValidationError) as raised:
        DatingEventRequest.model_validate(valid_body(name="   ", venue=" "))
    assert [(e["loc"], e["msg"]) for e in raised.value.errors()] == [
        (("name",), "should not be blank"),
        (("venue",), "should not be blank"),
    ]
    event = DatingEventRequest.model_validate(valid_body(name="  Company Dating Århus "))
    assert event.name == "Company Dating Århus"


@pytest.mark.parametrize("value", ["2", 2.0, True])
def test_counts_are_whole_numbers_not_text_or_truth_values(value: object, valid_body: Body) -> None:
    body = valid_body()
    body["companies"][0]["tables"] = value
    with pytest.raises(ValidationError) as raised:
        DatingEventRequest.model_validate(body)
    assert [e["loc"] for e in raised.value.errors()] == [("companies", 0, "tables")]


def test_slots_start_between_an_hour_ago_and_two_years_ahead(valid_body: Body) -> None:
    now = datetime.now(UTC)

    def refusals(*starts: object) -> list[tuple[Any, ...]]:
        try:
            DatingEventRequest.model_validate(valid_body(slot_starts=list(starts), breaks=[]))
        except ValidationError as error:
            return [(e["loc"], e["type"]) for e in error.errors()]
        return []

    soon = now - timedelta(minutes=50)
    assert refusals(soon.isoformat(), (now + timedelta(days=729)).isoformat()) == []
    assert refusals(
        0,
        "1970-01-01T00:00:00Z",
        "0120-03-12T14:00:00+01:00",
        (now - timedelta(minutes=70)).isoformat(),
        (now + timedelta(days=731)).isoformat(),
        "9999-12-31T23:59:00-01:00",
        "1800000000",
    ) == [
        (("slot_starts", 0), "date_time_text"),
        (("slot_starts", 1), "slot_start_past"),
        (("slot_starts", 2), "slot_start_past"),
        (("slot_starts", 3), "slot_start_past"),
        (("slot_starts", 4), "slot_start_too_far"),
        (("slot_starts", 5), "slot_start_too_far"),
        (("slot_starts", 6), "date_time_text"),
    ]
