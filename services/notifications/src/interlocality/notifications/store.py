"""What notifications holds: recipients, the vacancies and companies it speaks of, the
notifications themselves, their feed events, deliveries, webhook endpoints and agendas."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol, cast

from sqlalchemy import JSON, Column, Index, Integer, UniqueConstraint
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, Session, SQLModel, col, or_, select

from interlocality.common.db import insert_rows
from interlocality.contracts.students import NotificationPreferences

__all__ = [
    "AWAITING_PROFILE",
    "SHOWN",
    "TABLES",
    "Addressee",
    "AgendaRecord",
    "CompanyInfo",
    "DeliveryRecord",
    "FeedEvent",
    "FeedSequence",
    "NotificationRecord",
    "Recipient",
    "VacancyInfo",
    "WebhookEndpoint",
    "addressees",
    "append_feed",
    "held_on",
    "notification_for",
    "notifications_of",
    "preferences_of",
]


def _now() -> datetime:
    return datetime.now(UTC)


class Recipient(SQLModel, table=True):
    """A student as notifications needs them: address, language, preferences, consent."""

    __tablename__ = "recipient"

    student_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    locale: str = Field(default="en", max_length=8)
    time_zone: str = Field(default="Europe/Copenhagen", max_length=64)
    frequency: str = Field(default="instant", max_length=16)
    channels: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    quiet_hours_start: str | None = Field(default=None, max_length=5)
    quiet_hours_end: str | None = Field(default=None, max_length=5)
    min_score: float = 0.0
    digest_hour: int = 8
    digest_weekday: str = Field(default="monday", max_length=10)
    digest_max_items: int = 10
    consent: bool = True
    profile_version: int = 0
    # When preferences and consent were last said, by the profile or through a link.
    said_at: datetime = Field(default_factory=_now)
    last_digest_at: datetime = Field(default_factory=_now)


class Addressee(Protocol):
    """What deciding whether and how to reach a student reads of them: a
    :class:`Recipient`, or a row of :func:`addressees`."""

    @property
    def student_id(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def time_zone(self) -> str: ...
    @property
    def frequency(self) -> str: ...
    @property
    def channels(self) -> list[str]: ...
    @property
    def quiet_hours_start(self) -> str | None: ...
    @property
    def quiet_hours_end(self) -> str | None: ...
    @property
    def min_score(self) -> float: ...
    @property
    def consent(self) -> bool: ...
    @property
    def profile_version(self) -> int: ...


ADDRESSEE_COLUMNS = (
    "student_id",
    "email",
    "time_zone",
    "frequency",
    "channels",
    "quiet_hours_start",
    "quiet_hours_end",
    "min_score",
    "consent",
    "profile_version",
)


def preferences_of(recipient: Recipient) -> NotificationPreferences:
    """The preferences ``recipient`` is notified by."""
    return NotificationPreferences.model_validate(
        {name: getattr(recipient, name) for name in NotificationPreferences.model_fields}
    )


def addressees(session: Session, student_ids: Collection[str]) -> dict[str, Addressee]:
    """The recipients among ``student_ids`` as plain rows, by student id. A batch of
    matches reads thousands of them, and building ORM objects was the largest part of
    applying it."""
    table = Recipient.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        select(*(table.c[name] for name in ADDRESSEE_COLUMNS)).where(
            table.c.student_id.in_(student_ids)
        )
    ).all()
    return {row.student_id: cast(Addressee, row) for row in rows}


class VacancyInfo(SQLModel, table=True):
    """What a message says of a vacancy."""

    __tablename__ = "vacancy_info"

    vacancy_id: str = Field(primary_key=True, max_length=64)
    company_id: str = Field(max_length=64)
    title: str = Field(max_length=300)
    kind: str = Field(max_length=32)
    status: str = Field(max_length=16)
    location: str = Field(default="", max_length=100)
    remote: str | None = Field(default=None, max_length=16)
    deadline: date | None = None
    start_date: date | None = None
    version: int = 0


class CompanyInfo(SQLModel, table=True):
    """A company's name, and its contact for Company Dating agendas."""

    __tablename__ = "company_info"

    company_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    contact_name: str = Field(default="", max_length=200)
    contact_email: str = Field(default="", max_length=320)
    version: int = 0


