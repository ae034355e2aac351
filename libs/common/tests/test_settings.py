from pathlib import Path

import pytest

from interlocality.common.settings import load_settings


def test_defaults_put_each_service_in_its_own_sqlite_file_under_the_region() -> None:
    settings = load_settings("matching", var_dir=Path("/srv/var"), region="aarhus")
    assert settings.port == 8003
    assert settings.resolved_database_url == "sqlite:////srv/var/aarhus/matching.db"
    assert settings.consumer_group == "aarhus.matching"
    assert settings.source == "/interlocality/aarhus/matching"


def test_environment_names_cluster_database_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-0:9092,kafka-1:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://shared/db")
    monkeypatch.setenv("PROFILES_DATABASE_URL", "postgresql+psycopg://pg/profiles")
    monkeypatch.setenv("PROFILES_PORT", "9101")
    monkeypatch.setenv("INTERLOCALITY_REGION", "Leipzig")

    profiles = load_settings("profiles")
    assert profiles.kafka_bootstrap_servers == "kafka-0:9092,kafka-1:9092"
    assert profiles.resolved_database_url == "postgresql+psycopg://pg/profiles"
    assert profiles.port == 9101
    assert profiles.region == "leipzig"
    assert load_settings("vacancies").resolved_database_url == "postgresql+psycopg://shared/db"


def test_a_malformed_region_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLOCALITY_REGION", "no spaces allowed")
    with pytest.raises(ValueError, match="region"):
        load_settings("profiles")


def test_consumer_session_timeout_and_heartbeat_fit_one_machine_and_can_be_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = load_settings("matching")
    assert (defaults.consumer_session_timeout_ms, defaults.consumer_heartbeat_interval_ms) == (
        6000,
        2000,
    )
    monkeypatch.setenv("INTERLOCALITY_CONSUMER_SESSION_TIMEOUT_MS", "10000")
    monkeypatch.setenv("INTERLOCALITY_CONSUMER_HEARTBEAT_INTERVAL_MS", "3000")
    configured = load_settings("matching")
    assert configured.consumer_session_timeout_ms == 10000
    assert configured.consumer_heartbeat_interval_ms == 3000

    monkeypatch.setenv("INTERLOCALITY_CONSUMER_HEARTBEAT_INTERVAL_MS", "10000")
    with pytest.raises(ValueError, match="HEARTBEAT_INTERVAL_MS must be less than"):
        load_settings("matching")
