"""The development identity provider: an OpenID Connect issuer for a region on one machine.

``interlocality up`` serves it (discovery document and JWKS) so the services verify tokens
exactly as they verify a production provider's; ``interlocality token`` and the tests sign
tokens with its key. It also signs browsers in to the services' pages (authorization code
flow with PKCE): ``/authorize`` is a page listing the accounts of the region's accounts
files, one button each, without a password, and says so; ``/token`` exchanges the one-time
code (valid for a minute, once) for an access token. Its key is an EC P-256 key (ES256)
kept in one PEM file, written whole or not at all, so a second process never reads half a
key. Production points
``INTERLOCALITY_OIDC_ISSUER`` at a real provider instead (deploy/keycloak has a realm).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import json
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jwt.algorithms import ECAlgorithm
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from interlocality.common.access import Role
from interlocality.common.files import made_once, write_whole

__all__ = [
    "ACCOUNTS_FILE",
    "CODE_SECONDS",
    "DEFAULT_AUDIENCE",
    "Account",
    "DevelopmentIssuer",
    "accounts_in",
    "issuer_app",
]

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
        write_whole(path, json.dumps(self.jwks()).encode())
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
    loaded = serialization.load_pem_private_key(made_once(path, _new_pem), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} holds no EC private key")
    return loaded


def _new_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


# -- signing in a browser -----------------------------------------------------------------


class Account(BaseModel):
    """Someone the development issuer may sign in, as an accounts file lists them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, description="Shown on the sign-in page.")]
    roles: Annotated[tuple[Role, ...], Field(min_length=1)]
    region: Annotated[str, Field(min_length=1)]
    student_id: str | None = None
    company_id: str | None = None

    @property
    def key(self) -> str:
        """What the sign-in page's button for this account sends."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:32]

    @property
    def subject(self) -> str:
        if self.student_id is None and self.company_id is None:
            return f"{self.roles[0]}:{self.name}"
        return _subject([str(r) for r in self.roles], self.student_id, self.company_id)


_ACCOUNTS = TypeAdapter(list[Account])
ACCOUNTS_FILE = "accounts.json"
CODE_SECONDS = 60.0  # an authorization code is exchanged at once, by the page's service


def accounts_in(sources: Sequence[Path]) -> tuple[list[Account], list[str]]:
    """The accounts listed in ``sources``, read afresh (the demo seed writes them while the
    issuer runs), and what could not be read. A source is an accounts file (a JSON list of
    :class:`Account`) or a directory holding ``accounts.json`` or ``<region>/accounts.json``
    files (``var/``, where each region's seed writes ``var/<region>/accounts.json``)."""
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            files.extend(sorted(source.glob(f"*/{ACCOUNTS_FILE}")))
            files.extend([source / ACCOUNTS_FILE] if (source / ACCOUNTS_FILE).is_file() else [])
        elif source.is_file():
            files.append(source)
    accounts: list[Account] = []
    problems: list[str] = []
    for file in files:
        try:
            accounts.extend(_ACCOUNTS.validate_json(file.read_bytes()))
        except (OSError, ValidationError) as exc:
            problems.append(f"{file}: {exc}")
    return list(dict.fromkeys(accounts)), problems


@dataclasses.dataclass(frozen=True)
class _Request:
    """An authorization request: who asks, where the code goes, and its PKCE challenge."""

    client_id: str
    redirect_uri: str
    state: str
    code_challenge: str

    @classmethod
    def of(cls, values: Mapping[str, str]) -> _Request:
        """The request ``values`` make, or :class:`ValueError` saying what is wrong."""
        if values.get("response_type", "code") != "code":
            raise ValueError("only the authorization code flow is offered (response_type=code)")
        if not values.get("client_id"):
            raise ValueError("the request names no client_id")
        redirect = urllib.parse.urlsplit(values.get("redirect_uri", ""))
        if redirect.scheme not in ("http", "https") or not redirect.netloc or redirect.fragment:
            raise ValueError("redirect_uri must be an http(s) address without a fragment")
        if not values.get("code_challenge") or values.get("code_challenge_method") != "S256":
            raise ValueError("PKCE is required: code_challenge with code_challenge_method=S256")
        return cls(
            values["client_id"],
            values["redirect_uri"],
            values.get("state", ""),
            values["code_challenge"],
        )

    def back(self, **answer: str) -> str:
        """The redirect URI carrying ``answer`` and the request's state."""
        if self.state:
            answer["state"] = self.state
        separator = "&" if "?" in self.redirect_uri else "?"
        return f"{self.redirect_uri}{separator}{urllib.parse.urlencode(answer)}"


@dataclasses.dataclass(frozen=True)
class _Code:
    request: _Request
    account: Account
    expires: float


class _Codes:
    """The codes given and not yet exchanged; each is exchanged once, within a minute."""

    def __init__(self) -> None:
        self._given: dict[str, _Code] = {}
        self._lock = threading.Lock()

    def give(self, request: _Request, account: Account) -> str:
        code = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._given = {c: g for c, g in self._given.items() if g.expires > now}
            self._given[code] = _Code(request, account, now + CODE_SECONDS)
        return code

    def take(self, code: str) -> _Code | None:
        with self._lock:
            given = self._given.pop(code, None)
        return given if given is not None and given.expires > time.monotonic() else None


def _challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _token_of(issuer: DevelopmentIssuer, account: Account, audience: str = DEFAULT_AUDIENCE) -> str:
    return issuer.token(
        region=account.region,
        roles=account.roles,
        subject=account.subject,
        student_id=account.student_id,
        company_id=account.company_id,
        audience=audience,
        extra={"name": account.name},
    )


def _form(body: bytes) -> dict[str, str]:
    return {
        name: values[0]
        for name, values in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()
    }


def _token_error(error: str, description: str) -> JSONResponse:
    """An RFC 6749 error answer of the token endpoint."""
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=400,
        headers={"Cache-Control": "no-store"},
    )


