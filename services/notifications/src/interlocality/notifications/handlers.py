"""Kafka side of notifications.

Follows students (address, language, preferences, consent), companies and vacancies (what a
message says of them), matches and Company Dating agendas. A match makes at most one
notification per student and vacancy, shown in the in-app feed; e-mail and webhook
deliveries of it are recorded under their idempotency keys, due at once (after quiet hours)
for an instant student, or collected for the next digest.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, delete, or_, select, update

from interlocality.common.consumer import Batched
from interlocality.common.db import insert_rows
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.companies import CompanyRegistered
from interlocality.contracts.dating import DatingAgendaIssued
from interlocality.contracts.matches import Match, MatchFound, MatchUpdated, MatchWithdrawn
from interlocality.contracts.notifications import Delivery, NotificationSent
from interlocality.contracts.students import (
    NotificationPreferences,
    StudentProfileErased,
    StudentProfileUpserted,
)
from interlocality.contracts.topics import COMPANIES, DATING_AGENDAS, MATCHES, STUDENTS, VACANCIES
from interlocality.contracts.vacancies import (
    VacancyClosed,
    VacancyExpired,
    VacancyFilled,
    VacancyPublished,
)
from interlocality.notifications.domain import (
    Quiet,
    aware,
    delivery_id,
    in_app_content,
    send_time,
)
from interlocality.notifications.store import (
    Addressee,
    AgendaRecord,
    CompanyInfo,
    DeliveryRecord,
    FeedEvent,
    NotificationRecord,
    Recipient,
    VacancyInfo,
    WebhookEndpoint,
    addressees,
    notification_for,
)
from interlocality.notifications.streams import FeedHub

__all__ = [
    "add_delivery",
    "after_quiet_hours",
    "apply_preferences",
    "cancel_pending",
    "notification_sent",
    "preferences_of",
    "push_targets",
    "register_kafka_handlers",
]

logger = logging.getLogger(__name__)

AWAITING_PROFILE = "awaiting"  # a match came before the student's profile
PENDING_DIGEST = "pending"


def notification_sent(runtime: ServiceRuntime, record: NotificationRecord) -> NotificationSent:
    """The ``NotificationSent`` event of an in-app notification (stable id per notification)."""
    return _sent(runtime, record.id, record.student_id, record.vacancy_id, record.created_at)


def _sent(
    runtime: ServiceRuntime, notification_id: str, student_id: str, vacancy_id: str, at: datetime
) -> NotificationSent:
    return runtime.event(
        NotificationSent,
        subject=student_id,
        data=Delivery(
            notification_id=notification_id,
            student_id=student_id,
            vacancy_id=vacancy_id,
            channel="in_app",
            sent_at=aware(at),
        ),
        version=notification_id,
    )


def push_targets(session: Session, recipient: Addressee) -> list[tuple[str, str]]:
    """Where ``recipient``'s notifications are pushed: ``(channel, target)`` pairs, the
    target an e-mail address or a webhook endpoint's id (the student's own or the
    operator's, unless paused)."""
    targets: list[tuple[str, str]] = []
    if "email" in recipient.channels and recipient.email:
        targets.append(("email", recipient.email))
    if "webhook" in recipient.channels:
        endpoints = session.exec(
            select(WebhookEndpoint.id)
            .where(
                or_(
                    col(WebhookEndpoint.student_id) == recipient.student_id,
                    col(WebhookEndpoint.student_id).is_(None),
                ),
                col(WebhookEndpoint.paused).is_(False),
            )
            .order_by(col(WebhookEndpoint.created_at))
        ).all()
        targets.extend(("webhook", endpoint) for endpoint in endpoints)
    return targets


def add_delivery(session: Session, delivery: DeliveryRecord) -> bool:
    """Record ``delivery`` unless its idempotency key is already recorded."""
    if session.get(DeliveryRecord, delivery.id) is not None:
        return False
    session.add(delivery)
    return True


