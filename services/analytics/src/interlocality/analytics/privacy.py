"""What makes a region's aggregates safe to leave it: small-cell suppression, differential
privacy noise and a yearly privacy budget. Pure: plain data in, the snapshot's payload out.

The release of a snapshot, in order:

1. **Contribution bounds.** Each table declares how many of its cells one contributor (a
   student or a company) may count in (``max_cells_per_contributor``) and how much it may
   add to one count (``max_contribution``: 1 for people, a cap on positions for demand).
   A contributor over the first bound keeps a pseudo-random choice of its cells, chosen
   from its own id and the cells' coordinates only, so no one else's data decides it.
2. **Primary suppression.** A count built from fewer than ``k`` distinct contributors is
   withheld.
3. **Secondary suppression.** A published total is the sum of the counts under it (the
   cells, or finer totals). Where exactly one count of such a sum is withheld, the total
   minus the published rest would give it back: the smallest published count of that sum
   is withheld too (the total itself when nothing else is left), until no sum has exactly
   one withheld count.
4. **Budget.** The snapshot's ε is charged to the region's yearly budget, or the release
   is refused before any noise is drawn.
5. **Noise.** Every published count gets discrete Laplace noise from OpenDP with scale
   ``b = Δ / ε``, then is clamped at 0 (post-processing costs no privacy).

**Sensitivity Δ.** Adding or removing one student or company changes a table's cells by at
most ``max_cells_per_contributor × max_contribution`` in total (L1), and each family of
published totals (row totals, column totals, the grand total) by as much again, since a
family partitions the same cells. A table's Δ is therefore that product times one plus its
number of total families; the snapshot's Δ is the sum over its tables, as one contributor
may be in every table. Discrete Laplace noise of scale b on counts of L1 sensitivity Δ is
(Δ/b)-differentially private, which is what OpenDP's ``make_laplace`` proves and maps.

**OpenDP's "contrib".** OpenDP refuses constructors whose proofs have not finished its
vetting process until the program opts in with ``dp.enable_features("contrib")``; in 0.16
``make_laplace`` over integer vectors is one. The mechanism itself is the textbook one and
its privacy map is checked here against the stated ε, so we opt in, once, when noise is
first drawn. OpenDP draws from the operating system's secure randomness and cannot be seeded,
by design (a seeded sampler would be a way to recover the noise).

What suppression does not hide: whether a cell is withheld depends on its true number of
contributors, so the pattern of suppressed cells, unlike the counts, carries no noise.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from interlocality.contracts.federation import Dimension, RegionAggregates

__all__ = [
    "AggregateCell",
    "AggregateTable",
    "BudgetExceeded",
    "PrivacyBudget",
    "TableCount",
    "discrete_laplace_noise",
    "discrete_laplace_scale",
    "release_snapshot",
    "suppress",
]

_EPSILON_TOLERANCE = 1e-9


@dataclass(frozen=True)
class AggregateCell:
    """One true count of a region's aggregate table, with who it is built from.

    ``contributors`` maps each student or company id to what it adds to the count; the ids
    are used to count distinct contributors and to bound each one's influence, and never
    leave :func:`release_snapshot`.
    """

    dimensions: Mapping[str, str]
    measure: str
    contributors: Mapping[str, int]

    @classmethod
    def counting(
        cls, dimensions: Mapping[str, str], measure: str, ids: Iterable[str]
    ) -> AggregateCell:
        """A cell counting each of ``ids`` once (distinct students, companies, vacancies)."""
        return cls(dimensions=dict(dimensions), measure=measure, contributors=dict.fromkeys(ids, 1))

    @property
    def count(self) -> int:
        """The true count: what the contributors add up to."""
        return sum(self.contributors.values())


@dataclass(frozen=True)
class AggregateTable:
    """A table of cells over the same dimensions, with the totals it publishes.

    ``totals`` names each family of published totals by the dimensions it keeps: ``()`` is
    the grand total, ``("skill_group",)`` one total per skill group over the other
    dimensions. Totals are per measure.
    """

    name: str
    dimensions: tuple[str, ...]
    cells: tuple[AggregateCell, ...]
    totals: tuple[tuple[str, ...], ...] = ((),)
    max_cells_per_contributor: int = 1
    max_contribution: int = 1

    def __post_init__(self) -> None:
        if self.max_cells_per_contributor < 1 or self.max_contribution < 1:
            raise ValueError(f"table {self.name}: contribution bounds are at least 1")
        for kept in self.totals:
            if not set(kept) < set(self.dimensions):
                raise ValueError(
                    f"table {self.name}: a total keeps some of {list(self.dimensions)}, "
                    f"not {list(kept)}"
                )
        for cell in self.cells:
            if set(cell.dimensions) != set(self.dimensions):
                raise ValueError(
                    f"table {self.name}: a cell has dimensions {sorted(cell.dimensions)}, "
                    f"expected {sorted(self.dimensions)}"
                )
            if any(amount < 0 for amount in cell.contributors.values()):
                raise ValueError(f"table {self.name}: a contribution is never negative")

    @property
    def sensitivity(self) -> int:
        """The most one contributor changes this table's published counts by, summed (L1)."""
        return self.max_cells_per_contributor * self.max_contribution * (1 + len(self.totals))


