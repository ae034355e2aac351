"""The service layer of analytics: what the region's events add to the aggregates, each
within the consumer's transaction that records the events as applied — the counts, the
funnel, the supply and demand rows and the per-student rows behind the insights — the
regional insights read from them, and the federation: the region's snapshots published to
its partners and theirs kept for the cross-region view."""

from __future__ import annotations

import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlmodel import Session

from interlocality.analytics.comparison import RegionComparison, compare
from interlocality.analytics.domain import funnel_entry
from interlocality.analytics.events import region_snapshot
from interlocality.analytics.federation import (
    BudgetView,
    FederationView,
    MonthOfRegion,
    RegionHistory,
    RegionRows,
    RegionView,
    previous_month,
    region_tables,
)
from interlocality.analytics.funnel import (
    FunnelCut,
    FunnelInsights,
    aware,
    funnel_insights,
    size_class,
)
from interlocality.analytics.outcomes import (
    DatingOutcomes,
    Employability,
    dating_outcomes,
    employability,
)
from interlocality.analytics.privacy import (
    AggregateTable,
    BudgetExceeded,
    PrivacyBudget,
    release_snapshot,
)
from interlocality.analytics.settings import AnalyticsSettings
from interlocality.analytics.skills import SkillTaxonomy
from interlocality.analytics.store import (
    add_counts,
    add_funnel_steps,
    add_student_step,
    budget_of_year,
    consent_of,
    dating_rows,
    erase_supply_student,
    forget_student,
    graduates,
    graduates_by_student,
    holdings_at,
    keep_snapshot,
    needs_at,
    put_budget,
    put_consents,
    put_outcome,
    record_demand_company,
    record_demand_vacancy,
    record_release,
    record_supply_students,
    released,
    replace_dates,
    snapshot_payloads,
    snapshot_versions,
    vacancy_companies,
    vacancy_journeys,
)
from interlocality.analytics.supply import (
    FieldBalance,
    GroupBalance,
    LanguageBalance,
    SkillBalance,
    StudentHolding,
    VacancyNeed,
    field_balances,
    group_balances,
    language_balance,
    month_end,
    skill_balances,
    student_contributions,
    vacancy_contributions,
)
from interlocality.common.db import transaction_lock
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.applications import FunnelStep
from interlocality.contracts.companies import Company
from interlocality.contracts.dating import DatingAgenda
from interlocality.contracts.federation import RegionAggregates, RegionSnapshot
from interlocality.contracts.outcomes import GraduateOutcome
from interlocality.contracts.students import StudentProfile
from interlocality.contracts.vacancies import Vacancy

__all__ = ["AnalyticsService", "Federation", "MonthState", "SupplyAndDemand"]

logger = logging.getLogger(__name__)
# Snapshots kept parsed: ten regions × two years of months, and room to spare.
SNAPSHOTS_IN_MEMORY = 512


@dataclass(frozen=True)
class MonthState:
    """The open vacancies' needs and the consenting students' holdings at a month's end."""

    month: str
    needs: list[VacancyNeed]
    holdings: list[StudentHolding]


