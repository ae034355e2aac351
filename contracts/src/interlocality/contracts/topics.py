"""The topics as data: read by the topic creator, the docs and the k8s manifests.

``TOPICS`` are a region's own (``<region>.<service>.<entity>.v<major>``), created in every
region. ``FEDERATION_TOPICS`` are shared by the partner regions (``federation.<service>.
<entity>.v<major>``, no region in the name): they live once on the federation cluster, or
on every regional cluster with MirrorMaker 2 copying them between. They are kept apart so
that what creates, lists or consumes a region's topics does not take a shared one for its
own; ``topic_of_event`` knows both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from interlocality.contracts.applications import (
    ApplicationEvent,
    ApplicationSubmitted,
    PlacementMade,
)
from interlocality.contracts.companies import CompanyEvent, CompanyRegistered
from interlocality.contracts.dating import DatingAgendaEvent, DatingAgendaIssued
from interlocality.contracts.federation import RegionSnapshot, RegionSnapshotEvent
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
    "FEDERATION_TOPICS",
    "MATCHES",
    "OUTCOMES",
    "PREFERENCES",
    "SNAPSHOTS",
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
    federated: bool = False

    def name(self, region: str) -> str:
        """The topic's name in ``region``; a federated topic's name is the same in every one."""
        if self.federated:
            return f"federation.{self.service}.{self.entity}.v{self.major}"
        return f"{region}.{self.service}.{self.entity}.v{self.major}"

    def dlq_name(self, region: str) -> str:
        """The dead-letter topic for messages of this topic that ``region`` could not apply
        (a region's own, for a federated topic too)."""
        if self.federated:
            return f"{region}.{self.name(region)}.dlq"
        return f"{self.name(region)}.dlq"

    def mirrored_pattern(self) -> str:
        """A regular expression matching the topic and the copies MirrorMaker 2 makes of it
        in another cluster (its default replication policy prefixes the source cluster's
        alias, a region: ``aarhus.federation.analytics.snapshots.v1``), which is how it
        never copies a copy back. Only a federated topic is mirrored."""
        if not self.federated:
            raise ValueError(f"{self.entity} is a region's own topic, not mirrored")
        return rf"^([a-z][a-z0-9-]{{1,31}}\.)?{re.escape(self.name(''))}$"

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

SNAPSHOTS = TopicSpec(
    service="analytics",
    entity="snapshots",
    major=1,
    key="region",
    partitions=1,
    compacted=False,
    # Not compacted: keyed by region, compaction would keep only each region's latest
    # snapshot, while the cross-region view shows trends over 24 months and a region that
    # joins later must read them from the log. Three years keep two full years of months
    # and the budget year before them; snapshots are few (the ε budget bounds them) and small.
    retention_ms=3 * 365 * DAY_MS,
    event_union=RegionSnapshotEvent,
    event_types=(RegionSnapshot,),
    description="Regions' privacy-safe monthly aggregates, read by every partner region.",
    federated=True,
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
FEDERATION_TOPICS: tuple[TopicSpec, ...] = (SNAPSHOTS,)


def topic_of_event(event_type: type) -> TopicSpec:
    """The topic an event class is published on."""
    for spec in (*TOPICS, *FEDERATION_TOPICS):
        if event_type in spec.event_types:
            return spec
    raise KeyError(f"{event_type.__name__} belongs to no topic")
