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
