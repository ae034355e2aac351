"""Signing in to a service's pages in a browser: OpenID Connect's authorization code flow
with PKCE (S256).

A page route declares its policy with :func:`page` where an API route uses
:func:`~interlocality.common.access.allow`::

    @router.get("/dashboard", dependencies=[page(OPERATOR, COORDINATOR)])

and the composition root calls :func:`enable_page_sign_in`. A browser (``Accept:
text/html``) that is not signed in is sent to the issuer's ``authorization_endpoint``; the
issuer sends it back to ``<public URL>/auth/callback`` with a code, which is exchanged at the
``token_endpoint`` for an access token. The token is verified as a bearer token is, kept in
the ``interlocality_session`` cookie (HttpOnly, SameSite=Lax, Secure on https, as long as the
token lives) and the browser goes back to the page it first asked for. A caller the page's
policy refuses (a student on an operators' page) reads why on a page, with a way to sign in
as someone else; programs (no ``text/html`` in ``Accept``) keep their 401 and 403 in JSON.

The session cookie is read on GET and HEAD of page routes only (see
:attr:`~interlocality.common.access.Policy.session_cookie`): a request another site makes the
browser send carries the cookie too, so it never authorises a change, nor any API route.

While the browser is away at the issuer, the flow's ``state``, PKCE ``code_verifier`` and the
page asked for wait in a short-lived HttpOnly cookie restricted to the callback's path. It
needs no signature: the browser's owner is its only reader and writer, and a cookie planted
by someone else could only hold a flow they started themselves, which the callback's
``state`` check refuses.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import secrets
import threading
import time
import urllib.parse
from typing import Annotated, Any

import httpx
import jwt
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.params import Depends as DependsParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from interlocality.common.access import (
    PUBLIC,
    SESSION_COOKIE,
    Grant,
    IssuerUnreachable,
    Policy,
    TokenRefused,
    TokenVerifier,
    declared_policies,
)
from interlocality.common.service import error_answers

__all__ = [
    "CALLBACK_PATH",
    "DEFAULT_CLIENT_ID",
    "FLOW_COOKIE",
    "SIGN_IN_SECONDS",
    "SIGN_OUT_PATH",
    "PagePolicy",
    "PageSignIn",
    "SignInSettings",
    "enable_page_sign_in",
    "page",
    "safe_path",
    "wants_page",
]

DEFAULT_CLIENT_ID = "interlocality-dashboard"
CALLBACK_PATH = "/auth/callback"
SIGN_OUT_PATH = "/auth/sign-out"
FLOW_COOKIE = "interlocality_sign_in"
SIGN_IN_SECONDS = 600  # time to choose an account at the issuer, and to come back
TIMEOUT_SECONDS = 10


class SignInSettings(BaseModel):
    """The settings of a service whose pages people sign in to (mixed into its settings)."""

    public_url: Annotated[
        str,
        Field(
            description="Base URL people reach this service at, e.g. https://analytics.example"
            ".org; the issuer sends browsers back to <it>/auth/callback. Empty: the address "
            "the browser used."
        ),
    ] = ""
    oidc_client_id: Annotated[
        str,
        Field(description="The client id the issuer knows this service's pages by."),
    ] = DEFAULT_CLIENT_ID


def wants_page(request: Request) -> bool:
    """Whether the request comes from a browser reading a page (``Accept: text/html``)."""
    return "text/html" in request.headers.get("accept", "")


def safe_path(target: object, default: str = "/") -> str:
    """``target`` if it is a path of this site (``/…``), else ``default``: where a browser is
    sent back to must never be another site (``//evil.example``, ``/\\evil.example``,
    ``https://…``)."""
    if (
        not isinstance(target, str)
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)
    ):
        return default
    return target


class PageRefused(HTTPException):
    """A browser refused by a page's policy: answered with a page (see :class:`PagePolicy`)."""


