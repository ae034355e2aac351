"""Company Dating over HTTP: planned on matching's scores, stored, and sent as agendas."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi.testclient import TestClient
from icalendar import Calendar

from interlocality.common.cloudevents import decode_event, encode_event
from interlocality.common.service import ServiceRuntime
from interlocality.common.testing import read_topic
from interlocality.contracts.dating import DatingAgendaIssued
from interlocality.contracts.students import StudentErasure, StudentProfileErased
from interlocality.contracts.topics import DATING_AGENDAS, STUDENTS
from interlocality.matching.app import create_app
from interlocality.matching.store import MatchRecord

START = datetime(2026, 3, 12, 14, 0, tzinfo=UTC)


async def publish_erasure(bootstrap: str, region: str, student_id: str) -> None:
    """A student's erasure on the students topic, as profiles publishes it."""
    event = StudentProfileErased(
        source=f"/interlocality/{region}/profiles",
        region=region,
        subject=student_id,
        data=StudentErasure(student_id=student_id, erased_at=datetime.now(UTC)),
    )
    record = encode_event(event, STUDENTS.name(region))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            record.topic, value=record.value, key=record.key, headers=record.headers
        )
    finally:
        await producer.stop()


def seed_matches(runtime: ServiceRuntime, matches: list[tuple[str, str, str, float]]) -> None:
    with runtime.transaction() as session:
        for student_id, vacancy_id, company_id, score in matches:
            session.add(
                MatchRecord(
                    student_id=student_id,
                    vacancy_id=vacancy_id,
                    company_id=company_id,
                    vacancy_title=f"Vacancy {vacancy_id}",
                    score=score,
                    found_basis="1.1",
                )
            )


def event_body(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Company Dating Aarhus",
        "venue": "Navitas",
        "slot_minutes": 8,
        "slot_starts": [(START + timedelta(minutes=10 * k)).isoformat() for k in range(3)],
        "breaks": [2],
        "companies": [
            {"company_id": "nordlys", "name": "Nordlys Software ApS", "tables": 2},
            {"company_id": "vestas", "name": "Vestas Wind Systems"},
        ],
        "students": [
            {"student_id": "kwame", "max_dates": 2},
            {"student_id": "ana", "max_dates": 2},
            {"student_id": "li", "max_dates": 1},
        ],
        "must_meet": [{"student_id": "li", "company_id": "vestas"}],
        **changes,
    }


def dates_of(schedule: dict[str, Any]) -> set[tuple[str, str, float, bool]]:
    return {
        (d["student_id"], d["company_id"], d["score"], d["must_meet"]) for d in schedule["dates"]
    }


def test_an_event_is_planned_stored_and_sent_to_every_participant(
    service_settings: Callable[..., Any], kafka_bootstrap: str, region: str
) -> None:
    app = create_app(service_settings("matching"))
    runtime: ServiceRuntime = app.state.runtime
    with TestClient(app) as client:
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
        created = client.post("/v1/dating-events", json=event_body())
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
        assert starts == [START, START + timedelta(minutes=20)]
        company = client.get(f"/v1/dating-events/{event_id}/companies/nordlys/agenda.ics")
        assert len(Calendar.from_ical(company.text).walk("VEVENT")) == 2

        records = asyncio.run(read_topic(kafka_bootstrap, DATING_AGENDAS.name(region), count=5))
        events = [decode_event(DATING_AGENDAS, list(r.headers), r.value) for r in records]
        assert all(isinstance(e, DatingAgendaIssued) for e in events)
        pairs = zip(records, events, strict=True)
        keyed = sorted((r.key.decode(), e.data.participant_kind) for r, e in pairs)
        assert keyed == [
            ("ana", "student"),
            ("kwame", "student"),
            ("li", "student"),
            ("nordlys", "company"),
            ("vestas", "company"),
        ]
        sent = {e.data.participant_id: e.data for e in events}
        assert [(s.counterpart_id, s.score) for s in sent["ana"].slots] == [
            (d["counterpart_id"], d["score"]) for d in ana["dates"]
        ]
        assert sent["li"].slots[0].must_meet
        assert sent["vestas"].slots[0].counterpart_kind == "student"
        attached = Calendar.from_ical(sent["ana"].icalendar).walk("VEVENT")
        assert len(attached) == 2 and {e.data.dating_event_id for e in events} == {event_id}

        # What Company Dating holds on a student is shown, and goes when they are forgotten.
        held = client.get("/v1/privacy/students/ana").json()["holds"]["dating_events"]
        assert [(e["event_id"], len(e["dates"])) for e in held] == [(event_id, 2)]
        asyncio.run(publish_erasure(kafka_bootstrap, region, "ana"))
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
    service_settings: Callable[..., Any],
) -> None:
    with TestClient(create_app(service_settings("matching"))) as client:
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

        assert client.get("/v1/dating-events/no-such-event").status_code == 404
        assert client.get("/v1/dating-events/no-such-event/schedule.csv").status_code == 404
        event_id = client.post("/v1/dating-events", json=event_body()).json()["dating_event_id"]
        for path in ("students/nobody", "companies/nobody", "students/vestas"):
            answer = client.get(f"/v1/dating-events/{event_id}/{path}/agenda.ics")
            assert answer.status_code == 404, path
        assert client.get(f"/v1/dating-events/{event_id}/companies/vestas/agenda.ics").is_success
