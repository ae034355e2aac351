"""Company Dating over HTTP: the answers, files and refusals an operator sees."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from fastapi.testclient import TestClient
from icalendar import Calendar

from interlocality.common.service import ServiceRuntime
from interlocality.common.testing import erased, publish, signed_in
from interlocality.matching.app import create_app

Body = Callable[..., dict[str, Any]]


def download_names(content_disposition: str) -> tuple[str, str]:
    """The file name a browser saves (RFC 6266 ``filename*``) and the ASCII fallback."""
    encoded = re.search(r"filename\*=UTF-8''([^;\s]+)", content_disposition)
    fallback = re.search(r'filename="([^"]*)"', content_disposition)
    assert encoded and fallback, content_disposition
    assert content_disposition.isascii()
    return unquote(encoded.group(1), errors="strict"), fallback.group(1)


def dates_of(schedule: dict[str, Any]) -> set[tuple[str, str, float, bool]]:
    return {
        (d["student_id"], d["company_id"], d["score"], d["must_meet"]) for d in schedule["dates"]
    }


def test_an_event_is_created_read_and_downloaded_over_http(
    service_settings: Callable[..., Any],
    kafka_bootstrap: str,
    region: str,
    start: datetime,
    event_body: Body,
    register: Callable[..., None],
    seed_matches: Callable[..., None],
) -> None:
    app = create_app(service_settings("matching"))
    runtime: ServiceRuntime = app.state.runtime
    with signed_in(TestClient(app)) as client:
        register(runtime)
        seed_matches(
            runtime,
            [
                ("kwame", "v-1", "nordlys", 0.6),
                ("kwame", "v-2", "nordlys", 0.8),  # the company's best match for kwame
                ("ana", "v-1", "nordlys", 0.5),
                ("ana", "v-3", "vestas", 0.9),
                ("li", "v-9", "elsewhere", 0.95),  # a company that is not at the event
            ],
        )
        body = event_body()
        body["students"][1]["name"] = "Ana Souza"
        created = client.post("/v1/dating-events", json=body)
        assert created.status_code == 201, created.text
        schedule = created.json()
        event_id = schedule["dating_event_id"]
        assert created.headers["location"] == f"/v1/dating-events/{event_id}"
        assert dates_of(schedule) == {
            ("kwame", "nordlys", 0.8, False),
            ("ana", "nordlys", 0.5, False),
            ("ana", "vestas", 0.9, False),
            ("li", "vestas", 0.0, True),
        }
        totals = schedule["totals"]
        assert (totals["score"], totals["dates"], totals["students_with_a_date"]) == (2.2, 4, 3)
        assert totals["capacity"] == 6  # three tables, two slots that are not breaks
        assert totals["greedy_score"] <= totals["score"]
        assert all(d["slot"] in (1, 3) for d in schedule["dates"])
        ana = next(a for a in schedule["students"] if a["participant_id"] == "ana")
        assert [e["slot"] for e in ana["dates"]] == [1, 3]

        # Stored: the same schedule comes back from the database.
        assert client.get(f"/v1/dating-events/{event_id}").json() == schedule

        table = client.get(f"/v1/dating-events/{event_id}/schedule.csv")
        assert table.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(table.text)))
        assert {(r["student_id"], r["company_id"], r["score"]) for r in rows} == {
            ("kwame", "nordlys", "0.8000"),
            ("ana", "nordlys", "0.5000"),
            ("ana", "vestas", "0.9000"),
            ("li", "vestas", "0.0000"),
        }

        ics = client.get(f"/v1/dating-events/{event_id}/students/ana/agenda.ics")
        assert ics.headers["content-type"].startswith("text/calendar")
        calendar = Calendar.from_ical(ics.text)
        starts = sorted(e.decoded("DTSTART") for e in calendar.walk("VEVENT"))
        assert starts == [start, start + timedelta(minutes=20)]
        company = client.get(f"/v1/dating-events/{event_id}/companies/nordlys/agenda.ics")
        assert len(Calendar.from_ical(company.text).walk("VEVENT")) == 2

        # What Company Dating holds on a student is shown, and goes when they are forgotten.
        held = client.get("/v1/privacy/students/ana").json()["holds"]["dating_events"]
        assert [(e["event_id"], e["student_name"], len(e["dates"])) for e in held] == [
            (event_id, "Ana Souza", 2)
        ]
        asyncio.run(publish(kafka_bootstrap, [erased(region, "ana")]))
        deadline = time.monotonic() + 30
        while client.get("/v1/privacy/students/ana").json()["holds"]["dating_events"]:
            assert time.monotonic() < deadline, "the erasure did not reach Company Dating"
            time.sleep(0.1)
        after = client.get(f"/v1/dating-events/{event_id}").json()
        assert "ana" not in {a["participant_id"] for a in after["students"]}
        assert "ana" not in {d["student_id"] for d in after["dates"]}
        missing = client.get(f"/v1/dating-events/{event_id}/students/ana/agenda.ics")
        assert missing.status_code == 404


def test_refusals_name_the_field_or_the_constraint(
    service_settings: Callable[..., Any], event_body: Body, register: Callable[..., None]
) -> None:
    app = create_app(service_settings("matching"))
    with signed_in(TestClient(app)) as client:
        register(app.state.runtime)
        malformed = client.post("/v1/dating-events", json=event_body(breaks=[5]))
        assert malformed.status_code == 422
        [problem] = malformed.json()["detail"]
        assert problem["loc"] == ["body", "breaks"]
        assert problem["msg"] == "break 5 is not a slot number: slots are numbered 1 to 3"

        body = event_body()
        del body["students"]
        assert client.post("/v1/dating-events", json=body).json()["detail"][0]["loc"] == [
            "body",
            "students",
        ]

        crowded = event_body(
            must_meet=[{"student_id": s, "company_id": "vestas"} for s in ("kwame", "ana", "li")]
        )
        refused = client.post("/v1/dating-events", json=crowded)
        assert refused.status_code == 422
        assert refused.json()["detail"] == [
            {
                "loc": ["body", "must_meet"],
                "field": "body.must_meet",
                "msg": "must-meet pairs for company Vestas Wind Systems need 3 dates but it "
                "has 2 (1 table × 2 usable slots)",
                "type": "dating_company_capacity",
                "constraint": "company_capacity",
                "participant_id": "vestas",
            }
        ]

        # Events are named by UUIDs: anything else is malformed, an unknown one is not found.
        malformed = client.get("/v1/dating-events/no-such-event")
        assert malformed.status_code == 422
        assert malformed.json()["detail"][0]["field"] == "path.event_id"
        assert client.get(f"/v1/dating-events/{uuid.uuid4()}").status_code == 404
        assert client.get(f"/v1/dating-events/{uuid.uuid4()}/schedule.csv").status_code == 404
        event_id = client.post("/v1/dating-events", json=event_body()).json()["dating_event_id"]
        for path in ("students/nobody", "companies/nobody", "students/vestas"):
            answer = client.get(f"/v1/dating-events/{event_id}/{path}/agenda.ics")
            assert answer.status_code == 404, path
        assert client.get(f"/v1/dating-events/{event_id}/companies/vestas/agenda.ics").is_success


def test_a_line_break_in_a_name_or_id_is_refused_naming_the_field(
    service_settings: Callable[..., Any],
    event_body: Body,
    stored_events: Callable[[ServiceRuntime], int],
) -> None:
    app = create_app(service_settings("matching"))
    with signed_in(TestClient(app)) as client:
        body = event_body(
            name="Company Dating\nAarhus",
            venue="Navitas\r\nAarhus",
            companies=[
                {"company_id": "nordlys", "name": "Nordlys\tSoftware ApS", "tables": 2},
                {"company_id": "vestas", "name": "Vestas\nWind Systems"},
            ],
            students=[
                {"student_id": "kwame", "max_dates": 2},
                {"student_id": "ana\n", "max_dates": 2},
                {"student_id": "li", "max_dates": 1},
            ],
        )
        refused = client.post("/v1/dating-events", json=body)
        assert refused.status_code == 422, refused.text
        said = {p["field"]: p["msg"] for p in refused.json()["detail"]}
        assert said == {
            "body.name": "should be one line of text without control characters, but has "
            "a line break at position 15",
            "body.venue": "should be one line of text without control characters, but has "
            "a carriage return at position 8",
            "body.companies.0.name": "should be one line of text without control characters, "
            "but has a tab at position 8",
            "body.companies.1.name": "should be one line of text without control characters, "
            "but has a line break at position 7",
            "body.students.1.student_id": "should be one line of text without control "
            "characters, but has a line break at position 4",
        }
        assert stored_events(app.state.runtime) == 0


def test_participants_matching_does_not_know_are_refused_naming_each_place(
    service_settings: Callable[..., Any],
    event_body: Body,
    register: Callable[..., None],
    stored_events: Callable[[ServiceRuntime], int],
) -> None:
    app = create_app(service_settings("matching"))
    runtime: ServiceRuntime = app.state.runtime
    with signed_in(TestClient(app)) as client:
        register(runtime, students=["kwame", "ana"], companies=["nordlys"])
        body = event_body(
            students=[
                {"student_id": "kwame", "max_dates": 2},
                {"student_id": "ana", "max_dates": 2},
                {"student_id": "li", "max_dates": 1},
                {"student_id": "ghost", "max_dates": 1},
            ],
            must_meet=[
                {"student_id": "li", "company_id": "vestas"},
                {"student_id": "ana", "company_id": "nordlys"},
            ],
        )
        refused = client.post("/v1/dating-events", json=body)
        assert refused.status_code == 422, refused.text
        student = "is known to matching here (registered and consenting to matching)"
        company = "is known to matching here (registered in this region)"
        assert [(p["field"], p["msg"], p["type"]) for p in refused.json()["detail"]] == [
            ("body.students.2.student_id", f"no student 'li' {student}", "unknown_student"),
            ("body.students.3.student_id", f"no student 'ghost' {student}", "unknown_student"),
            ("body.companies.1.company_id", f"no company 'vestas' {company}", "unknown_company"),
            ("body.must_meet.0.student_id", f"no student 'li' {student}", "unknown_student"),
            ("body.must_meet.0.company_id", f"no company 'vestas' {company}", "unknown_company"),
        ]
        assert stored_events(runtime) == 0


def test_slot_starts_in_1970_the_year_0120_or_years_ahead_are_refused(
    service_settings: Callable[..., Any],
    start: datetime,
    event_body: Body,
    register: Callable[..., None],
    stored_events: Callable[[ServiceRuntime], int],
) -> None:
    app = create_app(service_settings("matching"))
    with signed_in(TestClient(app)) as client:
        register(app.state.runtime)
        later = [(start + timedelta(minutes=10 * k)).isoformat() for k in (1, 2)]
        for starts, field, says in [
            ([0, *later], "body.slot_starts.0", "should be a date and time with its UTC offset"),
            (["1970-01-01T00:00:00Z", *later], "body.slot_starts.0", "in the past"),
            ([*later, "0120-03-12T14:00:00+01:00"], "body.slot_starts.2", "in the past"),
            (
                [*later, (start + timedelta(days=3 * 365)).isoformat()],
                "body.slot_starts.2",
                "more than two years from now",
            ),
        ]:
            refused = client.post("/v1/dating-events", json=event_body(slot_starts=starts))
            assert refused.status_code == 422, (starts, refused.text)
            [problem] = refused.json()["detail"]
            assert (problem["field"], says in problem["msg"]) == (field, True), problem
        assert stored_events(app.state.runtime) == 0
        # The rule is stated where the field is documented.
        schema = client.get("/openapi.json").json()["components"]["schemas"]
        described = schema["DatingEventRequest"]["properties"]["slot_starts"]["description"]
        assert "at most an hour before now and at most two years from now" in described


def test_names_in_any_language_reach_the_calendars_and_the_file_names(
    service_settings: Callable[..., Any],
    event_body: Body,
    register: Callable[..., None],
    seed_matches: Callable[..., None],
) -> None:
    app = create_app(service_settings("matching"))
    runtime: ServiceRuntime = app.state.runtime
    with signed_in(TestClient(app)) as client:
        register(runtime, ["lucia", "kubra"], ["aero", "smorrebrod"])
        seed_matches(runtime, [("lucia", "v-1", "aero", 0.7), ("kubra", "v-1", "aero", 0.8)])
        body = event_body(
            venue="Navitas, Inge Lehmanns Gade 10; 8000 Aarhus C",
            companies=[
                {"company_id": "aero", "name": "Ærø Café ApS", "tables": 2},
                {"company_id": "smorrebrod", "name": "Smørrebrød & Søn, Nørrebro; Århus"},
            ],
            students=[
                {"student_id": "lucia", "name": "Lucía Romero Nuñez", "max_dates": 2},
                {"student_id": "kubra", "name": "Kübra Yılmaz", "max_dates": 2},
            ],
            must_meet=[{"student_id": "lucia", "company_id": "smorrebrod"}],
        )
        created = client.post("/v1/dating-events", json=body)
        assert created.status_code == 201, created.text
        event_id = created.json()["dating_event_id"]

        lucia = client.get(f"/v1/dating-events/{event_id}/students/lucia/agenda.ics")
        calendar = Calendar.from_ical(lucia.text)
        assert {str(e["SUMMARY"]) for e in calendar.walk("VEVENT")} == {
            "Company Dating Aarhus: Ærø Café ApS",
            "Company Dating Aarhus: Smørrebrød & Søn, Nørrebro; Århus",
        }
        assert {str(e["LOCATION"]) for e in calendar.walk("VEVENT")} <= {
            "Navitas, Inge Lehmanns Gade 10; 8000 Aarhus C, table 1",
            "Navitas, Inge Lehmanns Gade 10; 8000 Aarhus C, table 2",
        }
        assert download_names(lucia.headers["content-disposition"]) == (
            "Company Dating Aarhus - Lucía Romero Nuñez.ics",
            "Company Dating Aarhus - Lucia Romero Nunez.ics",
        )

        aero = client.get(f"/v1/dating-events/{event_id}/companies/aero/agenda.ics")
        met = {str(e["SUMMARY"]) for e in Calendar.from_ical(aero.text).walk("VEVENT")}
        assert met == {
            "Company Dating Aarhus: Kübra Yılmaz",
            "Company Dating Aarhus: Lucía Romero Nuñez",
        }
        assert download_names(aero.headers["content-disposition"]) == (
            "Company Dating Aarhus - Ærø Café ApS.ics",
            "Company Dating Aarhus - AEro Cafe ApS.ics",
        )

        table = client.get(f"/v1/dating-events/{event_id}/schedule.csv")
        assert download_names(table.headers["content-disposition"]) == (
            "Company Dating Aarhus - schedule.csv",
            "Company Dating Aarhus - schedule.csv",
        )
        rows = list(csv.DictReader(io.StringIO(table.text)))
        assert {(r["student_name"], r["company_name"]) for r in rows} == {
            ("Lucía Romero Nuñez", "Smørrebrød & Søn, Nørrebro; Århus"),
            ("Lucía Romero Nuñez", "Ærø Café ApS"),
            ("Kübra Yılmaz", "Ærø Café ApS"),
        }
