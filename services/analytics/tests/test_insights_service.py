"""The regional insights from runs of a region's events, on both databases, without a
broker: the numbers, and students leaving every month's numbers when they withdraw their
consent or are erased."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from interlocality.analytics.handlers import INSIGHT_HANDLERS, on_events
from interlocality.analytics.service import AnalyticsService, SupplyAndDemand
from interlocality.analytics.store import held_on_student
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.envelope import CloudEvent

from .conftest import InsightEvents, agenda, on_day

Check = Callable[[str, dict[str, Any], dict[str, Any], dict[str, Any]], None]


def apply(runtime: ServiceRuntime, service: AnalyticsService, events: Sequence[Any]) -> None:
    """As the consumer does: each event counted and, where the insights need it, applied."""
    with runtime.transaction() as session:
        for event in events:
            on_events(service, [event], session)
            if (handler := INSIGHT_HANDLERS.get(type(event))) is not None:
                handler(service, event, session)


def reports(runtime: ServiceRuntime, service: AnalyticsService) -> tuple[dict[str, Any], ...]:
    with runtime.reading() as session:
        return (
            service.funnel(session, "kind", None, None).model_dump(),
            service.company_dating(session, "here", None, None).model_dump(),
            service.employability(session, "here", None, None).model_dump(),
        )


def test_insights_count_consenting_students_and_lose_them_on_withdrawal_and_erasure(
    supply: SupplyAndDemand,
    runtime: ServiceRuntime,
    insight_events: InsightEvents,
    insights_as_told: Check,
) -> None:
    service = AnalyticsService(supply)
    apply(runtime, service, insight_events.happened)
    insights_as_told("happened", *reports(runtime, service))

    apply(runtime, service, insight_events.withdrawal)
    insights_as_told("withdrawn", *reports(runtime, service))
    with runtime.reading() as session:
        assert held_on_student(session, "s-elif") == {
            "analytics_consent": False,
            "applications_and_placements": [],
            "dating_dates": [],
            "graduate_outcome": None,
        }

    with runtime.reading() as session:
        held = held_on_student(session, "s-soren")
    assert held["analytics_consent"] is True
    assert {(s["vacancy_id"], s["step"]) for s in held["applications_and_placements"]} == {
        ("v-1", "applied"),
        ("v-1", "placed"),
    }
    assert sorted(d["company_id"] for d in held["dating_dates"]) == ["c-large", "c-micro"]
    assert held["graduate_outcome"]["outcome"] == "employed_elsewhere"
    # ids, times and kinds: no name of the student or anyone they met
    text = json.dumps(held, default=str)
    assert "Søren" not in text and "Æbleri" not in text and "@" not in text

    apply(runtime, service, insight_events.erasure)
    insights_as_told("erased", *reports(runtime, service))
    with runtime.reading() as session:
        assert held_on_student(session, "s-soren") == {
            "analytics_consent": None,
            "applications_and_placements": [],
            "dating_dates": [],
            "graduate_outcome": None,
        }


def test_a_student_of_no_known_consent_counts_once_their_profile_says_they_consent(
    supply: SupplyAndDemand, runtime: ServiceRuntime, region: str, insight_events: InsightEvents
) -> None:
    service = AnalyticsService(supply)
    profiles = [e for e in insight_events.happened if e.type.endswith("StudentProfileUpserted.v1")]
    others = [e for e in insight_events.happened if e not in profiles]
    apply(runtime, service, others)
    funnel, dating, employability = reports(runtime, service)
    assert funnel["regions"][0]["total"]["applied"] == 0
    assert dating["total"]["dates_held"] == 0
    assert employability["total"]["graduates"] == 0

    apply(runtime, service, profiles)
    funnel, dating, employability = reports(runtime, service)
    # Nadia's refusal drops what was kept before her profile said so
    assert funnel["regions"][0]["total"]["applied"] == 3
    assert dating["total"]["dates_held"] == 4
    assert employability["total"]["graduates"] == 3
    with runtime.reading() as session:
        assert held_on_student(session, "s-nadia")["dating_dates"] == []


def test_the_funnel_is_cut_by_sector_and_size_class_within_a_month_range(
    supply: SupplyAndDemand, runtime: ServiceRuntime, insight_events: InsightEvents
) -> None:
    service = AnalyticsService(supply)
    apply(runtime, service, insight_events.happened)
    with runtime.reading() as session:
        by_size = service.funnel(session, "size_class", None, "2025-01").regions[0]
        by_sector = service.funnel(session, "sector", "2025-02", "2025-02").regions[0]
        later = service.funnel(session, "kind", "2025-03", None)
    assert [(g.group, g.total.published, g.total.placed) for g in by_size.groups] == [
        ("large", 1, 1),
        ("micro", 1, 1),
    ]
    assert [m.month for m in by_size.months] == ["2025-01"]
    # the company declared its class but gave no headcount, and no sector
    assert [(g.group, g.total.applied) for g in by_sector.groups] == [("unknown", 1)]
    assert later.regions == []


def test_a_reissued_agenda_replaces_the_students_dates_at_that_event(
    supply: SupplyAndDemand, runtime: ServiceRuntime, region: str, insight_events: InsightEvents
) -> None:
    service = AnalyticsService(supply)
    apply(runtime, service, insight_events.happened)
    moved: CloudEvent[Any] = agenda(
        region, "s-begona", [("c-micro", "Ærø Æbleri ApS", on_day("2025-01-08", 14))]
    )
    apply(runtime, service, [moved])
    with runtime.reading() as session:
        dates = held_on_student(session, "s-begona")["dating_dates"]
    assert sorted((d["dating_event_id"], d["company_id"]) for d in dates) == [
        ("de-0", "c-medium"),
        ("de-1", "c-micro"),
    ]
