"""The service layer of analytics: what the region's events add to the aggregates, each
within the consumer's transaction that records the events as applied — the counts, the
funnel, the supply and demand rows and the per-student rows behind the insights — and the
regional insights read from them."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlmodel import Session

from interlocality.analytics.domain import funnel_entry
from interlocality.analytics.funnel import FunnelCut, FunnelInsights, funnel_insights, size_class
from interlocality.analytics.outcomes import (
    DatingOutcomes,
    Employability,
    dating_outcomes,
    employability,
)
from interlocality.analytics.skills import SkillTaxonomy
from interlocality.analytics.store import (
    add_counts,
    add_funnel_steps,
    add_student_step,
    consent_of,
    dating_rows,
    erase_supply_student,
    forget_student,
    graduates,
    holdings_at,
    needs_at,
    put_consent,
    put_outcome,
    record_demand_company,
    record_demand_vacancy,
    record_supply_student,
    replace_dates,
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
from interlocality.contracts.applications import FunnelStep
from interlocality.contracts.companies import Company
from interlocality.contracts.dating import DatingAgenda
from interlocality.contracts.outcomes import GraduateOutcome
from interlocality.contracts.students import StudentProfile
from interlocality.contracts.vacancies import Vacancy

__all__ = ["AnalyticsService", "MonthState", "SupplyAndDemand"]


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

    def record_student(self, session: Session, profile: StudentProfile) -> None:
        """A student's snapshot: what they hold from its time on, or, without analytics
        consent, nothing in any month."""
        record_supply_student(
            session,
            profile.student_id,
            profile.version,
            profile.updated_at,
            student_contributions(profile),
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

    Analytics publishes nothing: its only writes are its own tables, so it needs no
    runtime of its own, only the consumer's session.
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
        """Note whether the student consents to analytics; a withdrawn consent takes the
        student out of every aggregate, past months too."""
        put_consent(session, profile.student_id, profile.consents.analytics.granted)
        self.supply.record_student(session, profile)

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
