"""The settings every service has, read from the environment; each service adds its own.

A service's settings are a subclass of :class:`ServiceSettings` that names the service and
its default port (class-level defaults of ``service`` and ``port``) and adds the fields only
it reads; :func:`load_settings` builds one from the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from interlocality.common.kafka_security import (
    KafkaSecurity,
    federation_security_from_environment,
)

__all__ = ["ServiceSettings", "SettingsT", "load_settings"]


class ServiceSettings(BaseSettings):
    """Configuration every service process has; every variable is ``INTERLOCALITY_*``.

    ``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` are also read without the prefix,
    since those names are what operators and platforms already set.
    """

    model_config = SettingsConfigDict(env_prefix="INTERLOCALITY_", extra="ignore")

    service: Annotated[
        str, Field(description="Service name; a service's subclass gives its own as default.")
    ] = ""
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
    oidc_issuer: Annotated[
        str,
        Field(
            description="The OpenID Connect issuer whose access tokens callers present "
            "(its 'iss'); `interlocality up` starts a development issuer and sets it."
        ),
    ] = ""
    oidc_audience: Annotated[
        str, Field(description="The audience ('aud') a token must be for.")
    ] = "interlocality"
    oidc_jwks_url: Annotated[
        str,
        Field(
            description="Where the issuer's signing keys are (JWKS); empty: read from the "
            "issuer's /.well-known/openid-configuration."
        ),
    ] = ""
    kafka_security: Annotated[
        KafkaSecurity,
        Field(
            default_factory=KafkaSecurity,
            description="How every Kafka client authenticates and encrypts: "
            "KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, "
            "KAFKA_SASL_PASSWORD(_FILE), KAFKA_SSL_CAFILE/CERTFILE/KEYFILE, each also "
            "INTERLOCALITY_-prefixed (see interlocality.common.kafka_security).",
        ),
    ]
    federation_kafka_security: Annotated[
        KafkaSecurity | None,
        Field(
            default_factory=federation_security_from_environment,
            description="The federation cluster's own security, from the "
            "INTERLOCALITY_FEDERATION_KAFKA_* equivalents; None: the region's applies.",
        ),
    ]
    database_url: Annotated[
        str,
        Field(
            validation_alias=AliasChoices("INTERLOCALITY_DATABASE_URL", "DATABASE_URL"),
            description="SQLAlchemy URL; empty means a SQLite file under var/<region>/.",
        ),
    ] = ""
    var_dir: Annotated[Path, Field(description="Where embedded SQLite files live.")] = Path("var")
    host: str = "127.0.0.1"
    port: Annotated[
        int, Field(description="HTTP port; a service's subclass gives its own as default.")
    ] = 0
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
    esco_labels: Annotated[
        str,
        Field(
            description="Extra ESCO label files, 'lang=path' comma-separated, e.g. "
            "'da=/srv/esco/skills_da.csv,de=/srv/esco/skills_de.csv' (official CSV layout)."
        ),
    ] = ""
    deployment: Annotated[
        Literal["embedded", "production"],
        Field(
            description="'embedded' (make run, tests) lets webhooks use plain http and local "
            "addresses; 'production' refuses both."
        ),
    ] = "production"
    delivery_poll_seconds: Annotated[
        float, Field(description="How often due e-mail and webhook deliveries are sent.", gt=0)
    ] = 0.5
    active_replica_poll_seconds: Annotated[
        float,
        Field(
            description="For a service with one active replica (matching): how often a "
            "standby tries to become active, and the active one checks it still is.",
            gt=0,
        ),
    ] = 2.0
    standby_refresh_seconds: Annotated[
        float,
        Field(
            description="How often a standby replica reloads what it serves from the "
            "database, which the active replica keeps.",
            gt=0,
        ),
    ] = 30.0
    outbox_poll_seconds: Annotated[
        float,
        Field(
            description="How often the outbox relay looks for rows nobody told it of; every "
            "commit that stages events wakes it at once.",
            gt=0,
        ),
    ] = 1.0
    outbox_retention_seconds: Annotated[
        float,
        Field(
            description="How long a published outbox row is kept before the relay deletes it "
            "(its record is on the broker; the row may carry personal data).",
            ge=60,
        ),
    ] = 7 * 24 * 3600
    consumer_batch_size: Annotated[
        int, Field(description="Most events a consumer applies in one transaction.", ge=1)
    ] = 500
    consumer_database_attempts: Annotated[
        int,
        Field(
            description="How often a consumer tries an event the database refuses (a "
            "statement timeout, a program limit) before it sends it to its DLQ and moves "
            "on; an outage (the database cannot be reached) is waited out, not counted.",
            ge=1,
        ),
    ] = 5
    consumer_retry_delay_seconds: Annotated[
        float,
        Field(
            description="How long a consumer waits before its second try of work the "
            "database refused, or after an outage; the wait doubles with each try.",
            gt=0,
        ),
    ] = 0.2
    consumer_retry_delay_max_seconds: Annotated[
        float, Field(description="The longest wait between two tries.", gt=0)
    ] = 5.0
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
    log_epoch_poll_seconds: Annotated[
        float,
        Field(
            description="How often a consumer checks whether a replay began a new log "
            "epoch (then it reads its topics again from the start: the broker lost its "
            "log) and whether its positions lie beyond the log end.",
            gt=0,
        ),
    ] = 1.0

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


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def load_settings(settings_class: type[SettingsT], **overrides: object) -> SettingsT:
    """Settings of the service ``settings_class`` describes, from the environment.

    ``<SERVICE>_PORT`` sets the port and ``<SERVICE>_DATABASE_URL`` the database of one
    service (``<SERVICE>`` is the class's default ``service``, upper-cased), so one
    environment can describe a whole region.
    """
    fields = settings_class.model_fields
    service = str(fields["service"].default)
    values: dict[str, object] = {"service": service, "port": fields["port"].default}
    prefix = service.upper()
    if service and os.environ.get(f"{prefix}_PORT"):
        values["port"] = int(os.environ[f"{prefix}_PORT"])
    if service and os.environ.get(f"{prefix}_DATABASE_URL"):
        values["database_url"] = os.environ[f"{prefix}_DATABASE_URL"]
    values.update(overrides)
    return settings_class(**values)  # type: ignore[arg-type]
