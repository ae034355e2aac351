"""How the operator's tools prove who they are to a region's services.

A region ``interlocality up`` runs trusts the development issuer the launcher serves, one
for every region it runs (``http://127.0.0.1:8009`` unless taken or configured; its key in
``var/issuer/signing-key.pem``). The tools sign their own tokens with that key: the service
role for the operations endpoints (``/v1/admin/*``, ``/metrics``), the operator's for the
rest. A region that trusts another provider (``INTERLOCALITY_OIDC_ISSUER``) is called
with the token the caller got from it, in ``INTERLOCALITY_TOKEN``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Generator
from datetime import timedelta
from pathlib import Path

import httpx

from interlocality.common.access import Role
from interlocality.common.issuer import DevelopmentIssuer
from interlocality.common.settings import ServiceSettings
from interlocality.operator.run_file import read_run_file, run_file_path

__all__ = [
    "DEFAULT_ISSUER_PORT",
    "ISSUER_PORT_VARIABLE",
    "ISSUER_VARIABLE",
    "TOKEN_VARIABLE",
    "GivenToken",
    "NoCredentials",
    "SignedTokens",
    "credentials_for",
    "development_tokens",
    "given_token",
    "issuer_key_path",
    "issuer_url",
    "region_issuer",
    "role_of_path",
]

ISSUER_VARIABLE = "INTERLOCALITY_OIDC_ISSUER"
TOKEN_VARIABLE = "INTERLOCALITY_TOKEN"
ISSUER_PORT_VARIABLE = "INTERLOCALITY_ISSUER_PORT"
DEFAULT_ISSUER_PORT = 8009
# The tools' own tokens live an hour and are minted again well before they expire: a
# launcher runs for days, and its staged demo activity calls the services long after start.
TOOL_TOKEN_LIFETIME = timedelta(hours=1)
RENEW_AFTER_SECONDS = 20 * 60


class NoCredentials(RuntimeError):
    """No token to call the region's services with; the message says what to do."""


def issuer_key_path(var_dir: Path) -> Path:
    """Where the development issuer's signing key is kept (shared by every region)."""
    return var_dir / "issuer" / "signing-key.pem"


def issuer_url(port: int) -> str:
    """The development issuer's URL when it listens on ``port``."""
    return f"http://127.0.0.1:{port}"


def role_of_path(path: str) -> Role:
    """The role the tools call ``path`` as: the service role for operations endpoints."""
    return Role.SERVICE if path.startswith("/v1/admin/") or path == "/metrics" else Role.OPERATOR


class SignedTokens(httpx.Auth):
    """Tokens of the development issuer for ``region``, signed as requests need them: each
    request gets the role :func:`role_of_path` names."""

    def __init__(self, issuer: DevelopmentIssuer, region: str, audience: str = "") -> None:
        self.issuer = issuer
        self.region = region
        self.audience = audience or ServiceSettings().oidc_audience
        self._minted: dict[Role, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def token(
        self,
        role: Role,
        *,
        student_id: str | None = None,
        company_id: str | None = None,
        lifetime: timedelta = TOOL_TOKEN_LIFETIME,
    ) -> str:
        """A token of ``role`` (for the student or company named) in the region."""
        return self.issuer.token(
            region=self.region,
            roles=[role],
            student_id=student_id,
            company_id=company_id,
            lifetime=lifetime,
            audience=self.audience,
        )

    def _token_of(self, role: Role) -> str:
        with self._lock:
            minted = self._minted.get(role)
            if minted is None or time.monotonic() - minted[1] > RENEW_AFTER_SECONDS:
                minted = self._minted[role] = (self.token(role), time.monotonic())
            return minted[0]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = (
            f"Bearer {self._token_of(role_of_path(request.url.path))}"
        )
        yield request


class GivenToken(httpx.Auth):
    """The one token a caller was given by the region's identity provider."""

    def __init__(self, token: str) -> None:
        self.value = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.value}"
        yield request


def given_token(issuer: str) -> GivenToken:
    """``$INTERLOCALITY_TOKEN``, for a region that trusts ``issuer``; :class:`NoCredentials`
    when it is not set."""
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise NoCredentials(
            f"the region trusts the identity provider {issuer}, whose tokens this machine "
            f"cannot sign: set {TOKEN_VARIABLE} to an access token from it (an operator's; "
            "the service role's for replay)"
        )
    return GivenToken(token)


def development_tokens(var_dir: Path, url: str, region: str) -> SignedTokens:
    """Tokens signed with the key of the development issuer at ``url`` kept in ``var_dir``;
    :class:`NoCredentials` when no region has been started there."""
    key = issuer_key_path(var_dir)
    if not key.is_file():
        raise NoCredentials(
            f"no development issuer here: {key} does not exist. Start a region with "
            "`interlocality up` (or `make run`) first, or name the var dir it uses "
            "(--var-dir, INTERLOCALITY_VAR_DIR)"
        )
    return SignedTokens(DevelopmentIssuer(url, key), region)


def region_issuer(region: str, var_dir: Path) -> tuple[str, bool]:
    """The issuer ``region``'s services trust, and whether it is the development issuer:
    the running region's run file says; else ``INTERLOCALITY_OIDC_ISSUER``; else the
    development issuer on its port (``INTERLOCALITY_ISSUER_PORT``, else 8009)."""
    run = read_run_file(run_file_path(var_dir, region))
    if run is not None and run.issuer is not None and run.launcher_runs():
        return run.issuer.url, run.issuer.started == "embedded"
    configured = os.environ.get(ISSUER_VARIABLE, "").strip()
    if configured:
        return configured, False
    return issuer_url(int(os.environ.get(ISSUER_PORT_VARIABLE) or DEFAULT_ISSUER_PORT)), True


def credentials_for(region: str, var_dir: Path) -> SignedTokens | GivenToken:
    """What the tools call ``region``'s services with (see the module's docstring)."""
    url, development = region_issuer(region, var_dir)
    return development_tokens(var_dir, url, region) if development else given_token(url)
