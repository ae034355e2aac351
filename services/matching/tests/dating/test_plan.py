"""Planning a Company Dating event: what it refuses, and why, before anything is solved."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from interlocality.matching.dating.models import DatingEventRequest, DatingSchedule
from interlocality.matching.dating.plan import DatingInfeasible, unknown_participants

Scores = dict[tuple[str, str], float]
EventRequest = Callable[..., DatingEventRequest]
Plan = Callable[[DatingEventRequest, Scores], DatingSchedule]


def test_impossible_must_meet_pairs_are_explained(
    event_request: EventRequest, planned: Plan
) -> None:
    students = {f"s{i}": 3 for i in range(14)}
    event = event_request(
        slots=7,
        breaks=[4],
        companies={"nordlys": 2, "b": 1},
        students={**students, "kwame": 2, "ana": 9},
        must_meet=[(s, "nordlys") for s in students]
        + [("kwame", "nordlys"), ("kwame", "b"), ("ana", "b")],
    )
    with pytest.raises(DatingInfeasible) as raised:
        planned(event, {})
    assert [(p.constraint, p.participant_id, p.message) for p in raised.value.problems] == [
        (
            "company_capacity",
            "nordlys",
            "must-meet pairs for company NORDLYS ApS need 15 dates but it has 12 "
            "(2 tables × 6 usable slots)",
        )
    ]

    event = event_request(
        slots=3,
        breaks=[1],
        companies={"a": 1, "b": 1, "c": 1},
        students={"kwame": 2, "ana": 3},
        must_meet=[(s, c) for s in ("kwame", "ana") for c in ("a", "b", "c")],
    )
    with pytest.raises(DatingInfeasible) as raised:
        planned(event, {})
    assert [(p.constraint, p.message) for p in raised.value.problems] == [
        ("student_max_dates", "student kwame has 3 must-meet pairs but wants at most 2 dates"),
        (
            "student_slots",
            "student ana has 3 must-meet pairs but there are only 2 slots that are not breaks",
        ),
    ]


def test_every_place_naming_a_participant_matching_does_not_know_is_found_in_order(
    event_request: EventRequest,
) -> None:
    event = event_request(
        companies={"a": 1, "b": 1}, students={"s1": 1, "s2": 1}, must_meet=[("s2", "b")]
    )
    unknown = unknown_participants(event, {"s1"}, {"a"})
    assert [(u.field, u.kind, u.participant_id) for u in unknown] == [
        (("body", "students", 1, "student_id"), "student", "s2"),
        (("body", "companies", 1, "company_id"), "company", "b"),
        (("body", "must_meet", 0, "student_id"), "student", "s2"),
        (("body", "must_meet", 0, "company_id"), "company", "b"),
    ]
    assert [u.message for u in unknown[:2]] == [
        "no student 's2' is known to matching here (registered and consenting to matching)",
        "no company 'b' is known to matching here (registered in this region)",
    ]
    assert unknown_participants(event, {"s1", "s2"}, {"a", "b"}) == []
