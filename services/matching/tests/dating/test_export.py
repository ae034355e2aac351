"""Company Dating files: the schedule as CSV, agendas as iCalendar files, and their names."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from interlocality.matching.dating.export import (
    FILE_NAME_PART_BYTES,
    agenda_file_name,
    agenda_ics,
    download_name,
    schedule_csv,
    schedule_file_name,
)
from interlocality.matching.dating.models import (
    DatingCompany,
    DatingEventRequest,
    DatingSchedule,
    DatingStudent,
)

Scores = dict[tuple[str, str], float]
Body = Callable[..., dict[str, Any]]
EventRequest = Callable[..., DatingEventRequest]
Plan = Callable[[DatingEventRequest, Scores], DatingSchedule]


@pytest.fixture
def schedule(event_request: EventRequest, planned: Plan) -> DatingSchedule:
    event = event_request(
        slots=4,
        breaks=[2],
        companies={"nordlys": 2, "vestas": 1},
        students={"kwame": 2, "ana": 3, "li": 1},
        must_meet=[("li", "vestas")],
    )
    scores = {("kwame", "nordlys"): 0.75, ("ana", "nordlys"): 0.5, ("ana", "vestas"): 0.9}
    return planned(event, scores)


def test_the_csv_lists_every_date(schedule: DatingSchedule) -> None:
    rows = list(csv.DictReader(io.StringIO(schedule_csv(schedule))))
    assert [
        (int(r["slot"]), r["company_id"], int(r["table"]), r["student_id"], float(r["score"]))
        for r in rows
    ] == [(d.slot, d.company_id, d.table, d.student_id, d.score) for d in schedule.dates]
    assert {r["must_meet"] for r in rows if r["student_id"] == "li"} == {"yes"}
    assert datetime.fromisoformat(rows[0]["starts_at"]) == schedule.dates[0].starts_at
    assert {r["company_name"] for r in rows} == {"NORDLYS ApS", "VESTAS ApS"}


def test_each_agenda_is_a_calendar_with_its_dates(schedule: DatingSchedule) -> None:
    ana = schedule.agenda("student", "ana")
    nordlys = schedule.agenda("company", "nordlys")
    assert ana is not None and nordlys is not None
    student_calendar = Calendar.from_ical(agenda_ics(schedule, ana))
    company_calendar = Calendar.from_ical(agenda_ics(schedule, nordlys))
    events = student_calendar.walk("VEVENT")
    assert len(events) == len(ana.dates) == 2
    for event, entry in zip(events, ana.dates, strict=True):
        assert event.decoded("DTSTART") == entry.starts_at
        assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=8)
        assert f"table {entry.table}" in str(event["LOCATION"])
        assert str(event["LOCATION"]).startswith("Navitas")
    assert {str(e["SUMMARY"]) for e in events} == {
        "Company Dating Aarhus: NORDLYS ApS",
        "Company Dating Aarhus: VESTAS ApS",
    }
    # The same meeting has the same UID in both calendars.
    shared = {str(e["UID"]) for e in events} & {
        str(e["UID"]) for e in company_calendar.walk("VEVENT")
    }
    assert len(shared) == 1
    assert {str(e["SUMMARY"]) for e in company_calendar.walk("VEVENT")} == {
        "Company Dating Aarhus: student kwame",
        "Company Dating Aarhus: student ana",
    }


# Names as people write them: every ASCII punctuation mark, letters of the region's
# languages, other scripts, four-byte characters, and the longest names accepted, with
# multi-byte characters where lines are folded.
ACCEPTED_NAMES = [
    "Ærø Café ApS",
    "Nuñez & Yılmaz, Rådgivning; Øst",
    r"Sales\North, R&D\new; C:\Users\Ærø\N",
    r"""Back\slash "quoted" ApS: a/b <c> {d} [e] |f| ~g^ `h` 'i' #1 $2 %3 *4 +5 =6 ?7 !8 @9""",
    "İstanbul Şirketi — Ğüç Çalışma",
    "王芳咨询 🚀 Консалтинг",
    "x" * 72 + "é" * 128,
    "y" * 73 + "🚀" * 127,
    ("Smørrebrød, Søn; " * 12)[:200].strip(),
]


def escaped(text: str) -> str:
    """TEXT as RFC 5545 (3.3.11) writes it."""
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")


def assert_rfc_5545(text: str) -> list[str]:
    """The content lines of an iCalendar file that keeps RFC 5545's rules, unfolded."""
    lines = text.encode().split(b"\r\n")
    assert lines.pop() == b"", "the file ends with CRLF"
    for line in lines:
        assert len(line) <= 75, line  # octets, excluding the line break
        line.decode("utf-8")  # folding never splits a character
        assert not re.search(rb"[\x00-\x1f\x7f]", line), line
    return text.replace("\r\n ", "").split("\r\n")


