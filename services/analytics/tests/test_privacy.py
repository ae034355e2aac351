"""What leaves a region is safe: small cells suppressed (and what totals would give back),
counts noised at the stated scale, the yearly budget held, and nothing but codes."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from interlocality.analytics.privacy import (
    AggregateCell,
    AggregateTable,
    BudgetExceeded,
    PrivacyBudget,
    TableCount,
    _bounded,
    _choice_rank,
    discrete_laplace_noise,
    discrete_laplace_scale,
    release_snapshot,
    suppress,
)
from interlocality.analytics.settings import AnalyticsSettings
from interlocality.common.settings import load_settings
from interlocality.contracts.federation import RegionAggregates, RegionSnapshot

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
STUDENTS = ["Søren Østergaard", "Begoña Muñoz", "Elif Yılmaz"]


def students(prefix: str, n: int) -> list[str]:
    """``n`` distinct student ids, some of them non-ASCII, as a region's ids might be."""
    return [f"{prefix}-{STUDENTS[i % 3]}-{i}" for i in range(n)]


def language_cell(level: str, n: int, prefix: str = "") -> AggregateCell:
    return AggregateCell.counting(
        {"language": "da", "cefr_level": level}, "students", students(prefix + level, n)
    )


def languages(
    *levels: tuple[str, int], totals: tuple[tuple[str, ...], ...] = ((),)
) -> AggregateTable:
    return AggregateTable(
        name="languages",
        dimensions=("language", "cefr_level"),
        cells=tuple(language_cell(level, n) for level, n in levels),
        totals=totals,
    )


def budget(yearly: float = 24.0) -> PrivacyBudget:
    return PrivacyBudget(region="aarhus", yearly_epsilon=yearly, year=2026)


def by_level(counts: Sequence[TableCount]) -> dict[str, str | None]:
    return {dict(c.coordinates)["cefr_level"]: c.suppressed for c in counts if not c.total}


def grand_total(counts: Sequence[TableCount]) -> TableCount:
    [total] = [c for c in counts if c.total and not c.coordinates]
    return total


# --- suppression -------------------------------------------------------------------------


def test_a_cell_of_k_contributors_is_published_and_one_of_fewer_is_not() -> None:
    # no published total here, so nothing else needs withholding
    counts = suppress(languages(("B1", 5), ("B2", 4), ("C1", 30), totals=()), k=5)
    assert by_level(counts) == {"B1": None, "B2": "primary", "C1": None}
    assert by_level(suppress(languages(("B1", 5), totals=()), k=6)) == {"B1": "primary"}


def test_k_counts_distinct_contributors_not_what_they_add_up_to() -> None:
    # three companies offering 40 positions between them are still three companies
    demand = AggregateCell(
        dimensions={"nace": "62", "size_class": "small"},
        measure="positions",
        contributors={"company-a": 20, "company-b": 10, "company-c": 10},
    )
    table = AggregateTable(
        name="study_fields",
        dimensions=("nace", "size_class"),
        cells=(demand,),
        totals=(),
        max_contribution=20,
    )
    [count] = suppress(table, k=5)
    assert count.value == 40 and count.suppressed == "primary"


def test_secondary_suppression_defeats_subtraction_from_a_published_total() -> None:
    counts = suppress(languages(("B1", 20), ("B2", 30), ("C1", 3)), k=5)
    total = grand_total(counts)
    assert total.suppressed is None, "the total of 53 is itself publishable"
    levels = by_level(counts)
    assert levels["C1"] == "primary"
    # the next-smallest cell goes too: total − published cells is no longer one cell's value
    assert levels["B1"] == "secondary" and levels["B2"] is None
    published = sum(c.value for c in counts if not c.total and not c.suppressed)
    assert total.value - published == 3 + 20 != 3


def test_no_published_total_in_a_two_way_table_gives_back_a_suppressed_cell() -> None:
    # fields × sizes, with row, column and grand totals
    values = {
        ("0613", "micro"): 2,
        ("0613", "small"): 40,
        ("0613", "medium"): 25,
        ("0732", "micro"): 30,
        ("0732", "small"): 12,
        ("0732", "medium"): 18,
        ("0413", "micro"): 22,
        ("0413", "small"): 35,
        ("0413", "medium"): 9,
    }
    table = AggregateTable(
        name="study_fields",
        dimensions=("isced_field", "size_class"),
        cells=tuple(
            AggregateCell.counting(
                {"isced_field": field, "size_class": size},
                "students",
                students(field + size, n),
            )
            for (field, size), n in values.items()
        ),
        totals=((), ("isced_field",), ("size_class",)),
    )
    counts = suppress(table, k=5)
    assert sum(1 for c in counts if c.suppressed == "primary") == 1
    # every sum a reader knows (a total over the counts under it) hides zero or ≥ 2 counts
    for total in (c for c in counts if c.total):
        where = dict(total.coordinates)
        for kept in {c.kept for c in counts if set(total.kept) < set(c.kept)}:
            under = [
                c
                for c in counts
                if c.kept == kept and all(dict(c.coordinates)[n] == v for n, v in where.items())
            ]
            hidden = [c for c in (total, *under) if c.suppressed]
            assert len(hidden) != 1, (total.coordinates, kept)
    # its row and its column each lose one more cell, and the row and column those share
    # one more again, and no total is withheld
    assert sorted(
        (dict(c.coordinates)["isced_field"], dict(c.coordinates)["size_class"])
        for c in counts
        if c.suppressed == "secondary"
    ) == [("0413", "medium"), ("0413", "micro"), ("0613", "medium")]
    assert not any(c.suppressed for c in counts if c.total)


