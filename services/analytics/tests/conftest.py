"""Analytics' tables on a migrated database of this test, and the events of a region that
it counts: vacancies published, matched, notified, applied to and filled; and for the
regional insights a region's month of companies, students, Company Dating and graduates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from interlocality.analytics.app import MIGRATIONS, shipped_taxonomy
from interlocality.analytics.service import SupplyAndDemand
from interlocality.analytics.skills import SkillTaxonomy
from interlocality.analytics.store import TABLES
from interlocality.common.migrations import upgrade
from interlocality.common.service import ServiceRuntime
from interlocality.common.testing import erased, found, upserted
from interlocality.contracts.applications import ApplicationSubmitted, FunnelStep, PlacementMade
from interlocality.contracts.common import (
    CefrLevel,
    LanguageRequirement,
    LanguageSkill,
    SkillLevel,
    SkillRequirement,
)
from interlocality.contracts.companies import Company, CompanyRegistered
from interlocality.contracts.dating import AgendaSlot, DatingAgenda, DatingAgendaIssued
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.notifications import Delivery, NotificationSent
from interlocality.contracts.outcomes import (
    GraduateOutcome,
    GraduateOutcomeKind,
    GraduateOutcomeRecorded,
)
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
        """A company's snapshot, as of the first of January 2026."""
        return company(self.region, company_id, name, employees, sector=sector, at=at("2026-01", 1))

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