class PagePolicy(Policy):
    """The policy of a page: a signed-in browser's session cookie counts (on GET and HEAD),
    and a browser that is refused is signed in, or told why on a page."""

    session_cookie = True

    def refusal(self, request: Request, refused: HTTPException) -> Exception:
        if not wants_page(request):
            return refused
        return PageRefused(refused.status_code, refused.detail, refused.headers)


def page(*grants: Grant) -> DependsParam:
    """The dependency declaring that a page is for callers with one of ``grants``, who may
    sign in to it in a browser."""
    return Depends(PagePolicy(*grants))


class _Flow(BaseModel):
    """A sign-in under way: what the callback checks and where it sends the browser."""

    state: str
    verifier: str
    next: str

    def cookie(self) -> str:
        return base64.urlsafe_b64encode(self.model_dump_json().encode()).decode()

    @classmethod
    def of(cls, cookie: str | None) -> _Flow | None:
        if not cookie:
            return None
        try:
            return cls.model_validate_json(base64.urlsafe_b64decode(cookie.encode()))
        except ValueError:
            return None


class SignInFailed(Exception):
    """The issuer could not be reached or refused the code: ``status_code`` says which."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code


class PageSignIn:
    """The sign-in of one service's pages at the issuer its :class:`TokenVerifier` trusts."""

    def __init__(self, verifier: TokenVerifier, *, client_id: str, public_url: str) -> None:
        self.verifier = verifier
        self.client_id = client_id
        self.public_url = public_url.rstrip("/")
        self._discovery: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def base_url(self, request: Request) -> str:
        """Where people reach the service: the setting, else the address the browser used."""
        return self.public_url or str(request.base_url).rstrip("/")

    def redirect_uri(self, request: Request) -> str:
        return self.base_url(request) + CALLBACK_PATH

    def secure(self, request: Request) -> bool:
        return self.base_url(request).startswith("https://")

    def signed_out(self, request: Request, next_path: str) -> str:
        """Where a browser goes once signed out of the pages: through the provider's own
        sign-out (OpenID Connect RP-initiated logout, where its discovery document names
        an ``end_session_endpoint``), so that its session does not sign the person straight
        back in, and then to ``next_path``."""
        try:
            end_session = self.discovery().get("end_session_endpoint")
        except IssuerUnreachable:
            end_session = None
        if not isinstance(end_session, str):
            return next_path
        return (
            end_session
            + "?"
            + urllib.parse.urlencode(
                {
                    "client_id": self.client_id,
                    "post_logout_redirect_uri": self.base_url(request) + next_path,
                }
            )
        )

    def discovery(self) -> dict[str, Any]:
        """The issuer's discovery document, read once."""
        with self._lock:
            if self._discovery is None:
                url = self.verifier.issuer.rstrip("/") + "/.well-known/openid-configuration"
                try:
                    answer = httpx.get(url, timeout=TIMEOUT_SECONDS, trust_env=False)
                    answer.raise_for_status()
                    document = answer.json()
                    endpoints = ("authorization_endpoint", "token_endpoint")
                    if not all(isinstance(document.get(name), str) for name in endpoints):
                        raise ValueError("it names no authorization and token endpoints")
                except (httpx.HTTPError, ValueError, AttributeError) as exc:
                    raise IssuerUnreachable(
                        f"the identity provider's {url} cannot be read: {exc}"
                    ) from exc
                self._discovery = document
            return self._discovery

    def start(self, request: Request) -> Response:
        """Send the browser to the issuer to sign in, to come back to the page it asked for."""
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        flow = _Flow(
            state=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),  # 64 characters: RFC 7636 asks 43 to 128
            next=safe_path(target),
        )
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(flow.verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        endpoint = str(self.discovery()["authorization_endpoint"])
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri(request),
                "scope": "openid",
                "state": flow.state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        response = RedirectResponse(
            f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", status.HTTP_302_FOUND
        )
        response.set_cookie(
            FLOW_COOKIE,
            flow.cookie(),
            max_age=SIGN_IN_SECONDS,
            path=CALLBACK_PATH,
            secure=self.secure(request),
            httponly=True,
            samesite="lax",  # sent on the issuer's redirect back, a top-level GET
        )
        return response

    def exchange(self, request: Request, code: str, verifier: str) -> str:
        """The access token the issuer gives for ``code``."""
        try:
            answer = httpx.post(
                str(self.discovery()["token_endpoint"]),
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.redirect_uri(request),
                    "client_id": self.client_id,
                    "code_verifier": verifier,
                },
                headers={"Accept": "application/json"},
                timeout=TIMEOUT_SECONDS,
                trust_env=False,
            )
        except httpx.HTTPError as exc:
            raise SignInFailed(502, f"the identity provider could not be reached: {exc}") from exc
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code != 200 or not isinstance(body.get("access_token"), str):
            said = body.get("error_description") or body.get("error") or answer.status_code
            raise SignInFailed(400, f"the identity provider refused the sign-in: {said}")
        return str(body["access_token"])