class NotificationRecord(SQLModel, table=True):
    """A notification of a match: at most one per student and vacancy, shown in the feed."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("student_id", "vacancy_id", name="uq_notification_student_vacancy"),
        Index("ix_notification_student_created", "student_id", "created_at"),
        Index("ix_notification_vacancy", "vacancy_id"),
        Index("ix_notification_digest", "student_id", "digest"),
    )

    id: str = Field(primary_key=True, max_length=64)
    student_id: str = Field(max_length=64)
    vacancy_id: str = Field(max_length=64)
    company_id: str = Field(max_length=64)
    title: str = Field(max_length=300)
    score: float
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    available: bool = True
    # "pending" while waiting for the student's next digest, then the digest's delivery id;
    # "awaiting" while waiting for the profile the match was found on (version ``awaits``)
    digest: str | None = Field(default=None, max_length=64)
    awaits: int | None = None
    created_at: datetime = Field(default_factory=_now)


AWAITING_PROFILE = "awaiting"  # a notification's digest while it waits for the profile

# What a student is shown: not the notifications still waiting for their profile, which
# may say no to them.
SHOWN = or_(
    col(NotificationRecord.digest).is_(None), col(NotificationRecord.digest) != AWAITING_PROFILE
)


class FeedEvent(SQLModel, table=True):
    """One change of a student's feed, numbered in the order it committed (``sequence``,
    see :func:`append_feed`): what a live stream sends and resumes from."""

    __tablename__ = "feed_event"
    __table_args__ = (
        Index("ix_feed_event_student_sequence", "student_id", "sequence", unique=True),
    )

    position: int | None = Field(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    student_id: str = Field(max_length=64)
    sequence: int  # in the student's feed; a live stream's event id
    kind: str = Field(max_length=16)  # notification | updated | unavailable | agenda
    notification_id: str = Field(max_length=200)  # or the agenda's id
    created_at: datetime = Field(default_factory=_now)


class FeedSequence(SQLModel, table=True):
    """The number of the last event of a student's feed."""

    __tablename__ = "feed_sequence"

    student_id: str = Field(primary_key=True, max_length=64)
    last: int = 0


def append_feed(session: Session, events: Sequence[tuple[str, str, str]], at: datetime) -> None:
    """Add ``events`` (student id, kind, notification or agenda id) to their students'
    feeds, each numbered after the last of its student's.

    The numbers are counted on each student's :class:`FeedSequence` row by an upsert,
    which keeps the row locked until the transaction ends: another transaction adding to
    the same feed waits for this one, then numbers after it. So a student's feed is
    numbered in the order its changes commit, and a stream that resumes after an event
    has seen every one numbered below it. (Positions counted for the whole table as rows
    were inserted let a lower one commit after a higher one was streamed.) Students are
    locked in id order, so two transactions never wait for each other in a circle; SQLite
    lets one writer in at a time anyway.
    """
    if not events:
        return
    counts = Counter(student_id for student_id, _, _ in events)
    students = sorted(counts)
    last: dict[str, int] = {}
    for start in range(0, len(students), SEQUENCE_CHUNK):
        chunk = students[start : start + SEQUENCE_CHUNK]
        last |= _count_up(session, {student_id: counts[student_id] for student_id in chunk})
    taken = {student_id: last[student_id] - counts[student_id] for student_id in counts}
    rows: list[dict[str, Any]] = []
    for student_id, kind, notification_id in events:
        taken[student_id] += 1
        rows.append(
            {
                "student_id": student_id,
                "sequence": taken[student_id],
                "kind": kind,
                "notification_id": notification_id,
                "created_at": at,
            }
        )
    insert_rows(session, FeedEvent, rows)


SEQUENCE_CHUNK = 1_000  # students counted up in one statement


def _count_up(session: Session, counts: Mapping[str, int]) -> dict[str, int]:
    """Add ``counts`` to the students' last feed numbers; the new last ones."""
    table = FeedSequence.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    rows = insert(table).values(
        [{"student_id": student_id, "last": count} for student_id, count in counts.items()]
    )
    counted = rows.on_conflict_do_update(
        index_elements=[table.c.student_id],
        set_={"last": table.c.last + rows.excluded.last},
    ).returning(table.c.student_id, table.c.last)
    return {student_id: last for student_id, last in session.execute(counted).all()}


