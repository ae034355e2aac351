"""Company Dating schedules: optimal, within every constraint, explained when impossible."""

from __future__ import annotations

import csv
import io
import itertools
import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from icalendar import Calendar
from pydantic import ValidationError
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

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
from interlocality.matching.dating.plan import DatingInfeasible, plan_dating_event
from interlocality.matching.dating.solver import _integral_optimum, greedy_pairs, seat_dates

# Slots must lie between an hour ago and two years ahead: a month from now.
START = (datetime.now(UTC) + timedelta(days=30)).replace(hour=14, minute=0, second=0, microsecond=0)
Scores = dict[tuple[str, str], float]


def request(
    *,
    slots: int = 3,
    breaks: list[int] | None = None,
    companies: dict[str, int],
    students: dict[str, int],
    must_meet: list[tuple[str, str]] | None = None,
    **extra: Any,
) -> DatingEventRequest:
    return DatingEventRequest.model_validate(
        {
            "name": "Company Dating Aarhus",
            "venue": "Navitas, Inge Lehmanns Gade 10",
            "slot_minutes": 8,
            "slot_starts": [(START + timedelta(minutes=10 * k)).isoformat() for k in range(slots)],
            "breaks": breaks or [],
            "companies": [
                {"company_id": c, "name": f"{c.upper()} ApS", "tables": t}
                for c, t in companies.items()
            ],
            "students": [{"student_id": s, "max_dates": m} for s, m in students.items()],
            "must_meet": [{"student_id": s, "company_id": c} for s, c in must_meet or []],
            **extra,
        }
    )


def plan(event: DatingEventRequest, scores: Scores) -> DatingSchedule:
    return plan_dating_event(event, scores, event_id="cd-1", issued_at=START - timedelta(days=7))


