"""Supply and demand kept from the region's snapshots, month by month, on both databases:
the numbers of each month, a student's later change leaving earlier months alone, and a
withdrawn or erased student gone from every month."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from interlocality.analytics.handlers import INSIGHT_HANDLERS, on_students_upserted
from interlocality.analytics.service import AnalyticsService, SupplyAndDemand
from interlocality.analytics.store import held_on_student, supply_student_data
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.students import Consents
from interlocality.contracts.vacancies import VacancyFilled

MONTHS = ["2026-01", "2026-02", "2026-03"]
Apply = Callable[[Sequence[CloudEvent[Any]]], None]


@pytest.fixture
def apply(runtime: ServiceRuntime, supply: SupplyAndDemand) -> Apply:
    """Apply snapshots as the consumer does, each run in one transaction."""
    service = AnalyticsService(supply)

    def run(events: Sequence[CloudEvent[Any]]) -> None:
        with runtime.transaction() as session:
            for event in events:
                INSIGHT_HANDLERS[type(event)](service, event, session)

    return run


@pytest.fixture
def region_snapshots(snapshots: Any, esco: Any) -> list[CloudEvent[Any]]:
    """Three students and two vacancies over January to March 2026."""
    at = snapshots.at
    return [
        snapshots.company("c-1", "Ærø Søfart ApS", 12, "62.01"),
        snapshots.student(
            "s-1", "Søren Østergaard", at("2026-01"), skills={esco.python: 4},
            languages={"da": "C1", "en": "B2"}, study_field="0613",
        ),
        snapshots.student(
            "s-2", "Begoña Muñoz", at("2026-01"), skills={esco.python: 3},
            languages={"en": "C1"}, study_field="0612",
        ),
        snapshots.vacancy(
            "v-1", at("2026-01", 12), required={esco.python: 3},
            languages={"da": ("B2", True)}, positions=2,
        ),
        snapshots.student(
            "s-3", "Elif Yılmaz", at("2026-02"), skills={esco.welding: 3},
            languages={"en": "B2", "tr": "C2"}, study_field="0715",
        ),
        snapshots.vacancy(
            "v-2", at("2026-02", 11), company_id="c-2", required={esco.welding: 2},
            languages={"en": ("B1", True)},
        ),
        snapshots.student(
            "s-1", "Søren Østergaard", at("2026-02", 20), version=2, skills={esco.python: 5},
            languages={"da": "C1", "en": "B2"}, study_field="0613",
        ),
        snapshots.vacancy(
            "v-1", at("2026-03", 5), event_type=VacancyFilled, status="filled", version=2,
            required={esco.python: 3}, languages={"da": ("B2", True)}, positions=2,
        ),
    ]  # fmt: skip


def skill_numbers(
    runtime: ServiceRuntime, supply: SupplyAndDemand, uri: str
) -> list[tuple[int, int]]:
    """(positions, students) of a skill in each of :data:`MONTHS`."""
    with runtime.reading() as session:
        found = supply.skills(session, MONTHS)
    numbers = []
    for _, balances in found:
        by_uri = {b.uri: b for b in balances}
        balance = by_uri.get(uri)
        numbers.append((balance.positions, balance.students) if balance else (0, 0))
    return numbers


def test_each_month_counts_what_was_valid_at_its_end(
    runtime: ServiceRuntime,
    supply: SupplyAndDemand,
    apply: Apply,
    region_snapshots: list[CloudEvent[Any]],
    esco: Any,
) -> None:
    apply(region_snapshots[:4])
    apply(region_snapshots[4:])
    # v-1 is filled in March; s-2 and s-1 (at 4, then 5) hold Python throughout
    assert skill_numbers(runtime, supply, esco.python) == [(2, 2), (2, 2), (0, 2)]
    assert skill_numbers(runtime, supply, esco.welding) == [(0, 0), (1, 1), (1, 1)]
    with runtime.reading() as session:
        [(_, january), (_, february), (_, march)] = supply.languages(session, MONTHS)
        fields = dict(supply.study_fields(session, ["2026-02"], 2))["2026-02"]
        groups = dict(supply.skill_groups(session, ["2026-02"], 2))["2026-02"]
    by_level = {x.level: x for x in january.requiring}
    assert (by_level["B2"].vacancies, by_level["B2"].positions, by_level["B2"].students) == (
        1,
        2,
        1,
    )
    assert (january.english_friendly, january.english_friendly_share) == (0, 0.0)
    # v-1 pairs with Søren and Begoña on Python; Begoña has no Danish
    assert (january.pairs_on_skills, january.pairs_removed) == (2, 1)
    assert january.pairs_removed_by_region_language == 1
    assert (february.vacancies, february.positions, february.english_friendly) == (2, 3, 1)
    assert (march.vacancies, march.english_friendly_share) == (1, 1.0)
    by_field = {b.code: b for b in fields}
    assert (by_field["06"].students, by_field["06"].positions) == (2, 2)
    assert by_field["06"].by_sector == {"62": 2}
    assert by_field["06"].by_size_class == {"small": 2}
    assert (by_field["07"].students, by_field["07"].positions) == (1, 1)
    assert by_field["07"].by_sector == {"unknown": 1}  # c-2 never registered
    ict = next(g for g in groups if g.uri.endswith("isced-f/06"))
    assert (ict.positions, ict.students) == (2, 2)


def test_withdrawal_and_erasure_remove_a_student_from_every_month_and_keep_no_name(
    runtime: ServiceRuntime,
    supply: SupplyAndDemand,
    apply: Apply,
    region_snapshots: list[CloudEvent[Any]],
    snapshots: Any,
    esco: Any,
) -> None:
    apply(region_snapshots)
    with runtime.reading() as session:
        held = supply_student_data(session, "s-1")
    text = json.dumps(held, default=str)
    assert "Søren" not in text and "@" not in text
    rows = held["supply_student"]["contributions"]
    assert {
        (r["code"], r["level"], r["valid_until"] is None) for r in rows if r["kind"] == "skill"
    } == {
        (esco.python, 4, False),
        (esco.python, 5, True),
    }

    apply([
        snapshots.student(
            "s-2", "Begoña Muñoz", snapshots.at("2026-03", 15), version=2,
            skills={esco.python: 3}, analytics=False,
        ),
        snapshots.erased("s-3", snapshots.at("2026-03", 16)),
    ])  # fmt: skip
    assert skill_numbers(runtime, supply, esco.python) == [(2, 1), (2, 1), (0, 1)]
    assert skill_numbers(runtime, supply, esco.welding) == [(0, 0), (1, 0), (1, 0)]
    with runtime.reading() as session:
        january = supply.languages(session, ["2026-01"])[0][1]
        assert supply_student_data(session, "s-3") == {}
        assert supply_student_data(session, "s-2")["supply_student"]["contributions"] == []
    assert (january.students, january.pairs_on_skills, january.pairs_removed) == (1, 1, 0)

    # a late, older snapshot of a student changes nothing, not even consent
    apply([region_snapshots[2]])
    assert skill_numbers(runtime, supply, esco.python) == [(2, 1), (2, 1), (0, 1)]


def test_a_student_who_said_nothing_of_consent_is_counted_in_no_month(
    runtime: ServiceRuntime,
    supply: SupplyAndDemand,
    apply: Apply,
    region_snapshots: list[CloudEvent[Any]],
    snapshots: Any,
    esco: Any,
) -> None:
    apply(region_snapshots)
    before = skill_numbers(runtime, supply, esco.python)
    given = snapshots.student(
        "s-9", "Åsa Ørsted-Yılmaz", snapshots.at("2026-01", 3), skills={esco.python: 5}
    )
    silent = given.model_copy(
        update={"data": given.data.model_copy(update={"consents": Consents()})}
    )
    apply([silent])
    assert skill_numbers(runtime, supply, esco.python) == before
    with runtime.reading() as session:
        assert supply_student_data(session, "s-9")["supply_student"]["contributions"] == []
    # Consent given later counts the student from then on.
    apply([snapshots.student(
        "s-9", "Åsa Ørsted-Yılmaz", snapshots.at("2026-02", 3), version=2,
        skills={esco.python: 5},
    )])  # fmt: skip
    assert skill_numbers(runtime, supply, esco.python) == [
        before[0],
        (before[1][0], before[1][1] + 1),
        (before[2][0], before[2][1] + 1),
    ]


def test_a_run_of_student_snapshots_applied_at_once_leaves_what_one_at_a_time_does(
    runtime: ServiceRuntime,
    supply: SupplyAndDemand,
    apply: Apply,
    region_snapshots: list[CloudEvent[Any]],
    snapshots: Any,
    esco: Any,
) -> None:
    apply(region_snapshots)
    at = snapshots.at
    run = [
        # a new student, changed twice, the second change arriving before the first
        snapshots.student("s-4", "Ana", at("2026-03", 1), skills={esco.python: 2}),
        snapshots.student("s-4", "Ana", at("2026-03", 9), version=3, skills={esco.welding: 4}),
        snapshots.student("s-4", "Ana", at("2026-03", 5), version=2, skills={esco.python: 3}),
        # a known one withdrawing consent and giving it again
        snapshots.student("s-1", "Søren", at("2026-03", 2), version=3, analytics=False),
        snapshots.student(
            "s-1", "Søren", at("2026-03", 3), version=4, skills={esco.welding: 2},
            study_field="0715",
        ),
        # a known one changing, then a snapshot that changes nothing, then a late old one
        snapshots.student(
            "s-3", "Elif", at("2026-03", 4), version=2, skills={esco.welding: 5},
            languages={"en": "C1"}, study_field="0715",
        ),
        snapshots.student(
            "s-3", "Elif", at("2026-03", 6), version=3, skills={esco.welding: 5},
            languages={"en": "C1"}, study_field="0715",
        ),
        snapshots.student("s-2", "Begoña", at("2026-01", 2), skills={esco.welding: 1}),
        # a new student who never consents
        snapshots.student("s-5", "Jan", at("2026-03", 7), skills={esco.python: 5}, analytics=False),
    ]  # fmt: skip
    students = ["s-1", "s-2", "s-3", "s-4", "s-5"]

    def held() -> dict[str, Any]:
        with runtime.reading() as session:
            return {
                s: (supply_student_data(session, s), held_on_student(session, s)) for s in students
            }

    before = held()
    with runtime.transaction() as session:
        savepoint = session.begin_nested()
        on_students_upserted(AnalyticsService(supply), run, session)
        session.flush()
        at_once = {
            s: (supply_student_data(session, s), held_on_student(session, s)) for s in students
        }
        savepoint.rollback()
    assert held() == before
    apply(run)
    assert at_once == held()
    assert skill_numbers(runtime, supply, esco.welding)[-1] == (1, 3)
