"""The profiles service layer, without HTTP or Kafka, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest
from sqlmodel import Session

from interlocality.common.migrations import upgrade
from interlocality.common.service import ServiceRuntime
from interlocality.common.work_rules import region_work_rules
from interlocality.contracts.notifications import PreferencesChange
from interlocality.contracts.students import NotificationPreferences
from interlocality.profiles.app import MIGRATIONS
from interlocality.profiles.domain import ConsentChoices, StudentForm
from interlocality.profiles.events import snapshot_event
from interlocality.profiles.service import ExternalIdTaken, StudentService, UnknownStudent
from interlocality.profiles.store import TABLES, StudentRecord

PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
Snapshots = Callable[..., list[tuple[str, dict[str, Any]]]]


@pytest.fixture
def service(service_settings: Callable[..., Any]) -> Iterator[StudentService]:
    settings = service_settings("profiles")
    runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)
    upgrade(runtime.engine, MIGRATIONS, runtime.tables)
    try:
        yield StudentService(runtime, region_work_rules(settings.work_rules))
    finally:
        runtime.engine.dispose()


def form(**changes: Any) -> StudentForm:
    data: dict[str, Any] = {
        "external_id": "au-1",
        "name": "Mei Tanaka",
        "email": "mei.tanaka@students.example.org",
        "skills": [{"uri": PYTHON, "level": 4}],
        "engagement_kinds": ["thesis"],
        "consents": {"matching": True, "notifications": True, "analytics": True},
    }
    data.update(changes)
    return StudentForm.model_validate(data)


def preferences(student_id: str, frequency: str, consent: bool) -> PreferencesChange:
    return PreferencesChange(
        student_id=student_id,
        preferences=NotificationPreferences(frequency=frequency),  # type: ignore[arg-type]
        notifications_consent=consent,
        changed_at=datetime.now(UTC),
    )


def stored(service: StudentService, student_id: str) -> StudentRecord | None:
    with Session(service.runtime.engine) as session:
        return session.get(StudentRecord, student_id)


def test_a_write_that_changes_nothing_makes_no_version(
    service: StudentService, staged_snapshots: Snapshots
) -> None:
    created = service.create(form())
    student_id = created.student_id
    assert created.version == 1
    assert service.replace(student_id, form()).version == 1
    assert service.set_consents(student_id, ConsentChoices()).version == 1
    assert service.replace(student_id, form(name="Mei T.")).version == 2
    withdrawn = service.set_consents(student_id, ConsentChoices(matching=False))
    assert withdrawn.version == 3 and withdrawn.consents.matching.granted is False
    snapshots = staged_snapshots(service.runtime.engine, student_id)
    assert [data["version"] for _, data in snapshots] == [1, 2, 3]
    assert snapshots[-1][1] == withdrawn.model_dump(mode="json")


def test_unknown_students_and_taken_external_ids_are_refused(service: StudentService) -> None:
    student_id = service.create(form()).student_id
    other = service.create(form(external_id="au-2")).student_id
    with pytest.raises(ExternalIdTaken, match=f"'au-1' already belongs to student {student_id}"):
        service.create(form())
    with pytest.raises(ExternalIdTaken):
        service.replace(other, form(external_id="au-1"))
    with pytest.raises(UnknownStudent, match="no student nobody"):
        service.replace("nobody", form(external_id="au-3"))
    with pytest.raises(UnknownStudent):
        service.set_consents("nobody", ConsentChoices())
    service.erase(other)
    assert stored(service, other) is None
    with pytest.raises(UnknownStudent):
        service.erase(other)


def test_preferences_are_applied_once_and_left_alone_for_an_erased_student(
    service: StudentService,
) -> None:
    student_id = service.create(form()).student_id
    unsubscribed = preferences(student_id, "weekly", consent=False)
    for _ in range(2):  # a redelivery changes nothing
        with service.runtime.transaction() as session:
            service.change_preferences(session, unsubscribed)
    record = stored(service, student_id)
    assert record is not None and record.version == 2
    assert record.document["notification_preferences"]["frequency"] == "weekly"
    assert record.consents["notifications"] == {
        "granted": False,
        "at": unsubscribed.changed_at.isoformat(),
    }
    service.erase(student_id)
    with service.runtime.transaction() as session:
        service.change_preferences(session, preferences(student_id, "daily", consent=True))
    assert stored(service, student_id) is None


def test_imports_create_change_and_skip_by_external_id(
    service: StudentService, staged_snapshots: Snapshots
) -> None:
    assert service.import_students([form(), form(external_id="au-2")]) == ["created"] * 2
    again = [form(), form(external_id="au-2", name="Wei"), form(external_id="au-2", name="Wei")]
    assert service.import_students(again) == ["unchanged", "updated", "unchanged"]
    # A new student listed twice in one batch: created, then changed.
    assert service.import_students(
        [form(external_id="au-3"), form(external_id="au-3", name="Ana")]
    ) == [
        "created",
        "updated",
    ]
    with Session(service.runtime.engine) as session:
        [ana] = [e for e in service.current_profiles(session) if e.data.name == "Ana"]
    assert ana.data.version == 2
    snapshots = staged_snapshots(service.runtime.engine, ana.subject)
    assert [data["version"] for _, data in snapshots] == [1, 2]


def test_replaying_the_stored_state_gives_each_snapshot_its_id_again(
    service: StudentService, staged_snapshots: Snapshots
) -> None:
    imported = service.import_students([form(external_id="au-2", name="Wei")])
    assert imported == ["created"]
    student_id = service.create(form()).student_id
    service.replace(student_id, form(name="Mei T."))
    with service.runtime.transaction() as session:
        service.change_preferences(session, preferences(student_id, "daily", consent=False))
    with Session(service.runtime.engine) as session:
        replayed = {event.subject: event.id for event in service.current_profiles(session)}
    assert len(replayed) == 2
    for subject, event_id in replayed.items():
        assert staged_snapshots(service.runtime.engine, subject)[-1][0] == event_id


def test_two_different_snapshots_of_one_version_never_share_an_id(
    service: StudentService,
) -> None:
    profile = service.create(form())
    other = profile.model_copy(update={"name": "Someone else"})
    runtime = service.runtime
    assert snapshot_event(runtime, profile).id == snapshot_event(runtime, profile).id
    assert snapshot_event(runtime, profile).id != snapshot_event(runtime, other).id


def test_writers_racing_on_one_student_lose_no_update(
    service: StudentService, staged_snapshots: Snapshots
) -> None:
    student_id = service.create(form()).student_id
    unsubscribed = preferences(student_id, "weekly", consent=False)

    def prefer() -> None:
        with service.runtime.transaction() as session:
            service.change_preferences(session, unsubscribed)

    names = [f"W{i}" for i in range(5)]
    writers: list[Callable[[], Any]] = [
        lambda name=name: service.replace(student_id, form(name=name)) for name in names
    ]
    writers += [
        lambda: service.import_students([form(name="Imported")]),
        lambda: service.set_consents(student_id, ConsentChoices(analytics=False)),
        prefer,
    ]
    start = threading.Barrier(len(writers))

    def write(writer: Callable[[], Any]) -> Any:
        start.wait()
        return writer()

    with ThreadPoolExecutor(len(writers)) as pool:
        list(pool.map(write, writers))

    record = stored(service, student_id)
    assert record is not None and record.version == len(writers) + 1
    snapshots = staged_snapshots(service.runtime.engine, student_id)
    assert [data["version"] for _, data in snapshots] == list(range(1, len(writers) + 2))
    assert len({event_id for event_id, _ in snapshots}) == len(snapshots)
    assert snapshots[-1][1] == service.profile(record).model_dump(mode="json")

    # Each snapshot is its predecessor with exactly one writer's change: none written over.
    def seen(data: dict[str, Any]) -> tuple[Any, ...]:
        granted = tuple(data["consents"][c]["granted"] for c in ("matching", "notifications"))
        frequency = data["notification_preferences"]["frequency"]
        return (data["name"], frequency, *granted, data["consents"]["analytics"]["granted"])

    effects: dict[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]] = {
        name: (lambda _, name=name: (name, "instant", True, True, True))
        for name in [*names, "Imported"]
    }
    effects["consents"] = lambda s: (*s[:4], False)  # the other consents as they were
    effects["preferences"] = lambda s: (s[0], "weekly", s[2], False, s[4])
    for (_, before), (_, after) in pairwise(snapshots):
        [writer] = [w for w, effect in effects.items() if effect(seen(before)) == seen(after)]
        del effects[writer]
    assert not effects
