"""Company Dating: speed dates between students and companies, scheduled for the best total.

An operator registers companies (each with its tables), students (each with how many dates
they want at most), time slots, breaks and must-meet pairs. :func:`plan_dating_event`
chooses who meets whom for the highest total score and seats every date at a table in a
slot; :func:`greedy_pairs` is the obvious way (best remaining pair first) to compare with.
Pure functions over plain data: scores come in as a mapping, the schedule goes out as models.

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
"""

from __future__ import annotations

import csv
import io
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Annotated, Literal

import numpy as np
from icalendar import Calendar, Event
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import coo_array, csr_array

__all__ = [
    "MAX_COMPANIES",
    "MAX_SLOTS",
    "MAX_STUDENTS",
    "Agenda",
    "AgendaEntry",
    "DatingCompany",
    "DatingEventRequest",
    "DatingInfeasible",
    "DatingSchedule",
    "DatingSlot",
    "DatingStudent",
    "Infeasibility",
    "MustMeet",
    "ParticipantKind",
    "ScheduleTotals",
    "ScheduledDate",
    "agenda_ics",
    "build_schedule",
    "exact_pairs",
    "greedy_pairs",
    "infeasibilities",
    "most_students_with_a_date",
    "plan_dating_event",
    "schedule_csv",
    "seat_dates",
]

MAX_SLOTS = 48
MAX_TABLES = 20
MAX_COMPANIES = 200
MAX_STUDENTS = 2000
# Match scores are stored to four decimals; the solver counts in these units so that its
# objective is an integer and "optimal" is not subject to floating-point tolerance.
POINTS_PER_UNIT = 10_000

ParticipantKind = Literal["student", "company"]
Pair = tuple[str, str]
"""A (student id, company id) pair."""


# -- the request ------------------------------------------------------------------------


class DatingCompany(BaseModel):
    """A company at the event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    company_id: Annotated[
        str,
        Field(
            title="Company id",
            description="The company's id in this region.",
            min_length=1,
            max_length=64,
        ),
    ]
    name: Annotated[
        str | None,
        Field(title="Name", description="Shown to the students it meets.", max_length=200),
    ] = None
    tables: Annotated[
        int,
        Field(
            title="Tables",
            description="How many students the company meets at the same time.",
            ge=1,
            le=MAX_TABLES,
        ),
    ] = 1


class DatingStudent(BaseModel):
    """A student registered for the event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_id: Annotated[
        str,
        Field(
            title="Student id",
            description="The student's id in this region.",
            min_length=1,
            max_length=64,
        ),
    ]
    max_dates: Annotated[
        int,
        Field(
            title="Most dates",
            description="The most dates the student wants; fewer may be scheduled.",
            ge=1,
            le=MAX_SLOTS,
        ),
    ]