_STYLE = (
    "body{margin:0;background:#eef1f4;color:#1f2933;font:1rem/1.5 system-ui,-apple-system,"
    '"Segoe UI",Roboto,Arial,sans-serif}main{max-width:40rem;margin:2rem auto;padding:1.5rem;'
    "background:#fff;border-radius:.75rem;box-shadow:0 1px 4px rgba(15,23,42,.12)}"
    "h1{font-size:1.5rem;margin:0 0 .5rem}h2{font-size:1.125rem;margin:1.25rem 0 .5rem}"
    ".development{background:#fef3c7;color:#78350f;border:1px solid #f59e0b;border-radius:.5rem;"
    "padding:.5rem .75rem}ul{list-style:none;margin:0;padding:0;display:grid;gap:.5rem}"
    "button{font:inherit;width:100%;text-align:left;min-height:2.75rem;padding:.5rem .75rem;"
    "border:1px solid #9aa5b1;border-radius:.5rem;background:#fff;color:#1f2933;cursor:pointer}"
    "button:hover{background:#eff6ff;border-color:#1d4ed8}button:focus{outline:3px solid "
    "#93c5fd;outline-offset:2px}button .what{display:block;color:#52606d;font-size:.9375rem}"
    "button.cancel{width:auto;margin-top:1rem}.problem{color:#b91c1c}"
)


def _sign_in_page(
    request: _Request | None, accounts: list[Account], problems: list[str], refused: str = ""
) -> HTMLResponse:
    """The page listing the accounts, one button each; or why the request is refused."""
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="robots" content="noindex"><title>Development sign-in</title>',
        f"<style>{_STYLE}</style></head><body><main>",
        "<h1>Development sign-in</h1>",
        '<p class="development"><strong>For development only.</strong> Whoever reaches this '
        "page may sign in as any account below, without a password. A region in production "
        "signs people in at its own identity provider.</p>",
    ]
    parts.extend(f'<p class="problem">{html.escape(p)}</p>' for p in problems)
    if request is None:
        parts.append(f'<p class="problem">This sign-in cannot go on: {html.escape(refused)}.</p>')
    elif not accounts:
        parts.append("<p>No accounts are listed yet: the region's seed writes them.</p>")
    else:
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
            for name, value in (
                ("client_id", request.client_id),
                ("redirect_uri", request.redirect_uri),
                ("state", request.state),
                ("code_challenge", request.code_challenge),
                ("code_challenge_method", "S256"),
            )
        )
        parts.append(f'<form method="post" action="authorize">{hidden}')
        parts.append(
            f"<p>Choose whom to sign in to <strong>{html.escape(request.client_id)}</strong> "
            "as:</p>"
        )
        for region in dict.fromkeys(a.region for a in accounts):
            parts.append(f"<h2>Region {html.escape(region)}</h2><ul>")
            for account in (a for a in accounts if a.region == region):
                what = ", ".join(account.roles)
                owns = account.student_id or account.company_id
                if owns:
                    what += f" ({owns})"
                parts.append(
                    f'<li><button type="submit" name="account" value="{account.key}">'
                    f'{html.escape(account.name)}<span class="what">{html.escape(what)}'
                    "</span></button></li>"
                )
            parts.append("</ul>")
        parts.append(
            '<button class="cancel" type="submit" name="account" value="">Cancel</button></form>'
        )
    parts.append("</main></body></html>")
    return HTMLResponse(
        "".join(parts),
        status_code=200 if request is not None else 400,
        headers={"Cache-Control": "no-store"},
    )


