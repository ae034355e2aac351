"""The Company Dating solver: optimal schedules within every constraint, and the greedy
baseline it is measured against."""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from interlocality.matching.dating.models import DatingEventRequest, DatingSchedule
from interlocality.matching.dating.plan import plan_dating_event
from interlocality.matching.dating.solver import _integral_optimum, greedy_pairs, seat_dates

Scores = dict[tuple[str, str], float]
EventRequest = Callable[..., DatingEventRequest]
Plan = Callable[[DatingEventRequest, Scores], DatingSchedule]


def random_event(
    event_request: EventRequest,
    rng: random.Random,
    students: int,
    companies: int,
    max_dates: int = 2,
    most_slots: int = 3,
) -> tuple[DatingEventRequest, Scores]:
    """Few seats for many wishes, so that taking the best pair first often goes wrong."""
    slots = rng.randint(1, most_slots)
    breaks = rng.sample(range(1, slots + 1), rng.randint(0, slots - 1))
    usable = slots - len(breaks)
    company_tables = {f"c{j}": rng.choice([1, 1, 2]) for j in range(companies)}
    student_max = {f"s{i}": rng.randint(1, max_dates) for i in range(students)}
    scores = {
        (s, c): round(rng.uniform(0.01, 1.0), 2)
        for s in student_max
        for c in company_tables
        if rng.random() < 0.75
    }
    load: Counter[str] = Counter()
    wanted: Counter[str] = Counter()
    must_meet = []
    for s, c in itertools.product(student_max, company_tables):
        fits = wanted[s] < min(student_max[s], usable) and load[c] < company_tables[c] * usable
        if fits and rng.random() < 0.08:
            must_meet.append((s, c))
            wanted[s] += 1
            load[c] += 1
    event = event_request(
        slots=slots,
        breaks=breaks,
        companies=company_tables,
        students=student_max,
        must_meet=must_meet,
    )
    return event, scores


def best_by_brute_force(event: DatingEventRequest, scores: Scores) -> tuple[int, float]:
    """(most students with a date, then highest total) over every set of pairs."""
    usable = len(event.usable_slots)
    cap_student = {s.student_id: min(s.max_dates, usable) for s in event.students}
    cap_company = {c.company_id: c.tables * usable for c in event.companies}
    must = {(p.student_id, p.company_id) for p in event.must_meet}
    pairs = list(itertools.product(cap_student, cap_company))
    best = (-1, -1.0)
    for chosen in itertools.product((False, True), repeat=len(pairs)):
        picked = [pair for pair, on in zip(pairs, chosen, strict=True) if on]
        if not must <= set(picked):
            continue
        per_student = Counter(s for s, _ in picked)
        per_company = Counter(c for _, c in picked)
        if any(per_student[s] > cap for s, cap in cap_student.items()):
            continue
        if any(per_company[c] > cap for c, cap in cap_company.items()):
            continue
        value = (len(per_student), round(sum(scores.get(p, 0.0) for p in picked), 4))
        best = max(best, value)
    return best


def best_by_textbook_milp(event: DatingEventRequest, scores: Scores) -> tuple[int, float]:
    """The same optimum from the plain model: a variable for every pair, two solves."""
    usable = len(event.usable_slots)
    students, companies = event.students, event.companies
    n_pairs = len(students) * len(companies)
    n = n_pairs + len(students)  # y for every pair, then z: the student has a date
    rows, lower, upper = [], [], []
    for i, student in enumerate(students):
        row = np.zeros(n)
        row[i * len(companies) : (i + 1) * len(companies)] = 1
        rows.append(row.copy())
        lower.append(0)
        upper.append(min(student.max_dates, usable))
        row[n_pairs + i] = -1
        rows.append(row)
        lower.append(0)
        upper.append(np.inf)
    for j, company in enumerate(companies):
        row = np.zeros(n)
        row[j : n_pairs : len(companies)] = 1
        rows.append(row)
        lower.append(0)
        upper.append(company.tables * usable)
    must = {(p.student_id, p.company_id) for p in event.must_meet}
    pairs = [(s.student_id, c.company_id) for s in students for c in companies]
    bounds = Bounds([1 if pair in must else 0 for pair in pairs] + [0] * len(students), 1)
    coverage = np.concatenate([np.zeros(n_pairs), np.ones(len(students))])
    first = milp(
        -coverage,
        integrality=np.ones(n),
        bounds=bounds,
        constraints=LinearConstraint(np.array(rows), lower, upper),
    )
    covered = round(-first.fun)
    points = np.concatenate(
        [[round(scores.get(pair, 0.0) * 10_000) for pair in pairs], np.zeros(len(students))]
    )
    second = milp(
        -points,
        integrality=np.ones(n),
        bounds=bounds,
        constraints=[
            LinearConstraint(np.array(rows), lower, upper),
            LinearConstraint(coverage, covered, np.inf),
        ],
        options={"mip_rel_gap": 0.0},
    )
    return covered, round(-second.fun) / 10_000


