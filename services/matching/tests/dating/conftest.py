"""What the Company Dating tests share: slots a month ahead, requests built from plain
wishes and planned, and participants made known to matching the way it learns them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import func, select

from interlocality.common.service import ServiceRuntime
from interlocality.common.testing import publish, upserted, wait_until
from interlocality.contracts.companies import Company, CompanyRegistered
from interlocality.matching.dating.models import DatingEventRequest, DatingSchedule
from interlocality.matching.dating.plan import plan_dating_event
from interlocality.matching.dating.store import DatingEventRecord
from interlocality.matching.store import CompanyView, MatchRecord, StudentView

# Slots must lie between an hour ago and two years ahead: a weekday afternoon a month from now.
START = (datetime.now(UTC) + timedelta(days=30)).replace(hour=14, minute=0, second=0, microsecond=0)
Scores = dict[tuple[str, str], float]


@pytest.fixture
def start() -> datetime:
    """When the first slot of the events of these tests starts."""
    return START


def request(
    *,
    slots: int = 3,
    breaks: list[int] | None = None,
    companies: dict[str, int],
    students: dict[str, int],
    must_meet: list[tuple[str, str]] | None = None,
    **extra: Any,
) -> DatingEventRequest:
    return DatingEventRequest.model_validate(
        {
            "name": "Company Dating Aarhus",
            "venue": "Navitas, Inge Lehmanns Gade 10",
            "slot_minutes": 8,
            "slot_starts": [(START + timedelta(minutes=10 * k)).isoformat() for k in range(slots)],
            "breaks": breaks or [],
            "companies": [
                {"company_id": c, "name": f"{c.upper()} ApS", "tables": t}
                for c, t in companies.items()
            ],
            "students": [{"student_id": s, "max_dates": m} for s, m in students.items()],
            "must_meet": [{"student_id": s, "company_id": c} for s, c in must_meet or []],
            **extra,
        }
    )


@pytest.fixture
def event_request() -> Callable[..., DatingEventRequest]:
    """A request of companies (id: tables), students (id: most dates) and must-meet pairs."""
    return request


def plan(event: DatingEventRequest, scores: Scores) -> DatingSchedule:
    return plan_dating_event(event, scores, event_id="cd-1", issued_at=START - timedelta(days=7))


@pytest.fixture
def planned() -> Callable[[DatingEventRequest, Scores], DatingSchedule]:
    """The schedule of a request on the pairs' scores, issued a week before."""
    return plan


@pytest.fixture
def valid_body() -> Callable[..., dict[str, Any]]:
    """The JSON of a valid request (one company, one student) with ``changes``."""

    def body(**changes: Any) -> dict[str, Any]:
        valid = request(companies={"a": 1}, students={"s1": 1}).model_dump(mode="json")
        return {**valid, **changes}

    return body


@pytest.fixture
def event_body() -> Callable[..., dict[str, Any]]:
    """An operator's event as JSON: kwame, ana and li meet nordlys and vestas, li must meet
    vestas; three slots, the second a break."""

    def body(**changes: Any) -> dict[str, Any]:
        return {
            "name": "Company Dating Aarhus",
            "venue": "Navitas",
            "slot_minutes": 8,
            "slot_starts": [(START + timedelta(minutes=10 * k)).isoformat() for k in range(3)],
            "breaks": [2],
            "companies": [
                {"company_id": "nordlys", "name": "Nordlys Software ApS", "tables": 2},
                {"company_id": "vestas", "name": "Vestas Wind Systems"},
            ],
            "students": [
                {"student_id": "kwame", "max_dates": 2},
                {"student_id": "ana", "max_dates": 2},
                {"student_id": "li", "max_dates": 1},
            ],
            "must_meet": [{"student_id": "li", "company_id": "vestas"}],
            **changes,
        }

    return body


def company_registered(region: str, company_id: str, name: str) -> CompanyRegistered:
    """A company as vacancies registers it."""
    return CompanyRegistered(
        source=f"/interlocality/{region}/vacancies",
        region=region,
        subject=company_id,
        data=Company(
            company_id=company_id, name=name, city="Aarhus", version=1, updated_at=datetime.now(UTC)
        ),
    )


@pytest.fixture
def register(kafka_bootstrap: str) -> Callable[..., None]:
    """Make participants known to matching the way it learns them: from the topics."""

    def known(
        runtime: ServiceRuntime,
        students: Iterable[str] = ("kwame", "ana", "li"),
        companies: Iterable[str] = ("nordlys", "vestas"),
    ) -> None:
        region = runtime.settings.region
        students, companies = list(students), list(companies)
        events = [upserted(region, s, name=s.title()) for s in students]
        events += [company_registered(region, c, c.title()) for c in companies]
        asyncio.run(publish(kafka_bootstrap, events))

        def all_known() -> bool:
            with runtime.reading() as session:
                return all(session.get(StudentView, s) for s in students) and all(
                    session.get(CompanyView, c) for c in companies
                )

        wait_until(all_known)

    return known


@pytest.fixture
def seed_matches() -> Callable[[ServiceRuntime, list[tuple[str, str, str, float]]], None]:
    """Store matches (student, vacancy, company, score) as matching would have found them."""

    def seed(runtime: ServiceRuntime, matches: list[tuple[str, str, str, float]]) -> None:
        with runtime.transaction() as session:
            for student_id, vacancy_id, company_id, score in matches:
                session.add(
                    MatchRecord(
                        student_id=student_id,
                        vacancy_id=vacancy_id,
                        company_id=company_id,
                        vacancy_title=f"Vacancy {vacancy_id}",
                        score=score,
                        found_basis="1.1",
                    )
                )

    return seed


@pytest.fixture
def stored_events() -> Callable[[ServiceRuntime], int]:
    """How many dating events are stored."""

    def count(runtime: ServiceRuntime) -> int:
        with runtime.reading() as session:
            return int(session.exec(select(func.count()).select_from(DatingEventRecord)).one())

    return count
