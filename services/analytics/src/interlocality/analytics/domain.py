"""Summaries: pure functions over counts."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["summarise"]


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
