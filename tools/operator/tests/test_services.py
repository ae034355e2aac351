"""The operator finds each service, its port and its settings through its settings class."""

from pathlib import Path

import pytest

from interlocality.common.settings import load_settings
from interlocality.matching.settings import MatchingSettings
from interlocality.notifications.settings import NotificationsSettings
from interlocality.operator.services import SERVICE_PORTS, SERVICE_SETTINGS, SERVICES
from interlocality.profiles.settings import ProfilesSettings
from interlocality.vacancies.settings import VacanciesSettings


def test_each_service_has_its_own_port() -> None:
    assert SERVICE_PORTS == {
        "profiles": 8001,
        "vacancies": 8002,
        "matching": 8003,
        "notifications": 8004,
        "analytics": 8005,
    }
    assert tuple(SERVICE_PORTS) == SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_settings_name_the_service_its_port_and_its_database(service: str) -> None:
    settings = load_settings(SERVICE_SETTINGS[service], var_dir=Path("/srv/var"), region="aarhus")
    assert settings.port == SERVICE_PORTS[service]
    assert settings.resolved_database_url == f"sqlite:////srv/var/aarhus/{service}.db"
    assert settings.consumer_group == f"aarhus.{service}"
    assert settings.source == f"/interlocality/aarhus/{service}"


def test_one_environment_describes_a_whole_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://shared/db")
    monkeypatch.setenv("PROFILES_DATABASE_URL", "postgresql+psycopg://pg/profiles")
    monkeypatch.setenv("PROFILES_PORT", "9101")
    monkeypatch.setenv("INTERLOCALITY_WORK_RULES", "de")
    monkeypatch.setenv("INTERLOCALITY_MATCH_MIN_SCORE", "0.5")
    monkeypatch.setenv("INTERLOCALITY_SMTP_PORT", "2525")

    profiles = load_settings(ProfilesSettings)
    assert profiles.resolved_database_url == "postgresql+psycopg://pg/profiles"
    assert (profiles.port, profiles.work_rules) == (9101, "de")
    vacancies = load_settings(VacanciesSettings)
    assert vacancies.resolved_database_url == "postgresql+psycopg://shared/db"
    assert vacancies.port == 8002
    assert load_settings(MatchingSettings).match_min_score == 0.5
    assert load_settings(NotificationsSettings).smtp_port == 2525