class BudgetExceeded(ValueError):
    """A snapshot would spend more ε than is left of its region's yearly budget."""


@dataclass(frozen=True)
class PrivacyBudget:
    """A region's yearly ε budget and what is spent of it in ``year``.

    Spent ε never comes back within the year: a published snapshot stays published.
    """

    region: str
    yearly_epsilon: float
    year: int
    spent: float = 0.0

    def __post_init__(self) -> None:
        if not self.yearly_epsilon > 0:
            raise ValueError("the yearly ε budget is positive")
        if self.spent < 0:
            raise ValueError("spent ε is never negative")

    @property
    def left(self) -> float:
        """ε left this year."""
        return max(0.0, self.yearly_epsilon - self.spent)

    def charge(self, epsilon: float, at: datetime) -> PrivacyBudget:
        """The budget after spending ``epsilon`` at ``at``; a new year starts afresh.

        Raises :class:`BudgetExceeded` when ``epsilon`` is more than is left.
        """
        if not epsilon > 0:
            raise ValueError(f"a snapshot spends a positive ε, not {epsilon}")
        if at.year < self.year:
            raise ValueError(f"the budget is at {self.year} already, not at {at.year}")
        current = self if at.year == self.year else replace(self, year=at.year, spent=0.0)
        if current.spent + epsilon > current.yearly_epsilon * (1 + _EPSILON_TOLERANCE):
            raise BudgetExceeded(
                f"region {self.region}: a snapshot of ε={epsilon:g} would exceed the "
                f"{current.year} budget of ε={current.yearly_epsilon:g}: "
                f"{current.spent:g} is spent, {current.left:g} is left"
            )
        return replace(current, spent=current.spent + epsilon)


# --- contribution bounds -----------------------------------------------------------------


def _cell_key(cell: AggregateCell) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (cell.measure, tuple(sorted(cell.dimensions.items())))


def _choice_rank(contributor: str, cell: AggregateCell) -> bytes:
    """Where ``cell`` ranks among the contributor's cells: a hash of both, nothing else."""
    return hashlib.sha256(repr((contributor, _cell_key(cell))).encode()).digest()