# -- answers ------------------------------------------------------------------------------

_STYLE = (
    "body{margin:0;background:#eef1f4;color:#1f2933;font:1rem/1.5 system-ui,-apple-system,"
    '"Segoe UI",Roboto,Arial,sans-serif}main{max-width:36rem;margin:3rem auto;padding:1.5rem;'
    "background:#fff;border-radius:.75rem;box-shadow:0 1px 4px rgba(15,23,42,.12)}"
    "h1{font-size:1.5rem;line-height:1.25;margin:0 0 .75rem}a{color:#1d4ed8}"
    "button{font:inherit;min-height:2.75rem;padding:.5rem 1rem;border:0;border-radius:.5rem;"
    "background:#1d4ed8;color:#fff;cursor:pointer}button:focus,a:focus{outline:3px solid "
    "#93c5fd;outline-offset:2px}.why{color:#52606d}"
)


def _answer(request: Request, status_code: int, title: str, sentences: str, after: str) -> Response:
    """A refusal as a short page for a browser, as JSON (``detail``) for a program."""
    if wants_page(request):
        return _page(status_code, title, sentences, after)
    return JSONResponse({"detail": sentences}, status_code, headers={"Cache-Control": "no-store"})


def _page(status_code: int, title: str, sentences: str, after: str) -> HTMLResponse:
    """A short page saying what happened and what to do; ``after`` is HTML."""
    body = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><main><h1>{html.escape(title)}</h1>"
        f'<p class="why">{html.escape(sentences)}</p>{after}</main></body></html>'
    )
    return HTMLResponse(body, status_code, headers={"Cache-Control": "no-store"})


def _sign_out_form(next_path: str, label: str) -> str:
    return (
        f'<form method="post" action="{SIGN_OUT_PATH}">'
        f'<input type="hidden" name="next" value="{html.escape(next_path)}">'
        f'<button type="submit">{html.escape(label)}</button></form>'
    )


def _start_again(next_path: str) -> str:
    return f'<p><a href="{html.escape(next_path)}">Sign in again</a></p>'


