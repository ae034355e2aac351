"""Two replicas of vacancies on one PostgreSQL database: their expiry ticks at the same time
expire each vacancy past its deadline once, and announce it once."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from interlocality.common.migrations import upgrade
from interlocality.common.service import ServiceRuntime
from interlocality.vacancies import service as service_module
from interlocality.vacancies.app import MIGRATIONS
from interlocality.vacancies.domain import CompanyForm, VacancyForm
from interlocality.vacancies.service import VacancyService, stored_vacancy
from interlocality.vacancies.store import TABLES

PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
Staged = Callable[[], list[tuple[str, str]]]


def replica(service_settings: Callable[..., Any]) -> VacancyService:
    """Another instance of the service on the same database."""
    runtime = ServiceRuntime(service_settings("vacancies"), TABLES, MIGRATIONS)
    upgrade(runtime.engine, MIGRATIONS, runtime.tables)
    return VacancyService(runtime)


def run_together(threads: list[threading.Thread], other: VacancyService) -> None:
    """Start ``threads`` at once and wait for them (30 s at most); then close the other
    replica's connections."""
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        other.runtime.engine.dispose()


def in_step(step: Callable[..., Any]) -> Callable[..., Any]:
    """``step``, which two threads leave together, or one alone once it waited 2 s."""
    together = threading.Barrier(2, timeout=2)

    def stepped(*args: Any, **kwargs: Any) -> Any:
        found = step(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            together.wait()
        return found

    return stepped


# replicas share a PostgreSQL database (a SQLite file has one process)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_expiry_ticks_at_once_expire_each_vacancy_once(
    service: VacancyService,
    service_settings: Callable[..., Any],
    staged: Staged,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deadline = date.today() + timedelta(days=3)
    company_id = service.register_company(
        CompanyForm.model_validate({"name": "Oulu Robotics Oy", "country": "FI"})
    ).id
    due = [
        service.create_vacancy(
            VacancyForm.model_validate(
                {
                    "company_id": company_id,
                    "title": f"Robotics thesis {n}",
                    "kind": "thesis",
                    "required_skills": [{"uri": PYTHON, "min_level": 3}],
                    "application_deadline": deadline.isoformat(),
                }
            )
        ).id
        for n in range(3)
    ]
    other = replica(service_settings)

    # each tick has read what is due before either expires anything
    both_read = threading.Barrier(2, timeout=20)
    reading = service_module.expired_vacancies

    def read_together(*args: Any, **kwargs: Any) -> Any:
        found = reading(*args, **kwargs)
        both_read.wait()
        return found

    monkeypatch.setattr(service_module, "expired_vacancies", read_together)
    expired: list[int] = []
    after = deadline + timedelta(days=1)
    ticks = [
        threading.Thread(target=lambda s=s: expired.append(s.expire_due(after)))
        for s in (service, other)
    ]
    run_together(ticks, other)

    assert not any(tick.is_alive() for tick in ticks)
    announced = [key for event_type, key in staged() if event_type == "VacancyExpired"]
    assert sorted(announced) == sorted(due)
    assert sum(expired) == len(due)
    with service.runtime.reading() as session:
        assert {stored_vacancy(session, v).status for v in due} == {"expired"}
        assert {stored_vacancy(session, v).version for v in due} == {2}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_placements_at_once_fill_the_vacancy_and_take_a_version_each(
    service: VacancyService,
    service_settings: Callable[..., Any],
    staged: Staged,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two replicas place the vacancy's last two free positions at the same moment: each
    waits for the other's row, so the vacancy is filled, once, and each change announced
    under a version of its own."""
    company_id = service.register_company(
        CompanyForm.model_validate({"name": "Brønderslev Ølbryggeri ApS", "country": "DK"})
    ).id
    vacancy_id = service.create_vacancy(
        VacancyForm.model_validate(
            {
                "company_id": company_id,
                "title": "Brygmester i praktik",
                "kind": "internship",
                "required_skills": [{"uri": PYTHON, "min_level": 2}],
                "positions": 2,
            }
        )
    ).id
    service.publish(vacancy_id)
    students = ["s-åsa", "s-ıraz"]
    for student_id in students:
        with service.runtime.transaction() as session:
            service.know_student(session, student_id)
        service.apply(vacancy_id, student_id)
    other = replica(service_settings)

    # each placement has read the vacancy, and then counted the placements, before either
    # writes; unless it waits for the other's lock (then the other goes on alone)
    reading = service_module.stored_vacancy
    for name in ("stored_vacancy", "applications_to"):
        monkeypatch.setattr(service_module, name, in_step(getattr(service_module, name)))
    failures: list[BaseException] = []

    def place(replica_: VacancyService, student_id: str) -> None:
        try:
            replica_.place(vacancy_id, student_id)
        except BaseException as exc:
            failures.append(exc)

    placements = [
        threading.Thread(target=place, args=(s, student_id))
        for s, student_id in zip((service, other), students, strict=True)
    ]
    run_together(placements, other)

    assert failures == [] and not any(p.is_alive() for p in placements)
    with service.runtime.reading() as session:
        record = reading(session, vacancy_id)
        assert (record.status, record.positions_filled) == ("filled", 2)
    assert [t for t, _ in staged() if t == "PlacementMade"] == ["PlacementMade"] * 2
    assert [t for t, _ in staged() if t == "VacancyFilled"] == ["VacancyFilled"]
