"""Graduates' outcomes: recorded by the operator on a student, published on the outcomes
topic, exported with the student and erased with them — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from interlocality.common.migrations import upgrade
from interlocality.common.outbox import OutboxMessage
from interlocality.common.service import ServiceRuntime
from interlocality.common.testing import read_topic, signed_in
from interlocality.common.work_rules import region_work_rules
from interlocality.contracts.topics import OUTCOMES
from interlocality.profiles.app import MIGRATIONS, create_app
from interlocality.profiles.domain import OutcomeForm, StudentForm
from interlocality.profiles.service import StudentService, UnknownStudent
from interlocality.profiles.store import TABLES, GraduateOutcomeRecord

SCHEMAS = Path(__file__).resolve().parents[3] / "contracts" / "schemas"
RECORDED = "org.interlocality.GraduateOutcomeRecorded.v1"
GRADUATED = "2025-06-30"


@pytest.fixture
def service(service_settings: Callable[..., Any]) -> Iterator[StudentService]:
    settings = service_settings("profiles")
    runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)
    upgrade(runtime.engine, MIGRATIONS, runtime.tables)
    try:
        yield StudentService(runtime, region_work_rules(settings.work_rules))
    finally:
        runtime.engine.dispose()


def student(name: str) -> dict[str, Any]:
    local = name.lower().replace(" ", ".")
    return {"name": name, "email": f"{local}@students.example.org", "engagement_kinds": ["thesis"]}


def outcome(kind: str, graduated_on: str = GRADUATED) -> OutcomeForm:
    return OutcomeForm.model_validate({"graduated_on": graduated_on, "outcome": kind})


def staged_on_outcomes(engine: Engine) -> list[tuple[bytes | None, str | None, Any]]:
    """(key, event id, data) of every record staged for the outcomes topic, in order; a
    tombstone has neither id nor data."""
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    staged = []
    for row in rows:
        if row.topic.endswith(".profiles.outcomes.v1"):
            headers = dict(json.loads(row.headers))
            data = json.loads(row.value) if row.value is not None else None
            staged.append((row.key, headers.get("ce_id"), data))
    return staged


def test_an_outcome_is_recorded_once_corrected_replayed_and_held(service: StudentService) -> None:
    student_id = service.create(StudentForm.model_validate(student("Søren Østergaard"))).student_id
    first = service.record_outcome(student_id, outcome("further_study"))
    assert (first.student_id, first.graduated_on, first.outcome) == (
        student_id,
        date(2025, 6, 30),
        "further_study",
    )
    assert service.record_outcome(student_id, outcome("further_study")) == first  # idempotent
    corrected = service.record_outcome(student_id, outcome("employed_in_region"))
    assert corrected.recorded_at > first.recorded_at

    staged = staged_on_outcomes(service.runtime.engine)
    assert [(key, data["outcome"]) for key, _, data in staged] == [
        (student_id.encode(), "further_study"),
        (student_id.encode(), "employed_in_region"),
    ]
    assert staged[-1][2] == corrected.model_dump(mode="json")
    assert len({event_id for _, event_id, _ in staged}) == 2
    with Session(service.runtime.engine) as session:
        [replayed] = list(service.current_outcomes(session))
        held = service.held(session, student_id)
    assert replayed.id == staged[-1][1]  # a replay is a duplicate consumers skip
    assert held["profile"]["name"] == "Søren Østergaard"
    assert held["outcome"] == corrected.model_dump(mode="json")
    # the student's own snapshot is untouched by the outcome
    with Session(service.runtime.engine) as session:
        assert [e.data.version for e in service.current_profiles(session)] == [1]


def test_an_unknown_student_gets_no_outcome(service: StudentService) -> None:
    with pytest.raises(UnknownStudent, match="no student nobody"):
        service.record_outcome("nobody", outcome("unknown"))
    assert staged_on_outcomes(service.runtime.engine) == []


def test_erasure_deletes_the_outcome_and_leaves_a_tombstone(service: StudentService) -> None:
    begoña = service.create(StudentForm.model_validate(student("Begoña Muñoz"))).student_id
    elif_ = service.create(StudentForm.model_validate(student("Elif Yılmaz"))).student_id
    service.record_outcome(begoña, outcome("employed_elsewhere"))
    service.erase(begoña)
    service.erase(elif_)  # no outcome recorded: nothing on the outcomes topic

    # the outcome recorded before is gone from the outbox with her: only the tombstone stays
    staged = staged_on_outcomes(service.runtime.engine)
    assert [(key, event_id is None, data) for key, event_id, data in staged] == [
        (begoña.encode(), True, None)
    ]
    with Session(service.runtime.engine) as session:
        assert session.exec(select(func.count()).select_from(GraduateOutcomeRecord)).one() == 0
        assert service.held(session, begoña) == {"profile": None, "outcome": None}
        assert list(service.current_outcomes(session)) == []


def test_erasure_leaves_nothing_of_the_student_in_the_outbox_but_the_erasure_itself(
    service: StudentService,
) -> None:
    """Snapshots staged before, published or not, carried his name and e-mail; they go in
    the erasure's transaction, and the erasure's own records are all that name his id."""
    søren = service.create(StudentForm.model_validate(student("Søren Østergaard"))).student_id
    begoña = service.create(StudentForm.model_validate(student("Begoña Muñoz"))).student_id
    service.record_outcome(søren, outcome("employed_in_region"))
    with service.runtime.transaction() as session:  # as the relay marks what it published
        for row in session.exec(select(OutboxMessage)):
            row.published_at = row.created_at
            session.add(row)

    service.erase(søren)

    with Session(service.runtime.engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    everything = b" ".join((row.key or b"") + (row.value or b"") for row in rows)
    assert "Østergaard".encode() not in everything
    assert "søren.østergaard@students.example.org".encode() not in everything
    about_him = [row for row in rows if søren.encode() in (row.key or b"") + (row.value or b"")]
    assert [(row.topic.rsplit(".", 2)[-2], row.value is None) for row in about_him] == [
        ("outcomes", True),  # tombstones on the compacted topics, and the erasure event
        ("students", False),
        ("students", True),
    ]
    assert begoña.encode() in everything and "Begoña Muñoz".encode() in everything  # hers stay


def test_writers_racing_on_one_graduate_each_publish_their_outcome(
    service: StudentService,
) -> None:
    student_id = service.create(StudentForm.model_validate(student("Elif Yılmaz"))).student_id
    kinds = ["employed_in_region", "employed_elsewhere", "further_study", "unknown"]
    start = threading.Barrier(len(kinds))

    def record(kind: str) -> Any:
        start.wait()
        return service.record_outcome(student_id, outcome(kind))

    with ThreadPoolExecutor(len(kinds)) as pool:
        answers = list(pool.map(record, kinds))

    staged = staged_on_outcomes(service.runtime.engine)
    assert sorted(data["outcome"] for _, _, data in staged) == sorted(kinds)
    with Session(service.runtime.engine) as session:
        last = service.outcome(session, student_id)
    assert last is not None and staged[-1][2] == last.model_dump(mode="json")
    assert last in answers


def test_the_outcome_routes_answer_200_404_and_422_naming_the_field(
    service_settings: Callable[..., object],
) -> None:
    with signed_in(TestClient(create_app(service_settings("profiles")))) as client:  # type: ignore[arg-type]
        student_id = client.post("/v1/students", json=student("Begoña Muñoz")).json()["student_id"]
        path = f"/v1/students/{student_id}/outcome"
        # The student is known: nothing recorded yet is an answer, not a missing resource.
        nothing = client.get(path)
        assert (nothing.status_code, nothing.json()) == (200, None)

        today = date.today()
        for body, field, says in (
            ({"outcome": "unknown"}, "body.graduated_on", "Field required"),
            (
                {"graduated_on": GRADUATED, "outcome": "employed"},
                "body.outcome",
                "'employed_in_region'",
            ),
            (
                {"graduated_on": GRADUATED, "outcome": "unknown", "employer": "Fjordlys ApS"},
                "body.employer",
                "Extra inputs are not permitted",
            ),
            (
                {"graduated_on": "1989-12-31", "outcome": "unknown"},
                "body.graduated_on",
                "before 1990-01-01",
            ),
            (
                {"graduated_on": str(today + timedelta(days=32)), "outcome": "unknown"},
                "body.graduated_on",
                f"latest accepted is {today + timedelta(days=31)}",
            ),
            ({"graduated_on": "30.06.2025", "outcome": "unknown"}, "body.graduated_on", "date"),
        ):
            refused = client.put(path, json=body)
            assert refused.status_code == 422, body
            [problem] = refused.json()["detail"]
            assert problem["field"] == field and says in problem["msg"], problem
        assert client.get(path).json() is None  # nothing was stored

        soon = str(today + timedelta(days=31))
        recorded = client.put(path, json={"graduated_on": soon, "outcome": "employed_in_region"})
        assert recorded.status_code == 200, recorded.text
        assert recorded.json()["outcome"] == "employed_in_region"
        assert recorded.json()["graduated_on"] == soon
        assert client.get(path).json() == recorded.json()
        again = client.put(path, json={"graduated_on": soon, "outcome": "employed_in_region"})
        assert again.json() == recorded.json()

        export = client.get(f"/v1/students/{student_id}/export").json()
        assert export["outcome"] == recorded.json()
        held = client.get(f"/v1/privacy/students/{student_id}").json()["holds"]
        assert held["outcome"] == recorded.json()

        for answer in (
            client.put(
                "/v1/students/nobody/outcome",
                json={"graduated_on": GRADUATED, "outcome": "unknown"},
            ),
            client.get("/v1/students/nobody/outcome"),
        ):
            assert (answer.status_code, answer.json()) == (404, {"detail": "no student nobody"})


def test_outcomes_reach_their_topic_as_the_schema_says_and_erasure_leaves_a_tombstone(
    service_settings: Callable[..., object], kafka_bootstrap: str
) -> None:
    settings = service_settings("profiles")
    with signed_in(TestClient(create_app(settings))) as client:  # type: ignore[arg-type]
        student_id = client.post("/v1/students", json=student("Søren Østergaard")).json()[
            "student_id"
        ]
        path = f"/v1/students/{student_id}/outcome"
        for kind in ("unknown", "unknown", "employed_in_region"):
            answer = client.put(path, json={"graduated_on": GRADUATED, "outcome": kind})
            assert answer.status_code == 200, answer.text
        topic = OUTCOMES.name(settings.region)  # type: ignore[attr-defined]
        # published before the erasure: an erasure deletes the rows not yet published
        asyncio.run(read_topic(kafka_bootstrap, topic, count=2))
        assert client.delete(f"/v1/students/{student_id}").status_code == 204
        assert client.get(path).status_code == 404
        records = asyncio.run(read_topic(kafka_bootstrap, topic, count=3))

    types = [dict(r.headers).get("ce_type", b"").decode() for r in records]
    assert types == [RECORDED, RECORDED, ""]
    assert {r.key for r in records} == {student_id.encode()}
    assert records[-1].value is None
    schema = json.loads((SCHEMAS / "GraduateOutcomeRecorded.v1.json").read_text())
    validator = jsonschema_rs.validator_for(
        {"$ref": "#/$defs/GraduateOutcome", "$defs": schema["$defs"]}, validate_formats=True
    )
    published = [json.loads(r.value) for r in records[:2]]
    for data in published:
        validator.validate(data)
    assert [data["outcome"] for data in published] == ["unknown", "employed_in_region"]