def random_event(
    rng: random.Random, students: int, companies: int, max_dates: int = 2, most_slots: int = 3
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
    event = request(
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
def test_the_schedule_is_optimal_on_small_events(seed: int) -> None:
    rng = random.Random(seed)
    event, scores = random_event(rng, students=rng.randint(2, 5), companies=rng.randint(2, 3))
    schedule = plan(event, scores)
    assert_valid(event, schedule)
    covered, total = best_by_brute_force(event, scores)
    assert schedule.totals.students_with_a_date == covered
    assert schedule.totals.score == pytest.approx(total, abs=1e-9)


@pytest.mark.parametrize("seed", range(20))
def test_larger_schedules_are_optimal_valid_and_never_worse_than_greedy(seed: int) -> None:
    rng = random.Random(1000 + seed)
    event, scores = random_event(rng, students=30, companies=8, max_dates=4, most_slots=8)
    schedule = plan(event, scores)
    assert_valid(event, schedule)
    totals = schedule.totals
    assert (totals.students_with_a_date, totals.score) == best_by_textbook_milp(event, scores)
    assert totals.score >= totals.greedy_score
    assert totals.students_with_a_date == totals.greedy_students_with_a_date
    baseline = greedy_pairs(event, scores)
    assert round(sum(scores.get(p, 0.0) for p in baseline), 4) == totals.greedy_score
    # The baseline keeps the same constraints, so it is a schedule too.
    assert len(seat_dates(event, baseline)) == len(baseline)


def test_greedy_takes_the_best_pair_and_loses_the_better_total() -> None:
    event = request(slots=1, companies={"a": 1, "b": 1}, students={"s1": 1, "s2": 1})
    scores = {("s1", "a"): 0.9, ("s1", "b"): 0.8, ("s2", "a"): 0.85}
    schedule = plan(event, scores)
    assert {(d.student_id, d.company_id) for d in schedule.dates} == {("s1", "b"), ("s2", "a")}
    assert schedule.totals.score == 1.65
    assert greedy_pairs(event, scores) == {("s1", "a"), ("s2", "b")}
    assert schedule.totals.greedy_score == 0.9


def test_every_student_gets_a_date_even_without_any_match() -> None:
    event = request(slots=2, companies={"a": 1, "b": 1}, students={"s1": 2, "s2": 2, "s3": 1})
    scores = {("s1", "a"): 0.9, ("s1", "b"): 0.9, ("s2", "a"): 0.7, ("s2", "b"): 0.6}
    schedule = plan(event, scores)
    assert_valid(event, schedule)
    per_student = Counter(d.student_id for d in schedule.dates)
    assert set(per_student) == {"s1", "s2", "s3"}
    # Four seats: s3's date (worth nothing) costs one of the 0.6-0.9 dates the others wanted.
    assert schedule.totals.score == round(0.9 + 0.9 + 0.7, 4)
    assert schedule.notes == []


def test_a_date_worth_nothing_is_not_scheduled_for_a_student_who_has_one() -> None:
    event = request(slots=3, companies={"a": 1, "b": 1, "c": 1}, students={"s1": 3})
    schedule = plan(event, {("s1", "a"): 0.5})
    assert [(d.company_id, d.score) for d in schedule.dates] == [("a", 0.5)]


def test_when_seats_are_short_most_students_get_one_and_the_schedule_says_so() -> None:
    students = {f"s{i}": 2 for i in range(5)}
    event = request(slots=2, breaks=[1], companies={"a": 1, "b": 2}, students=students)
    scores = {(s, c): 0.1 * (i + 1) for i, s in enumerate(students) for c in ("a", "b")}
    schedule = plan(event, scores)
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


def test_must_meet_pairs_are_met_even_when_they_score_nothing() -> None:
    event = request(
        slots=2,
        companies={"a": 1},
        students={"s1": 1, "s2": 1, "s3": 1},
        must_meet=[("s3", "a")],
    )
    schedule = plan(event, {("s1", "a"): 0.9, ("s2", "a"): 0.8})
    assert {(d.student_id, d.must_meet) for d in schedule.dates} == {("s3", True), ("s1", False)}
    assert schedule.totals.score == 0.9


def test_impossible_must_meet_pairs_are_explained() -> None:
    students = {f"s{i}": 3 for i in range(14)}
    event = request(
        slots=7,
        breaks=[4],
        companies={"nordlys": 2, "b": 1},
        students={**students, "kwame": 2, "ana": 9},
        must_meet=[(s, "nordlys") for s in students]
        + [("kwame", "nordlys"), ("kwame", "b"), ("ana", "b")],
    )
    with pytest.raises(DatingInfeasible) as raised:
        plan(event, {})
    assert [(p.constraint, p.participant_id, p.message) for p in raised.value.problems] == [
        (
            "company_capacity",
            "nordlys",
            "must-meet pairs for company NORDLYS ApS need 15 dates but it has 12 "
            "(2 tables × 6 usable slots)",
        )
    ]

    event = request(
        slots=3,
        breaks=[1],
        companies={"a": 1, "b": 1, "c": 1},
        students={"kwame": 2, "ana": 3},
        must_meet=[(s, c) for s in ("kwame", "ana") for c in ("a", "b", "c")],
    )
    with pytest.raises(DatingInfeasible) as raised:
        plan(event, {})
    assert [(p.constraint, p.message) for p in raised.value.problems] == [
        ("student_max_dates", "student kwame has 3 must-meet pairs but wants at most 2 dates"),
        (
            "student_slots",
            "student ana has 3 must-meet pairs but there are only 2 slots that are not breaks",
        ),
    ]


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        (
            {"slot_minutes": 15},
            "slot_starts",
            f"slot 2 starts at {(START + timedelta(minutes=10)).isoformat()}",
        ),
        ({"breaks": [4]}, "breaks", "break 4 is not a slot number: slots are numbered 1 to 3"),
        ({"breaks": [1, 2, 3]}, "breaks", "every slot is a break"),
        ({"companies": [{"company_id": "a"}, {"company_id": "a"}]}, "companies", "'a' is listed"),
        ({"students": [{"student_id": "s1", "max_dates": 0}]}, "students", "greater than or"),
        (
            {"must_meet": [{"student_id": "s9", "company_id": "a"}]},
            "must_meet",
            "must-meet pair 0 names student 's9', who is not registered",
        ),
        (
            {"must_meet": [{"student_id": "s1", "company_id": "a"}] * 2},
            "must_meet",
            "must-meet pair 1 (s1, a) is listed twice",
        ),
        ({"slot_starts": ["2027-03-12T14:00:00"]}, "slot_starts", "with its UTC offset"),
    ],
)
def test_malformed_requests_name_the_field(change: dict[str, Any], field: str, says: str) -> None:
    body = request(companies={"a": 1}, students={"s1": 1}).model_dump(mode="json")
    with pytest.raises(ValidationError) as raised:
        DatingEventRequest.model_validate({**body, **change})
    [error] = raised.value.errors()
    assert error["loc"][0] == field
    assert says in error["msg"]