def test_one_contributor_counts_in_no_more_cells_than_the_table_allows() -> None:
    # a student holding many skill groups counts in at most two of them
    groups = [f"http://data.europa.eu/esco/isced-f/0{n}" for n in (411, 412, 413, 611, 612)]
    busy = "student-Begoña Muñoz"
    table = AggregateTable(
        name="skill_groups",
        dimensions=("skill_group",),
        cells=tuple(
            AggregateCell.counting({"skill_group": group}, "students", [busy, *students(group, 9)])
            for group in groups
        ),
        max_cells_per_contributor=2,
    )
    counts = suppress(table, k=5)
    assert sorted(c.value for c in counts if not c.total) == [9, 9, 9, 10, 10]
    assert table.sensitivity == 2 * 1 * 2  # two cells, one each, in the cells and the total


def test_each_contributor_keeps_the_cells_its_choice_rank_puts_first() -> None:
    # the bound hashes each cell's part once for the whole table: the same cells as ranking
    # every contributor's cells by _choice_rank one by one
    groups = [f"http://data.europa.eu/esco/skill/group-{n}" for n in range(7)]
    ids = students("s", 40)
    cells = tuple(
        AggregateCell.counting({"skill_group": group}, "students", ids[n % 5 :: 1 + n % 3])
        for n, group in enumerate(groups)
    )
    table = AggregateTable(
        name="skill_groups", dimensions=("skill_group",), cells=cells, max_cells_per_contributor=3
    )
    kept = {
        (cell.dimensions["skill_group"], c) for cell in _bounded(table) for c in cell.contributors
    }
    expected = set()
    for contributor in ids:
        mine = [cell for cell in cells if contributor in cell.contributors]
        mine.sort(key=lambda cell: _choice_rank(contributor, cell))
        expected |= {(cell.dimensions["skill_group"], contributor) for cell in mine[:3]}
    assert kept == expected
    assert any(len([g for g, c in kept if c == s]) == 3 for s in ids)


# --- noise -------------------------------------------------------------------------------


def discrete_laplace_variance(scale: float) -> float:
    alpha = math.exp(-1 / scale)
    return 2 * alpha / (1 - alpha) ** 2


def test_noise_has_the_stated_scale_over_many_draws() -> None:
    # OpenDP draws from the system's secure randomness and takes no seed: 40,000 draws hold
    # the sample variance within 5 % of the exact one (standard error ≈ 1.2 %)
    scale = 4.0
    draws = discrete_laplace_noise([0] * 40_000, scale)
    assert all(isinstance(d, int) for d in draws)
    assert abs(statistics.fmean(draws)) < 0.2
    variance = statistics.pvariance(draws)
    assert variance == pytest.approx(discrete_laplace_variance(scale), rel=0.05)
    # a scale half as large is distinguishable: the test would see a wrong scale
    assert discrete_laplace_variance(scale / 2) < 0.3 * variance
    # P(0) = (1 − α) / (1 + α) for the discrete Laplace
    alpha = math.exp(-1 / scale)
    assert draws.count(0) / len(draws) == pytest.approx((1 - alpha) / (1 + alpha), abs=0.01)


def test_the_scale_is_the_sensitivity_over_epsilon() -> None:
    assert discrete_laplace_scale(6, 0.5) == 12.0
    with pytest.raises(ValueError):
        discrete_laplace_scale(0, 1.0)


def snapshot_tables() -> list[AggregateTable]:
    levels = ("A2", "B1", "B2", "C1", "C2")
    return [
        languages(*[(level, 40 + 10 * i) for i, level in enumerate(levels)]),
        AggregateTable(
            name="employability",
            dimensions=("graduation_semester", "outcome"),
            cells=tuple(
                AggregateCell.counting(
                    {"graduation_semester": "2026-spring", "outcome": outcome},
                    "graduates",
                    students(outcome, n),
                )
                for outcome, n in (
                    ("employed_in_region", 61),
                    ("employed_elsewhere", 23),
                    ("further_study", 2),
                    ("unknown", 14),
                )
            ),
        ),
    ]