class SupplyAndDemand:
    """The region's students' skills, fields and languages against its open vacancies'.

    Writes keep each snapshot's contributions with the time they hold from; reads compute a
    month's balances from the rows valid at its end. The ESCO taxonomy is built on first
    use (the first vacancy or the first question), not at start.
    """

    def __init__(self, language: str, taxonomy: Callable[[], SkillTaxonomy]) -> None:
        self.language = language
        self._build_taxonomy = taxonomy
        self._taxonomy: SkillTaxonomy | None = None
        self._lock = threading.Lock()

    @property
    def taxonomy(self) -> SkillTaxonomy:
        """The ESCO skills hierarchy, relations and fields, built once."""
        with self._lock:
            if self._taxonomy is None:
                self._taxonomy = self._build_taxonomy()
            return self._taxonomy

    def warm(self) -> None:
        """Build the taxonomy now rather than on first use."""
        _ = self.taxonomy

    def record_students(self, session: Session, profiles: Sequence[StudentProfile]) -> None:
        """A run of students' snapshots, in order: what each holds from its time on, or,
        without analytics consent, nothing in any month."""
        record_supply_students(
            session,
            [(p.student_id, p.version, p.updated_at, student_contributions(p)) for p in profiles],
        )

    def erase_student(self, session: Session, student_id: str) -> None:
        """An erased student leaves every month's aggregates."""
        erase_supply_student(session, student_id)

    def record_vacancy(self, session: Session, vacancy: Vacancy) -> None:
        """A vacancy's snapshot: its demand from its time on while it is open."""
        study_field = None
        if vacancy.status == "open":
            study_field = self.taxonomy.field_of_vacancy(
                [s.uri for s in vacancy.required_skills],
                [s.uri for s in vacancy.nice_to_have_skills],
            )
        record_demand_vacancy(
            session,
            vacancy.vacancy_id,
            vacancy.company_id,
            vacancy.version,
            vacancy.updated_at,
            vacancy_contributions(vacancy, study_field),
        )

    def record_company(self, session: Session, company: Company) -> None:
        """A company's sector and size class (from its employees, else the class it gives)."""
        size = size_class(company.employees, company.size_class)
        record_demand_company(session, company.company_id, company.version, company.sector, size)

    def state(self, session: Session, month: str) -> MonthState:
        """The needs and holdings at the end of ``month`` (now, for the running month)."""
        moment = month_end(month)
        return MonthState(month, needs_at(session, moment), holdings_at(session, moment))

    def skills(
        self, session: Session, months: Sequence[str], group: str | None = None
    ) -> list[tuple[MonthState, list[SkillBalance]]]:
        """Each month's balance of every skill asked for or held (only ``group``'s skills
        when a group is named)."""
        taxonomy = self.taxonomy
        level = taxonomy.level_of(group) if group else None
        found = []
        for _, state in self._states(session, months):
            balances = skill_balances(state.needs, state.holdings, taxonomy)
            if group and level:
                balances = [b for b in balances if group in taxonomy.groups_of(b.uri, level)]
            found.append((state, balances))
        return found

    def skill_groups(
        self, session: Session, months: Sequence[str], level: int
    ) -> list[tuple[str, list[GroupBalance]]]:
        """Each month's balance of the skill groups at ``level``."""
        taxonomy = self.taxonomy
        return [
            (month, group_balances(state.needs, state.holdings, taxonomy, level))
            for month, state in self._states(session, months)
        ]

    def study_fields(
        self, session: Session, months: Sequence[str], digits: int
    ) -> list[tuple[str, list[FieldBalance]]]:
        """Each month's students by field of study against vacancies by field."""
        return [
            (month, field_balances(state.needs, state.holdings, digits))
            for month, state in self._states(session, months)
        ]

    def languages(
        self, session: Session, months: Sequence[str]
    ) -> list[tuple[str, LanguageBalance]]:
        """Each month's region language in demand and supply."""
        taxonomy = self.taxonomy
        return [
            (month, language_balance(state.needs, state.holdings, taxonomy, self.language))
            for month, state in self._states(session, months)
        ]

    def _states(self, session: Session, months: Sequence[str]) -> list[tuple[str, MonthState]]:
        return [(month, self.state(session, month)) for month in months]


class AnalyticsService:
    """Counts the region's events, follows each vacancy through its funnel, and keeps the
    region's supply and demand and what the other insights count, for the students who
    consent to anonymous analytics.

    What the events leave behind is written to analytics' own tables only, so this needs
    no runtime, only the consumer's session; what leaves the region is :class:`Federation`'s.
    """

    def __init__(self, supply: SupplyAndDemand) -> None:
        self.supply = supply

    def count_events(self, session: Session, events: Sequence[Any]) -> None:
        """Count a run of events: each count and each vacancy's funnel is read and written
        once for the whole run, not once per event."""
        add_counts(session, Counter((event.region, event.type) for event in events))
        add_funnel_steps(session, [s for event in events if (s := funnel_entry(event)) is not None])

    # -- regional insights: what the events leave behind ---------------------------------

    def take_student(self, session: Session, profile: StudentProfile) -> None:
        """A student's snapshot: a run of one."""
        self.take_students(session, [profile])

    def take_students(self, session: Session, profiles: Sequence[StudentProfile]) -> None:
        """A run of students' snapshots, in order: whether each consents to analytics (what
        their last snapshot says holds), and what they hold. A withdrawn consent takes the
        student out of every aggregate, past months too, even if a later snapshot of the run
        gives it again."""
        put_consents(
            session,
            {p.student_id: p.consents.analytics.granted for p in profiles},
            {p.student_id for p in profiles if not p.consents.analytics.granted},
        )
        self.supply.record_students(session, profiles)

    def erase_student(self, session: Session, student_id: str) -> None:
        """Forget the student entirely."""
        forget_student(session, student_id)
        self.supply.erase_student(session, student_id)

    def take_company(self, session: Session, company: Company) -> None:
        """Keep the company's sector and size class (from its headcount) for the cuts."""
        self.supply.record_company(session, company)

    def take_vacancy(self, session: Session, vacancy: Vacancy) -> None:
        """Keep an open vacancy's demand from its snapshot's time on."""
        self.supply.record_vacancy(session, vacancy)

    def record_step(
        self, session: Session, step: FunnelStep, name: Literal["applied", "placed"]
    ) -> None:
        """Keep a student's application or placement, unless they refused analytics."""
        if consent_of(session, step.student_id) is not False:
            add_student_step(
                session, step.student_id, step.vacancy_id, name, step.company_id, step.at
            )

    def take_agenda(self, session: Session, agenda: DatingAgenda) -> None:
        """Keep a student's dates with companies; the company's agenda lists the same dates
        from the other side, so only students' agendas are read."""
        if agenda.participant_kind != "student":
            return
        if consent_of(session, agenda.participant_id) is False:
            return
        replace_dates(
            session,
            agenda.dating_event_id,
            agenda.participant_id,
            [
                (s.counterpart_id, s.starts_at)
                for s in agenda.slots
                if s.counterpart_kind == "company"
            ],
        )

    def record_outcome(self, session: Session, outcome: GraduateOutcome) -> None:
        """Keep the graduate's latest outcome, unless they refused analytics."""
        if consent_of(session, outcome.student_id) is not False:
            put_outcome(
                session,
                outcome.student_id,
                outcome.graduated_on,
                outcome.outcome,
                outcome.recorded_at,
            )

    # -- regional insights: the reports ---------------------------------------------------

    def funnel(
        self, session: Session, by: FunnelCut, from_month: str | None, to_month: str | None
    ) -> FunnelInsights:
        """The funnel by month of publication, cut by kind, sector or size class."""
        return funnel_insights(vacancy_journeys(session), by, from_month, to_month)

    def company_dating(
        self, session: Session, region: str, from_month: str | None, to_month: str | None
    ) -> DatingOutcomes:
        """Company Dating dates held and the applications and placements that followed."""
        dates, follow_ups = dating_rows(session)
        return dating_outcomes(region, dates, follow_ups, datetime.now(UTC), from_month, to_month)

    def employability(
        self, session: Session, region: str, from_month: str | None, to_month: str | None
    ) -> Employability:
        """Graduates' outcomes by graduation semester."""
        return employability(region, graduates(session), from_month, to_month)


