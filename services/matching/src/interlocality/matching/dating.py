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
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Annotated, Literal

import numpy as np
from icalendar import Calendar, Event, vText
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import coo_array, csr_array

from interlocality.common.text import plain_letters

__all__ = [
    "FILE_NAME_PART_BYTES",
    "MAX_COMPANIES",
    "MAX_SLOTS",
    "MAX_STUDENTS",
    "ONE_LINE_PATTERN",
    "SLOT_START_GRACE",
    "SLOT_START_HORIZON",
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
    "UnknownParticipant",
    "agenda_file_name",
    "agenda_ics",
    "build_schedule",
    "download_name",
    "exact_pairs",
    "greedy_pairs",
    "infeasibilities",
    "most_students_with_a_date",
    "plan_dating_event",
    "schedule_csv",
    "schedule_file_name",
    "seat_dates",
    "unknown_participants",
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

# What is no part of one line of text: C0 and C1 controls (tab and line breaks among them)
# and the Unicode line and paragraph separators. Names and ids end up in calendar files,
# CSV rows, file names and e-mail, where each of these breaks something.
_NOT_ONE_LINE = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
ONE_LINE_PATTERN = f"^[^{_NOT_ONE_LINE}]*$"
# Lone surrogates, which JSON can escape but UTF-8 cannot hold, are refused as well.
_LINE_BREAKER = re.compile(rf"[{_NOT_ONE_LINE}\ud800-\udfff]+")
_CHARACTER_NAMES = {
    "\t": "a tab",
    "\n": "a line break",
    "\r": "a carriage return",
    "\u2028": "a line separator (U+2028)",
    "\u2029": "a paragraph separator (U+2029)",
}


def _character_name(character: str) -> str:
    if character in _CHARACTER_NAMES:
        return _CHARACTER_NAMES[character]
    if "\ud800" <= character <= "\udfff":
        return f"a lone surrogate (U+{ord(character):04X})"
    return f"the control character U+{ord(character):04X}"


def _one_line(value: str) -> str:
    found = _LINE_BREAKER.search(value)
    if found is not None:
        raise PydanticCustomError(
            "not_one_line",
            "should be one line of text without control characters, but has {character} "
            "at position {position}",
            {"character": _character_name(found.group()[0]), "position": found.start() + 1},
        )
    return value


def _not_blank(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise PydanticCustomError("blank", "should not be blank")
    return stripped


_ONE_LINE_SCHEMA = Field(json_schema_extra={"pattern": ONE_LINE_PATTERN})
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_one_line),
    AfterValidator(_not_blank),
    _ONE_LINE_SCHEMA,
]
"""A name people read: one line without control characters, not blank; surrounding
spaces are dropped."""
Venue = Annotated[
    str,
    StringConstraints(min_length=1, max_length=300),
    AfterValidator(_one_line),
    AfterValidator(_not_blank),
    _ONE_LINE_SCHEMA,
]
"""Where an event takes place, a name of up to 300 characters."""
ParticipantId = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_one_line), _ONE_LINE_SCHEMA
]
"""A student's or a company's id in this region: one line without control characters."""
Count = Annotated[int, Strict()]
"""A whole number, given as one: not ``"2"``, ``2.0`` or ``true``."""

# A slot may start a little before the request (an event being planned as it begins), and
# events are planned at most this far ahead: anything else is a mistyped date.
SLOT_START_GRACE = timedelta(hours=1)
SLOT_START_HORIZON = timedelta(days=2 * 365)
_DATE_TIME_TEXT = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})"
)


def _date_time_text(value: object) -> object:
    # pydantic also takes numbers (and numeric text) as Unix times: 0 would be 1970.
    if isinstance(value, datetime) or (isinstance(value, str) and _DATE_TIME_TEXT.fullmatch(value)):
        return value
    raise PydanticCustomError(
        "date_time_text",
        "should be a date and time with its UTC offset, such as 2027-03-12T14:00:00+01:00",
    )


def _bookable(start: datetime) -> datetime:
    now = datetime.now(UTC)
    if start < now - SLOT_START_GRACE:
        raise PydanticCustomError(
            "slot_start_past",
            "starts at {start}, in the past: a slot may start at most an hour before now ({now})",
            {"start": start.isoformat(), "now": now.isoformat(timespec="minutes")},
        )
    if start > now + SLOT_START_HORIZON:
        raise PydanticCustomError(
            "slot_start_too_far",
            "starts at {start}, more than two years from now ({now}): events are planned "
            "at most two years ahead",
            {"start": start.isoformat(), "now": now.isoformat(timespec="minutes")},
        )
    return start


