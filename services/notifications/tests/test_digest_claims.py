"""Two instances of notifications on one PostgreSQL database making digests at once: one
digest per student and digest time, made by one of them, and a notification that came
after that digest was put together waits for the next one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import select

from interlocality.common.testing import committed_or_waiting, found, upserted
from interlocality.contracts.students import NotificationPreferences
from interlocality.notifications import planning
from interlocality.notifications.store import DeliveryRecord, NotificationRecord

if TYPE_CHECKING:
    from .conftest import Parts

Build = Callable[..., "Parts"]
STUDENTS = ("s-1", "s-2", "s-3")


class HeldDigest:
    """Lets the first digest chosen stop, inside its round's transaction, until let go;
    remembers whose it was."""

    def __init__(self) -> None:
        self.choose = planning.choose_digest
        self.inside = threading.Event()
        self.go = threading.Event()
        self.student_id = ""

    def __call__(self, fresh: list[NotificationRecord], **how: Any) -> Any:
        if not self.inside.is_set():
            self.student_id = fresh[0].student_id
            self.inside.set()
            assert self.go.wait(30)
        return self.choose(fresh, **how)


# instances share a PostgreSQL database (a SQLite file has one process)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_digest_rounds_at_once_make_one_digest_per_student_and_time(
    service_parts: Build, region: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = service_parts(), service_parts()
    daily = NotificationPreferences(channels=["email"], frequency="daily", digest_hour=8)
    for student in STUDENTS:
        with one.runtime.transaction() as session:
            one.service.take_profile(session, upserted(region, student, preferences=daily).data)
    with one.runtime.transaction() as session:
        one.service.notify(session, [found(region, s, "v-1").data for s in STUDENTS])
    due = datetime.now(UTC) + timedelta(days=1, hours=1)

    held = HeldDigest()
    monkeypatch.setattr(planning, "choose_digest", held)
    made: dict[str, int] = {}
    first = threading.Thread(target=lambda: made.update(one=one.service.make_digests(due)))
    first.start()
    assert held.inside.wait(30)
    # while the first round puts together a digest, a new match of that student commits ...
    with two.runtime.transaction() as session:
        two.service.notify(session, [found(region, held.student_id, "v-late").data])
    # ... and the other instance's round runs (or waits for the first)
    second = threading.Thread(target=lambda: made.update(two=two.service.make_digests(due)))
    second.start()
    committed_or_waiting(second, two.runtime.engine)
    held.go.set()
    first.join(30)
    second.join(30)

    assert not first.is_alive() and not second.is_alive()
    with one.session() as session:
        digests = session.exec(select(DeliveryRecord).where(DeliveryRecord.kind == "digest")).all()
        late = session.exec(
            select(NotificationRecord).where(NotificationRecord.vacancy_id == "v-late")
        ).one()
    assert sorted(d.recipient_id for d in digests) == sorted(STUDENTS)
    assert late.id not in {i for d in digests for i in d.notification_ids}
    assert late.digest == planning.PENDING_DIGEST  # in the next digest, not lost in this one
    assert made == {"one": len(STUDENTS), "two": 0}