def register_kafka_handlers(runtime: ServiceRuntime, hub: FeedHub) -> None:
    """Subscribe notifications to students, companies, vacancies, matches and agendas."""

    def feed(session: Session, student_id: str, kind: str, notification_id: str) -> None:
        session.add(FeedEvent(student_id=student_id, kind=kind, notification_id=notification_id))
        hub.touch(student_id)

    def plan_pushes(session: Session, recipient: Recipient, record: NotificationRecord) -> None:
        record.digest = digest_state(recipient)
        session.add(record)
        for delivery in push_deliveries(session, recipient, record.id):
            add_delivery(session, delivery)

    # -- students -----------------------------------------------------------------------

    def on_student_upserted(event: StudentProfileUpserted, session: Session) -> None:
        profile = event.data
        recipient = session.get(Recipient, profile.student_id)
        if recipient is not None and recipient.profile_version >= profile.version:
            return  # a replay or an older snapshot
        said = aware(profile.updated_at)
        if recipient is None:
            recipient = Recipient(student_id=profile.student_id, name=profile.name, email="")
            said_later = False
        else:
            said_later = aware(recipient.said_at) > said  # changed through a link since
        recipient.name = profile.name
        recipient.email = str(profile.email)
        recipient.profile_version = profile.version
        session.add(recipient)
        if not said_later:
            apply_preferences(
                session,
                recipient,
                profile.notification_preferences,
                profile.consents.notifications.granted,
                said,
            )
        if recipient.consent:
            session.flush()
            waiting = session.exec(
                select(NotificationRecord).where(
                    NotificationRecord.student_id == recipient.student_id,
                    NotificationRecord.digest == AWAITING_PROFILE,
                )
            ).all()
            for record in waiting:
                plan_pushes(session, recipient, record)

    def on_student_erased(event: StudentProfileErased, session: Session) -> None:
        student_id = event.data.student_id
        for table, column in (
            (NotificationRecord, NotificationRecord.student_id),
            (FeedEvent, FeedEvent.student_id),
            (DeliveryRecord, DeliveryRecord.recipient_id),
            (WebhookEndpoint, WebhookEndpoint.student_id),
            (AgendaRecord, AgendaRecord.participant_id),
            (Recipient, Recipient.student_id),
        ):
            session.exec(delete(table).where(col(column) == student_id))

    # -- companies and vacancies ------------------------------------------------------

    def on_company(event: CompanyRegistered, session: Session) -> None:
        company = event.data
        info = session.get(CompanyInfo, company.company_id)
        if info is not None and info.version >= company.version:
            return
        session.merge(
            CompanyInfo(
                company_id=company.company_id,
                name=company.name,
                contact_name=company.contact.name,
                contact_email=company.contact.email,
                version=company.version,
            )
        )

    def on_vacancy(
        event: VacancyPublished | VacancyClosed | VacancyFilled | VacancyExpired,
        session: Session,
    ) -> None:
        vacancy = event.data
        info = session.get(VacancyInfo, vacancy.vacancy_id)
        if info is not None and info.version >= vacancy.version:
            return
        session.merge(
            VacancyInfo(
                vacancy_id=vacancy.vacancy_id,
                company_id=vacancy.company_id,
                title=vacancy.title,
                kind=vacancy.kind,
                status=vacancy.status,
                location=vacancy.location,
                remote=vacancy.remote,
                deadline=vacancy.application_deadline,
                start_date=vacancy.start_date,
                version=vacancy.version,
            )
        )
        if vacancy.status != "open":
            for record in session.exec(
                select(NotificationRecord).where(
                    NotificationRecord.vacancy_id == vacancy.vacancy_id,
                    col(NotificationRecord.available).is_(True),
                )
            ).all():
                no_longer_available(session, record)

    # -- matches ----------------------------------------------------------------------

    def no_longer_available(session: Session, record: NotificationRecord) -> None:
        record.available = False
        session.add(record)
        feed(session, record.student_id, "unavailable", record.id)

    def notify(matches: list[Match], session: Session) -> None:
        """Notifications of ``matches``: one query per table for all of them."""
        students = {m.student_id for m in matches}
        vacancies = {m.vacancy_id for m in matches}
        known = set(
            session.exec(
                select(NotificationRecord.student_id, NotificationRecord.vacancy_id).where(
                    col(NotificationRecord.student_id).in_(students),
                    col(NotificationRecord.vacancy_id).in_(vacancies),
                )
            ).all()
        )
        recipients = addressees(session, students)
        closed = set(
            session.exec(
                select(VacancyInfo.vacancy_id).where(
                    col(VacancyInfo.vacancy_id).in_(vacancies), VacancyInfo.status != "open"
                )
            ).all()
        )
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        deliveries: list[DeliveryRecord] = []
        for match in matches:
            key = (match.student_id, match.vacancy_id)
            recipient = recipients.get(match.student_id)
            if key in known or match.vacancy_id in closed:
                continue  # exactly one notification per student and vacancy; open ones only
            if recipient is not None and (
                not recipient.consent or match.score < recipient.min_score
            ):
                continue
            known.add(key)
            notification_id = str(uuid.uuid4())
            rows.append(
                {
                    "id": notification_id,
                    "student_id": match.student_id,
                    "vacancy_id": match.vacancy_id,
                    "company_id": match.company_id,
                    "title": match.vacancy_title,
                    "score": match.score,
                    "content": in_app_content(match),
                    "available": True,
                    "digest": digest_state(recipient),
                    "created_at": now,
                }
            )
            if recipient is not None:
                deliveries.extend(push_deliveries(session, recipient, notification_id))
        if not rows:
            return
        insert_rows(session, NotificationRecord, rows)
        insert_rows(
            session,
            FeedEvent,
            [
                {
                    "student_id": row["student_id"],
                    "kind": "notification",
                    "notification_id": row["id"],
                    "created_at": now,
                }
                for row in rows
            ],
        )
        for row in rows:
            hub.touch(row["student_id"])
        runtime.emit_many(
            session,
            [_sent(runtime, r["id"], r["student_id"], r["vacancy_id"], now) for r in rows],
        )
        for delivery in deliveries:
            add_delivery(session, delivery)

    def on_matches_found(events: list[MatchFound], session: Session) -> None:
        notify([event.data for event in events], session)

    def on_match_updated(event: MatchUpdated, session: Session) -> None:
        match = event.data
        record = notification_for(session, match.student_id, match.vacancy_id)
        if record is None:
            notify([match], session)  # it may reach the student's threshold only now
            return
        record.score = match.score
        record.title = match.vacancy_title
        record.content = in_app_content(match)
        session.add(record)
        feed(session, record.student_id, "updated", record.id)

    def on_match_withdrawn(event: MatchWithdrawn, session: Session) -> None:
        record = notification_for(session, event.data.student_id, event.data.vacancy_id)
        if record is not None and record.available:
            no_longer_available(session, record)

    # -- Company Dating ---------------------------------------------------------------

    def on_agenda(event: DatingAgendaIssued, session: Session) -> None:
        agenda = event.data
        agenda_id = f"{agenda.dating_event_id}:{agenda.participant_id}"
        session.merge(
            AgendaRecord(
                id=agenda_id,
                participant_kind=agenda.participant_kind,
                participant_id=agenda.participant_id,
                event_name=agenda.dating_event_name,
                venue=agenda.venue,
                slots=[slot.model_dump(mode="json") for slot in agenda.slots],
                icalendar=agenda.icalendar,
                issued_at=aware(event.time),
            )
        )
        now = datetime.now(UTC)
        if agenda.participant_kind == "company":
            company = session.get(CompanyInfo, agenda.participant_id)
            if company is None or not company.contact_email:
                logger.warning(
                    "no contact address for a company's agenda",
                    extra={"company_id": agenda.participant_id, "agenda": agenda_id},
                )
                return
            targets = [("email", company.contact_email)]
            due = now
        else:
            recipient = session.get(Recipient, agenda.participant_id)
            if recipient is None or not recipient.consent:
                return
            feed(session, recipient.student_id, "agenda", agenda_id)
            targets = push_targets(session, recipient)
            due = after_quiet_hours(recipient, now)
        for channel, target in targets:
            add_delivery(
                session,
                DeliveryRecord(
                    id=delivery_id("agenda", event.id, channel, target),
                    recipient_id=agenda.participant_id,
                    recipient_kind=agenda.participant_kind,
                    channel=channel,
                    target=target,
                    kind="agenda",
                    agenda_id=agenda_id,
                    due_at=due,
                ),
            )

    runtime.consume(
        STUDENTS,
        {StudentProfileUpserted: on_student_upserted, StudentProfileErased: on_student_erased},
    )
    runtime.consume(COMPANIES, {CompanyRegistered: on_company})
    runtime.consume(
        VACANCIES,
        {
            VacancyPublished: on_vacancy,
            VacancyClosed: on_vacancy,
            VacancyFilled: on_vacancy,
            VacancyExpired: on_vacancy,
        },
    )
    runtime.consume(
        MATCHES,
        {
            MatchFound: Batched(on_matches_found),
            MatchUpdated: on_match_updated,
            MatchWithdrawn: on_match_withdrawn,
        },
    )
    runtime.consume(DATING_AGENDAS, {DatingAgendaIssued: on_agenda})


