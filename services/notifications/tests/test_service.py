"""The use cases of notifications, called as the consumer and the routes call them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session, col, select

from interlocality.common.testing import EVERY_CONSENT, found, upserted
from interlocality.contracts.dating import AgendaSlot, DatingAgenda
from interlocality.contracts.students import Consents, NotificationPreferences
from interlocality.contracts.topics import PREFERENCES
from interlocality.contracts.vacancies import Vacancy
from interlocality.notifications.domain import aware
from interlocality.notifications.service import UnknownStudent, UnknownWebhook
from interlocality.notifications.store import (
    DeliveryRecord,
    FeedEvent,
    NotificationRecord,
    held_on,
    notifications_of,
)
from interlocality.notifications.webhooks import WebhookUrlRefused

if TYPE_CHECKING:
    from .conftest import Parts

Build = Callable[..., "Parts"]
EMAIL = NotificationPreferences(channels=["email", "in_app"])


def applied(parts: Parts, use_case: Callable[[Session], None]) -> None:
    """Apply ``use_case`` in one transaction, as the consumer applies an event."""
    with parts.runtime.transaction() as session:
        use_case(session)


def deliveries(parts: Parts, student_id: str) -> list[DeliveryRecord]:
    with parts.session() as session:
        found_ = session.exec(
            select(DeliveryRecord).where(DeliveryRecord.recipient_id == student_id)
        )
        return list(found_.all())


def feed(parts: Parts, student_id: str) -> list[NotificationRecord]:
    """The student's notifications, those waiting for their profile too."""
    with parts.session() as session:
        return list(
            session.exec(
                select(NotificationRecord)
                .where(NotificationRecord.student_id == student_id)
                .order_by(col(NotificationRecord.created_at).desc(), col(NotificationRecord.id))
            )
        )


def shown(parts: Parts, student_id: str) -> list[NotificationRecord]:
    """The student's notifications as they are shown to them."""
    with parts.session() as session:
        return notifications_of(session, student_id, 100)


def closed(vacancy_id: str, version: int = 2) -> Vacancy:
    return Vacancy(
        vacancy_id=vacancy_id,
        company_id="c-1",
        title="Thesis on battery logistics",
        kind="thesis",
        required_skills=[],
        languages=[],
        status="closed",
        version=version,
        updated_at=datetime.now(UTC),
    )


def test_a_match_makes_one_notification_per_student_and_vacancy_with_its_deliveries(
    service_parts: Build, region: str
) -> None:
    parts = service_parts()
    service = parts.service
    applied(
        parts, lambda s: service.take_profile(s, upserted(region, "s-1", preferences=EMAIL).data)
    )
    v1 = found(region, "s-1", "v-1").data
    applied(parts, lambda s: service.notify(s, [v1, v1, found(region, "s-1", "v-2").data]))
    applied(parts, lambda s: service.notify(s, [found(region, "s-1", "v-1").data]))

    records = feed(parts, "s-1")
    assert sorted(r.vacancy_id for r in records) == ["v-1", "v-2"]
    assert records[0].content["why"] == "You have 1 of the 2 skills this vacancy asks for."
    pushed = deliveries(parts, "s-1")
    assert (
        sorted((d.channel, d.kind, d.status) for d in pushed) == [("email", "match", "pending")] * 2
    )
    assert {d.notification_ids[0] for d in pushed} == {r.id for r in records}
    sent = parts.staged()
    assert parts.event_types() == ["NotificationSent"] * 2
    assert {s.data["notification_id"] for s in sent} == {r.id for r in records}
    assert parts.hub._touched == {"s-1"}


def test_a_match_waits_for_the_profile_and_reaches_only_consenting_students_above_threshold(
    service_parts: Build, region: str
) -> None:
    parts = service_parts()
    service = parts.service
    applied(parts, lambda s: service.notify(s, [found(region, "s-2", "v-1").data]))
    (waiting,) = feed(parts, "s-2")
    assert waiting.digest == "awaiting" and deliveries(parts, "s-2") == []

    applied(
        parts, lambda s: service.take_profile(s, upserted(region, "s-2", preferences=EMAIL).data)
    )
    assert feed(parts, "s-2")[0].digest is None
    assert [(d.kind, d.notification_ids) for d in deliveries(parts, "s-2")] == [
        ("match", [waiting.id])
    ]

    choosy = NotificationPreferences(channels=["email"], min_score=0.9)
    withdrawn = Consents.model_validate({"notifications": {"granted": False}})
    applied(
        parts, lambda s: service.take_profile(s, upserted(region, "s-3", preferences=choosy).data)
    )
    applied(
        parts, lambda s: service.take_profile(s, upserted(region, "s-4", consents=withdrawn).data)
    )
    silent = upserted(region, "s-5", preferences=EMAIL, consents=Consents())  # said nothing
    applied(parts, lambda s: service.take_profile(s, silent.data))
    applied(
        parts,
        lambda s: service.notify(
            s,
            [
                found(region, "s-3", "v-1").data,
                found(region, "s-4", "v-1").data,
                found(region, "s-5", "v-1").data,
            ],
        ),
    )
    assert feed(parts, "s-3") == [] and feed(parts, "s-4") == [] and feed(parts, "s-5") == []
    assert deliveries(parts, "s-5") == []