class MustMeet(BaseModel):
    """A student and a company the operator wants to meet whatever the scores say."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_id: Annotated[
        str, Field(title="Student id", description="A registered student.", min_length=1)
    ]
    company_id: Annotated[
        str, Field(title="Company id", description="A registered company.", min_length=1)
    ]


class DatingEventRequest(BaseModel):
    """A Company Dating event as the operator describes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[
        str,
        Field(title="Name", description="What the event is called.", min_length=1, max_length=200),
    ]
    venue: Annotated[
        str | None,
        Field(title="Venue", description="Where the event takes place.", max_length=300),
    ] = None
    slot_minutes: Annotated[
        int,
        Field(title="Slot length", description="Minutes of one date.", ge=1, le=240),
    ]
    slot_starts: Annotated[
        list[AwareDatetime],
        Field(
            title="Slot starts",
            description="When each slot starts, in order, with a time zone; slot numbers "
            "count from 1 in this order.",
            min_length=1,
            max_length=MAX_SLOTS,
        ),
    ]
    breaks: Annotated[
        list[int],
        Field(
            title="Breaks",
            description="Numbers of the slots in which nobody meets.",
            max_length=MAX_SLOTS,
        ),
    ] = []
    companies: Annotated[
        list[DatingCompany],
        Field(
            title="Companies",
            description="The companies at the event.",
            min_length=1,
            max_length=MAX_COMPANIES,
        ),
    ]
    students: Annotated[
        list[DatingStudent],
        Field(
            title="Students",
            description="The students registered for the event.",
            min_length=1,
            max_length=MAX_STUDENTS,
        ),
    ]
    must_meet: Annotated[
        list[MustMeet],
        Field(
            title="Must meet",
            description="Pairs that meet whatever the scores say.",
            max_length=MAX_STUDENTS * MAX_SLOTS,
        ),
    ] = []

    @field_validator("slot_starts")
    @classmethod
    def _slots_do_not_overlap(cls, starts: list[datetime], info: ValidationInfo) -> list[datetime]:
        minutes = info.data.get("slot_minutes")
        if minutes is None:
            return starts
        for number, (previous, current) in enumerate(pairwise(starts), start=2):
            if current < previous + timedelta(minutes=minutes):
                raise PydanticCustomError(
                    "slots_overlap",
                    "slot {number} starts at {start}, before slot {previous} has ended "
                    "(slots are {minutes} minutes, listed in order)",
                    {
                        "number": number,
                        "start": current.isoformat(),
                        "previous": number - 1,
                        "minutes": minutes,
                    },
                )
        return starts

    @field_validator("breaks")
    @classmethod
    def _breaks_are_slots(cls, breaks: list[int], info: ValidationInfo) -> list[int]:
        starts = info.data.get("slot_starts")
        if starts is None:
            return breaks
        for number in breaks:
            if not 1 <= number <= len(starts):
                raise PydanticCustomError(
                    "unknown_slot",
                    "break {number} is not a slot number: slots are numbered 1 to {count}",
                    {"number": number, "count": len(starts)},
                )
        if len(set(breaks)) < len(breaks):
            raise PydanticCustomError("duplicate_break", "a slot is listed as a break twice")
        if len(set(breaks)) == len(starts):
            raise PydanticCustomError("no_usable_slot", "every slot is a break: nobody can meet")
        return sorted(breaks)

    @field_validator("companies")
    @classmethod
    def _companies_are_listed_once(cls, companies: list[DatingCompany]) -> list[DatingCompany]:
        _refuse_duplicates("company", [c.company_id for c in companies])
        return companies

    @field_validator("students")
    @classmethod
    def _students_are_listed_once(cls, students: list[DatingStudent]) -> list[DatingStudent]:
        _refuse_duplicates("student", [s.student_id for s in students])
        return students

    @field_validator("must_meet")
    @classmethod
    def _must_meet_registered_participants(
        cls, pairs: list[MustMeet], info: ValidationInfo
    ) -> list[MustMeet]:
        students = {s.student_id for s in info.data.get("students", [])}
        companies = {c.company_id for c in info.data.get("companies", [])}
        seen: set[Pair] = set()
        for index, pair in enumerate(pairs):
            for kind, value, known in (
                ("student", pair.student_id, students),
                ("company", pair.company_id, companies),
            ):
                if known and value not in known:
                    raise PydanticCustomError(
                        f"unknown_{kind}",
                        "must-meet pair {index} names {kind} '{value}', "
                        "who is not registered for the event",
                        {"index": index, "kind": kind, "value": value},
                    )
            key = (pair.student_id, pair.company_id)
            if key in seen:
                raise PydanticCustomError(
                    "duplicate_pair",
                    "must-meet pair {index} ({student}, {company}) is listed twice",
                    {"index": index, "student": key[0], "company": key[1]},
                )
            seen.add(key)
        return pairs

    @property
    def usable_slots(self) -> list[int]:
        """The numbers of the slots that are not breaks."""
        breaks = set(self.breaks)
        return [n for n in range(1, len(self.slot_starts) + 1) if n not in breaks]

    def slot_times(self, number: int) -> tuple[datetime, datetime]:
        """When slot ``number`` starts and ends."""
        start = self.slot_starts[number - 1]
        return start, start + timedelta(minutes=self.slot_minutes)


def _refuse_duplicates(kind: str, ids: Sequence[str]) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            raise PydanticCustomError(
                f"duplicate_{kind}",
                "{kind} '{value}' is listed twice",
                {"kind": kind, "value": value},
            )
        seen.add(value)


