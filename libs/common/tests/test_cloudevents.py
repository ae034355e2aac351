from datetime import UTC, datetime

import pytest

from interlocality.common.cloudevents import (
    MalformedEvent,
    decode_event,
    encode_event,
    snapshot_event_id,
)
from interlocality.contracts.students import (
    StudentErasure,
    StudentProfileErased,
    StudentProfileUpserted,
)
from interlocality.contracts.topics import STUDENTS, VACANCIES


def erased(student_id: str = "s-1") -> StudentProfileErased:
    return StudentProfileErased(
        source="/interlocality/demo/profiles",
        region="demo",
        subject=student_id,
        data=StudentErasure(student_id=student_id, erased_at=datetime(2026, 5, 1, tzinfo=UTC)),
    )


def test_binary_mode_puts_attributes_in_ce_headers_and_data_in_value() -> None:
    event = erased()
    record = encode_event(event, "demo.profiles.students.v1")

    assert record.key == b"s-1"
    assert record.header("ce_type") == "org.interlocality.StudentProfileErased.v1"
    assert record.header("ce_specversion") == "1.0"
    assert record.header("ce_region") == "demo"
    assert record.header("ce_id") == event.id
    assert record.header("content-type") == "application/json"
    assert record.value is not None and b'"student_id":"s-1"' in record.value


def test_decoding_restores_the_same_event() -> None:
    event = erased()
    record = encode_event(event, "demo.profiles.students.v1")
    assert record.value is not None

    assert decode_event(STUDENTS, record.headers, record.value) == event


def test_an_event_of_another_topic_is_malformed_here() -> None:
    record = encode_event(erased(), "demo.profiles.students.v1")
    assert record.value is not None

    with pytest.raises(MalformedEvent, match="not a valid vacancies event"):
        decode_event(VACANCIES, record.headers, record.value)


@pytest.mark.parametrize(
    ("headers", "value", "reason"),
    [
        ([], b"{}", "missing ce_type"),
        ([("ce_type", b"org.interlocality.StudentProfileErased.v1")], b"{not json", "not JSON"),
        ([("ce_type", b"org.interlocality.StudentProfileErased.v1")], b"\xff\xfe{", "not JSON"),
        (
            [("ce_type", b"org.interlocality.Unheard.v1")],
            b"{}",
            "not a valid students event: type 'org.interlocality.Unheard.v1' is none of",
        ),
        (
            [("ce_type", b"org.interlocality.StudentProfileErased.v1")],
            b'{"student_id": "x"}',
            "not a valid students event",
        ),
    ],
)
def test_malformed_records_are_named(headers: list, value: bytes, reason: str) -> None:
    with pytest.raises(MalformedEvent, match=reason):
        decode_event(STUDENTS, headers, value)


def test_snapshot_ids_are_stable_per_state_and_differ_between_states() -> None:
    kind = StudentProfileUpserted.model_fields["type"].default
    assert snapshot_event_id(kind, "s-1", 3) == snapshot_event_id(kind, "s-1", 3)
    assert snapshot_event_id(kind, "s-1", 3) != snapshot_event_id(kind, "s-1", 4)
    assert snapshot_event_id(kind, "s-1", 3) != snapshot_event_id(kind, "s-2", 3)
