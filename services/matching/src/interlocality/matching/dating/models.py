"""What an operator asks of a Company Dating event, and the schedule that answers it.

The request refuses what would break a calendar, a CSV row or a file name (names on more
than one line, control characters) and slots that cannot be meant (in the past, years
ahead); the schedule lists every date and every participant's agenda.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Annotated, Literal

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

__all__ = [
    "LINE_BREAKER",
    "MAX_COMPANIES",
    "MAX_SLOTS",
    "MAX_STUDENTS",
    "MAX_TABLES",
    "NOT_ONE_LINE",
    "ONE_LINE_PATTERN",
    "SLOT_START_GRACE",
    "SLOT_START_HORIZON",
    "Agenda",
    "AgendaEntry",
    "DatingCompany",
    "DatingEventRequest",
    "DatingSchedule",
    "DatingSlot",
    "DatingStudent",
    "MustMeet",
    "Pair",
    "ParticipantKind",
    "ScheduleTotals",
    "ScheduledDate",
]

MAX_SLOTS = 48
MAX_TABLES = 20
MAX_COMPANIES = 200
MAX_STUDENTS = 2000

ParticipantKind = Literal["student", "company"]
Pair = tuple[str, str]
"""A (student id, company id) pair."""


# -- the request ------------------------------------------------------------------------

# What is no part of one line of text: C0 and C1 controls (tab and line breaks among them)
# and the Unicode line and paragraph separators. Names and ids end up in calendar files,
# CSV rows, file names and e-mail, where each of these breaks something.
NOT_ONE_LINE = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
ONE_LINE_PATTERN = f"^[^{NOT_ONE_LINE}]*$"
# Lone surrogates, which JSON can escape but UTF-8 cannot hold, are refused as well.
LINE_BREAKER = re.compile(rf"[{NOT_ONE_LINE}\ud800-\udfff]+")
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
    found = LINE_BREAKER.search(value)
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
    optimal: Annotated[
        bool,
        Field(
            title="Proven optimal",
            description="Whether the exact solver proved the schedule optimal; false when it "
            "hit its time limit and the schedule is the greedy baseline's.",
        ),
    ] = True


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
