"""The region's snapshots for its partners, on both databases without a broker: the tables
built from its rows, the budget charged and kept, the snapshot staged for the federation
topic in the same transaction, a refusal leaving nothing behind, and every region's latest
snapshots kept for the cross-region view."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlmodel import Session, select

from interlocality.analytics import service as service_module
from interlocality.analytics.app import MIGRATIONS
from interlocality.analytics.federation import (
    RegionRows,
    company_dating_table,
    employability_table,
    language_table,
    previous_month,
    region_tables,
    skill_group_table,
)
from interlocality.analytics.outcomes import DatingDate, FollowUp, Graduate
from interlocality.analytics.privacy import BudgetExceeded, PrivacyBudget, release_snapshot
from interlocality.analytics.service import AnalyticsService, Federation, SupplyAndDemand
from interlocality.analytics.skills import SkillTaxonomy
from interlocality.analytics.store import (
    TABLES,
    FederationBudget,
    FederationRelease,
    FederationSnapshot,
)
from interlocality.analytics.supply import LanguageNeed, StudentHolding, VacancyNeed
from interlocality.common.migrations import upgrade
from interlocality.common.outbox import OutboxMessage
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.federation import RegionAggregates, RegionSnapshot
from interlocality.contracts.topics import SNAPSHOTS

from .conftest import Skills, Snapshots, at
from .test_insights_service import apply

MONTH = "2026-03"
NAMES = ("Søren Østergaard", "Begoña Muñoz", "Elif Yılmaz", "Ærø Jensen", "Łukasz Żółć")
COMPANIES = ("Ærø Æbleri ApS", "Müller & Söhne GmbH", "Łódź Logística", "Çelik Yapı A.Ş.")


def crowd(snapshots: Snapshots, esco: Skills) -> list[CloudEvent[Any]]:
    """Six companies each with an open vacancy asking for Python and Danish, eight
    consenting students holding both, and one student who does not consent."""
    events: list[CloudEvent[Any]] = []
    for n in range(1, 7):
        name = f"{COMPANIES[n % len(COMPANIES)]} {n}"
        events.append(snapshots.company(f"c-{n}", name, 4 * n, "62.01"))
        events.append(
            snapshots.vacancy(
                f"v-{n}",
                at(MONTH, 2),
                company_id=f"c-{n}",
                required={esco.python: 2},
                languages={"da": ("B2", True)},
            )
        )
    for n in range(1, 9):
        events.append(
            snapshots.student(
                f"s-{n}",
                f"{NAMES[n % len(NAMES)]} {n}",
                at(MONTH, 3),
                skills={esco.python: 3},
                languages={"da": "B2"},
                study_field="0613",
            )
        )
    events.append(
        snapshots.student(
            "s-no", "Nadia Ñúñez", at(MONTH, 3), skills={esco.python: 3}, analytics=False
        )
    )
    return events


def federation_runtime(
    service_settings: Callable[..., object], **overrides: object
) -> ServiceRuntime:
    settings = service_settings(
        "analytics", **{"federation_epsilon_per_snapshot": 1.0, **overrides}
    )
    runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)  # type: ignore[arg-type]
    upgrade(runtime.engine, MIGRATIONS, runtime.tables)
    return runtime


@pytest.fixture
def federation(
    runtime: ServiceRuntime, supply: SupplyAndDemand, snapshots: Snapshots, esco: Skills
) -> Federation:
    """The region's federation over a database its crowd's events were applied to."""
    apply(runtime, AnalyticsService(supply), crowd(snapshots, esco))
    return Federation(runtime, supply)


def staged(runtime: ServiceRuntime) -> list[OutboxMessage]:
    with runtime.reading() as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def cells(aggregates: RegionAggregates, table: str) -> dict[tuple[Any, ...], Any]:
    [found] = [t for t in aggregates.tables if t.name == table]
    return {
        (tuple((d.name, d.value) for d in cell.dimensions), cell.measure, cell.total): cell
        for cell in found.cells
    }


# -- the tables ---------------------------------------------------------------------------


def test_tables_count_distinct_students_and_companies_and_keep_their_ids_inside(
    taxonomy: SkillTaxonomy, esco: Skills
) -> None:
    needs = [
        VacancyNeed(f"v-{n}", 3, {esco.python: 2}, languages=(LanguageNeed("da", 4),))
        for n in range(4)
    ]
    companies = {"v-0": "c-a", "v-1": "c-a", "v-2": "c-b"}  # v-3's company is not known
    holdings = [
        StudentHolding("s-1", {esco.python: 3}, {"da": 4}),
        StudentHolding("s-2", {esco.python: 1}, {"da": 5}),  # below the level asked
    ]
    groups = skill_group_table(needs, holdings, companies, taxonomy)
    python_groups = set(taxonomy.groups_of(esco.python, 2))
    assert python_groups and {dict(c.dimensions)["skill_group"] for c in groups.cells} == (
        python_groups
    )
    for cell in groups.cells:
        # a company with two vacancies counts once; a vacancy of an unknown company by itself
        assert set(cell.contributors) == (
            {"company:c-a", "company:c-b", "vacancy:v-3"}
            if cell.measure == "companies"
            else {"student:s-1"}
        )
    assert {cell.measure for cell in groups.cells} == {"companies", "students"}

    languages = {
        (dict(c.dimensions)["cefr_level"], c.measure): set(c.contributors)
        for c in language_table(needs, holdings, companies).cells
    }
    assert languages == {
        ("B2", "companies"): {"company:c-a", "company:c-b", "vacancy:v-3"},
        ("B2", "students"): {"student:s-1"},
        ("C1", "students"): {"student:s-2"},
    }


def test_dating_and_employability_count_the_months_students() -> None:
    met = datetime(2026, 3, 8, 10, tzinfo=UTC)
    dates = [
        DatingDate("de-1", "s-1", "c-1", met),
        DatingDate("de-1", "s-2", "c-1", met),
        DatingDate("de-0", "s-3", "c-1", datetime(2026, 2, 8, tzinfo=UTC)),  # another month
    ]
    follow_ups = [
        FollowUp("s-1", "c-1", "applied", datetime(2026, 3, 10, tzinfo=UTC)),
        FollowUp("s-1", "c-1", "placed", datetime(2026, 8, 10, tzinfo=UTC)),  # after 90 days
        FollowUp("s-2", "c-2", "applied", datetime(2026, 3, 10, tzinfo=UTC)),  # another company
    ]
    table = company_dating_table(dates, follow_ups, MONTH, datetime(2026, 9, 1, tzinfo=UTC))
    assert {dict(c.dimensions)["funnel_step"]: set(c.contributors) for c in table.cells} == {
        "dates_held": {"student:s-1", "student:s-2"},
        "applications_after_date": {"student:s-1"},
    }
    graduates = [
        ("s-1", Graduate(date(2025, 7, 1), "employed_in_region")),
        ("s-2", Graduate(date(2026, 4, 1), "further_study")),  # after the month
    ]
    table = employability_table(graduates, MONTH)
    assert [(dict(c.dimensions), set(c.contributors)) for c in table.cells] == [
        (
            {"graduation_semester": "2025-spring", "outcome": "employed_in_region"},
            {"student:s-1"},
        )
    ]


def test_the_scheduled_month_is_the_last_complete_one() -> None:
    assert previous_month(datetime(2026, 3, 1, tzinfo=UTC)) == "2026-02"
    assert previous_month(datetime(2026, 1, 31, tzinfo=UTC)) == "2025-12"


# -- publishing ---------------------------------------------------------------------------


def test_a_snapshot_is_suppressed_charged_and_staged_in_one_transaction(
    federation: Federation, runtime: ServiceRuntime, region: str, taxonomy: SkillTaxonomy
) -> None:
    event = federation.publish(MONTH, at(MONTH, 28))
    snapshot = event.data
    assert (snapshot.region, snapshot.period, event.subject) == (region, MONTH, region)
    assert snapshot.privacy.k == 5 and snapshot.privacy.epsilon == pytest.approx(1.0)
    assert {t.name for t in snapshot.tables} == {
        "skill_groups",
        "languages",
        "study_fields",
        "funnel",
        "company_dating",
        "employability",
    }
    # eight consenting students and six companies: published; the grand totals too
    skill_groups = cells(snapshot, "skill_groups")
    published = [
        key for key, cell in skill_groups.items() if not key[2] and cell.suppressed is None
    ]
    # each of the eight students and six companies is in at most three groups
    assert {measure for _, measure, _ in published} == {"students", "companies"}
    languages = cells(snapshot, "languages")
    assert (
        languages[(("language", "da"), ("cefr_level", "B2")), "students", False].count is not None
    )

    [message] = staged(runtime)
    assert (message.topic, message.key) == (SNAPSHOTS.name(region), region.encode())
    assert RegionAggregates.model_validate_json(message.value or b"") == snapshot
    raw = (message.value or b"").decode() + message.headers
    # ids as whole strings: a random event id may hold "c-1" inside its hex
    for leak in ('"s-1"', '"c-1"', '"v-1"', "Søren", "Ærø", "Müller", "example.org", "Nadia"):
        assert leak not in raw
    with runtime.reading() as session:
        [budget] = session.exec(select(FederationBudget)).all()
        [release] = session.exec(select(FederationRelease)).all()
    assert (budget.region, budget.year, budget.spent) == (region, 2026, pytest.approx(1.0))
    assert (release.event_id, release.period) == (event.id, MONTH)


def test_a_snapshot_the_budget_cannot_pay_is_refused_and_leaves_nothing(
    service_settings: Callable[..., object],
    supply: SupplyAndDemand,
    snapshots: Snapshots,
    esco: Skills,
) -> None:
    runtime = federation_runtime(service_settings, federation_yearly_epsilon=1.5)
    try:
        apply(runtime, AnalyticsService(supply), crowd(snapshots, esco))
        federation = Federation(runtime, supply)
        federation.publish(MONTH, at(MONTH, 28))
        with pytest.raises(BudgetExceeded, match=r"1 is spent, 0.5 is left"):
            federation.publish(MONTH, at(MONTH, 29))
        assert len(staged(runtime)) == 1
        with runtime.reading() as session:
            assert [b.spent for b in session.exec(select(FederationBudget))] == [1.0]
            assert len(session.exec(select(FederationRelease)).all()) == 1
        # a new year starts afresh
        federation.publish("2027-01", at("2027-01", 5))
        with runtime.reading() as session:
            spent = {b.year: b.spent for b in session.exec(select(FederationBudget))}
        assert spent == {2026: 1.0, 2027: 1.0}
    finally:
        runtime.engine.dispose()


def test_the_scheduled_snapshot_publishes_the_last_month_once(
    federation: Federation, runtime: ServiceRuntime
) -> None:
    first = federation.publish_due(at("2026-04", 1))
    assert first is not None and first.data.period == MONTH
    assert federation.publish_due(at("2026-04", 2)) is None  # a restart spends nothing
    assert len(staged(runtime)) == 1


# replicas share a PostgreSQL database (a SQLite file has one process)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_replicas_scheduling_at_once_spend_and_publish_the_month_once(
    federation: Federation,
    runtime: ServiceRuntime,
    service_settings: Callable[..., object],
    supply: SupplyAndDemand,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = federation_runtime(service_settings, federation_yearly_epsilon=24.0)
    # each replica has seen the month unpublished before either publishes it
    both_looked = threading.Barrier(2, timeout=20)
    looked: set[int] = set()
    looking = service_module.released

    def look_together(session: Session, period: str) -> bool:
        found = looking(session, period)
        if threading.get_ident() not in looked:
            looked.add(threading.get_ident())
            both_looked.wait()
        return found

    monkeypatch.setattr(service_module, "released", look_together)
    published: list[RegionSnapshot | None] = []
    replicas = [
        threading.Thread(target=lambda f=f: published.append(f.publish_due(at("2026-04", 1))))
        for f in (federation, Federation(other, supply))
    ]
    try:
        for replica in replicas:
            replica.start()
        for replica in replicas:
            replica.join(60)
    finally:
        other.engine.dispose()

    assert not any(replica.is_alive() for replica in replicas)
    assert len(staged(runtime)) == 1
    with runtime.reading() as session:
        assert [b.spent for b in session.exec(select(FederationBudget))] == [1.0]
        assert len(session.exec(select(FederationRelease)).all()) == 1
    assert sorted(p is None for p in published) == [False, True]


# -- every region's snapshots ---------------------------------------------------------------


def snapshot_of(
    region: str, month: str, produced_at: datetime, spent: float, taxonomy: SkillTaxonomy
) -> RegionSnapshot:
    """A partner's snapshot, released as the partner's analytics would."""
    holdings = [StudentHolding(f"s-{n}", {Skills().python: 3}) for n in range(9)]
    tables = region_tables(
        RegionRows([], holdings, {}, [], [], [], []), taxonomy, month, produced_at
    )
    aggregates, _ = release_snapshot(
        region=region,
        period=month,
        tables=tables,
        k=5,
        epsilon=1.0,
        budget=PrivacyBudget(region, 24.0, produced_at.year, spent),
        produced_at=produced_at,
    )
    return RegionSnapshot(
        source=f"/interlocality/{region}/analytics", region=region, subject=region, data=aggregates
    )


@pytest.fixture
def partners(taxonomy: SkillTaxonomy) -> Iterator[list[RegionSnapshot]]:
    yield [
        snapshot_of("leipzig", "2026-02", at("2026-03", 1), 0.0, taxonomy),
        snapshot_of("leipzig", "2026-03", at("2026-04", 1), 1.0, taxonomy),
        snapshot_of("limburg", "2026-03", at("2026-04", 2), 5.0, taxonomy),
        # produced before the kept one of the same month: changes nothing
        snapshot_of("limburg", "2026-03", at("2026-04", 1), 3.0, taxonomy),
    ]


def test_every_regions_latest_snapshot_of_each_month_is_kept_side_by_side(
    federation: Federation, runtime: ServiceRuntime, partners: list[RegionSnapshot]
) -> None:
    with runtime.transaction() as session:
        for snapshot in partners:
            federation.take_snapshot(session, snapshot)
    with runtime.reading() as session:
        view = federation.regions(session)
        leipzig = federation.region_history(session, "leipzig")
        assert federation.region_history(session, "aarhus") is None
        assert len(session.exec(select(FederationSnapshot)).all()) == 3
    assert [(r.region, r.months, r.latest.period) for r in view.regions] == [
        ("leipzig", ["2026-03", "2026-02"], "2026-03"),
        ("limburg", ["2026-03"], "2026-03"),
    ]
    limburg = view.regions[1]
    assert limburg.budget.spent == pytest.approx(6.0) and limburg.budget.left == pytest.approx(18.0)
    assert limburg.latest.produced_at == at("2026-04", 2)
    assert leipzig is not None and [m.period for m in leipzig.months] == ["2026-03", "2026-02"]
    assert leipzig.budget.spent == pytest.approx(2.0)
    # what each region withholds travels with it
    assert json.loads(view.model_dump_json())["regions"][0]["latest"]["suppressed"] == [
        s.model_dump(mode="json") for s in partners[1].data.suppressed
    ]
