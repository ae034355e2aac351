"""The Kafka security settings and what every Kafka client of a service is given from them."""

from __future__ import annotations

import datetime as dt
import re
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.security import SASLPlaintext, SASLScram256, SASLScram512
from pydantic import ValidationError

from interlocality.common.kafka_security import (
    FederationKafkaSecurity,
    KafkaSecurity,
    client_options,
)
from interlocality.common.service import ServiceRuntime
from interlocality.common.settings import ServiceSettings, load_settings

VARIABLES = (
    "SECURITY_PROTOCOL",
    "SASL_MECHANISM",
    "SASL_USERNAME",
    "SASL_PASSWORD",
    "SASL_PASSWORD_FILE",
    "SSL_CAFILE",
    "SSL_CERTFILE",
    "SSL_KEYFILE",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        for prefix in ("KAFKA_", "INTERLOCALITY_KAFKA_", "INTERLOCALITY_FEDERATION_KAFKA_"):
            monkeypatch.delenv(f"{prefix}{name}", raising=False)


def certificate(
    directory: Path, name: str, issuer: tuple[Any, Any] | None = None
) -> tuple[Any, Any]:
    """A PEM certificate and key ``<name>.crt``/``<name>.key`` in ``directory``, signed by
    ``issuer`` (certificate, key) or by itself (a CA); returns (certificate, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    signer_certificate, signer_key = issuer or (None, key)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_certificate.subject if signer_certificate else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
        .sign(signer_key, hashes.SHA256())
    )
    (directory / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


def settings(**overrides: object) -> ServiceSettings:
    return load_settings(ServiceSettings, service="profiles", region="tsec", **overrides)


def test_plaintext_by_default_gives_the_clients_nothing_to_add() -> None:
    security = settings().kafka_security
    assert security.security_protocol == "PLAINTEXT"
    assert security.faststream() is None
    assert client_options(security) == {} == client_options(None)


@pytest.mark.parametrize(
    ("mechanism", "faststream_class"),
    [("SCRAM-SHA-512", SASLScram512), ("SCRAM-SHA-256", SASLScram256), ("PLAIN", SASLPlaintext)],
)
def test_sasl_over_plaintext_signs_in_with_the_named_mechanism(
    monkeypatch: pytest.MonkeyPatch, mechanism: str, faststream_class: type
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", mechanism)
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "Åsa Ørsted")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "pässwörd")
    security = settings().kafka_security
    assert isinstance(security.faststream(), faststream_class)
    assert client_options(security) == {
        "security_protocol": "SASL_PLAINTEXT",
        "ssl_context": None,
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "Åsa Ørsted",
        "sasl_plain_password": "pässwörd",
    }


def test_scram_over_tls_trusts_the_named_ca_and_reads_the_mounted_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    certificate(tmp_path, "cluster-ca")
    password = tmp_path / "password"
    password.write_text("from-the-secret\n")  # a file written by hand ends in a newline
    monkeypatch.setenv("INTERLOCALITY_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "interlocality-profiles")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", str(password))
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(tmp_path / "cluster-ca.crt"))
    options = client_options(settings().kafka_security)
    context = options.pop("ssl_context")
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "interlocality-profiles",
        "sasl_plain_password": "from-the-secret",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    [ca] = context.get_ca_certs()
    assert (("commonName", "cluster-ca"),) in ca["subject"]


def test_tls_with_a_client_certificate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = certificate(tmp_path, "cluster-ca")
    certificate(tmp_path, "client", issuer=ca)
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(tmp_path / "cluster-ca.crt"))
    monkeypatch.setenv("KAFKA_SSL_CERTFILE", str(tmp_path / "client.crt"))
    monkeypatch.setenv("KAFKA_SSL_KEYFILE", str(tmp_path / "client.key"))
    options = client_options(settings().kafka_security)
    assert options["security_protocol"] == "SSL"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert not any(name.startswith("sasl") for name in options)


async def test_every_aiokafka_client_takes_the_options(tmp_path: Path) -> None:
    certificate(tmp_path, "cluster-ca")
    (tmp_path / "password").write_text("s3cret")
    security = KafkaSecurity(
        security_protocol="SASL_SSL",
        sasl_username="Iñaki Yılmaz",
        sasl_password_file=tmp_path / "password",
        ssl_cafile=tmp_path / "cluster-ca.crt",
    )
    options = client_options(security)
    # Each client checks its arguments when built (a missing ssl_context, an unknown
    # mechanism); none connects here.
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", **options)
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", **options)
    admin = AIOKafkaAdminClient(bootstrap_servers="127.0.0.1:1", **options)
    for client in (producer.client, consumer._client, admin._client):
        assert client._security_protocol == "SASL_SSL"
        assert client._sasl_mechanism == "SCRAM-SHA-512"
        assert client._sasl_plain_username == "Iñaki Yılmaz"
        assert client._ssl_context is options["ssl_context"]
    await consumer.stop()
    await producer.stop()
    await admin.close()


def test_the_prefixed_name_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("INTERLOCALITY_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("INTERLOCALITY_KAFKA_SASL_USERNAME", "interlocality-matching")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "someone-else")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "pw")
    security = settings().kafka_security
    assert security.security_protocol == "SASL_PLAINTEXT"
    assert security.sasl_mechanism == "SCRAM-SHA-256"
    assert security.sasl_username == "interlocality-matching"


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_PASSWORD": "pw"},
            "KAFKA_SASL_USERNAME",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "u"},
            "KAFKA_SASL_PASSWORD_FILE",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "GSSAPI"},
            "sasl_mechanism",
        ),
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "security_protocol"),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KAFKA_SASL_USERNAME": "u",
                "KAFKA_SASL_PASSWORD": "pw",
                "KAFKA_SASL_PASSWORD_FILE": "/etc/hostname",
            },
            "not both",
        ),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KAFKA_SASL_USERNAME": "u",
                "KAFKA_SASL_PASSWORD_FILE": "/nonexistent/password",
            },
            "KAFKA_SASL_PASSWORD_FILE (or INTERLOCALITY_KAFKA_SASL_PASSWORD_FILE): "
            "no such file '/nonexistent/password'",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": "/nonexistent/ca.crt"},
            "KAFKA_SSL_CAFILE (or INTERLOCALITY_KAFKA_SSL_CAFILE): "
            "no such file '/nonexistent/ca.crt'",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_KEYFILE": "/etc/hostname"},
            "KAFKA_SSL_CERTFILE",
        ),
    ],
)
def test_an_incomplete_configuration_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], named: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=re.escape(named)):
        settings()


def test_a_ca_file_that_is_no_certificate_fails_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "ca.crt").write_text("not a certificate")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(tmp_path / "ca.crt"))
    security = settings().kafka_security
    with pytest.raises(
        ValueError, match=rf"Kafka TLS cannot use KAFKA_SSL_CAFILE.*={tmp_path}/ca.crt"
    ):
        client_options(security)


def test_sasl_settings_a_plaintext_cluster_never_asks_for_are_not_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # every pod carries the path of its mounted password; a cluster without SASL has no secret
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "interlocality-profiles")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", "/nonexistent/password")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", "/nonexistent/ca.crt")
    assert client_options(settings().kafka_security) == {}


def test_the_federation_cluster_is_reached_as_the_region_s_unless_it_has_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "interlocality-analytics")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "regional")
    database = f"sqlite:///{tmp_path / 'a.db'}"
    shared_cluster = "federation.example:9093"

    same = ServiceRuntime(
        settings(database_url=database), [], federation_bootstrap_servers=shared_cluster
    )
    assert same.settings.federation_kafka_security is None
    assert client_options(same.federation_kafka_security) == client_options(same.kafka_security)

    monkeypatch.setenv("INTERLOCALITY_FEDERATION_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("INTERLOCALITY_FEDERATION_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("INTERLOCALITY_FEDERATION_KAFKA_SASL_USERNAME", "tsec-analytics")
    monkeypatch.setenv("INTERLOCALITY_FEDERATION_KAFKA_SASL_PASSWORD", "shared")
    own = ServiceRuntime(
        settings(database_url=database), [], federation_bootstrap_servers=shared_cluster
    )
    regional = own.broker.specification.security
    federation = own.federation_broker.specification.security
    assert isinstance(regional, SASLScram512) and regional.username == "interlocality-analytics"
    assert isinstance(federation, SASLScram256) and federation.username == "tsec-analytics"
    assert federation.password == "shared"


def test_federation_credentials_without_a_protocol_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTERLOCALITY_FEDERATION_KAFKA_SASL_USERNAME", "tsec-analytics")
    with pytest.raises(
        ValidationError, match="INTERLOCALITY_FEDERATION_KAFKA_SECURITY_PROTOCOL must be set"
    ):
        settings()
    # the regional names are not read for the federation cluster
    monkeypatch.setenv("INTERLOCALITY_FEDERATION_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "regional")
    with pytest.raises(ValidationError, match="INTERLOCALITY_FEDERATION_KAFKA_SASL_PASSWORD"):
        FederationKafkaSecurity()


def test_a_service_configured_for_tls_without_its_ca_does_not_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(tmp_path / "missing-ca.crt"))
    with pytest.raises(ValidationError) as refused:
        settings(database_url=f"sqlite:///{tmp_path / 'a.db'}")
    message = str(refused.value)
    assert "KAFKA_SSL_CAFILE" in message and "missing-ca.crt" in message
