"""Matching's test parts: snapshots as profiles and vacancies send them, and the service
layer on a real database of its own."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from sqlmodel import col, select

from interlocality.common.cloudevents import decode_event
from interlocality.common.esco import default_vocabulary
from interlocality.common.esco_relations import SkillGraph
from interlocality.common.migrations import upgrade
from interlocality.common.outbox import OutboxMessage
from interlocality.common.service import ServiceRuntime
from interlocality.common.testing import EVERY_CONSENT
from interlocality.contracts.common import LanguageSkill, SkillLevel, SkillRequirement
from interlocality.contracts.companies import Company, CompanyRegistered
from interlocality.contracts.students import (
    Consents,
    PermittedWork,
    StudentErasure,
    StudentProfile,
    StudentProfileErased,
    StudentProfileUpserted,
)
from interlocality.contracts.topics import MATCHES
from interlocality.contracts.vacancies import Vacancy
from interlocality.matching.app import MIGRATIONS
from interlocality.matching.index import MatchIndex
from interlocality.matching.service import MatchingService
from interlocality.matching.store import TABLES


@cache
def _graph() -> SkillGraph:
    return SkillGraph.from_vocabulary(default_vocabulary())


@pytest.fixture
def uris() -> list[str]:
    """Three essential skills of a data analyst."""
    vocabulary = default_vocabulary()
    analyst = next(o for o in vocabulary.occupations.values() if o.label == "data analyst")
    return list(analyst.essential_skills[:3])


@dataclass
class Snapshots:
    """Students, vacancies and companies of one region, as their services announce them."""

    region: str
    skills: list[str]

    def student(
        self,
        student_id: str,
        owned: list[str],
        version: int = 1,
        permitted: PermittedWork | None = None,
        languages: dict[str, str] | None = None,
        consents: Consents = EVERY_CONSENT,
    ) -> StudentProfile:
        return StudentProfile(
            student_id=student_id,
            name="Kwame Mensah",
            email="kwame.mensah@students.example.org",
            skills=[SkillLevel(uri=uri, level=4) for uri in owned],
            languages=[
                LanguageSkill(code=code, level=level) for code, level in (languages or {}).items()
            ],
            engagement_kinds=["student_job"],
            version=version,
            updated_at=datetime.now(UTC),
            permitted_work=permitted,
            consents=consents,
        )

    def vacancy(
        self,
        status: str,
        version: int,
        required: list[str] | None = None,
        nice: tuple[str, ...] = (),
    ) -> Vacancy:
        return Vacancy(
            vacancy_id="v-1",
            company_id="c-1",
            title="Data analyst (student job)",
            kind="student_job",
            required_skills=[
                SkillRequirement(uri=uri, min_level=2)
                for uri in (self.skills if required is None else required)
            ],
            nice_to_have_skills=[SkillRequirement(uri=uri) for uri in nice],
            languages=[],
            status=status,
            version=version,
            updated_at=datetime.now(UTC),
            hours_per_week=37,
        )

    def company(self, export_markets: list[str], version: int = 1) -> Company:
        return Company(
            company_id="c-1",
            name="Nordlys Analytics",
            version=version,
            updated_at=datetime.now(UTC),
            export_markets=export_markets,
        )

    def upserted(self, student_id: str, owned: list[str], **changes: Any) -> StudentProfileUpserted:
        return StudentProfileUpserted(
            source=f"/interlocality/{self.region}/profiles",
            region=self.region,
            subject=student_id,
            data=self.student(student_id, owned, **changes),
        )

    def erased(self, student_id: str) -> StudentProfileErased:
        return StudentProfileErased(
            source=f"/interlocality/{self.region}/profiles",
            region=self.region,
            subject=student_id,
            data=StudentErasure(student_id=student_id, erased_at=datetime.now(UTC)),
        )

    def vacancy_event(self, event_type: type, status: str, version: int, **changes: Any) -> Any:
        return event_type(
            source=f"/interlocality/{self.region}/vacancies",
            region=self.region,
            subject="v-1",
            data=self.vacancy(status, version, **changes),
        )

    def registered(self, export_markets: list[str], version: int = 1) -> CompanyRegistered:
        return CompanyRegistered(
            source=f"/interlocality/{self.region}/vacancies",
            region=self.region,
            subject="c-1",
            data=self.company(export_markets, version),
        )


@pytest.fixture
def snapshots(region: str, uris: list[str]) -> Snapshots:
    return Snapshots(region, uris)


@dataclass
class Matching:
    """The matching service layer on its own migrated database; nothing consumed or sent."""

    runtime: ServiceRuntime
    service: MatchingService

    def write(self, use_case: Callable[..., None], *args: Any) -> None:
        """Run one use case in a transaction of its own, as the consumer would."""
        with self.runtime.transaction() as session:
            use_case(session, *args)

    def staged(self) -> list[Any]:
        """The match events staged in the outbox so far, in order."""
        topic = MATCHES.name(self.runtime.settings.region)
        with self.runtime.reading() as session:
            rows = session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.topic == topic)
                .order_by(col(OutboxMessage.id))
            ).all()
        return [
            decode_event(
                MATCHES,
                [(name, value.encode()) for name, value in json.loads(row.headers)],
                row.value or b"",
            )
            for row in rows
        ]


@pytest.fixture
def matching(service_settings: Callable[..., Any]) -> Iterator[Callable[..., Matching]]:
    """A factory of matching service layers, with settings overridden as given."""
    made: list[ServiceRuntime] = []

    def make(**overrides: Any) -> Matching:
        settings = service_settings("matching", **overrides)
        runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)
        made.append(runtime)
        upgrade(runtime.engine, MIGRATIONS, runtime.tables)
        service = MatchingService(runtime, MatchIndex(_graph(), settings.match_min_score))
        return Matching(runtime, service)

    yield make
    for runtime in made:
        runtime.engine.dispose()