class Federation:
    """The region among its partners: it publishes its month's aggregates, safe to leave the
    region, and keeps every region's latest snapshot of each month for the cross-region view.

    A snapshot is one transaction: the region's rows are read, turned into tables whose
    cells know their contributors, suppressed, charged to the year's ε budget and noised
    (:func:`release_snapshot`); the budget, the release and the snapshot event are stored
    together, and the outbox relay publishes the event. A snapshot the budget refuses
    leaves nothing behind. Snapshots are released one at a time under a lock, so replicas
    running the schedule at once publish the month once.
    """

    def __init__(self, runtime: ServiceRuntime[AnalyticsSettings], supply: SupplyAndDemand) -> None:
        self.runtime = runtime
        self.supply = supply
        self._read: OrderedDict[str, RegionAggregates] = OrderedDict()  # by event id
        self._lock = threading.Lock()

    @property
    def region(self) -> str:
        return self.runtime.settings.region

    def publish(self, month: str, at: datetime | None = None) -> RegionSnapshot:
        """Publish the region's snapshot of ``month``, as it stands ``at`` (now).

        Raises :class:`BudgetExceeded` when the year's ε budget cannot pay for it.
        """
        at = at or datetime.now(UTC)
        taxonomy = self.supply.taxonomy  # built before the transaction: it may take seconds
        with self.runtime.transaction() as session:
            self._claim(session)
            return self._release(session, month, at, taxonomy)

    def publish_due(self, at: datetime | None = None) -> RegionSnapshot | None:
        """The scheduled snapshot: the last complete month's, unless it is published already
        (a restart, or another replica, does not spend ε again) or the budget refuses it."""
        at = at or datetime.now(UTC)
        month = previous_month(at)
        with self.runtime.reading() as session:
            if released(session, month):
                return None  # most rounds: no claim needed to see it is done
        taxonomy = self.supply.taxonomy
        try:
            with self.runtime.transaction() as session:
                self._claim(session)
                if released(session, month):
                    return None  # another replica published it while this one looked
                return self._release(session, month, at, taxonomy)
        except BudgetExceeded as refused:
            logger.warning("scheduled snapshot refused", extra={"reason": str(refused)})
            return None

    def _claim(self, session: Session) -> None:
        """Release snapshots one at a time, however many replicas run: the check that a
        month is published and the ε spent on it happen under one lock."""
        transaction_lock(session, f"interlocality analytics federation snapshot {self.region}")

    def _release(
        self, session: Session, month: str, at: datetime, taxonomy: SkillTaxonomy
    ) -> RegionSnapshot:
        """Build the snapshot of ``month``, charge the budget, keep the release and stage
        the event, in ``session``'s transaction."""
        settings = self.runtime.settings
        tables = self.tables(session, month, at, taxonomy)
        aggregates, after = release_snapshot(
            region=self.region,
            period=month,
            tables=tables,
            k=settings.federation_k,
            epsilon=settings.federation_epsilon_per_snapshot,
            budget=self._budget(session, at.year),
            produced_at=at,
        )
        put_budget(session, after.region, after.year, after.yearly_epsilon, after.spent)
        event = region_snapshot(self.runtime, aggregates)
        record_release(session, event.id, month, at, aggregates.privacy.epsilon)
        self.runtime.emit(session, event)
        return event

    def tables(
        self, session: Session, month: str, at: datetime, taxonomy: SkillTaxonomy | None = None
    ) -> list[AggregateTable]:
        """The snapshot's tables of ``month`` as it stands ``at``: true counts, each cell
        with its contributors, before any suppression or noise."""
        taxonomy = taxonomy or self.supply.taxonomy
        return region_tables(self._rows(session, month), taxonomy, month, at)

    def _budget(self, session: Session, year: int) -> PrivacyBudget:
        yearly = self.runtime.settings.federation_yearly_epsilon
        row = budget_of_year(session, self.region, year, yearly)
        return PrivacyBudget(self.region, yearly, year, row.spent)

    def _rows(self, session: Session, month: str) -> RegionRows:
        state = self.supply.state(session, month)
        dates, follow_ups = dating_rows(session)
        return RegionRows(
            needs=state.needs,
            holdings=state.holdings,
            companies=vacancy_companies(session),
            journeys=vacancy_journeys(session),
            dates=dates,
            follow_ups=follow_ups,
            graduates=graduates_by_student(session),
        )

    # -- every region's snapshots ---------------------------------------------------------

    def take_snapshot(self, session: Session, snapshot: RegionSnapshot) -> None:
        """Keep a region's snapshot, unless a later one of the same month is kept."""
        data = snapshot.data
        keep_snapshot(
            session, data.region, data.period, snapshot.id, data.produced_at, data.model_dump_json()
        )

    def regions(self, session: Session) -> FederationView:
        """Every region's latest snapshot and budget, side by side."""
        return FederationView(
            regions=[
                RegionView(
                    region=region,
                    months=[s.period for s in snapshots],
                    budget=_budget_of(snapshots),
                    latest=_month(snapshots[0]),
                )
                for region, snapshots in self._held(session).items()
            ]
        )

    def region_history(self, session: Session, region: str) -> RegionHistory | None:
        """Every month held of one region, latest first; ``None`` when none is held."""
        snapshots = self._held(session, region).get(region)
        if not snapshots:
            return None
        return RegionHistory(
            region=region, budget=_budget_of(snapshots), months=[_month(s) for s in snapshots]
        )

    def compare(self, session: Session, month: str | None = None) -> RegionComparison:
        """The regions side by side, each with its snapshot of ``month`` (else its latest)."""
        held = self._held(session)
        taxonomy = self.supply.taxonomy
        return compare(
            held,
            {region: _budget_of(snapshots) for region, snapshots in held.items()},
            taxonomy.label,
            month,
        )

    def _held(
        self, session: Session, region: str | None = None
    ) -> dict[str, list[RegionAggregates]]:
        """The snapshots kept, of every region or of one, latest month first.

        A kept snapshot never changes (a later one of its month replaces it under another
        event id), so each is read and validated once and then served from memory: the
        cross-region pages read every region's months on every request.
        """
        held: dict[str, list[RegionAggregates]] = {}
        with self._lock:  # one reader at a time keeps what it read until it is done
            versions = snapshot_versions(session, region)
            unread = [event_id for *_, event_id, _at in versions if event_id not in self._read]
            for event_id, payload in snapshot_payloads(session, unread).items():
                self._read[event_id] = RegionAggregates.model_validate_json(payload)
            for name, _period, event_id, _at in versions:
                self._read.move_to_end(event_id)
                held.setdefault(name, []).append(self._read[event_id])
            while len(self._read) > max(SNAPSHOTS_IN_MEMORY, len(versions)):
                self._read.popitem(last=False)
        return held


def _month(aggregates: RegionAggregates) -> MonthOfRegion:
    return MonthOfRegion(
        period=aggregates.period,
        produced_at=aggregates.produced_at,
        privacy=aggregates.privacy,
        tables=aggregates.tables,
        suppressed=aggregates.suppressed,
    )


def _budget_of(snapshots: Sequence[RegionAggregates]) -> BudgetView:
    """The budget as the region's most recently produced snapshot states it."""
    newest = max(snapshots, key=lambda snapshot: aware(snapshot.produced_at))
    return BudgetView.of(newest.privacy)
