"""State → wire events: the snapshot analytics publishes to its partner regions."""

from __future__ import annotations

from interlocality.common.service import ServiceRuntime
from interlocality.contracts.federation import RegionAggregates, RegionSnapshot

__all__ = ["region_snapshot"]


def region_snapshot(runtime: ServiceRuntime, aggregates: RegionAggregates) -> RegionSnapshot:
    """The snapshot event of the region's released aggregates: subject and key the region,
    the only string in the envelope that is not a fixed one."""
    return runtime.event(RegionSnapshot, subject=aggregates.region, data=aggregates)