def test_a_match_that_came_before_the_profile_of_a_student_not_consenting_is_dropped(
    service_parts: Build, region: str
) -> None:
    """Matches and profiles travel on topics of their own: after a broker's restart and
    replay, or a consumer's restart, a student's match may be read before their profile. A
    profile without consent to notifications then takes the waiting notification away."""
    parts = service_parts()
    service = parts.service
    applied(parts, lambda s: service.notify(s, [found(region, "s-6", "v-1").data]))
    assert [r.digest for r in feed(parts, "s-6")] == ["awaiting"]

    no = Consents.model_validate({"matching": {"granted": True}})  # not to notifications
    applied(parts, lambda s: service.take_profile(s, upserted(region, "s-6", consents=no).data))
    assert feed(parts, "s-6") == []
    with parts.session() as session:
        assert session.exec(select(FeedEvent).where(FeedEvent.student_id == "s-6")).all() == []
    assert deliveries(parts, "s-6") == []


def test_a_match_found_on_a_newer_profile_waits_for_it_and_its_consent(
    service_parts: Build, region: str
) -> None:
    """A student who consents later: matching reads the consenting profile and finds the
    match, which may reach notifications before that profile does. Held against the older
    profile's "no", it would be skipped for good; it waits for the profile it was found
    on, and that profile decides."""
    parts = service_parts()
    service = parts.service
    no = Consents.model_validate({"matching": {"granted": True}})  # not to notifications
    for student_id in ("s-7", "s-8"):
        applied(
            parts,
            lambda s, sid=student_id: service.take_profile(
                s, upserted(region, sid, preferences=EMAIL, consents=no, version=1).data
            ),
        )
    applied(
        parts,
        lambda s: service.notify(
            s,
            [
                found(region, "s-7", "v-1", student_version=2).data,
                found(region, "s-8", "v-1", student_version=2).data,
                found(region, "s-8", "v-2", student_version=1).data,  # found on the "no"
            ],
        ),
    )
    assert [(r.vacancy_id, r.digest) for r in feed(parts, "s-7")] == [("v-1", "awaiting")]
    assert [(r.vacancy_id, r.digest) for r in feed(parts, "s-8")] == [("v-1", "awaiting")]
    assert shown(parts, "s-7") == [] and shown(parts, "s-8") == []  # not while they wait
    with parts.session() as session:
        assert session.exec(select(FeedEvent)).all() == []  # nothing shown while waiting
    assert deliveries(parts, "s-7") == [] and parts.staged() == []

    applied(  # consents now: the notification is shown, sent and delivered
        parts,
        lambda s: service.take_profile(
            s, upserted(region, "s-7", preferences=EMAIL, version=2).data
        ),
    )
    (released,) = shown(parts, "s-7")
    assert released.digest is None
    assert [(d.kind, d.notification_ids) for d in deliveries(parts, "s-7")] == [
        ("match", [released.id])
    ]
    with parts.session() as session:
        assert [
            (e.student_id, e.kind, e.notification_id) for e in session.exec(select(FeedEvent))
        ] == [("s-7", "notification", released.id)]
    assert [s.data["notification_id"] for s in parts.staged()] == [released.id]

    applied(  # still says no: nothing is shown, the waiting notification goes
        parts,
        lambda s: service.take_profile(
            s, upserted(region, "s-8", preferences=EMAIL, consents=no, version=2).data
        ),
    )
    assert feed(parts, "s-8") == [] and deliveries(parts, "s-8") == []

    # read before any profile of the student, then the older profile ("no") before the one
    # it was found on ("yes"): the older one leaves it waiting
    applied(
        parts, lambda s: service.notify(s, [found(region, "s-10", "v-1", student_version=2).data])
    )
    for version, consents in ((1, no), (2, EVERY_CONSENT)):
        applied(
            parts,
            lambda s, v=version, c=consents: service.take_profile(
                s, upserted(region, "s-10", preferences=EMAIL, version=v, consents=c).data
            ),
        )
        waiting = [r.digest for r in feed(parts, "s-10")]
        assert waiting == (["awaiting"] if version == 1 else [None]), version
    assert [d.kind for d in deliveries(parts, "s-10")] == ["match"]

    # a waiting match withdrawn (an erased student's, replayed before matching read the
    # erasure) or of a vacancy closed meanwhile leaves nothing behind
    applied(
        parts,
        lambda s: service.notify(
            s,
            [
                found(region, "s-9", "v-1").data,
                found(region, "s-9", "v-3").data,
            ],
        ),
    )
    applied(parts, lambda s: service.withdraw_match(s, "s-9", "v-1"))
    applied(parts, lambda s: service.take_vacancy(s, closed("v-3")))
    assert feed(parts, "s-9") == []
    with parts.session() as session:
        assert session.exec(select(FeedEvent).where(FeedEvent.student_id == "s-9")).all() == []


