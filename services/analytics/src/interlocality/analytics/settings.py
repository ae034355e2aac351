"""Settings of the analytics service."""

from __future__ import annotations

from interlocality.common.settings import ServiceSettings

__all__ = ["AnalyticsSettings"]


class AnalyticsSettings(ServiceSettings):
    """What configures one analytics process (``INTERLOCALITY_*``); ``ANALYTICS_PORT`` and
    ``ANALYTICS_DATABASE_URL`` name its port and database in a region's environment."""

    service: str = "analytics"
    port: int = 8005
