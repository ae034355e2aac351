"""The region's topics as data: read by the topic creator, the docs and the k8s manifests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from interlocality.contracts.applications import (
    ApplicationEvent,
    ApplicationSubmitted,
    PlacementMade,
)
from interlocality.contracts.companies import CompanyEvent, CompanyRegistered
from interlocality.contracts.dating import DatingAgendaEvent, DatingAgendaIssued
from interlocality.contracts.matches import MatchEvent, MatchFound, MatchUpdated, MatchWithdrawn
from interlocality.contracts.notifications import (
    DeliveryEvent,
    MessageDelivered,
    NotificationFailed,
    NotificationPreferencesChanged,
    NotificationSent,
    PreferencesEvent,
)
from interlocality.contracts.outcomes import GraduateOutcomeEvent, GraduateOutcomeRecorded
from interlocality.contracts.students import (
    StudentEvent,
    StudentProfileErased,
    StudentProfileUpserted,
)
from interlocality.contracts.vacancies import (
    VacancyClosed,
    VacancyEvent,
    VacancyExpired,
    VacancyFilled,
    VacancyPublished,
)

__all__ = [
    "APPLICATIONS",
    "COMPANIES",
    "DATING_AGENDAS",
    "DELIVERIES",
    "DLQ_RETENTION_MS",
    "MATCHES",
    "OUTCOMES",
    "PREFERENCES",
    "STUDENTS",
    "TOPICS",
    "VACANCIES",
    "TopicSpec",
    "topic_of_event",
]

DAY_MS = 24 * 60 * 60 * 1000
DLQ_RETENTION_MS = 14 * DAY_MS


@dataclass(frozen=True)
class TopicSpec:
    """One topic of a region: ``<region>.<service>.<entity>.v<major>``."""

    service: str
    entity: str
    major: int
    key: str
    partitions: int
    compacted: bool
    retention_ms: int | None
    event_union: Any
    event_types: tuple[type, ...]
    description: str

    def name(self, region: str) -> str:
        """The topic's name in ``region``."""
        return f"{region}.{self.service}.{self.entity}.v{self.major}"

    def dlq_name(self, region: str) -> str:
        """The dead-letter topic for messages of this topic that could not be applied."""
        return f"{self.name(region)}.dlq"

    def config(self) -> dict[str, str]:
        """Kafka topic configuration (``cleanup.policy``, ``retention.ms``)."""
        config = {"cleanup.policy": "compact" if self.compacted else "delete"}
        if self.retention_ms is not None:
            config["retention.ms"] = str(self.retention_ms)
        return config


STUDENTS = TopicSpec(
    service="profiles",
    entity="students",
    major=1,
    key="student_id",
    partitions=6,
    compacted=True,
    retention_ms=None,
    event_union=StudentEvent,
    event_types=(StudentProfileUpserted, StudentProfileErased),
    description="Student profile snapshots; erasure is an event followed by a tombstone.",
)
OUTCOMES = TopicSpec(
    service="profiles",
    entity="outcomes",
    major=1,
    key="student_id",
    partitions=3,
    compacted=True,
    retention_ms=None,
    event_union=GraduateOutcomeEvent,
    event_types=(GraduateOutcomeRecorded,),
    description="Graduates' outcomes the operator recorded; the latest per student counts.",
)
COMPANIES = TopicSpec(
    service="vacancies",
    entity="companies",
    major=1,
    key="company_id",
    partitions=3,
    compacted=True,
    retention_ms=None,
    event_union=CompanyEvent,
    event_types=(CompanyRegistered,),
    description="Company snapshots.",
)
VACANCIES = TopicSpec(
    service="vacancies",
    entity="vacancies",
    major=1,
    key="vacancy_id",
    partitions=6,
    compacted=True,
    retention_ms=None,
    event_union=VacancyEvent,
    event_types=(VacancyPublished, VacancyClosed, VacancyFilled, VacancyExpired),
    description="Vacancy snapshots: open, closed, filled or expired.",
)
APPLICATIONS = TopicSpec(
    service="vacancies",
    entity="applications",
    major=1,
    key="vacancy_id",
    partitions=3,
    compacted=False,
    retention_ms=365 * DAY_MS,
    event_union=ApplicationEvent,
    event_types=(ApplicationSubmitted, PlacementMade),
    description="Applications and placements: the funnel analytics follows.",
)
MATCHES = TopicSpec(
    service="matching",
    entity="matches",
    major=1,
    key="student_id",
    partitions=6,
    compacted=False,
    retention_ms=30 * DAY_MS,
    event_union=MatchEvent,
    event_types=(MatchFound, MatchUpdated, MatchWithdrawn),
    description="Matches found, updated and withdrawn, in order per student.",
)
DATING_AGENDAS = TopicSpec(
    service="matching",
    entity="dating-agendas",
    major=1,
    key="participant_id",
    partitions=6,
    compacted=False,
    retention_ms=30 * DAY_MS,
    event_union=DatingAgendaEvent,
    event_types=(DatingAgendaIssued,),
    description="Company Dating agendas, one per student and company, with the iCalendar file.",
)
DELIVERIES = TopicSpec(
    service="notifications",
    entity="deliveries",
    major=1,
    key="student_id",
    partitions=3,
    compacted=False,
    retention_ms=30 * DAY_MS,
    event_union=DeliveryEvent,
    event_types=(NotificationSent, MessageDelivered, NotificationFailed),
    description="Notification outcomes per recipient: sent, or failed after the last retry.",
)
PREFERENCES = TopicSpec(
    service="notifications",
    entity="preferences",
    major=1,
    key="student_id",
    partitions=3,
    compacted=False,
    retention_ms=30 * DAY_MS,
    event_union=PreferencesEvent,
    event_types=(NotificationPreferencesChanged,),
    description="Preferences changed or unsubscribed through a link; profiles applies them.",
)

TOPICS: tuple[TopicSpec, ...] = (
    STUDENTS,
    OUTCOMES,
    COMPANIES,
    VACANCIES,
    APPLICATIONS,
    MATCHES,
    DATING_AGENDAS,
    DELIVERIES,
    PREFERENCES,
)


def topic_of_event(event_type: type) -> TopicSpec:
    """The topic an event class is published on."""
    for spec in TOPICS:
        if event_type in spec.event_types:
            return spec
    raise KeyError(f"{event_type.__name__} belongs to no topic")