def test_a_snapshot_is_noisy_states_its_parameters_and_lists_what_it_withholds() -> None:
    aggregates, after = release_snapshot(
        region="aarhus",
        period="2026-11",
        tables=snapshot_tables(),
        k=5,
        epsilon=0.5,
        budget=budget(),
        produced_at=NOW,
    )
    privacy = aggregates.privacy
    assert privacy.sensitivity == 2 + 2  # each table: one cell per student, and its total
    assert privacy.noise_scale == pytest.approx(privacy.sensitivity / 0.5)
    assert privacy.epsilon == pytest.approx(0.5)
    assert privacy.mechanism == "discrete_laplace" and privacy.k == 5
    assert privacy.epsilon_spent == after.spent == pytest.approx(0.5)

    true = {"A2": 40, "B1": 50, "B2": 60, "C1": 70, "C2": 80}
    languages_table, _ = aggregates.tables
    noisy = {
        cell.dimensions[1].value: cell.count for cell in languages_table.cells if not cell.total
    }
    assert set(noisy) == set(true)
    assert noisy != true, "counts carry noise"
    assert all(abs(noisy[level] - true[level]) < 20 * privacy.noise_scale for level in true)
    assert all(count >= 0 for count in noisy.values() if count is not None)

    withheld = {
        (s.table, tuple(d.value for d in s.dimensions), s.reason) for s in aggregates.suppressed
    }
    assert ("employability", ("2026-spring", "further_study"), "primary") in withheld
    assert ("employability", ("2026-spring", "unknown"), "secondary") in withheld
    # the whole event validates as the contract, and names no contributor anywhere
    event = RegionSnapshot(
        source="/interlocality/aarhus/analytics", subject="aarhus", region="aarhus", data=aggregates
    )
    wire = event.model_dump_json()
    for name in ("Søren", "Begoña", "Elif", "employed_in_region-"):
        assert name not in wire


# --- budget ------------------------------------------------------------------------------


def test_the_yearly_budget_refuses_the_snapshot_that_would_exceed_it() -> None:
    spent = budget(yearly=2.0)
    for _ in range(4):
        _, spent = release_snapshot(
            region="aarhus",
            period="2026-11",
            tables=snapshot_tables(),
            k=5,
            epsilon=0.5,
            budget=spent,
            produced_at=NOW,
        )
    assert spent.spent == pytest.approx(2.0) and spent.left == pytest.approx(0.0)
    with pytest.raises(BudgetExceeded, match=r"aarhus.*ε=0\.5.*2026 budget of ε=2.*2 is spent"):
        release_snapshot(
            region="aarhus",
            period="2026-12",
            tables=snapshot_tables(),
            k=5,
            epsilon=0.5,
            budget=spent,
            produced_at=NOW,
        )
    # a new year starts afresh
    _, next_year = release_snapshot(
        region="aarhus",
        period="2027-01",
        tables=snapshot_tables(),
        k=5,
        epsilon=0.5,
        budget=spent,
        produced_at=datetime(2027, 1, 31, tzinfo=UTC),
    )
    assert (next_year.year, next_year.spent) == (2027, pytest.approx(0.5))


def test_a_budget_is_charged_in_order_and_for_its_own_region() -> None:
    charged = budget().charge(1.0, NOW)
    with pytest.raises(ValueError, match="2026 already"):
        charged.charge(1.0, datetime(2025, 12, 31, tzinfo=UTC))
    with pytest.raises(ValueError, match="leipzig"):
        release_snapshot(
            region="leipzig",
            period="2026-11",
            tables=snapshot_tables(),
            k=5,
            epsilon=0.5,
            budget=charged,
            produced_at=NOW,
        )


# --- only codes leave --------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "Søren Østergaard",
        "begoña.muñoz@students.example.org",
        "https://leipzig.example/companies/ærø-café",
    ],
)
def test_a_dimension_value_that_is_not_a_code_is_refused_before_any_epsilon_is_spent(
    value: str,
) -> None:
    table = AggregateTable(
        name="study_fields",
        dimensions=("isced_field",),
        cells=(AggregateCell.counting({"isced_field": value}, "students", students("x", 9)),),
    )
    with pytest.raises(ValidationError):
        release_snapshot(
            region="aarhus",
            period="2026-11",
            tables=[table],
            k=5,
            epsilon=0.5,
            budget=budget(),
            produced_at=NOW,
        )


def test_the_payload_is_the_contract() -> None:
    aggregates, _ = release_snapshot(
        region="aarhus",
        period="2026-11",
        tables=snapshot_tables(),
        k=5,
        epsilon=0.5,
        budget=budget(),
        produced_at=NOW,
    )
    assert RegionAggregates.model_validate_json(aggregates.model_dump_json()) == aggregates


def test_the_federation_settings_have_their_defaults_and_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings(AnalyticsSettings, region="aarhus")
    assert settings.federation_bootstrap_servers == ""
    assert settings.federation_k == 5
    assert settings.federation_epsilon_per_snapshot > 0
    assert settings.federation_yearly_epsilon >= settings.federation_epsilon_per_snapshot
    monkeypatch.setenv("INTERLOCALITY_FEDERATION_BOOTSTRAP_SERVERS", "federation.example:9093")
    monkeypatch.setenv("INTERLOCALITY_FEDERATION_K", "10")
    settings = load_settings(AnalyticsSettings, region="aarhus")
    assert settings.federation_bootstrap_servers == "federation.example:9093"
    assert settings.federation_k == 10
