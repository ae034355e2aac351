"""How every Kafka client of a service authenticates and encrypts, read from the environment.

``KAFKA_SECURITY_PROTOCOL`` is ``PLAINTEXT`` (the default: the embedded broker, a
development cluster), ``SSL``, ``SASL_PLAINTEXT`` or ``SASL_SSL``. SASL authenticates with
``KAFKA_SASL_MECHANISM`` (``SCRAM-SHA-512``, the default and what Strimzi's ``KafkaUser``
gives, ``SCRAM-SHA-256`` or ``PLAIN``) as ``KAFKA_SASL_USERNAME`` with the password in
``KAFKA_SASL_PASSWORD`` or, as a Kubernetes secret is mounted, in the file
``KAFKA_SASL_PASSWORD_FILE``. TLS trusts ``KAFKA_SSL_CAFILE`` (else the system's CAs) and
presents ``KAFKA_SSL_CERTFILE``/``KAFKA_SSL_KEYFILE`` when the cluster wants a client
certificate. Every name is read with the ``INTERLOCALITY_`` prefix too, which wins.

The cluster of the topics shared with partner regions may want credentials of its own:
``INTERLOCALITY_FEDERATION_KAFKA_SECURITY_PROTOCOL`` and the other
``INTERLOCALITY_FEDERATION_KAFKA_*`` give them; without them it is reached as the region's.

One :class:`KafkaSecurity` makes both FastStream's ``security=`` object
(:meth:`KafkaSecurity.faststream`) and the keyword arguments of aiokafka's clients
(:func:`client_options`), so a broker and a producer of the same service connect alike.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any, ClassVar, Literal

from aiokafka.helpers import create_ssl_context
from faststream.kafka.security import parse_security
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)
from pydantic import SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

__all__ = [
    "FederationKafkaSecurity",
    "KafkaSecurity",
    "SaslMechanism",
    "SecurityProtocol",
    "client_options",
    "federation_security_from_environment",
]

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]

_SASL: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
    "SCRAM-SHA-512": SASLScram512,
    "SCRAM-SHA-256": SASLScram256,
    "PLAIN": SASLPlaintext,
}


class KafkaSecurity(BaseSettings):
    """How a service's Kafka clients connect to its region's cluster (see the module)."""

    model_config = SettingsConfigDict(
        env_prefix="INTERLOCALITY_KAFKA_", extra="ignore", frozen=True
    )
    # The names operators and platforms already set, read after the prefixed ones.
    unprefixed: ClassVar[str | None] = "KAFKA_"

    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: SecretStr = SecretStr("")
    sasl_password_file: Path | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings]
        if cls.unprefixed:
            sources.append(EnvSettingsSource(settings_cls, env_prefix=cls.unprefixed))
        return tuple(sources)

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable(s) naming ``field``, as an error message shows them."""
        prefixed = f"{cls.model_config.get('env_prefix', '')}{field}".upper()
        if cls.unprefixed:
            return f"{cls.unprefixed}{field.upper()} (or {prefixed})"
        return prefixed

    @property
    def uses_sasl(self) -> bool:
        """Whether the clients authenticate with SASL."""
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        """Whether the connections are encrypted with TLS."""
        return self.security_protocol.endswith("SSL")

    @model_validator(mode="after")
    def _complete(self) -> KafkaSecurity:
        # Only what the protocol uses is checked: a pod may carry a mounted password that a
        # plaintext cluster never asks for.
        protocol = f"{self.variable('security_protocol')} is {self.security_protocol}"
        if self.uses_sasl:
            if not self.sasl_username:
                raise ValueError(f"{self.variable('sasl_username')} must be set: {protocol}")
            password = self.sasl_password.get_secret_value()
            if password and self.sasl_password_file is not None:
                raise ValueError(
                    f"set {self.variable('sasl_password')} or "
                    f"{self.variable('sasl_password_file')}, not both"
                )
            if not password and self.sasl_password_file is None:
                raise ValueError(
                    f"{self.variable('sasl_password')} or {self.variable('sasl_password_file')} "
                    f"must be set: {protocol}"
                )
            self._readable("sasl_password_file")
        if self.uses_tls:
            if self.ssl_keyfile is not None and self.ssl_certfile is None:
                raise ValueError(
                    f"{self.variable('ssl_keyfile')} is the key of a client certificate: "
                    f"{self.variable('ssl_certfile')} must be set too"
                )
            for field in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
                self._readable(field)
        return self

    def _readable(self, field: str) -> None:
        path: Path | None = getattr(self, field)
        if path is not None and not path.is_file():
            raise ValueError(f"{self.variable(field)}: no such file {str(path)!r}")

    def password(self) -> str:
        """The SASL password, from its file when one is named (read now: a rotated secret
        is picked up by the next client)."""
        if self.sasl_password_file is None:
            return self.sasl_password.get_secret_value()
        return self.sasl_password_file.read_text().rstrip("\r\n")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of the connections, or None when they are not encrypted."""
        if not self.uses_tls:
            return None
        try:
            return create_ssl_context(
                cafile=self.ssl_cafile, certfile=self.ssl_certfile, keyfile=self.ssl_keyfile
            )
        except (ssl.SSLError, OSError) as exc:
            files = ", ".join(
                f"{self.variable(field)}={getattr(self, field)}"
                for field in ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
                if getattr(self, field) is not None
            )
            raise ValueError(
                f"Kafka TLS cannot use {files or 'the system CA certificates'}: {exc}"
            ) from exc

    def faststream(self) -> BaseSecurity | None:
        """FastStream's ``security=`` object for a ``KafkaBroker`` (None: plaintext)."""
        if self.security_protocol == "PLAINTEXT":
            return None
        context = self.ssl_context()
        if not self.uses_sasl:
            return BaseSecurity(ssl_context=context, use_ssl=True)
        return _SASL[self.sasl_mechanism](
            self.sasl_username, self.password(), ssl_context=context, use_ssl=self.uses_tls
        )


class FederationKafkaSecurity(KafkaSecurity):
    """How a service connects to the cluster of the topics shared with partner regions,
    when it wants other credentials than the region's (``INTERLOCALITY_FEDERATION_KAFKA_*``)."""

    model_config = SettingsConfigDict(
        env_prefix="INTERLOCALITY_FEDERATION_KAFKA_", extra="ignore", frozen=True
    )
    unprefixed: ClassVar[str | None] = None

    @model_validator(mode="after")
    def _protocol_named(self) -> FederationKafkaSecurity:
        # Credentials without a protocol would be ignored silently, the cluster reached
        # in plaintext.
        if "security_protocol" not in self.model_fields_set:
            raise ValueError(
                f"{self.variable('security_protocol')} must be set when any other "
                f"{self.model_config.get('env_prefix', '')}* variable is"
            )
        return self


def federation_security_from_environment() -> FederationKafkaSecurity | None:
    """The federation cluster's own security, when ``INTERLOCALITY_FEDERATION_KAFKA_*``
    variables give one; None: it is reached as the region's cluster."""
    prefix = str(FederationKafkaSecurity.model_config.get("env_prefix", ""))
    if not any(name.upper().startswith(prefix) for name in os.environ):
        return None
    return FederationKafkaSecurity()


def client_options(security: KafkaSecurity | None) -> dict[str, Any]:
    """Keyword arguments for an aiokafka producer, consumer, admin or low-level client
    (``security_protocol``, ``ssl_context``, ``sasl_*``); none for plaintext or ``None``."""
    if security is None:
        return {}
    return parse_security(security.faststream())