SlotStart = Annotated[AwareDatetime, BeforeValidator(_date_time_text), AfterValidator(_bookable)]
"""When a slot starts: ISO 8601 with an offset, from an hour ago to two years ahead."""


class DatingCompany(BaseModel):
    """A company at the event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    company_id: Annotated[
        ParticipantId,
        Field(
            title="Company id",
            description="The company's id in this region, as matching knows it.",
        ),
    ]
    name: Annotated[
        Name | None,
        Field(
            title="Name",
            description="Shown to the students it meets and in its file names.",
        ),
    ] = None
    tables: Annotated[
        Count,
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
        ParticipantId,
        Field(
            title="Student id",
            description="The student's id in this region; matching must know the student "
            "(registered and consenting to matching).",
        ),
    ]
    name: Annotated[
        Name | None,
        Field(
            title="Name",
            description="Shown to the companies the student meets and in the student's file names.",
        ),
    ] = None
    max_dates: Annotated[
        Count,
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
        ParticipantId, Field(title="Student id", description="A student of the event.")
    ]
    company_id: Annotated[
        ParticipantId, Field(title="Company id", description="A company of the event.")
    ]


class DatingEventRequest(BaseModel):
    """A Company Dating event as the operator describes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[Name, Field(title="Name", description="What the event is called.")]
    venue: Annotated[
        Venue | None, Field(title="Venue", description="Where the event takes place.")
    ] = None
    slot_minutes: Annotated[
        Count,
        Field(title="Slot length", description="Minutes of one date.", ge=1, le=240),
    ]
    slot_starts: Annotated[
        list[SlotStart],
        Field(
            title="Slot starts",
            description="When each slot starts, in order, as a date and time with its UTC "
            "offset (2027-03-12T14:00:00+01:00); slot numbers count from 1 in this order. "
            "Every slot starts at most an hour before now and at most two years from now.",
            min_length=1,
            max_length=MAX_SLOTS,
        ),
    ]
    breaks: Annotated[
        list[Count],
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
            description="The companies at the event, each known to matching (registered in "
            "this region).",
            min_length=1,
            max_length=MAX_COMPANIES,
        ),
    ]
    students: Annotated[
        list[DatingStudent],
        Field(
            title="Students",
            description="The students registered for the event, each known to matching "
            "(registered and consenting to matching).",
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
    student_name: Annotated[
        str | None, Field(title="Student name", description="As the operator gave it.")
    ] = None
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
        str | None,
        Field(title="Counterpart name", description="The company's or student's name, if given."),
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
    name: Annotated[
        str | None, Field(title="Name", description="The participant's name, if given.")
    ] = None
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


# -- files ------------------------------------------------------------------------------

CSV_COLUMNS = (
    "slot",
    "starts_at",
    "ends_at",
    "company_id",
    "company_name",
    "table",
    "student_id",
    "student_name",
    "score",
    "must_meet",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@")


def _spreadsheet_text(value: str | None) -> str:
    if value and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value or ""


def schedule_csv(schedule: DatingSchedule) -> str:
    """The whole schedule as CSV, one date a row, by slot, company and table.

    Names and ids that a spreadsheet would take for a formula start with an apostrophe.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for date in schedule.dates:
        writer.writerow(
            (
                date.slot,
                date.starts_at.isoformat(),
                date.ends_at.isoformat(),
                _spreadsheet_text(date.company_id),
                _spreadsheet_text(date.company_name),
                date.table,
                _spreadsheet_text(date.student_id),
                _spreadsheet_text(date.student_name),
                f"{date.score:.4f}",
                "yes" if date.must_meet else "no",
            )
        )
    return out.getvalue()


class _CalendarText(vText):
    """TEXT written as RFC 5545 (3.3.11) says.

    icalendar's own writer takes a backslash before "N" for a line break, so that
    "C:\\New" would come back as two lines; this one escapes every backslash.
    """

    def to_ical(self) -> bytes:
        escaped = self.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        return escaped.encode()


def _calendar_text(value: str) -> _CalendarText:
    # TEXT has no way to write control characters. Requests refuse them; events stored
    # before that have them replaced, so that every stored schedule can be written.
    return _CalendarText(_LINE_BREAKER.sub(" ", value))


def agenda_ics(schedule: DatingSchedule, agenda: Agenda) -> str:
    """One participant's agenda as an iCalendar (RFC 5545) file, times in UTC.

    Text is escaped and long lines are folded at 75 octets, never inside a character. A
    date has the same UID in the student's and in the company's file, and the same agenda
    gives the same file.
    """
    who = agenda.name or agenda.participant_id
    calendar = Calendar()
    calendar.add("PRODID", "-//Interlocality//Company Dating//EN")
    calendar.add("VERSION", "2.0")
    calendar.add("METHOD", "PUBLISH")
    title = _calendar_text(f"{schedule.name}: {who}")
    calendar.add("NAME", title)
    calendar.add("X-WR-CALNAME", title)
    for entry in agenda.dates:
        if agenda.participant_kind == "student":
            company_id = entry.counterpart_id
            summary = entry.counterpart_name or entry.counterpart_id
        else:
            company_id = agenda.participant_id
            summary = entry.counterpart_name or f"student {entry.counterpart_id}"
        place = f"table {entry.table}"
        event = Event()
        uid = f"{schedule.event_id}.{entry.slot}.{company_id}.{entry.table}@interlocality"
        event.add("UID", _calendar_text(uid))
        event.add("DTSTAMP", schedule.issued_at.astimezone(UTC))
        event.add("DTSTART", entry.starts_at.astimezone(UTC))
        event.add("DTEND", entry.ends_at.astimezone(UTC))
        event.add("SUMMARY", _calendar_text(f"{schedule.name}: {summary}"))
        location = f"{schedule.venue}, {place}" if schedule.venue else place
        event.add("LOCATION", _calendar_text(location))
        description = f"Slot {entry.slot}, {place}. Match score {entry.score:.2f}." + (
            " The organisers asked for this meeting." if entry.must_meet else ""
        )
        event.add("DESCRIPTION", _calendar_text(description))
        calendar.add_component(event)
    return calendar.to_ical().decode()


# What no file system or browser keeps in a file name, besides what is no text.
_NOT_IN_FILE_NAMES = re.compile(rf'[\\/:*?"<>|{_NOT_ONE_LINE}\ud800-\udfff]+')
# Each part of a file name keeps at most this many bytes of UTF-8: two parts, " - " and
# the extension stay well under the 255 bytes file systems allow.
FILE_NAME_PART_BYTES = 100


def _file_name_part(text: str, ascii_only: bool) -> str:
    if ascii_only:
        # Some clients read %XX in the plain file name as an escape (RFC 6266, appendix D).
        text = plain_letters(text).encode("ascii", "ignore").decode().replace("%", " ")
    words = " ".join(_NOT_IN_FILE_NAMES.sub(" ", text).split())
    return words.encode()[:FILE_NAME_PART_BYTES].decode(errors="ignore").strip(" .")


def download_name(parts: Sequence[str], extension: str, *, ascii_only: bool = False) -> str:
    """A file name a person recognises in a downloads folder: ``parts`` joined by " - ".

    Characters no file system keeps are replaced by spaces and each part is shortened to
    :data:`FILE_NAME_PART_BYTES`; ``ascii_only`` gives the plain ASCII form for clients that
    cannot read an RFC 6266 ``filename*`` (letters lose their accents, "Æ" becomes "AE").
    """
    kept = [part for part in (_file_name_part(p, ascii_only) for p in parts) if part]
    return " - ".join(kept or ["Company Dating"]) + extension


def agenda_file_name(schedule: DatingSchedule, agenda: Agenda, *, ascii_only: bool = False) -> str:
    """ "Company Dating Aarhus - Lucía Romero.ics": the event, then whose agenda it is."""
    who = agenda.name or agenda.participant_id
    if ascii_only and not _file_name_part(who, ascii_only):
        who = agenda.participant_id  # a name in another script: its id says more than nothing
    return download_name([schedule.name, who], ".ics", ascii_only=ascii_only)


def schedule_file_name(schedule: DatingSchedule, *, ascii_only: bool = False) -> str:
    """ "Company Dating Aarhus - schedule.csv"."""
    return download_name([schedule.name, "schedule"], ".csv", ascii_only=ascii_only)
