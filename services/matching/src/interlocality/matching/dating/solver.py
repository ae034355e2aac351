"""Who meets whom at a Company Dating event, and when and where: the exact solver, and the
obvious way (best remaining pair first) to compare it with.

The exact solver works in two stages. Stage 1 chooses the pairs, a bipartite b-matching:
no student beyond their maximum or the usable slots, no company beyond tables × usable
slots, must-meet pairs fixed, and as many students with a date as the capacity allows (a
number known in closed form, see :func:`most_students_with_a_date`). It is a network flow,
so HiGHS's dual simplex ends on an integral vertex, which is then the integer optimum.
Scores count in units of 0.0001, the precision matches are stored with, so the objective
is an integer and no tolerance decides between two schedules. Stage 2 gives each chosen
pair a slot and a table: a bipartite edge colouring with one colour per usable slot, which
exists whenever no student and no table has more dates than there are slots (König), found
with alternating paths. Stage 2 never drops a pair, so the total of stage 1 is the optimum
of the whole schedule.

HiGHS gets a time limit (the ``dating_solve_seconds`` setting): an event too large to solve
in it raises :class:`SolveTimedOut`, and the planner falls back to the greedy baseline,
which is always a valid schedule, and says so.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import coo_array, csr_array

from interlocality.matching.dating.models import DatingEventRequest, Pair

__all__ = [
    "POINTS_PER_UNIT",
    "PairingProblem",
    "SolveTimedOut",
    "exact_pairs",
    "greedy_baseline",
    "greedy_pairs",
    "most_students_with_a_date",
    "optimal_pairs",
    "seat_dates",
]

# Match scores are stored to four decimals; the solver counts in these units so that its
# objective is an integer and "optimal" is not subject to floating-point tolerance.
POINTS_PER_UNIT = 10_000


class SolveTimedOut(Exception):
    """HiGHS proved no optimum within ``seconds``: no schedule of its own to offer (the
    simplex method's intermediate points are not feasible schedules)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"HiGHS found no optimal schedule within {seconds:g} s")
        self.seconds = seconds


# -- the solver's view of a request -----------------------------------------------------


@dataclass(frozen=True)
class PairingProblem:
    """Students and companies by index, their capacities, and the pairs worth points."""

    student_ids: tuple[str, ...]
    company_ids: tuple[str, ...]
    student_capacity: tuple[int, ...]
    company_capacity: tuple[int, ...]
    points: dict[tuple[int, int], int]  # only pairs worth more than nothing
    must_meet: frozenset[tuple[int, int]]
    most_covered: int

    @classmethod
    def of(cls, request: DatingEventRequest, scores: Mapping[Pair, float]) -> PairingProblem:
        usable = len(request.usable_slots)
        students = {s.student_id: i for i, s in enumerate(request.students)}
        companies = {c.company_id: j for j, c in enumerate(request.companies)}
        points = {}
        for (student_id, company_id), score in scores.items():
            i, j = students.get(student_id), companies.get(company_id)
            if i is None or j is None:
                continue
            value = round(score * POINTS_PER_UNIT)
            if value > 0:
                points[i, j] = value
        return cls(
            student_ids=tuple(students),
            company_ids=tuple(companies),
            student_capacity=tuple(min(s.max_dates, usable) for s in request.students),
            company_capacity=tuple(c.tables * usable for c in request.companies),
            points=points,
            must_meet=frozenset(
                (students[p.student_id], companies[p.company_id]) for p in request.must_meet
            ),
            most_covered=most_students_with_a_date(request),
        )

    def pairs_by_id(self, pairs: Iterable[tuple[int, int]]) -> set[Pair]:
        return {(self.student_ids[i], self.company_ids[j]) for i, j in pairs}


def most_students_with_a_date(request: DatingEventRequest) -> int:
    """How many students can have at least one date, at most.

    Students with a must-meet pair have one. Any other student may meet any company, so
    each needs one of the dates the must-meet pairs leave free, and any free date will do.
    """
    usable = len(request.usable_slots)
    covered = {p.student_id for p in request.must_meet}
    spare = sum(c.tables for c in request.companies) * usable - len(request.must_meet)
    return len(covered) + min(len(request.students) - len(covered), max(spare, 0))


# -- stage 1: who meets whom ------------------------------------------------------------


def exact_pairs(request: DatingEventRequest, scores: Mapping[Pair, float]) -> set[Pair]:
    """The pairs of a schedule with the highest total score among those that give as many
    students as possible a date (solved exactly as a network flow with HiGHS).

    A date worth nothing is kept only as a must-meet pair or as a student's only date.
    """
    return optimal_pairs(PairingProblem.of(request, scores))


def optimal_pairs(problem: PairingProblem, time_limit: float | None = None) -> set[Pair]:
    """The pairs of :func:`exact_pairs`, for a problem that is built once.

    Raises :class:`SolveTimedOut` when HiGHS has not proved the optimum in ``time_limit``
    seconds (``None``: no limit).
    """
    # Columns: y (one per pair worth points or must-meet: the pair meets), u (per student:
    # a date worth nothing, with any company), w (per company: how many such dates it
    # hosts), z (per student: has a first date), e (per student: further dates).
    # Equalities: per student y + u − z − e = 0, and Σu − Σw = 0.
    # Inequalities: per company y + w ≤ capacity, and −Σz ≤ −most_covered.
    # Every column has at most one +1 and one −1 once the company rows and Σu − Σw are
    # negated: a network matrix, so the linear relaxation has integral vertices and the
    # simplex method's optimum is the integer optimum.
    pairs = sorted(set(problem.points) | problem.must_meet)
    students, companies = len(problem.student_ids), len(problem.company_ids)
    n_pairs = len(pairs)
    u0 = n_pairs
    w0 = u0 + students
    z0 = w0 + companies
    e0 = z0 + students
    columns = e0 + students
    every_pair = np.arange(n_pairs)
    every_student = np.arange(students)
    every_company = np.arange(companies)
    ones = np.ones

    pair_students = np.fromiter((i for i, _ in pairs), dtype=np.int64, count=n_pairs)
    pair_companies = np.fromiter((j for _, j in pairs), dtype=np.int64, count=n_pairs)
    hub = np.full(students + companies, students)
    equalities = coo_array(
        (
            np.concatenate([ones(n_pairs + 2 * students), -ones(companies + 2 * students)]),
            (
                np.concatenate([pair_students, every_student, hub, every_student, every_student]),
                np.concatenate(
                    [
                        every_pair,
                        u0 + every_student,
                        u0 + every_student,
                        w0 + every_company,
                        z0 + every_student,
                        e0 + every_student,
                    ]
                ),
            ),
        ),
        shape=(students + 1, columns),
    ).tocsr()
    cover = np.full(students, companies)
    inequalities = coo_array(
        (
            np.concatenate([ones(n_pairs + companies), -ones(students)]),
            (
                np.concatenate([pair_companies, every_company, cover]),
                np.concatenate([every_pair, w0 + every_company, z0 + every_student]),
            ),
        ),
        shape=(companies + 1, columns),
    ).tocsr()
    company_capacity = np.array(problem.company_capacity, dtype=float)
    limits = np.concatenate([company_capacity, [-problem.most_covered]])
    lower = np.zeros(columns)
    lower[:n_pairs] = [1.0 if pair in problem.must_meet else 0.0 for pair in pairs]
    upper = np.concatenate(
        [
            ones(n_pairs + students),
            company_capacity,
            ones(students),
            np.array(problem.student_capacity, dtype=float) - 1,
        ]
    )
    cost = np.zeros(columns)
    cost[:n_pairs] = [-problem.points.get(pair, 0) for pair in pairs]
    x = _integral_optimum(cost, equalities, inequalities, limits, lower, upper, time_limit)
    chosen = [pairs[k] for k in np.flatnonzero(x[:n_pairs])]
    met = {i for i, _ in chosen}
    # A student with a date worth nothing and no other date meets a company with room left
    # for one; any such company will do, since the student meets nobody else.
    hosts = [j for j in range(companies) for _ in range(int(x[w0 + j]))]
    alone = [i for i in range(students) if x[u0 + i] and i not in met]
    chosen.extend(zip(alone, hosts, strict=False))
    return problem.pairs_by_id(chosen)


def _integral_optimum(
    cost: np.ndarray,
    equalities: csr_array,
    inequalities: csr_array,
    limits: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    time_limit: float | None = None,
) -> np.ndarray:
    """The optimum of the integer program, from the dual simplex when its vertex is integral.

    An integral optimum of the relaxation is optimal for the integer program; should
    rounding ever leave a fraction, HiGHS's branch and bound decides instead, in what is
    left of ``time_limit`` (seconds for both; ``None``: no limit).
    """
    deadline = None if time_limit is None else time.monotonic() + time_limit
    bounds = np.column_stack([lower, upper])
    relaxed = linprog(
        cost,
        A_ub=inequalities,
        b_ub=limits,
        A_eq=equalities,
        b_eq=np.zeros(equalities.shape[0]),
        bounds=bounds,
        method="highs-ds",
        options=_limited(deadline, time_limit),
    )
    if relaxed.status == 1:  # the time limit: its point is not a schedule
        raise SolveTimedOut(time_limit or 0.0)
    if relaxed.status == 0 and np.allclose(relaxed.x, np.rint(relaxed.x), atol=1e-6):
        return np.rint(relaxed.x).astype(np.int64)
    result = milp(
        cost,
        integrality=np.ones(len(cost)),
        bounds=Bounds(lower, upper),
        constraints=[
            LinearConstraint(equalities, 0.0, 0.0),
            LinearConstraint(inequalities, -np.inf, limits),
        ],
        options={"mip_rel_gap": 0.0, **_limited(deadline, time_limit)},
    )
    if result.status == 1:  # the time limit: its incumbent, if any, is not proven optimal
        raise SolveTimedOut(time_limit or 0.0)
    if result.status != 0 or result.x is None:
        # infeasibilities() rules out every infeasible request, so this is a solver failure.
        raise RuntimeError(f"HiGHS found no schedule: {result.message}")
    return np.rint(result.x).astype(np.int64)


def _limited(deadline: float | None, time_limit: float | None) -> dict[str, float]:
    """HiGHS's option for the time left until ``deadline``; out of time once it has passed."""
    if deadline is None:
        return {}
    left = deadline - time.monotonic()
    if left <= 0:
        raise SolveTimedOut(time_limit or 0.0)
    return {"time_limit": left}


def greedy_pairs(request: DatingEventRequest, scores: Mapping[Pair, float]) -> set[Pair]:
    """The baseline: must-meet pairs, then the best remaining pair first.

    It keeps the same constraints as the exact solver: a pair is taken while both sides
    have room, and a pair for a student who already has a date only while enough dates
    stay free to give the students still without one theirs.
    """
    return greedy_baseline(PairingProblem.of(request, scores))


def greedy_baseline(problem: PairingProblem) -> set[Pair]:
    """The pairs of :func:`greedy_pairs`, for a problem that is built once."""
    student_load = [0] * len(problem.student_ids)
    company_load = [0] * len(problem.company_ids)
    chosen: set[tuple[int, int]] = set()

    def take(i: int, j: int) -> None:
        chosen.add((i, j))
        student_load[i] += 1
        company_load[j] += 1

    for i, j in sorted(problem.must_meet):
        take(i, j)
    still_needed = problem.most_covered - sum(1 for load in student_load if load)
    free = sum(problem.company_capacity) - len(chosen)
    by_score = sorted(
        ((i, j) for i in range(len(problem.student_ids)) for j in range(len(problem.company_ids))),
        key=lambda pair: -problem.points.get(pair, 0),
    )
    for i, j in by_score:
        if (
            (i, j) in chosen
            or student_load[i] >= problem.student_capacity[i]
            or company_load[j] >= problem.company_capacity[j]
        ):
            continue
        first = student_load[i] == 0
        if not first and (problem.points.get((i, j), 0) == 0 or free - 1 < still_needed):
            continue
        take(i, j)
        free -= 1
        if first:
            still_needed = max(still_needed - 1, 0)
    return problem.pairs_by_id(chosen)


# -- stage 2: when and where ------------------------------------------------------------


def seat_dates(request: DatingEventRequest, pairs: Iterable[Pair]) -> list[tuple[int, int, Pair]]:
    """A slot number and a table for every pair: ``(slot, table, (student, company))``.

    Each company's pairs are dealt to its tables in turn, so no table has more than the
    usable slots; then the pairs are coloured with one colour per usable slot so that no
    student and no table has two dates in one slot.
    """
    usable = request.usable_slots
    tables = {c.company_id: c.tables for c in request.companies}
    ordered = sorted(pairs, key=lambda pair: (pair[1], pair[0]))
    dealt: dict[str, int] = defaultdict(int)
    edges: list[tuple[tuple[str, str], tuple[str, str, int]]] = []
    for student_id, company_id in ordered:
        table = dealt[company_id] % tables[company_id] + 1
        dealt[company_id] += 1
        edges.append((("student", student_id), ("table", company_id, table)))
    colours = _colour_edges(edges, len(usable))
    return [
        (usable[colour], table, (student[1], company_id))
        for colour, (student, (_, company_id, table)) in zip(colours, edges, strict=True)
    ]


def _colour_edges(edges: Sequence[tuple[object, object]], colours: int) -> list[int]:
    """A proper edge colouring of a bipartite graph whose degrees are at most ``colours``.

    Each edge takes a colour ``a`` free at its left end; if ``a`` is taken at the right
    end, the path from there alternating ``a`` and ``b`` (a colour free at the right end)
    has its two colours swapped, which frees ``a`` there and cannot reach the left end.
    """
    at: dict[object, dict[int, int]] = defaultdict(dict)
    colour_of = [-1] * len(edges)

    def free(node: object) -> int:
        used = at[node]
        colour = next((c for c in range(colours) if c not in used), None)
        if colour is None:
            raise ValueError(f"{node} has more than {colours} edges")
        return colour

    for index, (left, right) in enumerate(edges):
        a, b = free(left), free(right)
        if a in at[right]:
            path = []
            node, colour = right, a
            while colour in at[node]:
                edge = at[node][colour]
                path.append(edge)
                one, other = edges[edge]
                node = one if node == other else other
                colour = b if colour == a else a
            for edge in path:
                for end in edges[edge]:
                    del at[end][colour_of[edge]]
            for edge in path:
                colour_of[edge] = b if colour_of[edge] == a else a
                for end in edges[edge]:
                    at[end][colour_of[edge]] = edge
        colour_of[index] = a
        at[left][a] = index
        at[right][a] = index
    return colour_of
