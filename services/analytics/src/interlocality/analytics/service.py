"""The service layer of analytics: what the region's events add to the anonymous aggregates,
each within the consumer's transaction that records the events as applied."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from interlocality.analytics.domain import funnel_entry
from interlocality.analytics.store import add_counts, add_funnel_steps

__all__ = ["AnalyticsService"]


class AnalyticsService:
    """Counts the region's events and follows each vacancy through its funnel.

    Analytics publishes nothing and keeps no personal data: its only writes are the
    aggregate tables, so it needs no runtime of its own, only the consumer's session.
    """

    def count_events(self, session: Session, events: Sequence[Any]) -> None:
        """Count a run of events: each count and each vacancy's funnel is read and written
        once for the whole run, not once per event."""
        add_counts(session, Counter((event.region, event.type) for event in events))
        add_funnel_steps(session, [s for event in events if (s := funnel_entry(event)) is not None])
