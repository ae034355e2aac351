from pathlib import Path

import pytest

from interlocality.common.settings import ServiceSettings, load_settings


class DirectorySettings(ServiceSettings):
    """A service's settings as each service declares them: its name, its port, its own."""

    service: str = "directory"
    port: int = 8100
    page_size: int = 20


def test_defaults_put_each_service_in_its_own_sqlite_file_under_the_region() -> None:
    settings = load_settings(DirectorySettings, var_dir=Path("/srv/var"), region="aarhus")
    assert isinstance(settings, DirectorySettings)
    assert (settings.service, settings.port, settings.page_size) == ("directory", 8100, 20)
    assert settings.resolved_database_url == "sqlite:////srv/var/aarhus/directory.db"
    assert settings.consumer_group == "aarhus.directory"
    assert settings.source == "/interlocality/aarhus/directory"


def test_environment_names_cluster_database_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-0:9092,kafka-1:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://shared/db")
    monkeypatch.setenv("DIRECTORY_DATABASE_URL", "postgresql+psycopg://pg/directory")
    monkeypatch.setenv("DIRECTORY_PORT", "9101")
    monkeypatch.setenv("INTERLOCALITY_REGION", "Leipzig")
    monkeypatch.setenv("INTERLOCALITY_PAGE_SIZE", "50")

    directory = load_settings(DirectorySettings)
    assert directory.kafka_bootstrap_servers == "kafka-0:9092,kafka-1:9092"
    assert directory.resolved_database_url == "postgresql+psycopg://pg/directory"
    assert directory.port == 9101
    assert directory.region == "leipzig"
    assert directory.page_size == 50

    class CatalogueSettings(ServiceSettings):
        service: str = "catalogue"
        port: int = 8101

    catalogue = load_settings(CatalogueSettings)
    assert catalogue.resolved_database_url == "postgresql+psycopg://shared/db"
    assert catalogue.port == 8101


def test_a_malformed_region_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLOCALITY_REGION", "no spaces allowed")
    with pytest.raises(ValueError, match="region"):
        load_settings(DirectorySettings)


def test_consumer_session_timeout_and_heartbeat_fit_one_machine_and_can_be_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = load_settings(DirectorySettings)
    assert (defaults.consumer_session_timeout_ms, defaults.consumer_heartbeat_interval_ms) == (
        6000,
        2000,
    )
    monkeypatch.setenv("INTERLOCALITY_CONSUMER_SESSION_TIMEOUT_MS", "10000")
    monkeypatch.setenv("INTERLOCALITY_CONSUMER_HEARTBEAT_INTERVAL_MS", "3000")
    configured = load_settings(DirectorySettings)
    assert configured.consumer_session_timeout_ms == 10000
    assert configured.consumer_heartbeat_interval_ms == 3000

    monkeypatch.setenv("INTERLOCALITY_CONSUMER_HEARTBEAT_INTERVAL_MS", "10000")
    with pytest.raises(ValueError, match="HEARTBEAT_INTERVAL_MS must be less than"):
        load_settings(DirectorySettings)