# -- the schedule -----------------------------------------------------------------------


class DatingSlot(BaseModel):
    """One slot of the event."""

    number: Annotated[int, Field(title="Slot", description="Counting from 1.")]
    starts_at: Annotated[datetime, Field(title="Starts at", description="Start of the slot.")]
    ends_at: Annotated[datetime, Field(title="Ends at", description="End of the slot.")]
    is_break: Annotated[bool, Field(title="Break", description="Nobody meets in this slot.")]


class ScheduledDate(BaseModel):
    """A student meeting a company at a table in a slot."""

    slot: Annotated[int, Field(title="Slot", description="Slot number, counting from 1.")]
    starts_at: Annotated[datetime, Field(title="Starts at", description="Start of the date.")]
    ends_at: Annotated[datetime, Field(title="Ends at", description="End of the date.")]
    table: Annotated[int, Field(title="Table", description="The company's table, from 1.")]
    student_id: Annotated[str, Field(title="Student id", description="Who comes to the table.")]
    company_id: Annotated[str, Field(title="Company id", description="Whose table it is.")]
    company_name: Annotated[
        str | None, Field(title="Company name", description="As the operator gave it.")
    ] = None
    score: Annotated[
        float, Field(title="Score", description="Best match score of the pair, 0 if none.")
    ]
    must_meet: Annotated[
        bool, Field(title="Must meet", description="The operator asked for this pair.")
    ] = False


class AgendaEntry(BaseModel):
    """One date in a participant's agenda."""

    slot: Annotated[int, Field(title="Slot", description="Slot number, counting from 1.")]
    starts_at: Annotated[datetime, Field(title="Starts at", description="Start of the date.")]
    ends_at: Annotated[datetime, Field(title="Ends at", description="End of the date.")]
    table: Annotated[int, Field(title="Table", description="The company's table, from 1.")]
    counterpart_id: Annotated[
        str, Field(title="Counterpart id", description="The company or student met.")
    ]
    counterpart_name: Annotated[
        str | None, Field(title="Counterpart name", description="A company's name, if given.")
    ] = None
    score: Annotated[float, Field(title="Score", description="Match score of the pair.")]
    must_meet: Annotated[
        bool, Field(title="Must meet", description="The operator asked for this pair.")
    ] = False


class Agenda(BaseModel):
    """Everything one participant has to be at, in slot order."""

    participant_kind: Annotated[
        ParticipantKind, Field(title="Participant kind", description="Student or company.")
    ]
    participant_id: Annotated[str, Field(title="Participant id", description="Whose agenda.")]
    name: Annotated[str | None, Field(title="Name", description="A company's name, if given.")] = (
        None
    )
    dates: Annotated[list[AgendaEntry], Field(title="Dates", description="In slot order.")]


class ScheduleTotals(BaseModel):
    """How good the schedule is, and what the greedy baseline achieves on the same input."""

    score: Annotated[float, Field(title="Total score", description="Sum over all dates.")]
    dates: Annotated[int, Field(title="Dates", description="Dates scheduled.")]
    capacity: Annotated[
        int, Field(title="Capacity", description="Tables × slots that are not breaks.")
    ]
    students: Annotated[int, Field(title="Students", description="Students registered.")]
    students_with_a_date: Annotated[
        int, Field(title="Students with a date", description="Students with at least one.")
    ]
    greedy_score: Annotated[
        float, Field(title="Greedy score", description="Total of the best-pair-first baseline.")
    ]
    greedy_dates: Annotated[int, Field(title="Greedy dates", description="Its dates.")]
    greedy_students_with_a_date: Annotated[
        int, Field(title="Greedy students with a date", description="Its students covered.")
    ]
    solve_seconds: Annotated[
        float, Field(title="Solve time", description="Seconds the exact schedule took.")
    ]
    greedy_seconds: Annotated[
        float, Field(title="Greedy time", description="Seconds the baseline took.")
    ]