def _bounded(table: AggregateTable) -> tuple[AggregateCell, ...]:
    """The table's cells with each contributor's influence within the table's bounds."""
    cells_of: dict[str, list[int]] = defaultdict(list)
    for index, cell in enumerate(table.cells):
        for contributor, amount in cell.contributors.items():
            if amount > 0:
                cells_of[contributor].append(index)
    # :func:`_choice_rank` for a hundred thousand contributors: each cell's part of the
    # hashed text is made once, and each contributor's part is hashed once and copied.
    keys = [f", {_cell_key(cell)!r})".encode() for cell in table.cells]
    dropped: dict[int, set[str]] = defaultdict(set)
    for contributor, indices in cells_of.items():
        if len(indices) > table.max_cells_per_contributor:
            prefix = hashlib.sha256(f"({contributor!r}".encode())
            ranked = []
            for index in indices:
                rank = prefix.copy()
                rank.update(keys[index])
                ranked.append((rank.digest(), index))
            ranked.sort()
            for _, index in ranked[table.max_cells_per_contributor :]:
                dropped[index].add(contributor)
    bound = table.max_contribution
    return tuple(
        cell
        if index not in dropped
        and all(0 < amount <= bound for amount in cell.contributors.values())
        else replace(
            cell,
            contributors={
                contributor: min(amount, bound)
                for contributor, amount in cell.contributors.items()
                if amount > 0 and contributor not in dropped[index]
            },
        )
        for index, cell in enumerate(table.cells)
    )


# --- suppression -------------------------------------------------------------------------


@dataclass
class TableCount:
    """A count of a table, a cell or a total, with its true value, how many distinct
    contributors it is built from, and whether (and why) it is withheld."""

    kept: tuple[str, ...]
    coordinates: tuple[tuple[str, str], ...]
    measure: str
    total: bool
    value: int
    distinct: int
    suppressed: str | None = None

    def sort_key(self) -> tuple[int, tuple[tuple[str, str], ...]]:
        return (self.value, self.coordinates)


def _counts(table: AggregateTable, cells: Sequence[AggregateCell]) -> list[TableCount]:
    """The table's cells and published totals, cells first."""
    counts = [
        TableCount(
            kept=table.dimensions,
            coordinates=tuple((name, cell.dimensions[name]) for name in table.dimensions),
            measure=cell.measure,
            total=False,
            value=cell.count,
            distinct=len(cell.contributors),
        )
        for cell in cells
    ]
    for kept in table.totals:
        groups: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, int]] = {}
        for cell in cells:
            key = (cell.measure, tuple((name, cell.dimensions[name]) for name in kept))
            summed = groups.setdefault(key, {})
            for contributor, amount in cell.contributors.items():
                summed[contributor] = summed.get(contributor, 0) + amount
        for (measure, coordinates), contributors in groups.items():
            counts.append(
                TableCount(
                    kept=kept,
                    coordinates=coordinates,
                    measure=measure,
                    total=True,
                    value=sum(contributors.values()),
                    distinct=len(contributors),
                )
            )
    return counts


def _sums(counts: Sequence[TableCount]) -> list[tuple[TableCount, list[TableCount]]]:
    """Every linear relation a reader knows: a total equals the sum of the counts under it,
    for each finer family (the cells, or totals keeping more dimensions)."""
    families: dict[tuple[str, ...], list[TableCount]] = defaultdict(list)
    for count in counts:
        families[count.kept].append(count)
    relations = []
    for total in counts:
        if not total.total:
            continue
        where = dict(total.coordinates)
        for kept, family in families.items():
            if not set(total.kept) < set(kept):
                continue
            members = [
                count
                for count in family
                if count.measure == total.measure
                and all(dict(count.coordinates)[name] == value for name, value in where.items())
            ]
            relations.append((total, members))
    return relations


def suppress(table: AggregateTable, k: int) -> list[TableCount]:
    """The table's counts after contribution bounds, primary and secondary suppression."""
    if k < 2:
        raise ValueError(f"k is at least 2, not {k}")
    counts = _counts(table, _bounded(table))
    for count in counts:
        if count.distinct < k:
            count.suppressed = "primary"
    relations = _sums(counts)
    changed = True
    while changed:
        changed = False
        for total, members in relations:
            items = [total, *members]
            withheld = [item for item in items if item.suppressed]
            if len(withheld) != 1:
                continue
            published = sorted(
                (item for item in members if not item.suppressed), key=TableCount.sort_key
            )
            target = published[0] if published else total
            target.suppressed = "secondary"
            changed = True
    return counts


# --- noise -------------------------------------------------------------------------------


