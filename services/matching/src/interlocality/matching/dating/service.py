"""Writes of Company Dating: each event planned, stored and sent in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import Session

from interlocality.common.service import ServiceRuntime
from interlocality.matching.dating.events import agendas_issued
from interlocality.matching.dating.models import DatingEventRequest, DatingSchedule
from interlocality.matching.dating.plan import (
    UnknownParticipant,
    plan_dating_event,
    unknown_participants,
)
from interlocality.matching.dating.store import save_dating_event
from interlocality.matching.store import (
    best_scores_by_company,
    known_company_ids,
    known_student_ids,
)

__all__ = ["DatingService", "ParticipantsUnknown"]


class ParticipantsUnknown(ValueError):
    """The request names students or companies that matching does not know."""

    def __init__(self, unknown: Sequence[UnknownParticipant]) -> None:
        super().__init__("; ".join(u.message for u in unknown))
        self.unknown = list(unknown)


class DatingService:
    """Plans Company Dating events on matching's scores, stores them and sends the agendas."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    def create_event(self, request: DatingEventRequest) -> DatingSchedule:
        """Plan the best schedule of ``request``, store it and send every agenda; past the
        solver's time limit (``dating_solve_seconds``) the schedule is the greedy one, as
        its totals and notes say.

        Raises :class:`ParticipantsUnknown` when the request names a participant matching
        does not hold, and :class:`~.plan.DatingInfeasible` when its must-meet pairs fit
        no schedule; nothing is stored or sent then.
        """
        with self.runtime.reading() as session:
            self._refuse_unknown_participants(session, request)
            scores = best_scores_by_company(
                session,
                [s.student_id for s in request.students],
                [c.company_id for c in request.companies],
            )
        # Planned outside the write transaction: on SQLite it would hold the write lock
        # (and the consumers) for the whole solve.
        schedule = plan_dating_event(
            request,
            scores,
            event_id=str(uuid.uuid4()),
            issued_at=datetime.now(UTC),
            time_limit=self.runtime.settings.dating_solve_seconds,
        )
        with self.runtime.transaction() as session:
            # Again where it counts: a participant may have been erased during the solve.
            self._refuse_unknown_participants(session, request)
            save_dating_event(session, request, schedule)
            for event in agendas_issued(self.runtime, schedule):
                self.runtime.emit(session, event)
        return schedule

    @staticmethod
    def _refuse_unknown_participants(session: Session, request: DatingEventRequest) -> None:
        unknown = unknown_participants(
            request,
            known_student_ids(session, [s.student_id for s in request.students]),
            known_company_ids(session, [c.company_id for c in request.companies]),
        )
        if unknown:
            raise ParticipantsUnknown(unknown)
