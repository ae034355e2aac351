"""What runs of the region's events add to the counts and the vacancies' funnels, on both
databases, without a broker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from interlocality.analytics.domain import funnel, summarise
from interlocality.analytics.service import AnalyticsService, SupplyAndDemand
from interlocality.analytics.store import (
    event_counts,
    funnel_rows,
    held_on_student,
    supply_student_data,
)
from interlocality.common.service import ServiceRuntime
from interlocality.common.testing import upserted
from interlocality.contracts.envelope import CloudEvent

Counted = Callable[[dict[str, Any], dict[str, Any]], None]


def test_runs_of_events_add_up_to_the_counts_and_each_vacancys_funnel(
    runtime: ServiceRuntime,
    supply: SupplyAndDemand,
    region: str,
    region_events: list[CloudEvent[Any]],
    counted_as_published: Counted,
) -> None:
    events = list({event.id: event for event in region_events}.values())  # as the consumer does
    service = AnalyticsService(supply)
    for run in (events[:20], events[20:]):
        with runtime.transaction() as session:
            service.count_events(session, run)

    with runtime.reading() as session:
        summary = summarise((c.region, c.event_type, c.count) for c in event_counts(session))
        report = funnel(funnel_rows(session))[region]
        only_theses = funnel(funnel_rows(session, "thesis"))[region]
    counted_as_published(summary["by_region"][region], report)  # type: ignore[index]
    assert only_theses["steps"] == report["by_kind"]["thesis"]  # type: ignore[index]


def test_an_erasure_replayed_or_of_a_student_never_seen_is_a_no_op(
    runtime: ServiceRuntime, supply: SupplyAndDemand, region: str
) -> None:
    service = AnalyticsService(supply)
    with runtime.transaction() as session:
        service.take_student(session, upserted(region, "s-Åsa", name="Åsa Öberg").data)
    with runtime.reading() as session:
        assert held_on_student(session, "s-Åsa")["analytics_consent"] is True
        assert supply_student_data(session, "s-Åsa")
    # the second one as a replay after the broker lost its log brings it again
    for student in ("s-Åsa", "s-Åsa", "s-Ilgın-Øre"):
        with runtime.transaction() as session:
            service.erase_student(session, student)
    with runtime.reading() as session:
        for student in ("s-Åsa", "s-Ilgın-Øre"):
            held = held_on_student(session, student)
            assert all(value in (None, [], {}) for value in held.values()), held
            assert supply_student_data(session, student) == {}