class DeliveryRecord(SQLModel, table=True):
    """An e-mail or webhook delivery, recorded under its idempotency key before it is sent.

    ``status``: ``pending`` (due at ``due_at``), ``sending`` (claimed by ``claimed_by``
    for its attempt number ``attempts`` until ``lease_until``; a crash leaves it so and
    another worker sends it again once the lease ran out), ``sent``, ``failed`` (after the
    last attempt) or ``cancelled`` (no longer to be sent, ``last_error`` says why).
    """

    __tablename__ = "delivery"
    __table_args__ = (
        Index("ix_delivery_status_due", "status", "due_at"),
        Index("ix_delivery_recipient", "recipient_id"),
    )

    id: str = Field(primary_key=True, max_length=64)
    recipient_id: str = Field(max_length=64)
    recipient_kind: str = Field(default="student", max_length=16)
    channel: str = Field(max_length=16)  # email | webhook
    target: str = Field(max_length=320)  # the address, or the webhook endpoint's id
    kind: str = Field(max_length=16)  # match | digest | agenda
    notification_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    agenda_id: str | None = Field(default=None, max_length=200)
    digest_id: str | None = Field(default=None, max_length=64)
    digest_frequency: str | None = Field(default=None, max_length=16)  # daily | weekly
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    due_at: datetime = Field(default_factory=_now)
    claimed_by: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=_now)


class WebhookEndpoint(SQLModel, table=True):
    """A URL that receives signed deliveries: a student's own tool, or the operator's
    (``student_id`` empty: every student who chose the webhook channel)."""

    __tablename__ = "webhook_endpoint"
    __table_args__ = (Index("ix_webhook_endpoint_student", "student_id"),)

    id: str = Field(primary_key=True, max_length=64)
    student_id: str | None = Field(default=None, max_length=64)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=128)
    description: str = Field(default="", max_length=200)
    paused: bool = False
    paused_reason: str | None = Field(default=None, max_length=2000)
    failures_in_row: int = 0
    last_error: str | None = Field(default=None, max_length=2000)
    last_success_at: datetime | None = None
    created_at: datetime = Field(default_factory=_now)


class AgendaRecord(SQLModel, table=True):
    """A participant's Company Dating agenda, with its iCalendar file."""

    __tablename__ = "agenda"

    id: str = Field(primary_key=True, max_length=200)  # <dating event id>:<participant id>
    participant_kind: str = Field(max_length=16)
    participant_id: str = Field(max_length=64)
    event_name: str = Field(max_length=300)
    venue: str | None = Field(default=None, max_length=300)
    slots: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    icalendar: str
    issued_at: datetime = Field(default_factory=_now)


TABLES: list[type[SQLModel]] = [
    Recipient,
    VacancyInfo,
    CompanyInfo,
    NotificationRecord,
    FeedEvent,
    FeedSequence,
    DeliveryRecord,
    WebhookEndpoint,
    AgendaRecord,
]


def notification_for(
    session: Session, student_id: str, vacancy_id: str
) -> NotificationRecord | None:
    """The notification of ``student_id`` about ``vacancy_id``, if any."""
    return session.exec(
        select(NotificationRecord).where(
            NotificationRecord.student_id == student_id,
            NotificationRecord.vacancy_id == vacancy_id,
        )
    ).first()


def notifications_of(
    session: Session, student_id: str, limit: int, offset: int = 0
) -> list[NotificationRecord]:
    """A student's notifications, newest first (those shown to them)."""
    return list(
        session.exec(
            select(NotificationRecord)
            .where(NotificationRecord.student_id == student_id, SHOWN)
            .order_by(col(NotificationRecord.created_at).desc(), col(NotificationRecord.id))
            .offset(offset)
            .limit(limit)
        ).all()
    )


def held_on(session: Session, student_id: str) -> dict[str, Any]:
    """Everything held on a student (webhook endpoints without their secrets)."""

    def rows(model: Any, column: Any) -> list[dict[str, Any]]:
        found = session.exec(select(model).where(col(column) == student_id)).all()
        return [r.model_dump(mode="json") for r in found]

    recipient = session.get(Recipient, student_id)
    return {
        "recipient": recipient.model_dump(mode="json") if recipient else None,
        "notifications": rows(NotificationRecord, NotificationRecord.student_id),
        "deliveries": rows(DeliveryRecord, DeliveryRecord.recipient_id),
        "webhooks": [
            {k: v for k, v in e.items() if k != "secret"}
            for e in rows(WebhookEndpoint, WebhookEndpoint.student_id)
        ],
        "agendas": rows(AgendaRecord, AgendaRecord.participant_id),
    }
