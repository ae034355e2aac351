"""What runs of the region's events add to the counts and the vacancies' funnels, on both
databases, without a broker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from interlocality.analytics.domain import funnel, summarise
from interlocality.analytics.service import AnalyticsService, SupplyAndDemand
from interlocality.analytics.store import event_counts, funnel_rows
from interlocality.common.service import ServiceRuntime
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