@pytest.fixture
def schedule() -> DatingSchedule:
    event = request(
        slots=4,
        breaks=[2],
        companies={"nordlys": 2, "vestas": 1},
        students={"kwame": 2, "ana": 3, "li": 1},
        must_meet=[("li", "vestas")],
    )
    scores = {("kwame", "nordlys"): 0.75, ("ana", "nordlys"): 0.5, ("ana", "vestas"): 0.9}
    return plan(event, scores)


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


def test_a_fractional_relaxation_is_settled_by_branch_and_bound() -> None:
    # Three pairs of which any two exclude each other: the relaxation takes half of each.
    exclusive = csr_array(np.array([[1.0, 1, 0], [0, 1, 1], [1, 0, 1]]))
    none = csr_array(np.zeros((0, 3)))
    x = _integral_optimum(-np.ones(3), none, exclusive, np.ones(3), np.zeros(3), np.ones(3))
    assert sorted(x.tolist()) == [0, 0, 1]


def valid_body(**changes: Any) -> dict[str, Any]:
    body = request(companies={"a": 1}, students={"s1": 1}).model_dump(mode="json")
    return {**body, **changes}


@pytest.mark.parametrize(
    ("where", "character", "named"),
    [
        (("name",), "\n", "a line break"),
        (("venue",), "\r", "a carriage return"),
        (("companies", 0, "name"), "\t", "a tab"),
        (("companies", 0, "company_id"), "\x00", "the control character U+0000"),
        (("students", 0, "student_id"), "\u2028", "a line separator (U+2028)"),
        (("students", 0, "name"), "\x85", "the control character U+0085"),
        (("must_meet", 0, "company_id"), "\x1b", "the control character U+001B"),
    ],
)
def test_names_and_ids_are_one_line(
    where: tuple[str | int, ...], character: str, named: str
) -> None:
    body = valid_body(must_meet=[{"student_id": "s1", "company_id": "a"}])
    body["students"][0]["name"] = "Lucía Romero"
    parent: Any = body
    for step in where[:-1]:
        parent = parent[step]
    parent[where[-1]] = f"ab{character}c"
    with pytest.raises(ValidationError) as raised:
        DatingEventRequest.model_validate(body)
    [error] = raised.value.errors()
    assert error["loc"] == where
    assert error["msg"] == (
        f"should be one line of text without control characters, but has {named} at position 3"
    )


def test_names_are_not_blank_and_lose_surrounding_spaces() -> None:
    with pytest.raises(ValidationError) as raised:
        DatingEventRequest.model_validate(valid_body(name="   ", venue=" "))
    assert [(e["loc"], e["msg"]) for e in raised.value.errors()] == [
        (("name",), "should not be blank"),
        (("venue",), "should not be blank"),
    ]
    event = DatingEventRequest.model_validate(valid_body(name="  Company Dating Århus "))
    assert event.name == "Company Dating Århus"


@pytest.mark.parametrize("value", ["2", 2.0, True])
def test_counts_are_whole_numbers_not_text_or_truth_values(value: object) -> None:
    body = valid_body()
    body["companies"][0]["tables"] = value
    with pytest.raises(ValidationError) as raised:
        DatingEventRequest.model_validate(body)
    assert [e["loc"] for e in raised.value.errors()] == [("companies", 0, "tables")]


