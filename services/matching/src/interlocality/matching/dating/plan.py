"""Planning a Company Dating event: why a request cannot be planned, the optimal schedule
on the pairs' scores, and every participant's agenda.

Pure functions over plain data: scores come in as a mapping, the schedule goes out as models.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime

from interlocality.matching.dating.models import (
    Agenda,
    AgendaEntry,
    DatingEventRequest,
    DatingSchedule,
    DatingSlot,
    Pair,
    ParticipantKind,
    ScheduledDate,
    ScheduleTotals,
)
from interlocality.matching.dating.solver import (
    PairingProblem,
    SolveTimedOut,
    greedy_baseline,
    optimal_pairs,
    seat_dates,
)

__all__ = [
    "DatingInfeasible",
    "Infeasibility",
    "UnknownParticipant",
    "build_schedule",
    "infeasibilities",
    "plan_dating_event",
    "unknown_participants",
]

# -- participants matching does not know ------------------------------------------------

# What matching must hold on a participant for it to take part.
_KNOWN_AS = {
    "student": "registered and consenting to matching",
    "company": "registered in this region",
}


@dataclass(frozen=True)
class UnknownParticipant:
    """A place where the request names a student or company that matching does not know."""

    field: tuple[str | int, ...]
    message: str
    kind: ParticipantKind
    participant_id: str


def unknown_participants(
    request: DatingEventRequest, known_students: AbstractSet[str], known_companies: AbstractSet[str]
) -> list[UnknownParticipant]:
    """Every place ``request`` names a participant missing from the known ids, in order.

    A schedule for them would send agendas to nobody, so each is refused where it is named:
    in the list of students or companies and in the must-meet pairs.
    """
    known = {"student": known_students, "company": known_companies}

    def unknown(
        field: tuple[str | int, ...], kind: ParticipantKind, value: str
    ) -> list[UnknownParticipant]:
        if value in known[kind]:
            return []
        message = f"no {kind} '{value}' is known to matching here ({_KNOWN_AS[kind]})"
        return [UnknownParticipant(("body", *field), message, kind, value)]

    found = []
    for index, student in enumerate(request.students):
        found += unknown(("students", index, "student_id"), "student", student.student_id)
    for index, company in enumerate(request.companies):
        found += unknown(("companies", index, "company_id"), "company", company.company_id)
    for index, pair in enumerate(request.must_meet):
        found += unknown(("must_meet", index, "student_id"), "student", pair.student_id)
        found += unknown(("must_meet", index, "company_id"), "company", pair.company_id)
    return found


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


# -- the whole schedule -----------------------------------------------------------------


def plan_dating_event(
    request: DatingEventRequest,
    scores: Mapping[Pair, float],
    *,
    event_id: str,
    issued_at: datetime,
    time_limit: float | None = None,
) -> DatingSchedule:
    """The optimal schedule of ``request`` given the pairs' ``scores`` (missing pairs: 0).

    When the exact solver proves no optimum within ``time_limit`` seconds (``None``: no
    limit), the schedule is the greedy baseline's, which is always valid, and its totals and
    notes say it is not proven optimal. Raises :class:`DatingInfeasible` when the must-meet
    pairs cannot all be met.
    """
    problems = infeasibilities(request)
    if problems:
        raise DatingInfeasible(problems)
    started = time.perf_counter()
    problem = PairingProblem.of(request, scores)
    baseline = greedy_baseline(problem)
    greedy_seconds = time.perf_counter() - started
    started = time.perf_counter()
    try:
        chosen, optimal = optimal_pairs(problem, time_limit), True
    except SolveTimedOut:
        chosen, optimal = baseline, False
    seats = seat_dates(request, chosen)
    solve_seconds = time.perf_counter() - started

    company_names = {c.company_id: c.name for c in request.companies}
    student_names = {s.student_id: s.name for s in request.students}
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
                student_name=student_names[pair[0]],
                company_id=pair[1],
                company_name=company_names[pair[1]],
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
        optimal=optimal,
    )
    return build_schedule(
        request,
        dates,
        totals,
        event_id=event_id,
        issued_at=issued_at,
        notes=_notes(request, totals, time_limit),
    )


def _notes(
    request: DatingEventRequest, totals: ScheduleTotals, time_limit: float | None
) -> list[str]:
    notes = []
    if not totals.optimal:
        notes.append(
            f"the exact solver found no optimal schedule within its limit of {time_limit:g} s "
            f"(dating_solve_seconds): these are the greedy baseline's dates (best remaining "
            f"pair first), valid but not proven optimal"
        )
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
        of_company[date.company_id].append(
            AgendaEntry(
                counterpart_id=date.student_id, counterpart_name=date.student_name, **common
            )
        )
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
                name=s.name,
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