def _refused_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageRefused)
    sign_in: PageSignIn = request.app.state.sign_in
    if exc.status_code == status.HTTP_401_UNAUTHORIZED:
        try:
            return sign_in.start(request)
        except IssuerUnreachable as unreachable:
            return _unreachable(unreachable)
    here = safe_path(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    if exc.status_code == status.HTTP_403_FORBIDDEN:
        return _page(
            exc.status_code,
            "This page is not for your account",
            f"You are signed in, but {str(exc.detail).rstrip('.')}.",
            _sign_out_form(here, "Sign in as someone else"),
        )
    return _page(
        exc.status_code,
        "This page cannot be shown now",
        str(exc.detail),
        f'<p><a href="{html.escape(here)}">Try again</a></p>',
    )


def _unreachable(exc: Exception) -> Response:
    return _page(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "Signing in is not possible now",
        f"{str(exc).capitalize()}. Try again in a moment.",
        "",
    )


# -- routes -------------------------------------------------------------------------------

router = APIRouter(tags=["sign-in"])


@router.get(
    CALLBACK_PATH,
    dependencies=[PUBLIC],
    summary="Where the identity provider sends a browser back after signing in",
    response_class=HTMLResponse,
    status_code=status.HTTP_303_SEE_OTHER,
    responses={
        **error_answers(
            {
                400: "The sign-in failed, expired or was started in another window.",
                403: "The account signed in is for another region.",
            }
        ),
        503: {"description": "The identity provider cannot be reached."},
    },
)
def callback(
    request: Request,
    code: Annotated[str | None, Query(description="The issuer's one-time code.")] = None,
    state: Annotated[str | None, Query(description="The sign-in's state.")] = None,
    error: Annotated[str | None, Query(description="Why the issuer did not sign in.")] = None,
    error_description: Annotated[str | None, Query(description="The issuer's words.")] = None,
) -> Response:
    sign_in: PageSignIn = request.app.state.sign_in
    flow = _Flow.of(request.cookies.get(FLOW_COOKIE))
    next_path = safe_path(flow.next if flow else "/")
    if error:
        return _answer(
            request,
            status.HTTP_400_BAD_REQUEST,
            "You are not signed in",
            f"The identity provider did not sign you in: {error_description or error}.",
            _start_again(next_path),
        )
    if flow is None or not code or not state or not secrets.compare_digest(state, flow.state):
        return _answer(
            request,
            status.HTTP_400_BAD_REQUEST,
            "This sign-in has expired",
            "It took longer than ten minutes, or it was started in another window. "
            "Start it again from the page you wanted.",
            _start_again(next_path),
        )
    try:
        token = sign_in.exchange(request, code, flow.verifier)
        sign_in.verifier.principal(token)
    except SignInFailed as failed:
        return _answer(request, failed.status_code, "You are not signed in", f"{failed}.", "")
    except TokenRefused as refused:
        return _answer(
            request,
            status.HTTP_403_FORBIDDEN if refused.status_code == 403 else 400,
            "This account cannot sign in here",
            refused.reason.capitalize() + ".",
            _start_again(next_path),
        )
    except IssuerUnreachable as unreachable:
        return _unreachable(unreachable)
    expires = jwt.decode(token, options={"verify_signature": False}).get("exp")
    lifetime = int(expires - time.time()) if isinstance(expires, int | float) else 0
    response = RedirectResponse(next_path, status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max(lifetime, 0),
        path="/",
        secure=sign_in.secure(request),
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(FLOW_COOKIE, path=CALLBACK_PATH)
    return response


@router.post(
    SIGN_OUT_PATH,
    dependencies=[PUBLIC],
    summary="Sign the browser out of this service's pages",
    status_code=status.HTTP_303_SEE_OTHER,
    response_class=RedirectResponse,
)
async def sign_out(request: Request) -> Response:
    form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
    next_path = safe_path((form.get("next") or ["/"])[0])
    sign_in: PageSignIn = request.app.state.sign_in
    target = await asyncio.to_thread(sign_in.signed_out, request, next_path)
    response = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def enable_page_sign_in(app: FastAPI, settings: SignInSettings) -> None:
    """Let browsers sign in to the pages (those declaring :func:`page`) of ``app``, a
    service's app (:func:`interlocality.common.service.create_service_app`), at the issuer its
    tokens are verified against: adds ``/auth/callback`` and ``/auth/sign-out``."""
    app.state.sign_in = PageSignIn(
        app.state.verifier, client_id=settings.oidc_client_id, public_url=settings.public_url
    )
    app.add_exception_handler(PageRefused, _refused_page)
    app.include_router(router)
    policies = getattr(app.state, "policies", None)
    if isinstance(policies, dict):
        policies.update(declared_policies(router.routes))
