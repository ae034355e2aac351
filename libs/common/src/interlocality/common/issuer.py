"""The development identity provider: an OpenID Connect issuer for a region on one machine.

``interlocality up`` serves it (discovery document and JWKS) so the services verify tokens
exactly as they verify a production provider's; ``interlocality token`` and the tests sign
tokens with its key. Its key is an EC P-256 key (ES256) kept in one PEM file, written
whole or not at all, so a second process never reads half a key. Production points
``INTERLOCALITY_OIDC_ISSUER`` at a real provider instead (deploy/keycloak has a realm).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm

from interlocality.common.access import Role

__all__ = ["DEFAULT_AUDIENCE", "DevelopmentIssuer", "issuer_app"]

DEFAULT_AUDIENCE = "interlocality"
DEFAULT_LIFETIME = timedelta(hours=8)


class DevelopmentIssuer:
    """Signs access tokens for ``url`` with the key kept at ``key_path`` (made on first use)."""

    def __init__(self, url: str, key_path: Path) -> None:
        self.url = url.rstrip("/")
        self.key_path = key_path
        self._key = _load_or_create(key_path)
        public = ECAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        self.key_id = _thumbprint(public)
        self._public_jwk = {**public, "kid": self.key_id, "use": "sig", "alg": "ES256"}

    def token(
        self,
        *,
        region: str,
        roles: Iterable[Role | str],
        subject: str | None = None,
        student_id: str | None = None,
        company_id: str | None = None,
        lifetime: timedelta = DEFAULT_LIFETIME,
        audience: str = DEFAULT_AUDIENCE,
        issued_at: datetime | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A signed access token of this issuer."""
        now = issued_at or datetime.now(UTC)
        role_names = [str(role) for role in roles]
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": audience,
            "sub": subject or _subject(role_names, student_id, company_id),
            "iat": int(now.timestamp()),
            "exp": int((now + lifetime).timestamp()),
            "jti": uuid.uuid4().hex,
            "region": region,
            "roles": role_names,
        }
        if student_id is not None:
            claims["student_id"] = student_id
        if company_id is not None:
            claims["company_id"] = company_id
        claims.update(extra or {})
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.key_id})

    def jwks(self) -> dict[str, Any]:
        """The public key set the services verify tokens against."""
        return {"keys": [self._public_jwk]}

    def discovery(self) -> dict[str, Any]:
        """The OpenID Connect discovery document."""
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/jwks.json",
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "claims_supported": ["sub", "region", "roles", "student_id", "company_id"],
        }

    def write_jwks(self, path: Path) -> Path:
        """The key set written to ``path`` (a ``file://`` JWKS URL for tests)."""
        _write_whole(path, json.dumps(self.jwks()).encode())
        return path


def _subject(roles: list[str], student_id: str | None, company_id: str | None) -> str:
    if student_id is not None:
        return f"student:{student_id}"
    if company_id is not None:
        return f"company:{company_id}"
    return f"{roles[0] if roles else 'nobody'}:dev"


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint of an EC public key: a key id that changes with the key."""
    canonical = json.dumps(
        {name: jwk[name] for name in ("crv", "kty", "x", "y")}, separators=(",", ":")
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _load_or_create(path: Path) -> ec.EllipticCurvePrivateKey:
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_whole(path, pem, exclusive=True)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} holds no EC private key")
    return loaded


def _write_whole(path: Path, content: bytes, *, exclusive: bool = False) -> None:
    """Write ``content`` to a temporary file beside ``path`` and move it into place, so a
    reader sees the old file or the new one, never a part. ``exclusive``: a file another
    process put there first wins (both then use the same key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, 0o600)
        os.write(handle, content)
        os.fsync(handle)
        os.close(handle)
        if exclusive:
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        else:
            os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def issuer_app(issuer: DevelopmentIssuer) -> FastAPI:
    """The issuer's HTTP face: its discovery document and key set."""
    app = FastAPI(title="Interlocality development issuer", docs_url=None, redoc_url=None)

    @app.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        return issuer.discovery()

    @app.get("/jwks.json")
    def jwks() -> dict[str, Any]:
        return issuer.jwks()

    return app
