"""One settings model for every service, read from the environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["SERVICE_PORTS", "ServiceSettings", "load_settings"]

SERVICE_PORTS: dict[str, int] = {
    "profiles": 8001,
    "vacancies": 8002,
    "matching": 8003,
    "notifications": 8004,
    "analytics": 8005,
}


class ServiceSettings(BaseSettings):
    """Configuration of one service process; every variable is ``INTERLOCALITY_*``.

    ``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` are also read without the prefix,
    since those names are what operators and platforms already set.
    """

    model_config = SettingsConfigDict(env_prefix="INTERLOCALITY_", extra="ignore")

    service: Annotated[str, Field(description="Service name (profiles, vacancies, …).")] = ""
    region: Annotated[
        str,
        Field(
            description="Partner region this instance serves.", pattern=r"^[a-z][a-z0-9-]{1,31}$"
        ),
    ] = "demo"
    kafka_bootstrap_servers: Annotated[
        str,
        Field(
            validation_alias=AliasChoices(
                "INTERLOCALITY_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"
            ),
            description="Comma-separated host:port list of the Kafka cluster.",
        ),
    ] = "127.0.0.1:9092"
    database_url: Annotated[
        str,
        Field(
            validation_alias=AliasChoices("INTERLOCALITY_DATABASE_URL", "DATABASE_URL"),
            description="SQLAlchemy URL; empty means a SQLite file under var/<region>/.",
        ),
    ] = ""
    var_dir: Annotated[Path, Field(description="Where embedded SQLite files live.")] = Path("var")
    host: str = "127.0.0.1"
    port: int = 0
    log_format: Literal["json", "console"] = "json"
    log_level: str = "INFO"
    trace_exporter: Annotated[
        Literal["none", "console", "otlp"],
        Field(description="Where spans go; 'otlp' uses OTEL_EXPORTER_OTLP_ENDPOINT."),
    ] = "none"
    max_body_bytes: int = 1024 * 1024
    max_import_bytes: Annotated[int, Field(description="Largest bulk import upload accepted.")] = (
        2 * 1024 * 1024 * 1024
    )
    expiry_check_seconds: Annotated[
        float, Field(description="How often vacancies past their deadline are expired.")
    ] = 60.0
    esco_labels: Annotated[
        str,
        Field(
            description="Extra ESCO label files, 'lang=path' comma-separated, e.g. "
            "'da=/srv/esco/skills_da.csv,de=/srv/esco/skills_de.csv' (official CSV layout)."
        ),
    ] = ""
    work_rules: Annotated[
        str,
        Field(
            description="Rules of permitted work for non-EU students: a shipped country "
            "(dk, de, nl, be-vlg, fi, it) or the path of an operator's own TOML file."
        ),
    ] = "dk"
    match_min_score: Annotated[
        float,
        Field(
            ge=0.0,
            le=1.0,
            description="Lowest score a pair needs to be a match; below it a match is withdrawn.",
        ),
    ] = 0.3
    match_limit_per_vacancy: Annotated[
        int,
        Field(
            ge=1,
            description="A vacancy, when scored, keeps at most this many of its best students.",
        ),
    ] = 100
    match_limit_per_student: Annotated[
        int,
        Field(
            ge=1,
            description="A student, when scored, keeps at most this many of their best vacancies.",
        ),
    ] = 50
    match_update_step: Annotated[
        float,
        Field(
            ge=0.0,
            le=1.0,
            description="How far a match's score must move to be published as updated.",
        ),
    ] = 0.05
    deployment: Annotated[
        Literal["embedded", "production"],
        Field(
            description="'embedded' (make run, tests) lets webhooks use plain http and local "
            "addresses; 'production' refuses both."
        ),
    ] = "production"
    time_zone: Annotated[
        str,
        Field(description="The region's IANA time zone: times in messages to companies."),
    ] = "Europe/Copenhagen"
    public_url: Annotated[
        str,
        Field(description="Base URL of this service in links sent to people; empty: host:port."),
    ] = ""
    signing_key: Annotated[
        SecretStr,
        Field(
            description="Key of the signed links in messages (unsubscribe, preferences); "
            "empty: a key generated once under var/<region>/."
        ),
    ] = SecretStr("")
    smtp_host: Annotated[str, Field(description="SMTP relay for e-mail.")] = "127.0.0.1"
    smtp_port: Annotated[int, Field(description="SMTP port (the embedded sink: 8025).")] = 8025
    smtp_starttls: Annotated[bool, Field(description="Upgrade the connection with STARTTLS.")] = (
        False
    )
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_seconds: float = 10.0
    mail_from: Annotated[str, Field(description="From address of e-mail.")] = (
        "Interlocality <notifications@interlocality.invalid>"
    )
    mail_sink_dir: Annotated[
        str,
        Field(
            description="Maildir of the embedded SMTP sink; when set, notifications serves "
            "its mail at /v1/mailbox."
        ),
    ] = ""
    webhook_timeout_seconds: Annotated[
        float, Field(description="How long a webhook endpoint may take to answer.", gt=0)
    ] = 5.0
    delivery_max_attempts: Annotated[
        int, Field(description="Attempts of an e-mail or webhook delivery before the DLQ.", ge=1)
    ] = 6
    delivery_retry_seconds: Annotated[
        float, Field(description="First retry delay; doubled each time, with jitter.", gt=0)
    ] = 5.0
    delivery_retry_cap_seconds: Annotated[
        float, Field(description="Longest delay between two attempts.", gt=0)
    ] = 3600.0
    webhook_pause_after: Annotated[
        int,
        Field(description="Deliveries failed in a row after which an endpoint is paused.", ge=1),
    ] = 5
    live_stream_sweep_seconds: Annotated[
        float,
        Field(
            description="How often open live streams also read their feed, for events "
            "another instance of notifications applied; 0 turns it off.",
            ge=0,
        ),
    ] = 2.0
    delivery_poll_seconds: Annotated[
        float, Field(description="How often due e-mail and webhook deliveries are sent.", gt=0)
    ] = 0.5
    outbox_poll_seconds: Annotated[
        float,
        Field(
            description="How often the outbox relay looks for rows nobody told it of; every "
            "commit that stages events wakes it at once.",
            gt=0,
        ),
    ] = 1.0
    consumer_batch_size: Annotated[
        int, Field(description="Most events a consumer applies in one transaction.", ge=1)
    ] = 500
    consumer_session_timeout_ms: Annotated[
        int,
        Field(
            description="How long the broker waits for a consumer that stopped answering "
            "before its partitions go to others. A joining consumer waits about half of it on "
            "the embedded broker. Apache Kafka refuses less than its "
            "group.min.session.timeout.ms (6 s unless configured).",
            ge=1000,
        ),
    ] = 6000
    consumer_heartbeat_interval_ms: Annotated[
        int,
        Field(
            description="How often a consumer tells the broker it is alive; well under the "
            "session timeout (a third, as Kafka advises).",
            ge=100,
        ),
    ] = 2000

    @model_validator(mode="after")
    def _heartbeat_within_session(self) -> ServiceSettings:
        if self.consumer_heartbeat_interval_ms >= self.consumer_session_timeout_ms:
            raise ValueError(
                "INTERLOCALITY_CONSUMER_HEARTBEAT_INTERVAL_MS must be less than "
                "INTERLOCALITY_CONSUMER_SESSION_TIMEOUT_MS"
            )
        return self

    @field_validator("region", mode="before")
    @classmethod
    def _lower_region(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def resolved_database_url(self) -> str:
        """``database_url``, or the embedded SQLite default ``var/<region>/<service>.db``."""
        if self.database_url:
            return self.database_url
        path = (self.var_dir / self.region / f"{self.service}.db").resolve()
        return f"sqlite:///{path}"

    @property
    def source(self) -> str:
        """The CloudEvents ``source`` of every event this service emits."""
        return f"/interlocality/{self.region}/{self.service}"

    @property
    def consumer_group(self) -> str:
        """Kafka consumer group of this service in this region."""
        return f"{self.region}.{self.service}"


def load_settings(service: str, **overrides: object) -> ServiceSettings:
    """Settings for ``service`` from the environment.

    ``<SERVICE>_PORT`` sets the port and ``<SERVICE>_DATABASE_URL`` the database of one
    service, so one environment can describe a whole region.
    """
    prefix = service.upper()
    values: dict[str, object] = {"service": service, "port": SERVICE_PORTS[service]}
    if os.environ.get(f"{prefix}_PORT"):
        values["port"] = int(os.environ[f"{prefix}_PORT"])
    if os.environ.get(f"{prefix}_DATABASE_URL"):
        values["database_url"] = os.environ[f"{prefix}_DATABASE_URL"]
    values.update(overrides)
    return ServiceSettings(**values)  # type: ignore[arg-type]