def test_a_withdrawn_match_or_a_closed_vacancy_leaves_the_notification_unavailable(
    service_parts: Build, region: str
) -> None:
    parts = service_parts()
    service = parts.service
    applied(parts, lambda s: service.take_profile(s, upserted(region, "s-1").data))
    applied(
        parts,
        lambda s: service.notify(
            s, [found(region, "s-1", "v-1").data, found(region, "s-1", "v-2").data]
        ),
    )
    applied(parts, lambda s: service.withdraw_match(s, "s-1", "v-1"))
    applied(parts, lambda s: service.withdraw_match(s, "s-1", "v-1"))  # once only
    applied(parts, lambda s: service.take_vacancy(s, closed("v-2")))
    assert {r.vacancy_id: r.available for r in feed(parts, "s-1")} == {"v-1": False, "v-2": False}
    with parts.session() as session:
        kinds = [e.kind for e in session.exec(select(FeedEvent).order_by(FeedEvent.position))]
    assert kinds == ["notification", "notification", "unavailable", "unavailable"]

    # a closed vacancy is never notified; a match that changes updates what the feed shows
    applied(parts, lambda s: service.notify(s, [found(region, "s-5", "v-2").data]))
    assert feed(parts, "s-5") == []
    better = found(region, "s-1", "v-1").data.model_copy(update={"score": 0.95})
    applied(parts, lambda s: service.update_match(s, better))
    assert {r.vacancy_id: r.score for r in feed(parts, "s-1")}["v-1"] == 0.95


def test_preferences_said_through_a_link_cancel_what_waits_and_tell_profiles(
    service_parts: Build, region: str
) -> None:
    parts = service_parts()
    service = parts.service
    daily = NotificationPreferences(channels=["email"], frequency="daily")
    applied(
        parts, lambda s: service.take_profile(s, upserted(region, "s-6", preferences=EMAIL).data)
    )
    applied(
        parts, lambda s: service.take_profile(s, upserted(region, "s-7", preferences=daily).data)
    )
    applied(
        parts,
        lambda s: service.notify(
            s, [found(region, "s-6", "v-1").data, found(region, "s-7", "v-1").data]
        ),
    )
    assert feed(parts, "s-7")[0].digest == "pending"

    assert service.change_preferences("s-6", None, False) == EMAIL
    (cancelled,) = deliveries(parts, "s-6")
    assert (cancelled.status, cancelled.last_error) == ("cancelled", "the student withdrew consent")
    instant = NotificationPreferences(channels=["email"])
    assert service.change_preferences("s-7", instant, True) == instant
    assert feed(parts, "s-7")[0].digest is None  # out of the digest, still in the feed

    changes = parts.staged(PREFERENCES.name(region))
    assert [(c.data["student_id"], c.data["notifications_consent"]) for c in changes] == [
        ("s-6", False),
        ("s-7", True),
    ]
    with pytest.raises(UnknownStudent):
        service.change_preferences("nobody", None, False)

    # a profile older than what the student said through the link does not undo it
    older = upserted(region, "s-7", 2, preferences=daily).data
    older = older.model_copy(update={"updated_at": datetime.now(UTC) - timedelta(hours=1)})
    applied(parts, lambda s: service.take_profile(s, older))
    with parts.session() as session:
        assert held_on(session, "s-7")["recipient"]["frequency"] == "instant"