def after_quiet_hours(recipient: Addressee, now: datetime) -> datetime:
    """``now``, or the end of ``recipient``'s quiet hours when ``now`` falls in them."""
    quiet = Quiet(recipient.quiet_hours_start, recipient.quiet_hours_end)
    return send_time(now, recipient.time_zone, quiet)


def digest_state(recipient: Addressee | None) -> str | None:
    """Where a new notification of ``recipient`` waits: for the profile, for the next
    digest, or nowhere (instant)."""
    if recipient is None:
        return AWAITING_PROFILE
    return None if recipient.frequency == "instant" else PENDING_DIGEST


def push_deliveries(
    session: Session, recipient: Addressee, notification_id: str
) -> list[DeliveryRecord]:
    """The e-mail and webhook deliveries of an instant notification, due after quiet hours."""
    if recipient.frequency != "instant":
        return []
    due = after_quiet_hours(recipient, datetime.now(UTC))
    return [
        DeliveryRecord(
            id=delivery_id("match", notification_id, channel, target),
            recipient_id=recipient.student_id,
            channel=channel,
            target=target,
            kind="match",
            notification_ids=[notification_id],
            due_at=due,
        )
        for channel, target in push_targets(session, recipient)
    ]


def apply_preferences(
    session: Session,
    recipient: Recipient,
    preferences: NotificationPreferences,
    consent: bool,
    said_at: datetime,
) -> None:
    """Take ``preferences`` and ``consent``, said at ``said_at`` (by the profile or through
    a link): withdrawn consent cancels what is not sent yet, and leaving the digest takes
    the notifications waiting for it out of it (they stay in the feed)."""
    if recipient.consent and not consent:
        cancel_pending(session, recipient.student_id, "the student withdrew consent")
    if recipient.frequency != "instant" and preferences.frequency == "instant":
        session.exec(
            update(NotificationRecord)
            .where(
                col(NotificationRecord.student_id) == recipient.student_id,
                col(NotificationRecord.digest) == PENDING_DIGEST,
            )
            .values(digest=None)
        )
    for name, value in preferences.model_dump().items():
        setattr(recipient, name, value)
    recipient.consent = consent
    recipient.said_at = said_at
    session.add(recipient)


def preferences_of(recipient: Recipient) -> NotificationPreferences:
    """The preferences ``recipient`` is notified by."""
    return NotificationPreferences.model_validate(
        {name: getattr(recipient, name) for name in NotificationPreferences.model_fields}
    )


def cancel_pending(session: Session, recipient_id: str, reason: str) -> int:
    """Cancel the deliveries of ``recipient_id`` not sent yet; returns how many."""
    result = session.exec(
        update(DeliveryRecord)
        .where(
            col(DeliveryRecord.recipient_id) == recipient_id,
            col(DeliveryRecord.status) == "pending",
        )
        .values(status="cancelled", last_error=reason)
    )
    return int(result.rowcount or 0)