class DatingSchedule(BaseModel):
    """A Company Dating event with its schedule, per date and per participant."""

    event_id: Annotated[
        str,
        Field(
            title="Dating event id",
            description="The dating event's id.",
            serialization_alias="dating_event_id",  # its name in answers and agendas
        ),
    ]
    name: Annotated[str, Field(title="Name", description="What the event is called.")]
    venue: Annotated[str | None, Field(title="Venue", description="Where it takes place.")]
    issued_at: Annotated[
        datetime, Field(title="Issued at", description="When the schedule was computed.")
    ]
    slot_minutes: Annotated[int, Field(title="Slot length", description="Minutes of a date.")]
    slots: Annotated[list[DatingSlot], Field(title="Slots", description="In order.")]
    dates: Annotated[
        list[ScheduledDate], Field(title="Dates", description="By slot, company and table.")
    ]
    students: Annotated[list[Agenda], Field(title="Student agendas", description="One each.")]
    companies: Annotated[list[Agenda], Field(title="Company agendas", description="One each.")]
    totals: Annotated[ScheduleTotals, Field(title="Totals", description="Score and baseline.")]
    notes: Annotated[
        list[str], Field(title="Notes", description="Where the wishes could not all be met.")
    ]

    def agenda(self, kind: ParticipantKind, participant_id: str) -> Agenda | None:
        """The agenda of one participant, or ``None`` if they are not at the event."""
        agendas = self.students if kind == "student" else self.companies
        return next((a for a in agendas if a.participant_id == participant_id), None)


# -- feasibility ------------------------------------------------------------------------


@dataclass(frozen=True)
class Infeasibility:
    """A constraint of the request that no schedule can satisfy, in words."""

    constraint: str
    field: tuple[str, ...]
    message: str
    participant_id: str


class DatingInfeasible(Exception):
    """No schedule satisfies the request; ``problems`` says which constraints clash."""

    def __init__(self, problems: Sequence[Infeasibility]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def infeasibilities(request: DatingEventRequest) -> list[Infeasibility]:
    """Why the must-meet pairs cannot all be met (empty when a schedule exists).

    A schedule exists exactly when no student has more must-meet pairs than they may have
    dates and no company more than its tables × usable slots: the must-meet pairs alone are
    then a schedule (stage 2 always seats them).
    """
    usable = len(request.usable_slots)
    by_student: dict[str, int] = defaultdict(int)
    by_company: dict[str, int] = defaultdict(int)
    for pair in request.must_meet:
        by_student[pair.student_id] += 1
        by_company[pair.company_id] += 1
    problems = []
    for student in request.students:
        needed = by_student[student.student_id]
        if needed > student.max_dates:
            problems.append(
                Infeasibility(
                    "student_max_dates",
                    ("body", "must_meet"),
                    f"student {student.student_id} has {_plural(needed, 'must-meet pair')} "
                    f"but wants at most {_plural(student.max_dates, 'date')}",
                    student.student_id,
                )
            )
        elif needed > usable:
            problems.append(
                Infeasibility(
                    "student_slots",
                    ("body", "must_meet"),
                    f"student {student.student_id} has {_plural(needed, 'must-meet pair')} "
                    f"but there are only {_plural(usable, 'slot')} that are not breaks",
                    student.student_id,
                )
            )
    for company in request.companies:
        needed = by_company[company.company_id]
        capacity = company.tables * usable
        if needed > capacity:
            problems.append(
                Infeasibility(
                    "company_capacity",
                    ("body", "must_meet"),
                    f"must-meet pairs for company {company.name or company.company_id} need "
                    f"{_plural(needed, 'date')} but it has {capacity} "
                    f"({_plural(company.tables, 'table')} × {_plural(usable, 'usable slot')})",
                    company.company_id,
                )
            )
    return problems


# -- the solver's view of a request -----------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    """Students and companies by index, their capacities, and the pairs worth points."""

    student_ids: tuple[str, ...]
    company_ids: tuple[str, ...]
    student_capacity: tuple[int, ...]
    company_capacity: tuple[int, ...]
    points: dict[tuple[int, int], int]  # only pairs worth more than nothing
    must_meet: frozenset[tuple[int, int]]
    most_covered: int

    @classmethod
    def of(cls, request: DatingEventRequest, scores: Mapping[Pair, float]) -> _Problem:
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
    return _solve(_Problem.of(request, scores))


def _solve(problem: _Problem) -> set[Pair]:
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
    x = _integral_optimum(cost, equalities, inequalities, limits, lower, upper)
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
) -> np.ndarray:
    """The optimum of the integer program, from the dual simplex when its vertex is integral.

    An integral optimum of the relaxation is optimal for the integer program; should
    rounding ever leave a fraction, HiGHS's branch and bound decides instead.
    """
    bounds = np.column_stack([lower, upper])
    relaxed = linprog(
        cost,
        A_ub=inequalities,
        b_ub=limits,
        A_eq=equalities,
        b_eq=np.zeros(equalities.shape[0]),
        bounds=bounds,
        method="highs-ds",
    )
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
        options={"mip_rel_gap": 0.0},
    )
    if result.status != 0 or result.x is None:
        # infeasibilities() rules out every infeasible request, so this is a solver failure.
        raise RuntimeError(f"HiGHS found no schedule: {result.message}")
    return np.rint(result.x).astype(np.int64)


