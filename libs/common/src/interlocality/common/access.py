"""Who is calling, and what each route lets them do.

Callers present OpenID Connect bearer tokens (JWT). A token is verified against its
issuer's published keys (JWKS, fetched once and again when an unknown key id appears, so
the issuer can rotate keys), and its issuer, audience, expiry and ``region`` claim are
checked against the instance. Its ``roles`` claim (or Keycloak's ``realm_access.roles``)
names what the caller is — :class:`Role` — and ``student_id`` / ``company_id`` whose data
they are.

Every route declares its access policy where it is defined, as a dependency::

    @router.get("/students/{student_id}", dependencies=[allow(OPERATOR, the_student())])

:func:`allow` names the grants: a role over the whole region (``OPERATOR``), or a role over
what is its own (:func:`the_student`, :func:`the_company`, :func:`company_owning`). A route
any visitor may call says so with :data:`PUBLIC`; the app refuses to start with a route
that declares neither. The route reads the verified caller with :data:`Caller`. A page read
in a browser declares :func:`interlocality.common.sign_in.page`, a policy that also takes
the session cookie of a browser signed in to it, on GET and HEAD only.

Answers: no token or a token that fails verification → 401 with ``WWW-Authenticate``
(RFC 6750); a valid token of another region, or without a granting role or ownership →
403; the issuer's keys out of reach → 503.
"""

from __future__ import annotations

import dataclasses
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

__all__ = [
    "COMPANY",
    "COORDINATOR",
    "OPERATOR",
    "PUBLIC",
    "SERVICE",
    "SESSION_COOKIE",
    "STUDENT",
    "Caller",
    "Grant",
    "Policy",
    "Principal",
    "Role",
    "TokenRefused",
    "TokenVerifier",
    "allow",
    "company_owning",
    "declared_policies",
    "policy_of",
    "student_owning",
    "the_company",
    "the_student",
    "undeclared_routes",
]

SESSION_COOKIE = "interlocality_session"
"""The cookie a browser page's sign-in keeps the caller's access token in."""
SAFE_METHODS = frozenset({"GET", "HEAD"})

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
LEEWAY_SECONDS = 30
PartT = TypeVar("PartT")


class Role(StrEnum):
    """What a caller is to the region."""

    OPERATOR = "operator"  # the region's staff: everything in their region
    COMPANY = "company"  # one company: its vacancies, their candidates, its agendas
    STUDENT = "student"  # one student: their own profile, matches, feed, webhooks
    COORDINATOR = "coordinator"  # the partnership: aggregates and dashboards, never persons
    SERVICE = "service"  # automation: operations endpoints, scraping, replay


@dataclasses.dataclass(frozen=True)
class Principal:
    """The verified caller of a request."""

    subject: str
    roles: frozenset[Role]
    region: str
    student_id: str | None = None
    company_id: str | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def role_names(self) -> str:
        return ",".join(sorted(self.roles))


class TokenRefused(Exception):
    """A token that is missing, invalid (401) or not for this instance (403)."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


class IssuerUnreachable(Exception):
    """The issuer's discovery document or keys could not be fetched."""


