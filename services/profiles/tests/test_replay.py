"""What profiles publishes again after the broker lost its log (``replay``): the students it
holds, then every erasure it made, so an erasure the lost log took with it before the other
services read it still reaches them — on SQLite and PostgreSQL, and through a real broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from interlocality.common.access import Role
from interlocality.common.migrations import upgrade
from interlocality.common.outbox import OutboxMessage
from interlocality.common.service import ServiceRuntime
from interlocality.common.testing import authorization, read_topic, signed_in
from interlocality.contracts.topics import STUDENTS
from interlocality.profiles.app import MIGRATIONS, create_app
from interlocality.profiles.domain import StudentForm
from interlocality.profiles.service import StudentService
from interlocality.profiles.store import ErasureRecord, StudentRecord

UPSERTED = "org.interlocality.StudentProfileUpserted.v1"
ERASED = "org.interlocality.StudentProfileErased.v1"
Staged = tuple[str, str | None, str | None]  # (key, ce_type, ce_id); a tombstone has neither


@pytest.fixture
def app(service_settings: Callable[..., Any]) -> Iterator[FastAPI]:
    """Profiles as ``create_app`` wires it (its replay sources too), not started."""
    app = create_app(service_settings("profiles"))
    runtime: ServiceRuntime = app.state.runtime
    upgrade(runtime.engine, MIGRATIONS, runtime.tables)
    try:
        yield app
    finally:
        runtime.engine.dispose()


def student(name: str) -> StudentForm:
    local = name.lower().replace(" ", ".")
    return StudentForm.model_validate(
        {"name": name, "email": f"{local}@students.example.org", "engagement_kinds": ["thesis"]}
    )


def staged_on_students(runtime: ServiceRuntime, after: int = 0) -> list[Staged]:
    """Every record staged for the students' topic after outbox row ``after``, in order."""
    with Session(runtime.engine) as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.id) > after)
            .order_by(col(OutboxMessage.id))
        ).all()
    staged = []
    for row in rows:
        if row.topic.endswith(".profiles.students.v1"):
            headers = dict(json.loads(row.headers))
            staged.append(((row.key or b"").decode(), headers.get("ce_type"), headers.get("ce_id")))
    return staged


def last_row(runtime: ServiceRuntime) -> int:
    with Session(runtime.engine) as session:
        ids = session.exec(select(OutboxMessage.id)).all()
    return max((i for i in ids if i is not None), default=0)


def test_a_replay_after_an_erasure_publishes_the_erasure_again(app: FastAPI) -> None:
    runtime: ServiceRuntime = app.state.runtime
    students: StudentService = app.state.provided[StudentService]
    åsa = students.create(student("Åsa Öberg")).student_id
    iñaki = students.create(student("Iñaki Yıldız")).student_id
    students.erase(iñaki)
    [erasure] = [s for s in staged_on_students(runtime) if s[:2] == (iñaki, ERASED)]

    before = last_row(runtime)
    republished = runtime.replay()
    replayed = staged_on_students(runtime, after=before)

    # the students held first, then the erasure as it was: same id (consumers that applied
    # it skip it), and the tombstone that follows it
    assert [(key, kind) for key, kind, _ in replayed] == [
        (åsa, UPSERTED),
        (iñaki, ERASED),
        (iñaki, None),
    ], f"a replay after {iñaki}'s erasure published {replayed}"
    assert replayed[1] == erasure
    assert republished == 3
    # and again: a second replay is the same records, with the same ids
    again = last_row(runtime)
    runtime.replay()
    assert staged_on_students(runtime, after=again) == replayed


def test_the_ledger_of_erasures_holds_no_personal_data(app: FastAPI) -> None:
    runtime: ServiceRuntime = app.state.runtime
    students: StudentService = app.state.provided[StudentService]
    søren = students.create(student("Søren Ñúñez")).student_id
    students.erase(søren)
    with Session(runtime.engine) as session:
        assert students.held(session, søren) == {"profile": None, "outcome": None}
    dumped = json.dumps([row.model_dump() for row in _ledger(runtime)], default=str)
    assert søren in dumped and "Søren" not in dumped and "Ñúñez" not in dumped
    assert "students.example.org" not in dumped


def test_an_erased_id_stored_again_is_not_erased_by_a_replay(app: FastAPI) -> None:
    """Profiles draws every new student's id itself, so an id comes back only with rows put
    back behind its back (a restored backup): the student stored under it now wins, and the
    replay publishes their snapshot and not the old erasure. Erased again, they are in the
    ledger again."""
    runtime: ServiceRuntime = app.state.runtime
    students: StudentService = app.state.provided[StudentService]
    begoña = students.create(student("Begoña Muñoz"))
    students.erase(begoña.student_id)
    with runtime.transaction() as session:
        session.add(
            StudentRecord(
                id=begoña.student_id,
                name="Begoña Muñoz",
                email="begona.munoz@students.example.org",
                document=student("Begoña Muñoz").model_dump(mode="json", exclude={"consents"}),
                content_hash="restored",
            )
        )

    before = last_row(runtime)
    runtime.replay()
    assert [kind for _, kind, _ in staged_on_students(runtime, after=before)] == [UPSERTED]

    students.erase(begoña.student_id)
    again = last_row(runtime)
    runtime.replay()
    assert [kind for _, kind, _ in staged_on_students(runtime, after=again)] == [ERASED, None]
    [erasure] = _ledger(runtime)
    assert erasure.erased_at > begoña.updated_at


def _ledger(runtime: ServiceRuntime) -> list[ErasureRecord]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(ErasureRecord)).all())


def test_a_replay_publishes_the_erasure_through_the_broker_with_its_first_id(
    service_settings: Callable[..., Any], kafka_bootstrap: str
) -> None:
    settings = service_settings("profiles")
    topic = STUDENTS.name(settings.region)  # type: ignore[attr-defined]
    with signed_in(TestClient(create_app(settings))) as client:  # type: ignore[arg-type]
        åsa = client.post("/v1/students", json=student("Åsa Öberg").model_dump(mode="json"))
        ılgın = client.post("/v1/students", json=student("Ilgın Aydın").model_dump(mode="json"))
        assert ılgın.status_code == 201, ılgın.text
        ılgın_id = ılgın.json()["student_id"]
        # both snapshots published before the erasure (an erasure deletes those waiting)
        asyncio.run(read_topic(kafka_bootstrap, topic, count=2))
        assert client.delete(f"/v1/students/{ılgın_id}").status_code == 204
        erased = asyncio.run(read_topic(kafka_bootstrap, topic, count=4))

        service = authorization(settings.region, Role.SERVICE)
        replay = client.post("/v1/admin/replay", headers=service)
        assert replay.json() == {"service": "profiles", "republished": 3}, replay.text
        records = asyncio.run(read_topic(kafka_bootstrap, topic, count=7))

    def kind(record: Any) -> str:
        return dict(record.headers).get("ce_type", b"").decode()

    assert [kind(r) for r in erased] == [UPSERTED, UPSERTED, ERASED, ""]
    # each key's records in the order published (the keys' partitions may differ)
    replayed = {
        key: [r for r in records[4:] if r.key.decode() == key]
        for key in (åsa.json()["student_id"], ılgın_id)
    }
    assert [[kind(r) for r in of_key] for of_key in replayed.values()] == [
        [UPSERTED],
        [ERASED, ""],
    ]
    erasure, tombstone = replayed[ılgın_id]
    assert tombstone.value is None
    first = erased[2]
    assert dict(erasure.headers)["ce_id"] == dict(first.headers)["ce_id"]
    assert json.loads(erasure.value) == json.loads(first.value)
