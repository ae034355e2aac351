"""The service layer of analytics: what the region's events add to the aggregates, each
within the consumer's transaction that records the events as applied, and the regional
insights read from them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
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
from interlocality.analytics.store import (
    add_counts,
    add_funnel_steps,
    add_student_step,
    consent_of,
    dating_rows,
    forget_student,
    graduates,
    put_company,
    put_consent,
    put_outcome,
    replace_dates,
    vacancy_journeys,
)
from interlocality.contracts.applications import FunnelStep
from interlocality.contracts.companies import Company
from interlocality.contracts.dating import DatingAgenda
from interlocality.contracts.outcomes import GraduateOutcome
from interlocality.contracts.students import StudentProfile

__all__ = ["AnalyticsService"]


class AnalyticsService:
    """Counts the region's events, follows each vacancy through its funnel, and keeps what
    the regional insights count, for the students who consent to anonymous analytics.

    Analytics publishes nothing: its only writes are its own tables, so it needs no
    runtime of its own, only the consumer's session.
    """

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

    def erase_student(self, session: Session, student_id: str) -> None:
        """Forget the student entirely."""
        forget_student(session, student_id)

    def take_company(self, session: Session, company: Company) -> None:
        """Keep the company's sector and size class (from its headcount) for the cuts."""
        put_company(
            session,
            company.company_id,
            company.sector,
            size_class(company.employees, company.size_class),
        )

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