def test_slots_start_between_an_hour_ago_and_two_years_ahead() -> None:
    now = datetime.now(UTC)

    def refusals(*starts: object) -> list[tuple[Any, ...]]:
        try:
            DatingEventRequest.model_validate(valid_body(slot_starts=list(starts), breaks=[]))
        except ValidationError as error:
            return [(e["loc"], e["type"]) for e in error.errors()]
        return []

    soon = now - timedelta(minutes=50)
    assert refusals(soon.isoformat(), (now + timedelta(days=729)).isoformat()) == []
    assert refusals(
        0,
        "1970-01-01T00:00:00Z",
        "0120-03-12T14:00:00+01:00",
        (now - timedelta(minutes=70)).isoformat(),
        (now + timedelta(days=731)).isoformat(),
        "9999-12-31T23:59:00-01:00",
        "1800000000",
    ) == [
        (("slot_starts", 0), "date_time_text"),
        (("slot_starts", 1), "slot_start_past"),
        (("slot_starts", 2), "slot_start_past"),
        (("slot_starts", 3), "slot_start_past"),
        (("slot_starts", 4), "slot_start_too_far"),
        (("slot_starts", 5), "slot_start_too_far"),
        (("slot_starts", 6), "date_time_text"),
    ]


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
def test_calendars_hold_any_accepted_name_escaped_and_folded(name: str) -> None:
    body = valid_body(
        name=name,
        venue=name,
        companies=[{"company_id": "c-1", "name": name}],
        students=[{"student_id": "s-1", "max_dates": 1}],
    )
    schedule = plan(DatingEventRequest.model_validate(body), {("s-1", "c-1"): 0.5})
    [student] = schedule.students
    unfolded = assert_rfc_5545(agenda_ics(schedule, student))
    assert f"NAME:{escaped(f'{name}: s-1')}" in unfolded
    assert f"X-WR-CALNAME:{escaped(f'{name}: s-1')}" in unfolded
    [event] = Calendar.from_ical(agenda_ics(schedule, student)).walk("VEVENT")
    assert str(event["SUMMARY"]) == f"{name}: {name}"
    assert str(event["LOCATION"]) == f"{name}, table 1"


@pytest.mark.parametrize("name", ACCEPTED_NAMES)
def test_a_company_calendar_names_the_students_it_meets(name: str) -> None:
    body = valid_body(
        name="Company Dating Aarhus",
        companies=[{"company_id": "c-1", "name": name}],
        students=[{"student_id": "s-1", "name": name, "max_dates": 1}],
    )
    schedule = plan(DatingEventRequest.model_validate(body), {("s-1", "c-1"): 0.5})
    # The student's calendar shows the company, the company's the student: both are "name".
    for agenda in (*schedule.students, *schedule.companies):
        text = agenda_ics(schedule, agenda)
        unfolded = assert_rfc_5545(text)
        title = f"Company Dating Aarhus: {name}"
        assert f"NAME:{escaped(title)}" in unfolded
        [event] = Calendar.from_ical(text).walk("VEVENT")
        assert str(event["SUMMARY"]) == title


def test_a_stored_schedule_with_control_characters_still_makes_a_calendar() -> None:
    # Stored events are loaded without validation, as they were accepted once.
    stored = DatingEventRequest.model_construct(
        name="Company\nDating",
        venue="Navitas\x0b",
        slot_minutes=8,
        slot_starts=[START],
        breaks=[],
        companies=[
            DatingCompany.model_construct(company_id="c\n1", name="Nordlys\r\nApS", tables=1)
        ],
        students=[DatingStudent.model_construct(student_id="s\x001", name=None, max_dates=1)],
        must_meet=[],
    )
    schedule = plan(stored, {})
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
    who: str, name: str, ascii_name: str
) -> None:
    body = valid_body(students=[{"student_id": "s-1", "name": who, "max_dates": 1}])
    schedule = plan(DatingEventRequest.model_validate(body), {})
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


def test_the_csv_keeps_names_from_being_run_as_formulas() -> None:
    body = valid_body(
        companies=[{"company_id": "a", "name": '=HYPERLINK("http://example.org")'}],
        students=[{"student_id": "s1", "name": "@SUM(1+1)", "max_dates": 1}],
    )
    schedule = plan(DatingEventRequest.model_validate(body), {})
    [row] = csv.DictReader(io.StringIO(schedule_csv(schedule)))
    assert row["company_name"] == '\'=HYPERLINK("http://example.org")'
    assert row["student_name"] == "'@SUM(1+1)"