def discrete_laplace_scale(sensitivity: int, epsilon: float) -> float:
    """The scale b that makes discrete Laplace noise ε-DP for counts of L1 ``sensitivity``."""
    if sensitivity < 1 or not epsilon > 0:
        raise ValueError("sensitivity is at least 1 and ε is positive")
    return sensitivity / epsilon


@cache
def _measurement(scale: float) -> Any:
    # Imported when the first snapshot is released: loading OpenDP's native library takes
    # most of a second, which the analytics process should not pay at every start.
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=scale
    )


def _privacy_loss(scale: float, sensitivity: int) -> float:
    return float(_measurement(scale).map(sensitivity))


def discrete_laplace_noise(counts: Sequence[int], scale: float) -> list[int]:
    """``counts`` each with independent discrete Laplace noise of ``scale`` (OpenDP)."""
    if not counts:
        return []
    return [int(value) for value in _measurement(scale)(list(counts))]


# --- release -----------------------------------------------------------------------------

_DIMENSION = TypeAdapter(Dimension)


def _dimensions(coordinates: Iterable[tuple[str, str]]) -> tuple[Any, ...]:
    return tuple(
        _DIMENSION.validate_python({"name": name, "value": value}) for name, value in coordinates
    )


def release_snapshot(
    *,
    region: str,
    period: str,
    tables: Sequence[AggregateTable],
    k: int,
    epsilon: float,
    budget: PrivacyBudget,
    produced_at: datetime,
) -> tuple[RegionAggregates, PrivacyBudget]:
    """The region's tables as a snapshot payload safe to publish, and the budget after it.

    Suppression first, then the budget is charged (:class:`BudgetExceeded` refuses the
    snapshot before any noise is drawn), then noise. A dimension value outside its
    vocabulary (free text, an e-mail, a URL) is refused with pydantic's ``ValidationError``.
    """
    if budget.region != region:
        raise ValueError(f"the budget is region {budget.region}'s, not {region}'s")
    if not tables:
        raise ValueError("a snapshot has at least one table")
    suppressed = [(table, suppress(table, k)) for table in tables]
    # Refuse a value outside its vocabulary before any ε is spent.
    for _, counts in suppressed:
        for count in counts:
            _dimensions(count.coordinates)
    sensitivity = sum(table.sensitivity for table in tables)
    scale = discrete_laplace_scale(sensitivity, epsilon)
    spent_epsilon = _privacy_loss(scale, sensitivity)
    after = budget.charge(spent_epsilon, produced_at)

    published = [count for _, counts in suppressed for count in counts if not count.suppressed]
    noisy = iter(discrete_laplace_noise([count.value for count in published], scale))
    noisy_of = {id(count): max(0, next(noisy)) for count in published}

    def cell(count: TableCount) -> dict[str, Any]:
        return {
            "dimensions": [{"name": n, "value": v} for n, v in count.coordinates],
            "measure": count.measure,
            "total": count.total,
        }

    aggregates = RegionAggregates.model_validate(
        {
            "region": region,
            "period": period,
            "produced_at": produced_at,
            "privacy": {
                "k": k,
                "epsilon": spent_epsilon,
                "mechanism": "discrete_laplace",
                "noise_scale": scale,
                "sensitivity": sensitivity,
                "budget_year": after.year,
                "yearly_epsilon": after.yearly_epsilon,
                "epsilon_spent": after.spent,
            },
            "tables": [
                {
                    "name": table.name,
                    "dimensions": table.dimensions,
                    "sensitivity": table.sensitivity,
                    "cells": [
                        {
                            **cell(count),
                            "count": None if count.suppressed else noisy_of[id(count)],
                            "suppressed": count.suppressed,
                        }
                        for count in counts
                    ],
                }
                for table, counts in suppressed
            ],
            "suppressed": [
                {"table": table.name, **cell(count), "reason": count.suppressed}
                for table, counts in suppressed
                for count in counts
                if count.suppressed
            ],
        }
    )
    return aggregates, after
