"""Analytics' tables on a migrated database of this test, and the events of a region that
it counts: vacancies published, matched, notified, applied to and filled."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from interlocality.analytics.app import MIGRATIONS, shipped_taxonomy
from interlocality.analytics.service import SupplyAndDemand
from interlocality.analytics.skills import SkillTaxonomy
from interlocality.analytics.store import TABLES
from interlocality.common.migrations import upgrade
from interlocality.common.service import ServiceRuntime
from interlocality.common.testing import found
from interlocality.contracts.applications import ApplicationSubmitted, FunnelStep, PlacementMade
from interlocality.contracts.common import (
    CefrLevel,
    LanguageRequirement,
    LanguageSkill,
    SkillLevel,
    SkillRequirement,
)
from interlocality.contracts.companies import Company, CompanyRegistered
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.notifications import Delivery, NotificationSent
from interlocality.contracts.students import (
    Consent,
    Consents,
    StudentErasure,
    StudentProfile,
    StudentProfileErased,
    StudentProfileUpserted,
)
from interlocality.contracts.vacancies import (
    Vacancy,
    VacancyFilled,
    VacancyPublished,
    VacancyStatus,
)

ESCO = "http://data.europa.eu/esco/skill/"


@dataclass(frozen=True)
class Skills:
    """ESCO skills the tests use."""

    python: str = ESCO + "ccd0a1d9-afda-43d9-b901-96344886e14d"
    programming: str = ESCO + "21d2f96d-35f7-4e3f-9745-c533d2dd6e97"  # Python's broader
    welding: str = ESCO + "29d762da-1711-4a3c-b424-f0a404f4bf2d"
    project_management: str = ESCO + "7111b95d-0ce3-441a-9d92-4c75d05c4388"


@pytest.fixture(scope="session")
def esco() -> Skills:
    return Skills()


def at(month: str, day: int = 10) -> datetime:
    """Noon of ``day`` in ``month`` (YYYY-MM), UTC."""
    year, number = (int(part) for part in month.split("-"))
    return datetime(year, number, day, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Snapshots:
    """Entity snapshots of one region as their publishers announce them."""

    region: str

    at = staticmethod(at)

    def student(
        self,
        student_id: str,
        name: str,
        when: datetime,
        *,
        version: int = 1,
        skills: dict[str, int] | None = None,
        languages: dict[str, CefrLevel] | None = None,
        study_field: str | None = None,
        analytics: bool = True,
    ) -> StudentProfileUpserted:
        """A student's snapshot, with the name and e-mail analytics must never keep."""
        return StudentProfileUpserted(
            source=f"/interlocality/{self.region}/profiles",
            region=self.region,
            subject=student_id,
            data=StudentProfile(
                student_id=student_id,
                name=name,
                email=f"{student_id}@students.example.org",
                skills=[SkillLevel(uri=uri, level=n) for uri, n in (skills or {}).items()],
                languages=[
                    LanguageSkill(code=code, level=level)
                    for code, level in (languages or {}).items()
                ],
                engagement_kinds=["internship"],
                version=version,
                updated_at=when,
                study_field=study_field,
                consents=Consents(analytics=Consent(granted=analytics, at=when)),
            ),
        )

    def erased(self, student_id: str, when: datetime) -> StudentProfileErased:
        """A student's erasure."""
        return StudentProfileErased(
            source=f"/interlocality/{self.region}/profiles",
            region=self.region,
            subject=student_id,
            data=StudentErasure(student_id=student_id, erased_at=when),
        )

    def company(self, company_id: str, name: str, employees: int, sector: str) -> CompanyRegistered:
        """A company's snapshot."""
        return CompanyRegistered(
            source=f"/interlocality/{self.region}/vacancies",
            region=self.region,
            subject=company_id,
            data=Company(
                company_id=company_id,
                name=name,
                version=1,
                updated_at=at("2026-01", 1),
                employees=employees,
                sector=sector,
            ),
        )

    def vacancy(
        self,
        vacancy_id: str,
        when: datetime,
        *,
        event_type: type[VacancyPublished] | type[VacancyFilled] = VacancyPublished,
        status: VacancyStatus = "open",
        version: int = 1,
        company_id: str = "c-1",
        required: dict[str, int] | None = None,
        languages: dict[str, tuple[CefrLevel, bool]] | None = None,
        positions: int = 1,
    ) -> VacancyPublished | VacancyFilled:
        """A vacancy's snapshot; ``languages`` map a code to its level and whether required."""
        return event_type(
            source=f"/interlocality/{self.region}/vacancies",
            region=self.region,
            subject=vacancy_id,
            data=Vacancy(
                vacancy_id=vacancy_id,
                company_id=company_id,
                title="Udvikler i Århus",
                kind="internship",
                required_skills=[
                    SkillRequirement(uri=uri, min_level=n) for uri, n in (required or {}).items()
                ],
                languages=[
                    LanguageRequirement(code=code, min_level=level, required=needed)
                    for code, (level, needed) in (languages or {}).items()
                ],
                status=status,
                version=version,
                updated_at=when,
                positions=positions,
            ),
        )