def assert_valid(event: DatingEventRequest, schedule: DatingSchedule) -> None:
    usable = set(event.usable_slots)
    max_dates = {s.student_id: s.max_dates for s in event.students}
    tables = {c.company_id: c.tables for c in event.companies}
    dates = schedule.dates
    assert all(d.slot in usable for d in dates), "a date in a break"
    assert all(1 <= d.table <= tables[d.company_id] for d in dates), "a table the company lacks"
    assert len({(d.slot, d.company_id, d.table) for d in dates}) == len(dates), "a table twice"
    assert len({(d.slot, d.student_id) for d in dates}) == len(dates), "a student twice at once"
    assert len({(d.student_id, d.company_id) for d in dates}) == len(dates), "a pair twice"
    per_student = Counter(d.student_id for d in dates)
    assert all(per_student[s] <= m for s, m in max_dates.items()), "over a student's maximum"
    met = {(d.student_id, d.company_id) for d in dates}
    assert {(p.student_id, p.company_id) for p in event.must_meet} <= met, "must-meet missed"
    for d in dates:
        assert (d.starts_at, d.ends_at) == event.slot_times(d.slot)
    # The agendas tell the same story as the list of dates.
    assert sum(len(a.dates) for a in schedule.students) == len(dates)
    assert sum(len(a.dates) for a in schedule.companies) == len(dates)
    for agenda in schedule.students:
        assert [e.slot for e in agenda.dates] == sorted(e.slot for e in agenda.dates)


@pytest.mark.parametrize("seed", range(100))
def test_the_schedule_is_optimal_on_small_events(
    seed: int, event_request: EventRequest, planned: Plan
) -> None:
    rng = random.Random(seed)
    event, scores = random_event(
        event_request, rng, students=rng.randint(2, 5), companies=rng.randint(2, 3)
    )
    schedule = planned(event, scores)
    assert_valid(event, schedule)
    covered, total = best_by_brute_force(event, scores)
    assert schedule.totals.students_with_a_date == covered
    assert schedule.totals.score == pytest.approx(total, abs=1e-9)


@pytest.mark.parametrize("seed", range(20))
def test_larger_schedules_are_optimal_valid_and_never_worse_than_greedy(
    seed: int, event_request: EventRequest, planned: Plan
) -> None:
    rng = random.Random(1000 + seed)
    event, scores = random_event(
        event_request, rng, students=30, companies=8, max_dates=4, most_slots=8
    )
    schedule = planned(event, scores)
    assert_valid(event, schedule)
    totals = schedule.totals
    assert (totals.students_with_a_date, totals.score) == best_by_textbook_milp(event, scores)
    assert totals.score >= totals.greedy_score
    assert totals.students_with_a_date == totals.greedy_students_with_a_date
    baseline = greedy_pairs(event, scores)
    assert round(sum(scores.get(p, 0.0) for p in baseline), 4) == totals.greedy_score
    # The baseline keeps the same constraints, so it is a schedule too.
    assert len(seat_dates(event, baseline)) == len(baseline)


def test_greedy_takes_the_best_pair_and_loses_the_better_total(
    event_request: EventRequest, planned: Plan
) -> None:
    event = event_request(slots=1, companies={"a": 1, "b": 1}, students={"s1": 1, "s2": 1})
    scores = {("s1", "a"): 0.9, ("s1", "b"): 0.8, ("s2", "a"): 0.85}
    schedule = planned(event, scores)
    assert {(d.student_id, d.company_id) for d in schedule.dates} == {("s1", "b"), ("s2", "a")}
    assert schedule.totals.score == 1.65
    assert greedy_pairs(event, scores) == {("s1", "a"), ("s2", "b")}
    assert schedule.totals.greedy_score == 0.9


def test_every_student_gets_a_date_even_without_any_match(
    event_request: EventRequest, planned: Plan
) -> None:
    event = event_request(slots=2, companies={"a": 1, "b": 1}, students={"s1": 2, "s2": 2, "s3": 1})
    scores = {("s1", "a"): 0.9, ("s1", "b"): 0.9, ("s2", "a"): 0.7, ("s2", "b"): 0.6}
    schedule = planned(event, scores)
    assert_valid(event, schedule)
    per_student = Counter(d.student_id for d in schedule.dates)
    assert set(per_student) == {"s1", "s2", "s3"}
    # Four seats: s3's date (worth nothing) costs one of the 0.6-0.9 dates the others wanted.
    assert schedule.totals.score == round(0.9 + 0.9 + 0.7, 4)
    assert schedule.notes == []