def test_webhook_endpoints_are_checked_resumed_and_removed(
    service_parts: Build, region: str
) -> None:
    production = service_parts(deployment="production").service
    with pytest.raises(WebhookUrlRefused, match="https"):
        production.register_webhook("http://127.0.0.1:9/hook", None, "")
    parts = service_parts(deployment="embedded")
    service = parts.service
    with pytest.raises(UnknownStudent):
        service.register_webhook("http://127.0.0.1:9/hook", "nobody", "")

    endpoint = service.register_webhook("http://127.0.0.1:9/hook", None, "the operator's")
    assert (endpoint.student_id, len(endpoint.secret) >= 32) == (None, True)
    later = datetime.now(UTC) + timedelta(hours=1)
    with parts.runtime.transaction() as session:
        endpoint.paused, endpoint.failures_in_row = True, 3
        session.add(endpoint)
        session.add(
            DeliveryRecord(
                id="d-1", recipient_id="s-1", channel="webhook", target=endpoint.id, kind="match"
            )
        )
        session.flush()
        session.get_one(DeliveryRecord, "d-1").due_at = later
    resumed = service.resume_webhook(endpoint.id)
    assert (resumed.paused, resumed.failures_in_row) == (False, 0)
    (waiting,) = deliveries(parts, "s-1")
    assert aware(waiting.due_at) < later

    service.remove_webhook(endpoint.id)
    with pytest.raises(UnknownWebhook):
        service.remove_webhook(endpoint.id)
    with pytest.raises(UnknownWebhook):
        service.resume_webhook(endpoint.id)


def agenda(kind: str, participant: str) -> DatingAgenda:
    start = datetime(2027, 3, 4, 9, 0, tzinfo=UTC)
    return DatingAgenda(
        dating_event_id="cd-1",
        dating_event_name="Company Dating Aarhus",
        venue="Navitas",
        participant_kind=kind,  # type: ignore[arg-type]
        participant_id=participant,
        slots=[
            AgendaSlot(
                slot=1,
                starts_at=start,
                ends_at=start + timedelta(minutes=10),
                table=3,
                counterpart_kind="company" if kind == "student" else "student",
                counterpart_id="c-1" if kind == "student" else "s-1",
                score=0.7,
            )
        ],
        icalendar="BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
    )


def test_an_agenda_reaches_the_student_by_their_channels_and_a_company_with_a_contact(
    service_parts: Build, region: str
) -> None:
    parts = service_parts()
    service = parts.service
    applied(
        parts, lambda s: service.take_profile(s, upserted(region, "s-1", preferences=EMAIL).data)
    )
    issued = datetime.now(UTC)
    applied(parts, lambda s: service.take_agenda(s, agenda("student", "s-1"), "e-1", issued))
    applied(parts, lambda s: service.take_agenda(s, agenda("company", "c-1"), "e-2", issued))
    applied(parts, lambda s: service.take_agenda(s, agenda("student", "s-1"), "e-1", issued))

    assert [(d.kind, d.channel, d.agenda_id) for d in deliveries(parts, "s-1")] == [
        ("agenda", "email", "cd-1:s-1")
    ]
    assert deliveries(parts, "c-1") == []  # no contact address known
    with parts.session() as session:
        assert len(held_on(session, "s-1")["agendas"]) == 1


def test_erasing_a_student_leaves_nothing_of_them(service_parts: Build, region: str) -> None:
    parts = service_parts()
    service = parts.service
    applied(
        parts, lambda s: service.take_profile(s, upserted(region, "s-1", preferences=EMAIL).data)
    )
    applied(parts, lambda s: service.notify(s, [found(region, "s-1", "v-1").data]))
    applied(
        parts, lambda s: service.take_agenda(s, agenda("student", "s-1"), "e-1", datetime.now(UTC))
    )
    with parts.session() as session:
        held = held_on(session, "s-1")
    assert all(held[k] for k in ("recipient", "notifications", "deliveries", "agendas"))

    applied(parts, lambda s: service.erase_student(s, "s-1"))
    # replayed after the broker lost its log, and one of a student never seen: no-ops
    applied(parts, lambda s: service.erase_student(s, "s-1"))
    applied(parts, lambda s: service.erase_student(s, "s-Ilgın-Øre"))
    with parts.session() as session:
        assert held_on(session, "s-Ilgın-Øre")["recipient"] is None
        assert held_on(session, "s-1") == {
            "recipient": None,
            "notifications": [],
            "deliveries": [],
            "webhooks": [],
            "agendas": [],
        }