@pytest.fixture
def snapshots(region: str) -> Snapshots:
    return Snapshots(region)


def published(region: str, vacancy_id: str, kind: str) -> VacancyPublished:
    return VacancyPublished(
        source=f"/interlocality/{region}/vacancies",
        region=region,
        subject=vacancy_id,
        data=Vacancy(
            vacancy_id=vacancy_id,
            company_id="c-1",
            title="Data intern",
            kind=kind,
            required_skills=[],
            languages=[],
            status="open",
            version=1,
            updated_at=datetime.now(UTC),
        ),
    )


def notified(region: str, student_id: str, vacancy_id: str) -> NotificationSent:
    return NotificationSent(
        source=f"/interlocality/{region}/notifications",
        region=region,
        subject=student_id,
        data=Delivery(
            notification_id=f"n-{student_id}-{vacancy_id}",
            student_id=student_id,
            vacancy_id=vacancy_id,
            channel="in_app",
            sent_at=datetime.now(UTC),
        ),
    )


def step(
    event_type: type[ApplicationSubmitted] | type[PlacementMade],
    region: str,
    vacancy_id: str,
    kind: str,
) -> ApplicationSubmitted | PlacementMade:
    return event_type(
        source=f"/interlocality/{region}/vacancies",
        region=region,
        subject=vacancy_id,
        data=FunnelStep(
            vacancy_id=vacancy_id,
            company_id="c-1",
            student_id="s-1",
            kind=kind,
            at=datetime.now(UTC),
        ),
    )


@pytest.fixture
def region_events(region: str) -> list[CloudEvent[Any]]:
    """Events of two vacancies' funnels and a third's application; two of them redelivered,
    which each count once."""
    matches = [found(region, f"s-{n}", "v-1") for n in range(40)] + [found(region, "s-1", "v-2")]
    return [
        published(region, "v-1", "internship"),
        published(region, "v-2", "thesis"),
        *matches,
        matches[0],  # redelivered: counted once
        matches[5],
        notified(region, "s-1", "v-1"),
        notified(region, "s-2", "v-1"),
        step(ApplicationSubmitted, region, "v-1", "internship"),
        step(PlacementMade, region, "v-1", "internship"),
        # a vacancy analytics never saw published takes its kind from the application
        step(ApplicationSubmitted, region, "v-3", "student_job"),
    ]


@pytest.fixture(scope="session")
def taxonomy() -> SkillTaxonomy:
    """The shipped ESCO taxonomy, built once for the whole run."""
    return shipped_taxonomy()


@pytest.fixture
def supply(taxonomy: SkillTaxonomy) -> SupplyAndDemand:
    """Supply and demand of a Danish-speaking region."""
    return SupplyAndDemand("da", lambda: taxonomy)


@pytest.fixture
def runtime(service_settings: Callable[..., object]) -> Iterator[ServiceRuntime]:
    """The runtime of analytics, its schema migrated, neither started nor subscribed."""
    runtime = ServiceRuntime(service_settings("analytics"), TABLES, MIGRATIONS)  # type: ignore[arg-type]
    upgrade(runtime.engine, MIGRATIONS, runtime.tables)
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def counted_as_published(region: str) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    """Checks a region's counts by event type and its funnel report against
    :func:`region_events`, each event counted once."""

    def check(by_type: dict[str, Any], report: dict[str, Any]) -> None:
        assert by_type == {
            "VacancyPublished.v1": 2,
            "MatchFound.v1": 41,
            "NotificationSent.v1": 2,
            "ApplicationSubmitted.v1": 2,
            "PlacementMade.v1": 1,
        }
        by_step = {s["step"]: s for s in report["steps"]}
        assert by_step["published"]["vacancies"] == 2
        assert (by_step["matched"]["vacancies"], by_step["matched"]["events"]) == (2, 41)
        assert (by_step["notified"]["vacancies"], by_step["notified"]["events"]) == (1, 2)
        assert (by_step["applied"]["vacancies"], by_step["applied"]["events"]) == (2, 2)
        assert (by_step["placed"]["vacancies"], by_step["placed"]["events"]) == (1, 1)
        assert set(report["by_kind"]) == {"internship", "thesis", "student_job"}
        thesis = {s["step"]: s for s in report["by_kind"]["thesis"]}
        assert (thesis["matched"]["vacancies"], thesis["matched"]["events"]) == (1, 1)
        student_job = {s["step"]: s for s in report["by_kind"]["student_job"]}
        assert (student_job["published"]["vacancies"], student_job["applied"]["events"]) == (0, 1)

    return check
