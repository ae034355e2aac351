"""Pure logic of analytics: which funnel step an event is, and summaries over counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from interlocality.contracts.applications import ApplicationSubmitted, PlacementMade
from interlocality.contracts.matches import MatchFound
from interlocality.contracts.notifications import NotificationSent
from interlocality.contracts.vacancies import VacancyPublished

__all__ = ["FUNNEL_STEPS", "FunnelEntry", "funnel", "funnel_entry", "summarise"]

FUNNEL_STEPS = ("matched", "notified", "applied", "placed")

STEPS = ("published", *FUNNEL_STEPS)


@dataclass(frozen=True)
class FunnelEntry:
    """One step of one vacancy's funnel: ``published`` or one of :data:`FUNNEL_STEPS`,
    with the vacancy's kind and company when the event says them, and when it happened
    (the medians of the regional funnel measure from publication to first match)."""

    region: str
    vacancy_id: str
    step: str
    kind: str | None = None
    company_id: str | None = None
    at: datetime | None = None


def funnel_entry(event: Any) -> FunnelEntry | None:
    """The step of a vacancy's funnel ``event`` makes, if any."""
    match event:
        case VacancyPublished(data=vacancy):
            return FunnelEntry(
                event.region,
                vacancy.vacancy_id,
                "published",
                vacancy.kind,
                vacancy.company_id,
                event.time,
            )
        case MatchFound(data=match):
            return FunnelEntry(
                event.region, match.vacancy_id, "matched", None, match.company_id, event.time
            )
        case NotificationSent(data=delivery):
            return FunnelEntry(event.region, delivery.vacancy_id, "notified", at=delivery.sent_at)
        case ApplicationSubmitted(data=step):
            return FunnelEntry(
                event.region, step.vacancy_id, "applied", step.kind, step.company_id, step.at
            )
        case PlacementMade(data=step):
            return FunnelEntry(
                event.region, step.vacancy_id, "placed", step.kind, step.company_id, step.at
            )
    return None


def summarise(counts: Iterable[tuple[str, str, int]]) -> dict[str, object]:
    """Counts by region and by event type, with totals; event types shown by their name."""
    regions: dict[str, dict[str, int]] = {}
    by_type: dict[str, int] = {}
    total = 0
    for region, event_type, count in counts:
        name = event_type.removeprefix("org.interlocality.")
        regions.setdefault(region, {})[name] = count
        by_type[name] = by_type.get(name, 0) + count
        total += count
    return {"total": total, "by_type": by_type, "by_region": regions}


def funnel(rows: Iterable[tuple[Any, ...]]) -> dict[str, object]:
    """The vacancy funnel per region, overall and by engagement kind.

    Rows are ``(region, kind, published, then vacancies and events per step)`` for the
    steps matched, notified, applied, placed. Each step says how many vacancies reached it,
    their share of the step before, and how many events it counted.
    """
    regions: dict[str, dict[str, list[int]]] = {}
    for region, kind, *counts in rows:
        kinds = regions.setdefault(region, {})
        for key in ("all", kind or "unknown"):
            totals = kinds.setdefault(key, [0] * len(counts))
            for index, count in enumerate(counts):
                totals[index] += int(count or 0)
    return {
        region: {
            "steps": _steps(kinds.pop("all")),
            "by_kind": {kind: _steps(totals) for kind, totals in sorted(kinds.items())},
        }
        for region, kinds in sorted(regions.items())
    }


def _steps(totals: list[int]) -> list[dict[str, object]]:
    published, *per_step = totals
    steps: list[dict[str, object]] = [
        {"step": "published", "vacancies": published, "share_of_previous": None}
    ]
    before = published
    for index, name in enumerate(STEPS[1:]):
        vacancies, events = per_step[2 * index], per_step[2 * index + 1]
        share = round(vacancies / before, 4) if before else None
        steps.append(
            {"step": name, "vacancies": vacancies, "share_of_previous": share, "events": events}
        )
        before = vacancies
    return steps