def published(
    region: str,
    vacancy_id: str,
    kind: str,
    company_id: str = "c-1",
    at: datetime | None = None,
) -> VacancyPublished:
    return VacancyPublished(
        source=f"/interlocality/{region}/vacancies",
        region=region,
        subject=vacancy_id,
        time=at or datetime.now(UTC),
        data=Vacancy(
            vacancy_id=vacancy_id,
            company_id=company_id,
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
    student_id: str = "s-1",
    company_id: str = "c-1",
    at: datetime | None = None,
) -> ApplicationSubmitted | PlacementMade:
    return event_type(
        source=f"/interlocality/{region}/vacancies",
        region=region,
        subject=vacancy_id,
        data=FunnelStep(
            vacancy_id=vacancy_id,
            company_id=company_id,
            student_id=student_id,
            kind=kind,
            at=at or datetime.now(UTC),
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
    """The runtime of analytics, its schema migrated, neither started nor subscribed; its
    snapshots spend ε = 1 of a yearly 24, the figures the federation tests count with."""
    settings = service_settings(
        "analytics", federation_epsilon_per_snapshot=1.0, federation_yearly_epsilon=24.0
    )
    runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)  # type: ignore[arg-type]
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


def company(
    region: str,
    company_id: str,
    name: str,
    employees: int | None,
    at: datetime | None = None,
    **facts: Any,
) -> CompanyRegistered:
    """A company's snapshot (version 1, as of ``at`` or now)."""
    return CompanyRegistered(
        source=f"/interlocality/{region}/vacancies",
        region=region,
        subject=company_id,
        data=Company(
            company_id=company_id,
            name=name,
            employees=employees,
            version=1,
            updated_at=at or datetime.now(UTC),
            **facts,
        ),
    )


def student(region: str, student_id: str, name: str, analytics: bool) -> CloudEvent[Any]:
    consents = Consents(analytics=Consent(granted=analytics, at=datetime.now(UTC)))
    return upserted(region, student_id, name=name, consents=consents)


def matched_at(region: str, student_id: str, vacancy_id: str, at: datetime) -> CloudEvent[Any]:
    return found(region, student_id, vacancy_id).model_copy(update={"time": at})


def agenda(
    region: str,
    participant_id: str,
    dates: list[tuple[str, str, datetime]],
    participant_kind: str = "student",
    dating_event_id: str = "de-1",
) -> DatingAgendaIssued:
    """An agenda of ``participant_id`` with ``(counterpart_id, counterpart_name, starts_at)``."""
    counterpart = "company" if participant_kind == "student" else "student"
    return DatingAgendaIssued(
        source=f"/interlocality/{region}/matching",
        region=region,
        subject=participant_id,
        data=DatingAgenda(
            dating_event_id=dating_event_id,
            dating_event_name="Company Dating Århus–Köln",
            participant_kind=participant_kind,
            participant_id=participant_id,
            slots=[
                AgendaSlot(
                    slot=number,
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=10),
                    table=number,
                    counterpart_kind=counterpart,
                    counterpart_id=counterpart_id,
                    counterpart_name=name,
                    score=0.5,
                )
                for number, (counterpart_id, name, starts_at) in enumerate(dates, start=1)
            ],
            icalendar="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        ),
    )


def outcome(
    region: str,
    student_id: str,
    graduated_on: date,
    kind: GraduateOutcomeKind,
    recorded_at: datetime,
) -> GraduateOutcomeRecorded:
    return GraduateOutcomeRecorded(
        source=f"/interlocality/{region}/profiles",
        region=region,
        subject=student_id,
        data=GraduateOutcome(
            student_id=student_id,
            graduated_on=graduated_on,
            outcome=kind,
            recorded_at=recorded_at,
        ),
    )


def on_day(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@dataclass(frozen=True)
class InsightEvents:
    """A region's insights in three acts: what happened; Elif Yılmaz withdrawing her
    consent to analytics; Søren Østergaard erased."""

    happened: list[CloudEvent[Any]]
    withdrawal: list[CloudEvent[Any]]
    erasure: list[CloudEvent[Any]]


@pytest.fixture
def insight_events(region: str) -> InsightEvents:
    """Three companies (micro, large, a declared medium), three vacancies, four students of
    whom three consent (one of them only later), dates at a Company Dating event, and
    graduates' outcomes, one of them corrected and one correction arriving late."""
    soon = datetime.now(UTC) + timedelta(days=30)
    happened: list[CloudEvent[Any]] = [
        company(region, "c-micro", "Ærø Æbleri ApS", 4, sector="62.01"),
        company(region, "c-large", "Müller & Söhne GmbH", 900, sector="C"),
        company(region, "c-medium", "Łódź Logística", None, size_class="medium"),
        student(region, "s-soren", "Søren Østergaard", True),
        student(region, "s-begona", "Begoña Muñoz", True),
        student(region, "s-elif", "Elif Yılmaz", True),
        student(region, "s-nadia", "Nadia Ñúñez", False),
        published(region, "v-1", "internship", "c-micro", on_day("2025-01-05")),
        published(region, "v-2", "thesis", "c-large", on_day("2025-01-20")),
        published(region, "v-3", "internship", "c-medium", on_day("2025-02-10")),
        matched_at(region, "s-soren", "v-1", on_day("2025-01-07")),
        matched_at(region, "s-begona", "v-1", on_day("2025-01-09")),
        matched_at(region, "s-elif", "v-2", on_day("2025-01-24")),
        matched_at(region, "s-begona", "v-3", on_day("2025-02-11")),
        notified(region, "s-soren", "v-1"),
        agenda(
            region,
            "s-soren",
            [("c-micro", "Ærø Æbleri ApS", on_day("2025-01-08", 10)), ("c-large", "Müller", soon)],
        ),
        agenda(region, "s-begona", [("c-large", "Müller & Söhne GmbH", on_day("2025-01-08", 10))]),
        agenda(region, "s-elif", [("c-large", "Müller & Söhne GmbH", on_day("2025-01-08", 11))]),
        agenda(
            region,
            "s-begona",
            [("c-medium", "Łódź Logística", on_day("2024-09-01"))],
            dating_event_id="de-0",
        ),
        agenda(region, "s-nadia", [("c-micro", "Ærø Æbleri ApS", on_day("2025-01-08", 10))]),
        # the company's agenda lists the same dates from its side: not counted twice
        agenda(
            region,
            "c-micro",
            [("s-soren", "Søren Østergaard", on_day("2025-01-08", 10))],
            "company",
        ),
        step(
            ApplicationSubmitted,
            region,
            "v-1",
            "internship",
            "s-soren",
            "c-micro",
            on_day("2025-01-10"),
        ),
        step(
            PlacementMade, region, "v-1", "internship", "s-soren", "c-micro", on_day("2025-01-15")
        ),
        step(
            ApplicationSubmitted, region, "v-2", "thesis", "s-elif", "c-large", on_day("2025-01-25")
        ),
        step(PlacementMade, region, "v-2", "thesis", "s-elif", "c-large", on_day("2025-02-03")),
        # 164 days after Begoña met the company: applied, but not because of the date
        step(
            ApplicationSubmitted,
            region,
            "v-3",
            "internship",
            "s-begona",
            "c-medium",
            on_day("2025-02-12"),
        ),
        step(
            ApplicationSubmitted,
            region,
            "v-3",
            "internship",
            "s-nadia",
            "c-medium",
            on_day("2025-02-12"),
        ),
        outcome(region, "s-soren", date(2024, 7, 15), "employed_in_region", on_day("2024-10-01")),
        outcome(region, "s-soren", date(2024, 7, 15), "employed_elsewhere", on_day("2024-11-01")),
        outcome(region, "s-begona", date(2024, 8, 1), "further_study", on_day("2024-12-01")),
        outcome(region, "s-begona", date(2024, 8, 1), "unknown", on_day("2024-09-01")),
        outcome(region, "s-elif", date(2024, 12, 20), "employed_in_region", on_day("2025-01-02")),
        outcome(region, "s-nadia", date(2024, 3, 1), "unknown", on_day("2024-06-01")),
    ]
    return InsightEvents(
        happened=happened,
        withdrawal=[student(region, "s-elif", "Elif Yılmaz", False)],
        erasure=[erased(region, "s-soren")],
    )


Stage = str  # "happened", "withdrawn" (Elif Yılmaz left) or "erased" (Søren Østergaard too)


def _cell(cell: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        cell[k]
        for k in (
            "published",
            "matched",
            "notified",
            "applied",
            "placed",
            "median_days_to_first_match",
            "median_days_to_placement",
        )
    )


def _outcomes(semester: dict[str, Any]) -> dict[str, tuple[int, float | None]]:
    return {o["outcome"]: (o["count"], o["share"]) for o in semester["outcomes"] if o["count"]}


@pytest.fixture
def insights_as_told() -> Callable[[Stage, dict[str, Any], dict[str, Any], dict[str, Any]], None]:
    """Checks the funnel by kind, the Company Dating outcomes and the employability report
    (as JSON) against :func:`insight_events` after each act."""

    def check(
        stage: Stage, funnel: dict[str, Any], dating: dict[str, Any], employability: dict[str, Any]
    ) -> None:
        [region] = funnel["regions"]
        groups = {g["group"]: g for g in region["groups"]}
        months = {m["month"]: m for m in region["months"]}
        dating_months = {m["month"]: m for m in dating["months"]}
        semesters = {s["semester"]: s for s in employability["semesters"]}

        def counts(m: dict[str, Any]) -> tuple[int, ...]:
            keys = ("dates_held", "students", "companies")
            return tuple(m[k] for k in (*keys, "dates_with_application", "dates_with_placement"))

        # v-3 (published 2025-02) is Begoña's application, whatever the others do
        assert _cell(months["2025-02"]) == (1, 1, 0, 1, 0, 1.0, None)
        assert dating_months["2024-09"]["dates_held"] == 1  # Begoña, nothing within 90 days
        assert dating_months["2024-09"]["application_rate"] == 0.0
        assert dating["window_days"] == 90
        if stage == "happened":
            assert _cell(region["total"]) == (3, 3, 1, 3, 2, 2.0, 12.0)
            assert _cell(groups["internship"]["total"]) == (2, 2, 1, 2, 1, 1.5, 10.0)
            assert _cell(groups["thesis"]["total"]) == (1, 1, 0, 1, 1, 4.0, 14.0)
            assert _cell(months["2025-01"]) == (2, 2, 1, 2, 2, 3.0, 12.0)
            assert counts(dating["total"]) == (4, 3, 3, 2, 2)
            assert counts(dating_months["2025-01"]) == (3, 3, 2, 2, 2)
            assert dating_months["2025-01"]["placement_rate"] == 0.6667
            assert _outcomes(semesters["2024-spring"]) == {"employed_elsewhere": (1, 1.0)}
            assert _outcomes(semesters["2024-autumn"]) == {
                "further_study": (1, 0.5),
                "employed_in_region": (1, 0.5),
            }
            assert employability["total"]["graduates"] == 3
        elif stage == "withdrawn":
            assert _cell(groups["thesis"]["total"]) == (1, 1, 0, 0, 0, 4.0, None)
            assert _cell(months["2025-01"]) == (2, 2, 1, 1, 1, 3.0, 10.0)
            assert counts(dating_months["2025-01"]) == (2, 2, 2, 1, 1)
            assert _outcomes(semesters["2024-autumn"]) == {"further_study": (1, 1.0)}
            assert employability["total"]["graduates"] == 2
        else:
            assert _cell(region["total"]) == (3, 3, 1, 1, 0, 2.0, None)
            assert _cell(months["2025-01"]) == (2, 2, 1, 0, 0, 3.0, None)
            assert counts(dating["total"]) == (2, 1, 2, 0, 0)
            assert counts(dating_months["2025-01"]) == (1, 1, 1, 0, 0)
            assert list(semesters) == ["2024-autumn"]
            assert employability["total"]["graduates"] == 1

    return check