class TokenVerifier:
    """Verifies bearer tokens of one issuer for one region's instance.

    ``jwks_url`` empty: the keys' address is read from the issuer's discovery document
    (``<issuer>/.well-known/openid-configuration``) at the first token.
    """

    def __init__(self, *, issuer: str, audience: str, region: str, jwks_url: str = "") -> None:
        self.issuer = issuer
        self.audience = audience
        self.region = region
        self._jwks_url = jwks_url
        self._keys: jwt.PyJWKClient | None = None
        self._file_keys: dict[Path, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _client(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._keys is None:
                self._keys = jwt.PyJWKClient(
                    self._jwks_url or self._discovered_jwks_url(),
                    cache_keys=True,
                    lifespan=300,
                    timeout=5,
                )
            return self._keys

    def _signing_key(self, token: str) -> Any:
        if self._jwks_url.startswith("file://"):
            path = Path(urllib.parse.urlparse(self._jwks_url).path)
            return _key_from_file(path, token, self._file_keys)
        return self._client().get_signing_key_from_jwt(token).key

    def _discovered_jwks_url(self) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            answer = httpx.get(url, timeout=5, trust_env=False)
            answer.raise_for_status()
            return str(answer.json()["jwks_uri"])
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise IssuerUnreachable(f"the identity provider's {url} gave no keys: {exc}") from exc

    def principal(self, token: str) -> Principal:
        """The caller ``token`` proves, or :class:`TokenRefused` saying why not."""
        if not self.issuer:
            raise IssuerUnreachable(
                "no identity provider is configured (INTERLOCALITY_OIDC_ISSUER)"
            )
        try:
            key = self._signing_key(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise IssuerUnreachable(
                f"the identity provider's keys are out of reach: {exc}"
            ) from exc
        except (jwt.PyJWKClientError, jwt.DecodeError) as exc:
            raise TokenRefused(
                401, f"the token is not signed by a key of the issuer: {exc}"
            ) from exc
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenRefused(401, "the token has expired") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenRefused(401, f"the token is invalid: {exc}") from exc
        region = claims.get("region")
        if not isinstance(region, str) or not region:
            raise TokenRefused(401, "the token names no region (claim 'region')")
        if region.lower() != self.region:
            raise TokenRefused(
                403, f"the token is for region {region!r}; this instance serves {self.region!r}"
            )
        return Principal(
            subject=str(claims["sub"]),
            roles=_roles(claims),
            region=self.region,
            student_id=_text_claim(claims, "student_id"),
            company_id=_text_claim(claims, "company_id"),
        )


def _key_from_file(path: Path, token: str, cache: dict[Path, tuple[float, Any]]) -> Any:
    """The key of ``token``'s key id in the key set file at ``path`` (a key set mounted
    from configuration where the issuer's own cannot be reached), read again when the file
    changes."""
    try:
        changed = path.stat().st_mtime
        held = cache.get(path)
        if held is None or held[0] != changed:
            held = (changed, jwt.PyJWKSet.from_json(path.read_text(encoding="utf-8")))
            cache[path] = held
    except (OSError, jwt.PyJWKSetError) as exc:
        raise IssuerUnreachable(f"the key set {path} cannot be read: {exc}") from exc
    keys = held[1].keys
    key_id = jwt.get_unverified_header(token).get("kid")
    for key in keys:
        if key.key_id == key_id or (key_id is None and len(keys) == 1):
            return key.key
    raise jwt.PyJWKClientError(f"no key {key_id!r} in {path}")


def _roles(claims: dict[str, Any]) -> frozenset[Role]:
    named = claims.get("roles")
    if named is None:
        named = (claims.get("realm_access") or {}).get("roles", [])
    if isinstance(named, str):
        named = named.split()
    known = {role.value for role in Role}
    return frozenset(Role(name) for name in named if isinstance(name, str) and name in known)


def _text_claim(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return str(value) if value not in (None, "") else None


# -- grants -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Grant:
    """A role, over the whole region unless an ownership rule narrows it."""

    role: Role
    describe: str = "the whole region"

    def permits(self, request: Request, principal: Principal) -> bool:
        return principal.has(self.role)


@dataclasses.dataclass(frozen=True)
class _Own(Grant):
    param: str = ""
    claim: str = ""

    def permits(self, request: Request, principal: Principal) -> bool:
        owned = getattr(principal, self.claim)
        return (
            principal.has(self.role)
            and owned is not None
            and request.path_params.get(self.param) == owned
        )


@dataclasses.dataclass(frozen=True)
class _OwnVia(Grant):
    param: str = ""
    claim: str = ""
    owner_of: Callable[[Request, str], str | None] = lambda request, value: None

    def permits(self, request: Request, principal: Principal) -> bool:
        owned = getattr(principal, self.claim)
        if not principal.has(self.role) or owned is None:
            return False
        value = request.path_params.get(self.param)
        return value is not None and self.owner_of(request, value) == owned


OPERATOR = Grant(Role.OPERATOR)
COORDINATOR = Grant(Role.COORDINATOR)
SERVICE = Grant(Role.SERVICE)
STUDENT = Grant(Role.STUDENT, "every student of the region")
COMPANY = Grant(Role.COMPANY, "every company of the region")


def the_student(param: str = "student_id") -> Grant:
    """A student, on the path whose ``param`` is their own id."""
    return _Own(Role.STUDENT, f"the student named by {{{param}}}", param, "student_id")


def the_company(param: str = "company_id") -> Grant:
    """A company, on the path whose ``param`` is its own id."""
    return _Own(Role.COMPANY, f"the company named by {{{param}}}", param, "company_id")


def company_owning(
    kind: type[PartT], owner: Callable[[PartT, str], str | None], param: str = "vacancy_id"
) -> Grant:
    """A company, on the path whose ``param`` names something it owns: ``owner(part,
    value)`` answers the owning company's id, ``part`` being what the app provides of
    ``kind`` (see :class:`interlocality.common.service.Provided`)."""
    return _owning(Role.COMPANY, "company_id", kind, owner, param)


def student_owning(
    kind: type[PartT], owner: Callable[[PartT, str], str | None], param: str
) -> Grant:
    """A student, on the path whose ``param`` names something of theirs (see
    :func:`company_owning`)."""
    return _owning(Role.STUDENT, "student_id", kind, owner, param)


def _owning(
    role: Role,
    claim: str,
    kind: type[PartT],
    owner: Callable[[PartT, str], str | None],
    param: str,
) -> Grant:
    def owner_of(request: Request, value: str) -> str | None:
        return owner(request.app.state.provided[kind], value)

    return _OwnVia(role, f"the {role} owning {{{param}}}", param, claim, owner_of)


# -- policies ---------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="An OpenID Connect access token (JWT).")


class Policy:
    """Who may call a route: the caller needs one of ``grants``. ``audit`` names what
    the route does with a student's personal data (``read``, ``export``, ``erase``,
    ``list``): when the caller is not that student, the access is written to the audit log.
    """

    public = False
    # A page's policy (interlocality.common.sign_in) also reads the session cookie of a
    # browser signed in to the page, on GET and HEAD only: a cookie rides along on a request
    # another site makes the browser send, so it must never authorise a change.
    session_cookie = False

    def __init__(self, *grants: Grant, audit: str | None = None, student_param: str = "") -> None:
        if not grants:
            raise ValueError("a policy grants at least one role; use PUBLIC for an open route")
        self.grants = grants
        self.audit = audit
        self.student_param = student_param or "student_id"

    def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        try:
            principal = authenticate(request, credentials, session_cookie=self.session_cookie)
        except HTTPException as refused:
            raise self.refusal(request, refused) from None
        if not any(grant.permits(request, principal) for grant in self.grants):
            raise self.refusal(
                request,
                HTTPException(
                    status.HTTP_403_FORBIDDEN,
                    f"{principal.role_names or 'no role'} may not do this: it is for "
                    + "; ".join(f"{grant.role} ({grant.describe})" for grant in self.grants),
                    headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
                ),
            )
        request.state.principal = principal
        if self.audit is not None:
            student_id = request.path_params.get(self.student_param)
            if principal.student_id is None or principal.student_id != student_id:
                request.app.state.runtime.record_access(
                    principal, self.audit, _route_name(request), student_id
                )
        return principal

    def describe(self) -> str:
        return "; ".join(f"{grant.role} ({grant.describe})" for grant in self.grants)

    def refusal(self, request: Request, refused: HTTPException) -> Exception:
        """What a caller this policy refuses is answered: ``refused`` (401, 403 or 503, as
        JSON); a page's policy answers a browser with a page instead."""
        return refused


class _Public(Policy):
    """Anyone: the route holds nothing personal, or checks a signed link itself."""

    public = True

    def __init__(self) -> None:
        self.grants = ()
        self.audit = None

    def __call__(self, request: Request) -> None:  # type: ignore[override]
        request.state.principal = None

    def describe(self) -> str:
        return "anyone"


PUBLIC_POLICY = _Public()
PUBLIC = Depends(PUBLIC_POLICY)
"""The policy of a route anyone may call."""


def allow(*grants: Grant, audit: str | None = None, student_param: str = "") -> DependsParam:
    """The dependency declaring that only callers with one of ``grants`` may call a route."""
    return Depends(Policy(*grants, audit=audit, student_param=student_param))


def authenticate(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    *,
    session_cookie: bool = False,
) -> Principal:
    """The caller proven by the request's bearer token or, with ``session_cookie`` and on a
    GET or HEAD, a signed-in page's session cookie; 401, 403 or 503 when there is none."""
    token = credentials.credentials if credentials is not None else None
    if token is None and session_cookie and request.method in SAFE_METHODS:
        token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Sign in: this needs an access token (Authorization: Bearer <token>).",
            headers={"WWW-Authenticate": 'Bearer realm="interlocality"'},
        )
    verifier: TokenVerifier = request.app.state.verifier
    try:
        return verifier.principal(token)
    except TokenRefused as refused:
        headers = (
            {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{refused}"'}
            if refused.status_code == 401
            else None
        )
        raise HTTPException(
            refused.status_code, refused.reason.capitalize() + ".", headers
        ) from None
    except IssuerUnreachable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None


def _route_name(request: Request) -> str:
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


def _caller(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise RuntimeError("Caller is read on a route whose policy admits no signed-in caller")
    return principal


Caller = Annotated[Principal, Depends(_caller)]
"""The verified caller, in a route whose policy signs them in."""


def policy_of(route: APIRoute) -> Policy | None:
    """The access policy ``route`` declares, if any."""
    for dependency in route.dependant.dependencies:
        if isinstance(dependency.call, Policy):
            return dependency.call
    return None


def declared_policies(routes: Iterable[object]) -> dict[tuple[str, str], Policy]:
    """The policy of each ``(METHOD, path)`` among ``routes`` that declares one."""
    return {
        (method, route.path): policy
        for route in routes
        if isinstance(route, APIRoute) and (policy := policy_of(route)) is not None
        for method in route.methods or ()
    }


def undeclared_routes(routes: Iterable[object]) -> list[str]:
    """``METHODS path`` of each route among ``routes`` that declares no access policy."""
    return [
        f"{','.join(sorted(route.methods or ()))} {route.path}"
        for route in routes
        if isinstance(route, APIRoute) and policy_of(route) is None
    ]