def issuer_app(
    issuer: DevelopmentIssuer, accounts_file: Path | Sequence[Path] | None = None
) -> FastAPI:
    """The issuer's HTTP face: its discovery document and key set, and the development
    sign-in of browsers: ``/authorize`` lists the accounts of ``accounts_file`` (one accounts
    file, a directory of them, or several of those: see :func:`accounts_in`) and gives the
    chosen one a one-time code for the redirect URI; ``/token`` exchanges it, with its PKCE
    verifier, for an access token."""
    app = FastAPI(title="Interlocality development issuer", docs_url=None, redoc_url=None)
    sources = (
        []
        if accounts_file is None
        else [accounts_file]
        if isinstance(accounts_file, Path)
        else list(accounts_file)
    )
    codes = _Codes()

    @app.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        return issuer.discovery()

    @app.get("/jwks.json")
    def jwks() -> dict[str, Any]:
        return issuer.jwks()

    @app.get("/authorize", response_class=HTMLResponse)
    def authorize_page(request: Request) -> HTMLResponse:
        accounts, problems = accounts_in(sources)
        try:
            asked = _Request.of(request.query_params)
        except ValueError as exc:
            return _sign_in_page(None, accounts, problems, str(exc))
        return _sign_in_page(asked, accounts, problems)

    @app.post("/authorize", response_class=HTMLResponse)
    async def authorize(request: Request) -> Response:
        form = _form(await request.body())
        accounts, problems = accounts_in(sources)
        try:
            asked = _Request.of(form)
        except ValueError as exc:
            return _sign_in_page(None, accounts, problems, str(exc))
        if not form.get("account"):
            return RedirectResponse(asked.back(error="access_denied"), status_code=303)
        chosen = next((a for a in accounts if a.key == form["account"]), None)
        if chosen is None:
            return _sign_in_page(None, accounts, problems, "that account is no longer listed")
        return RedirectResponse(asked.back(code=codes.give(asked, chosen)), status_code=303)

    @app.post("/token")
    async def token(request: Request) -> JSONResponse:
        form = _form(await request.body())
        if form.get("grant_type") != "authorization_code":
            return _token_error("unsupported_grant_type", "only authorization_code is granted")
        given = codes.take(form.get("code", ""))
        if given is None:
            return _token_error("invalid_grant", "the code is unknown, used or expired")
        if (form.get("client_id"), form.get("redirect_uri")) != (
            given.request.client_id,
            given.request.redirect_uri,
        ):
            return _token_error("invalid_grant", "the code was given to another client or URI")
        verifier = form.get("code_verifier", "")
        if not secrets.compare_digest(_challenge_of(verifier), given.request.code_challenge):
            return _token_error("invalid_grant", "the code_verifier does not match the challenge")
        return JSONResponse(
            {
                "access_token": _token_of(issuer, given.account),
                "token_type": "Bearer",
                "expires_in": int(DEFAULT_LIFETIME.total_seconds()),
                "id_token": _token_of(issuer, given.account, given.request.client_id),
                "scope": "openid",
            },
            headers={"Cache-Control": "no-store"},
        )

    return app
