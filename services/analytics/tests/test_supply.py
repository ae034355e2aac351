"""Supply and demand as pure logic: size classes, months, contributions, and the balances of
skills, skill groups, study fields and the region's language over the shipped ESCO."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from interlocality.analytics.funnel import month_of
from interlocality.analytics.skills import SkillTaxonomy
from interlocality.analytics.supply import (
    Contribution,
    LanguageNeed,
    LevelBalance,
    StudentHolding,
    VacancyNeed,
    field_balances,
    group_balances,
    language_balance,
    month_end,
    month_range,
    nace_division,
    shortage_ratio,
    skill_balances,
    student_contributions,
    top_shortages,
    top_surpluses,
    vacancy_contributions,
)

ICT = "http://data.europa.eu/esco/isced-f/06"


def test_months_end_at_the_next_ones_first_instant_and_ranges_cross_years() -> None:
    assert month_end("2026-12") == datetime(2027, 1, 1, tzinfo=UTC)
    assert month_end("2026-02") == datetime(2026, 3, 1, tzinfo=UTC)
    assert month_range("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert month_range("2026-03", "2026-02") == []
    assert month_of(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == "2026-12"


def test_shortage_ratio_is_positions_per_student_and_none_without_students() -> None:
    assert shortage_ratio(3, 2) == 1.5
    assert shortage_ratio(0, 4) == 0.0
    assert shortage_ratio(2, 0) is None


def test_sectors_are_counted_by_nace_division() -> None:
    assert [nace_division(s) for s in ("62.01", "J62.01", "28", None, "J")] == [
        "62",
        "62",
        "28",
        "unknown",
        "unknown",
    ]


def test_a_student_contributes_skills_languages_and_field_only_with_analytics_consent(
    snapshots: Any, esco: Any
) -> None:
    when = snapshots.at("2026-01")
    søren = snapshots.student(
        "s-1", "Søren Østergaard", when, skills={esco.python: 4},
        languages={"da": "C2"}, study_field="0613",
    )  # fmt: skip
    assert student_contributions(søren.data) == {
        Contribution("student", ""),
        Contribution("skill", esco.python, 4),
        Contribution("language", "da", 6),
        Contribution("field", "0613"),
    }
    withdrawn = snapshots.student("s-1", "Søren Østergaard", when, analytics=False)
    assert student_contributions(withdrawn.data) is None


def test_only_an_open_vacancy_contributes_and_its_positions_travel_with_it(
    snapshots: Any, esco: Any
) -> None:
    when = snapshots.at("2026-01")
    open_one = snapshots.vacancy(
        "v-1", when, required={esco.python: 3}, languages={"da": ("B2", True)}, positions=2
    )
    assert vacancy_contributions(open_one.data, "0613") == {
        Contribution("vacancy", "internship", 2),
        Contribution("skill", esco.python, 3),
        Contribution("language", "da", 4, True),
        Contribution("field", "0613"),
    }
    filled = snapshots.vacancy("v-1", when, status="filled", required={esco.python: 3})
    assert vacancy_contributions(filled.data, "0613") == frozenset()


@pytest.fixture
def needs(esco: Any) -> list[VacancyNeed]:
    """Two open vacancies: three positions for Python, one of them with welding too."""
    PYTHON, WELDING = esco.python, esco.welding
    return [
        VacancyNeed("v-1", 2, {PYTHON: 3}, study_field="0613", sector="62", size_class="small"),
        VacancyNeed("v-2", 1, {PYTHON: 4, WELDING: 2}, study_field="0715", sector="28",
                    size_class="micro"),
    ]  # fmt: skip


@pytest.fixture
def holdings(esco: Any) -> list[StudentHolding]:
    """Five students: Python at 4 and 3, its broader skill, welding below the level asked,
    and a skill no vacancy asks for."""
    return [
        StudentHolding("s-1", {esco.python: 4}, study_field="0613"),
        StudentHolding("s-2", {esco.python: 3}, study_field="0612"),
        StudentHolding("s-3", {esco.programming: 5}),
        StudentHolding("s-4", {esco.welding: 1}, study_field="0715"),
        StudentHolding("s-5", {esco.project_management: 3}, study_field="0413"),
    ]


def test_skill_balances_count_positions_students_at_the_level_asked_and_related_students(
    taxonomy: SkillTaxonomy,
    needs: list[VacancyNeed],
    holdings: list[StudentHolding],
    esco: Any,
) -> None:
    PYTHON, WELDING = esco.python, esco.welding
    PROJECT_MANAGEMENT, PROGRAMMING = esco.project_management, esco.programming
    balances = {b.uri: b for b in skill_balances(needs, holdings, taxonomy)}
    python = balances[PYTHON]
    assert (python.level, python.positions, python.vacancies) == (3, 3, 2)
    # s-1 and s-2 hold it at 3+; s-3 holds its broader skill (matching's partial credit)
    assert (python.students, python.students_related) == (2, 1)
    assert python.levels == (LevelBalance(3, 2, 2), LevelBalance(4, 1, 1))
    assert (python.ratio, python.gap) == (1.5, 1)
    welding = balances[WELDING]
    assert (welding.positions, welding.students, welding.ratio) == (1, 0, None)  # s-4 is at 1
    managing = balances[PROJECT_MANAGEMENT]
    assert (managing.level, managing.positions, managing.students, managing.gap) == (1, 0, 1, -1)
    assert [b.uri for b in top_shortages(balances.values(), 5)] == sorted([PYTHON, WELDING])
    assert top_surpluses(balances.values(), 5)[0].uri in {PROJECT_MANAGEMENT, PROGRAMMING}
    assert [b.uri for b in top_shortages(balances.values(), 1)] == [min(PYTHON, WELDING)]


def test_a_group_counts_a_vacancys_positions_once_and_students_at_the_level_asked(
    taxonomy: SkillTaxonomy,
    needs: list[VacancyNeed],
    holdings: list[StudentHolding],
    esco: Any,
) -> None:
    assert ICT in taxonomy.groups_of(esco.python, 2)
    assert taxonomy.level_of(ICT) == 2
    groups = {b.uri: b for b in group_balances(needs, holdings, taxonomy, 2)}
    ict = groups[ICT]
    assert (ict.positions, ict.vacancies) == (3, 2)
    # s-1 and s-2 for Python at 3+; s-3 for programming, which no vacancy asks (any level)
    assert ict.students == 3
    assert all(b.level == 2 for b in groups.values())
    pillars = group_balances(needs, holdings, taxonomy, 1)
    assert {taxonomy.label(b.uri) for b in pillars} <= {
        "skills",
        "knowledge",
        "transversal skills and competences",
        "language skills and knowledge",
    }


def test_study_fields_meet_vacancy_fields_with_sector_and_size_class(
    needs: list[VacancyNeed], holdings: list[StudentHolding]
) -> None:
    broad = {b.code: b for b in field_balances(needs, holdings, 2)}
    assert (broad["06"].students, broad["06"].positions, broad["06"].vacancies) == (2, 2, 1)
    assert broad["06"].by_sector == {"62": 2}
    assert broad["06"].by_size_class == {"small": 2}
    assert (broad["07"].students, broad["07"].positions, broad["07"].ratio) == (1, 1, 1.0)
    assert (broad["04"].students, broad["04"].positions) == (1, 0)
    assert broad["unknown"].students == 1
    detailed = {b.code: b for b in field_balances(needs, holdings, 4)}
    assert (detailed["0613"].students, detailed["0612"].students) == (1, 1)


def test_a_vacancys_field_comes_from_its_knowledge_else_through_occupations(
    taxonomy: SkillTaxonomy, esco: Any
) -> None:
    PYTHON, WELDING, PROJECT_MANAGEMENT = esco.python, esco.welding, esco.project_management
    assert taxonomy.field_of_vacancy([PYTHON]) == "0613"
    # project management is a skill, not knowledge: its field comes through occupations
    assert taxonomy.field_of_vacancy([PROJECT_MANAGEMENT]) == "0413"
    # required skills outvote nice-to-have ones
    assert taxonomy.field_of_vacancy([PYTHON], [WELDING]) == "0613"
    assert taxonomy.field_of_vacancy([]) is None


def test_the_region_language_by_level_english_friendly_share_and_pairs_removed(
    taxonomy: SkillTaxonomy, esco: Any
) -> None:
    PYTHON, WELDING = esco.python, esco.welding
    PROJECT_MANAGEMENT, PROGRAMMING = esco.project_management, esco.programming
    needs = [
        VacancyNeed("v-1", 2, {PYTHON: 3},
                    languages=(LanguageNeed("da", 4), LanguageNeed("en", 4))),
        VacancyNeed("v-2", 1, {PYTHON: 3}, languages=(LanguageNeed("en", 5),)),
        VacancyNeed("v-3", 1, {WELDING: 1}),
        VacancyNeed("v-4", 1, {WELDING: 1}, languages=(LanguageNeed("da", 3, required=False),)),
    ]  # fmt: skip
    holdings = [
        StudentHolding("s-1", {PYTHON: 4}, {"da": 5, "en": 5}),
        StudentHolding("s-2", {PYTHON: 1}, {"en": 4}),
        StudentHolding("s-3", {PROGRAMMING: 2}),
        StudentHolding("s-4", {PROJECT_MANAGEMENT: 2}, {"da": 6}),
    ]
    balance = language_balance(needs, holdings, taxonomy, "da")
    assert (balance.vacancies, balance.positions, balance.students) == (4, 5, 4)
    by_level = {x.level: x for x in balance.requiring}
    assert (by_level["B2"].vacancies, by_level["B2"].positions) == (1, 2)
    assert [by_level[level].students for level in ("A1", "B2", "C1", "C2")] == [2, 2, 2, 1]
    assert balance.nice_to_have == 1
    assert (balance.english_friendly, balance.english_friendly_share) == (3, 0.75)
    # v-1 and v-2 each pair with s-1, s-2 and s-3 (Python or its broader skill): v-1 loses
    # s-2 and s-3 (no Danish), v-2 loses s-2 (English B2 < C1) and s-3
    assert balance.pairs_on_skills == 6
    assert (balance.pairs_removed, balance.pairs_removed_by_region_language) == (4, 2)