@pytest.mark.parametrize("name", ACCEPTED_NAMES)
def test_calendars_hold_any_accepted_name_escaped_and_folded(
    name: str, valid_body: Body, planned: Plan
) -> None:
    body = valid_body(
        name=name,
        venue=name,
        companies=[{"company_id": "c-1", "name": name}],
        students=[{"student_id": "s-1", "max_dates": 1}],
    )
    schedule = planned(DatingEventRequest.model_validate(body), {("s-1", "c-1"): 0.5})
    [student] = schedule.students
    unfolded = assert_rfc_5545(agenda_ics(schedule, student))
    assert f"NAME:{escaped(f'{name}: s-1')}" in unfolded
    assert f"X-WR-CALNAME:{escaped(f'{name}: s-1')}" in unfolded
    [event] = Calendar.from_ical(agenda_ics(schedule, student)).walk("VEVENT")
    assert str(event["SUMMARY"]) == f"{name}: {name}"
    assert str(event["LOCATION"]) == f"{name}, table 1"


@pytest.mark.parametrize("name", ACCEPTED_NAMES)
def test_a_company_calendar_names_the_students_it_meets(
    name: str, valid_body: Body, planned: Plan
) -> None:
    body = valid_body(
        name="Company Dating Aarhus",
        companies=[{"company_id": "c-1", "name": name}],
        students=[{"student_id": "s-1", "name": name, "max_dates": 1}],
    )
    schedule = planned(DatingEventRequest.model_validate(body), {("s-1", "c-1"): 0.5})
    # The student's calendar shows the company, the company's the student: both are "name".
    for agenda in (*schedule.students, *schedule.companies):
        text = agenda_ics(schedule, agenda)
        unfolded = assert_rfc_5545(text)
        title = f"Company Dating Aarhus: {name}"
        assert f"NAME:{escaped(title)}" in unfolded
        [event] = Calendar.from_ical(text).walk("VEVENT")
        assert str(event["SUMMARY"]) == title


def test_a_stored_schedule_with_control_characters_still_makes_a_calendar(
    start: datetime, planned: Plan
) -> None:
    # Stored events are loaded without validation, as they were accepted once.
    stored = DatingEventRequest.model_construct(
        name="Company\nDating",
        venue="Navitas\x0b",
        slot_minutes=8,
        slot_starts=[start],
        breaks=[],
        companies=[
            DatingCompany.model_construct(company_id="c\n1", name="Nordlys\r\nApS", tables=1)
        ],
        students=[DatingStudent.model_construct(student_id="s\x001", name=None, max_dates=1)],
        must_meet=[],
    )
    schedule = planned(stored, {})
    student = Calendar.from_ical(agenda_ics(schedule, schedule.students[0]))
    company = Calendar.from_ical(agenda_ics(schedule, schedule.companies[0]))
    assert str(student.walk("VEVENT")[0]["SUMMARY"]) == "Company Dating: Nordlys ApS"
    assert str(company.walk("VEVENT")[0]["SUMMARY"]) == "Company Dating: student s 1"


@pytest.mark.parametrize(
    ("who", "name", "ascii_name"),
    [
        ("Lucía Romero", "Lucía Romero", "Lucia Romero"),
        ("Ærø Café ApS", "Ærø Café ApS", "AEro Cafe ApS"),
        ("Kübra Yılmaz", "Kübra Yılmaz", "Kubra Yilmaz"),
        ('Smørrebrød/Søn: 100% "best"?', "Smørrebrød Søn 100% best", "Smorrebrod Son 100 best"),
        ("..hidden. ", "hidden", "hidden"),
        ("王芳", "王芳", "s-1"),
    ],
)
def test_agenda_files_are_named_by_the_event_and_the_participant(
    who: str, name: str, ascii_name: str, valid_body: Body, planned: Plan
) -> None:
    body = valid_body(students=[{"student_id": "s-1", "name": who, "max_dates": 1}])
    schedule = planned(DatingEventRequest.model_validate(body), {})
    [agenda] = schedule.students
    assert agenda_file_name(schedule, agenda) == f"Company Dating Aarhus - {name}.ics"
    ascii = agenda_file_name(schedule, agenda, ascii_only=True)
    assert ascii == f"Company Dating Aarhus - {ascii_name}.ics"
    assert schedule_file_name(schedule) == "Company Dating Aarhus - schedule.csv"


def test_long_names_make_file_names_file_systems_keep() -> None:
    longest = "Ø" + "é" * 199
    name = download_name([longest, longest], ".ics")
    assert len(name.encode()) <= 2 * FILE_NAME_PART_BYTES + len(" - .ics")
    assert name.startswith("Øéé") and name.endswith("é.ics")
    assert download_name(["///", "\n"], ".csv") == "Company Dating.csv"


def test_the_csv_keeps_names_from_being_run_as_formulas(valid_body: Body, planned: Plan) -> None:
    body = valid_body(
        companies=[{"company_id": "a", "name": '=HYPERLINK("http://example.org")'}],
        students=[{"student_id": "s1", "name": "@SUM(1+1)", "max_dates": 1}],
    )
    schedule = planned(DatingEventRequest.model_validate(body), {})
    [row] = csv.DictReader(io.StringIO(schedule_csv(schedule)))
    assert row["company_name"] == '\'=HYPERLINK("http://example.org")'
    assert row["student_name"] == "'@SUM(1+1)"
