"""The services of a region, as the operator's tools know them: each one's settings class,
and from it the service's name and default port."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from interlocality.analytics.settings import AnalyticsSettings
from interlocality.common.settings import ServiceSettings
from interlocality.matching.settings import MatchingSettings
from interlocality.notifications.settings import NotificationsSettings
from interlocality.profiles.settings import ProfilesSettings
from interlocality.vacancies.settings import VacanciesSettings

__all__ = ["SERVICES", "SERVICE_PORTS", "SERVICE_SETTINGS", "app_module", "store_module"]

SERVICE_SETTINGS: dict[str, type[ServiceSettings]] = {
    str(settings.model_fields["service"].default): settings
    for settings in (
        ProfilesSettings,
        VacanciesSettings,
        MatchingSettings,
        NotificationsSettings,
        AnalyticsSettings,
    )
}
SERVICE_PORTS: dict[str, int] = {
    service: int(settings.model_fields["port"].default)
    for service, settings in SERVICE_SETTINGS.items()
}
SERVICES = tuple(SERVICE_SETTINGS)


def app_module(service: str) -> ModuleType:
    """``interlocality.<service>.app``: its ``create_app`` builds the service."""
    return import_module(f"interlocality.{service}.app")


def store_module(service: str) -> ModuleType:
    """``interlocality.<service>.store``: its ``TABLES`` are what its migrations build."""
    return import_module(f"interlocality.{service}.store")