def test_a_date_worth_nothing_is_not_scheduled_for_a_student_who_has_one(
    event_request: EventRequest, planned: Plan
) -> None:
    event = event_request(slots=3, companies={"a": 1, "b": 1, "c": 1}, students={"s1": 3})
    schedule = planned(event, {("s1", "a"): 0.5})
    assert [(d.company_id, d.score) for d in schedule.dates] == [("a", 0.5)]


def test_when_seats_are_short_most_students_get_one_and_the_schedule_says_so(
    event_request: EventRequest, planned: Plan
) -> None:
    students = {f"s{i}": 2 for i in range(5)}
    event = event_request(slots=2, breaks=[1], companies={"a": 1, "b": 2}, students=students)
    scores = {(s, c): 0.1 * (i + 1) for i, s in enumerate(students) for c in ("a", "b")}
    schedule = planned(event, scores)
    assert_valid(event, schedule)
    # 3 seats (one slot, three tables): the three students with the best scores get them.
    assert sorted(d.student_id for d in schedule.dates) == ["s2", "s3", "s4"]
    assert schedule.totals.students_with_a_date == 3
    assert schedule.notes == [
        "2 students of 5 get no date: the companies have 3 dates in all (tables × usable "
        "slots), not enough for one each after the must-meet pairs",
        "5 students wanted more dates than the 1 usable slot: they can have at most 1",
    ]
    assert schedule.agenda("student", "s0") is not None
    assert schedule.agenda("student", "s0").dates == []  # type: ignore[union-attr]


def test_must_meet_pairs_are_met_even_when_they_score_nothing(
    event_request: EventRequest, planned: Plan
) -> None:
    event = event_request(
        slots=2,
        companies={"a": 1},
        students={"s1": 1, "s2": 1, "s3": 1},
        must_meet=[("s3", "a")],
    )
    schedule = planned(event, {("s1", "a"): 0.9, ("s2", "a"): 0.8})
    assert {(d.student_id, d.must_meet) for d in schedule.dates} == {("s3", True), ("s1", False)}
    assert schedule.totals.score == 0.9


def test_a_fractional_relaxation_is_settled_by_branch_and_bound() -> None:
    # Three pairs of which any two exclude each other: the relaxation takes half of each.
    exclusive = csr_array(np.array([[1.0, 1, 0], [0, 1, 1], [1, 0, 1]]))
    none = csr_array(np.zeros((0, 3)))
    x = _integral_optimum(-np.ones(3), none, exclusive, np.ones(3), np.zeros(3), np.ones(3))
    assert sorted(x.tolist()) == [0, 0, 1]


def test_a_solve_past_its_time_limit_gives_the_greedy_schedule_and_says_so(
    event_request: EventRequest,
) -> None:
    # A region's largest fair: 1,500 students, 120 companies, 12 slots, 40,000 scored
    # pairs; solved exactly it takes HiGHS half a second or more, far past a limit of 10 ms.
    rng = random.Random(7)
    companies = {f"c{j}": 1 for j in range(120)}
    students = {f"s{i}": rng.randint(1, 4) for i in range(1500)}
    scores = {
        (s, c): round(rng.uniform(0.05, 1.0), 4)
        for s in students
        for c in companies
        if rng.random() < 0.22
    }
    event = event_request(slots=12, companies=companies, students=students)
    limit = 0.01

    started = time.perf_counter()
    schedule = plan_dating_event(
        event, scores, event_id="cd-big", issued_at=datetime.now(UTC), time_limit=limit
    )
    elapsed = time.perf_counter() - started

    totals = schedule.totals
    assert not totals.optimal
    assert totals.solve_seconds < limit + 1.0, "the solver ran on past its limit"
    assert elapsed < 10.0
    assert any("not proven optimal" in note and "0.01 s" in note for note in schedule.notes)
    assert_valid(event, schedule)
    assert (totals.score, totals.dates) == (totals.greedy_score, totals.greedy_dates)
    assert totals.students_with_a_date == totals.greedy_students_with_a_date == 1440


def test_a_solve_within_its_time_limit_is_proven_optimal(
    event_request: EventRequest,
) -> None:
    event = event_request(slots=1, companies={"a": 1, "b": 1}, students={"s1": 1, "s2": 1})
    scores = {("s1", "a"): 0.9, ("s1", "b"): 0.8, ("s2", "a"): 0.85}
    schedule = plan_dating_event(
        event, scores, event_id="cd-small", issued_at=datetime.now(UTC), time_limit=20.0
    )
    assert schedule.totals.optimal
    assert schedule.totals.score == 1.65
    assert not any("not proven optimal" in note for note in schedule.notes)