def greedy_pairs(request: DatingEventRequest, scores: Mapping[Pair, float]) -> set[Pair]:
    """The baseline: must-meet pairs, then the best remaining pair first.

    It keeps the same constraints as the exact solver: a pair is taken while both sides
    have room, and a pair for a student who already has a date only while enough dates
    stay free to give the students still without one theirs.
    """
    return _greedy(_Problem.of(request, scores))


def _greedy(problem: _Problem) -> set[Pair]:
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


# -- the whole schedule -----------------------------------------------------------------


def plan_dating_event(
    request: DatingEventRequest,
    scores: Mapping[Pair, float],
    *,
    event_id: str,
    issued_at: datetime,
) -> DatingSchedule:
    """The optimal schedule of ``request`` given the pairs' ``scores`` (missing pairs: 0).

    Raises :class:`DatingInfeasible` when the must-meet pairs cannot all be met.
    """
    problems = infeasibilities(request)
    if problems:
        raise DatingInfeasible(problems)
    started = time.perf_counter()
    problem = _Problem.of(request, scores)
    seats = seat_dates(request, _solve(problem))
    solve_seconds = time.perf_counter() - started
    started = time.perf_counter()
    baseline = _greedy(problem)
    greedy_seconds = time.perf_counter() - started

    names = {c.company_id: c.name for c in request.companies}
    must_meet = {(p.student_id, p.company_id) for p in request.must_meet}
    dates = []
    for slot, table, pair in seats:
        starts_at, ends_at = request.slot_times(slot)
        dates.append(
            ScheduledDate(
                slot=slot,
                starts_at=starts_at,
                ends_at=ends_at,
                table=table,
                student_id=pair[0],
                company_id=pair[1],
                company_name=names[pair[1]],
                score=scores.get(pair, 0.0),
                must_meet=pair in must_meet,
            )
        )
    totals = ScheduleTotals(
        score=round(sum(d.score for d in dates), 4),
        dates=len(dates),
        capacity=sum(problem.company_capacity),
        students=len(request.students),
        students_with_a_date=len({d.student_id for d in dates}),
        greedy_score=round(sum(scores.get(pair, 0.0) for pair in baseline), 4),
        greedy_dates=len(baseline),
        greedy_students_with_a_date=len({s for s, _ in baseline}),
        solve_seconds=round(solve_seconds, 4),
        greedy_seconds=round(greedy_seconds, 4),
    )
    return build_schedule(
        request,
        dates,
        totals,
        event_id=event_id,
        issued_at=issued_at,
        notes=_notes(request, totals),
    )


def _notes(request: DatingEventRequest, totals: ScheduleTotals) -> list[str]:
    notes = []
    usable = len(request.usable_slots)
    missing = totals.students - totals.students_with_a_date
    if missing:
        notes.append(
            f"{_plural(missing, 'student')} of {totals.students} get no date: the companies "
            f"have {_plural(totals.capacity, 'date')} in all (tables × usable slots), not "
            f"enough for one each after the must-meet pairs"
        )
    capped = sum(1 for s in request.students if s.max_dates > usable)
    if capped:
        notes.append(
            f"{_plural(capped, 'student')} wanted more dates than the "
            f"{_plural(usable, 'usable slot')}: they can have at most {usable}"
        )
    return notes


def build_schedule(
    request: DatingEventRequest,
    dates: Sequence[ScheduledDate],
    totals: ScheduleTotals,
    *,
    event_id: str,
    issued_at: datetime,
    notes: Sequence[str] = (),
) -> DatingSchedule:
    """The schedule with every participant's agenda, from its dates."""
    breaks = set(request.breaks)
    slots = []
    for number in range(1, len(request.slot_starts) + 1):
        starts_at, ends_at = request.slot_times(number)
        slots.append(
            DatingSlot(
                number=number, starts_at=starts_at, ends_at=ends_at, is_break=number in breaks
            )
        )
    ordered = sorted(dates, key=lambda d: (d.slot, d.company_id, d.table))
    of_student: dict[str, list[AgendaEntry]] = defaultdict(list)
    of_company: dict[str, list[AgendaEntry]] = defaultdict(list)
    for date in ordered:
        common = {
            "slot": date.slot,
            "starts_at": date.starts_at,
            "ends_at": date.ends_at,
            "table": date.table,
            "score": date.score,
            "must_meet": date.must_meet,
        }
        of_student[date.student_id].append(
            AgendaEntry(
                counterpart_id=date.company_id, counterpart_name=date.company_name, **common
            )
        )
        of_company[date.company_id].append(AgendaEntry(counterpart_id=date.student_id, **common))
    return DatingSchedule(
        event_id=event_id,
        name=request.name,
        venue=request.venue,
        issued_at=issued_at,
        slot_minutes=request.slot_minutes,
        slots=slots,
        dates=ordered,
        students=[
            Agenda(
                participant_kind="student",
                participant_id=s.student_id,
                dates=of_student[s.student_id],
            )
            for s in request.students
        ],
        companies=[
            Agenda(
                participant_kind="company",
                participant_id=c.company_id,
                name=c.name,
                dates=of_company[c.company_id],
            )
            for c in request.companies
        ],
        totals=totals,
        notes=list(notes),
    )


# -- files ------------------------------------------------------------------------------

CSV_COLUMNS = (
    "slot",
    "starts_at",
    "ends_at",
    "company_id",
    "company_name",
    "table",
    "student_id",
    "score",
    "must_meet",
)


def schedule_csv(schedule: DatingSchedule) -> str:
    """The whole schedule as CSV, one date a row, by slot, company and table."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for date in schedule.dates:
        writer.writerow(
            (
                date.slot,
                date.starts_at.isoformat(),
                date.ends_at.isoformat(),
                date.company_id,
                date.company_name or "",
                date.table,
                date.student_id,
                f"{date.score:.4f}",
                "yes" if date.must_meet else "no",
            )
        )
    return out.getvalue()


def agenda_ics(schedule: DatingSchedule, agenda: Agenda) -> str:
    """One participant's agenda as an iCalendar (RFC 5545) file, times in UTC.

    A date has the same UID in the student's and in the company's file.
    """
    who = agenda.name or agenda.participant_id
    calendar = Calendar.new(
        prodid="-//Interlocality//Company Dating//EN",
        method="PUBLISH",
        name=f"{schedule.name}: {who}",
    )
    for entry in agenda.dates:
        if agenda.participant_kind == "student":
            company_id = entry.counterpart_id
            summary = entry.counterpart_name or entry.counterpart_id
        else:
            company_id = agenda.participant_id
            summary = f"student {entry.counterpart_id}"
        place = f"table {entry.table}"
        event = Event.new(
            uid=f"{schedule.event_id}.{entry.slot}.{company_id}.{entry.table}@interlocality",
            stamp=schedule.issued_at,
            start=entry.starts_at.astimezone(UTC),
            end=entry.ends_at.astimezone(UTC),
            summary=f"{schedule.name}: {summary}",
            location=f"{schedule.venue}, {place}" if schedule.venue else place,
            description=f"Slot {entry.slot}, {place}. Match score {entry.score:.2f}."
            + (" The organisers asked for this meeting." if entry.must_meet else ""),
        )
        calendar.add_component(event)
    return str(calendar.to_ical().decode())
