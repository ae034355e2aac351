"""Signing in to a service's pages at the development issuer, over HTTP: the issuer's
authorization code flow with PKCE, and what a page's session cookie opens (GET pages only).
The same flow in a browser: services/analytics/tests/test_dashboard.py."""

from __future__ import annotations

import base64
import hashlib
import html as html_module
import json
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from interlocality.common import issuer as issuer_module
from interlocality.common.access import OPERATOR, SESSION_COOKIE, Caller, Role, allow
from interlocality.common.issuer import DevelopmentIssuer
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import ServiceSettings, load_settings
from interlocality.common.sign_in import (
    FLOW_COOKIE,
    SignInSettings,
    enable_page_sign_in,
    page,
    safe_path,
)
from interlocality.common.testing import served_issuer, trusting_tests_issuer

REGION = "tsignin"
CALLBACK = "http://service.test/auth/callback"
VERIFIER = "v" * 43 + "-._~"  # 43 to 128 of the unreserved characters (RFC 7636)


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
def accounts(tmp_path: Path) -> Path:
    """``var/`` of two regions, as their seeds write it."""
    for region, people in (
        (
            REGION,
            [
                {"name": "Åsa Ørsted", "roles": ["operator"], "region": REGION},
                {
                    "name": "Iñaki Yılmaz",
                    "roles": ["student"],
                    "region": REGION,
                    "student_id": "s-iñaki",
                },
            ],
        ),
        ("tpartner", [{"name": "Begoña Muñoz", "roles": ["coordinator"], "region": "tpartner"}]),
    ):
        (tmp_path / "var" / region).mkdir(parents=True)
        (tmp_path / "var" / region / "accounts.json").write_text(
            json.dumps(people), encoding="utf-8"
        )
    return tmp_path / "var"


@pytest.fixture
def issuer(accounts: Path) -> Iterator[DevelopmentIssuer]:
    with served_issuer(accounts) as served:
        yield served


def asked(**changes: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": "interlocality-dashboard",
        "redirect_uri": CALLBACK,
        "state": "the-state",
        "code_challenge": challenge(VERIFIER),
        "code_challenge_method": "S256",
        **changes,
    }


def account_keys(sign_in_page: str) -> dict[str, str]:
    """The value each account's button sends, by the account's name."""
    return dict(
        (name, key)
        for key, name in re.findall(r'name="account" value="(\w+)">([^<]+)<', sign_in_page)
    )


def code_for(issuer: DevelopmentIssuer, name: str, **changes: str) -> str:
    form = asked(**changes)
    shown = httpx.get(f"{issuer.url}/authorize", params=form)
    chosen = httpx.post(
        f"{issuer.url}/authorize", data={**form, "account": account_keys(shown.text)[name]}
    )
    assert chosen.status_code == 303
    back = urllib.parse.urlsplit(chosen.headers["location"])
    query = dict(urllib.parse.parse_qsl(back.query))
    assert query["state"] == form["state"]
    return query["code"]


def exchange(issuer: DevelopmentIssuer, code: str, **changes: str) -> httpx.Response:
    return httpx.post(
        f"{issuer.url}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": "interlocality-dashboard",
            "code_verifier": VERIFIER,
            **changes,
        },
    )


def test_the_issuer_lists_every_regions_accounts_and_says_it_is_for_development(
    issuer: DevelopmentIssuer, accounts: Path
) -> None:
    shown = httpx.get(f"{issuer.url}/authorize", params=asked())
    assert shown.status_code == 200 and "For development only" in shown.text
    # region by region, as their folders sort
    assert list(account_keys(shown.text)) == ["Begoña Muñoz", "Åsa Ørsted", "Iñaki Yılmaz"]
    assert "Region tsignin" in shown.text and "Region tpartner" in shown.text
    # a file that is not a list of accounts is named on the page; the others still sign in
    (accounts / "tbroken").mkdir()
    (accounts / "tbroken" / "accounts.json").write_text('[{"name": "Ærø", "roles": ["king"]}]')
    shown = httpx.get(f"{issuer.url}/authorize", params=asked())
    assert "tbroken/accounts.json" in shown.text and "Åsa Ørsted" in shown.text

    for without_pkce in (asked(code_challenge=""), asked(code_challenge_method="plain")):
        refused = httpx.get(f"{issuer.url}/authorize", params=without_pkce)
        assert refused.status_code == 400 and "PKCE is required" in refused.text
    elsewhere = httpx.get(f"{issuer.url}/authorize", params=asked(redirect_uri="javascript:x"))
    assert elsewhere.status_code == 400 and "redirect_uri" in elsewhere.text


def test_a_code_gives_the_accounts_token_once_and_only_with_its_verifier(
    issuer: DevelopmentIssuer,
) -> None:
    code = code_for(issuer, "Iñaki Yılmaz")
    assert exchange(issuer, code, code_verifier="w" * 43).json()["error"] == "invalid_grant"
    # a refused attempt spends the code: one guess per code
    assert exchange(issuer, code).json()["error"] == "invalid_grant"

    code = code_for(issuer, "Iñaki Yılmaz")
    answer = exchange(issuer, code)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 8 * 3600)
    verifier_of_region = trusting_tests_issuer(issuer)
    claims = issuer_module.jwt.decode(
        body["access_token"], options={"verify_signature": False}, algorithms=["ES256"]
    )
    assert claims["iss"] == verifier_of_region["oidc_issuer"] == issuer.url
    assert (claims["region"], claims["roles"], claims["student_id"]) == (
        REGION,
        ["student"],
        "s-iñaki",
    )
    assert (claims["sub"], claims["name"]) == ("student:s-iñaki", "Iñaki Yılmaz")
    identity = issuer_module.jwt.decode(body["id_token"], options={"verify_signature": False})
    assert identity["aud"] == "interlocality-dashboard"
    again = exchange(issuer, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    for wrong in ({"redirect_uri": "http://elsewhere.test/cb"}, {"client_id": "another"}):
        code = code_for(issuer, "Åsa Ørsted")
        assert exchange(issuer, code, **wrong).json()["error"] == "invalid_grant", wrong
    assert exchange(issuer, "c", grant_type="password").json()["error"] == (
        "unsupported_grant_type"
    )

    cancelled = httpx.post(f"{issuer.url}/authorize", data={**asked(), "account": ""})
    assert cancelled.headers["location"] == f"{CALLBACK}?error=access_denied&state=the-state"


def test_a_code_expires_after_a_minute(
    issuer: DevelopmentIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(issuer_module, "CODE_SECONDS", 0.0)
    code = code_for(issuer, "Åsa Ørsted")
    assert exchange(issuer, code).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("/dashboard?month=2026-05", "/dashboard?month=2026-05"),
        ("/dashboard/regions", "/dashboard/regions"),
        ("//evil.example/dashboard", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("dashboard", "/"),
        ("/dash\r\nSet-Cookie: x=1", "/"),
        (None, "/"),
    ],
)
def test_a_browser_is_only_ever_sent_back_to_a_path_of_the_site(
    target: str | None, kept: str
) -> None:
    assert safe_path(target) == kept


def service(tmp_path: Path, issuer: DevelopmentIssuer) -> FastAPI:
    """A service with a page, an API route, and a page route that changes something."""
    settings = load_settings(
        ServiceSettings,
        service="vacancies",
        region=REGION,
        kafka_bootstrap_servers="127.0.0.1:1",
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        **trusting_tests_issuer(issuer),
    )
    routes = APIRouter()

    @routes.get("/page", dependencies=[page(OPERATOR)])
    def a_page(caller: Caller) -> dict[str, str]:
        return {"subject": caller.subject}

    @routes.post("/page", dependencies=[page(OPERATOR)])
    def a_change() -> dict[str, str]:
        return {"changed": "yes"}

    @routes.get("/v1/data", dependencies=[allow(OPERATOR)])
    def data() -> dict[str, str]:
        return {"data": "yes"}

    app = create_service_app(ServiceRuntime(settings, []), [routes], title="t", description="d")
    enable_page_sign_in(app, SignInSettings())
    return app


def test_signing_in_sets_a_cookie_that_opens_get_pages_only(
    issuer: DevelopmentIssuer, tmp_path: Path
) -> None:
    browser = TestClient(service(tmp_path, issuer), base_url="http://service.test")
    html = {"Accept": "text/html"}
    sent = browser.get("/page?lang=da", headers=html, follow_redirects=False)
    assert sent.status_code == 302 and FLOW_COOKIE in sent.cookies
    at_issuer = httpx.get(sent.headers["location"])
    key = account_keys(at_issuer.text)["Åsa Ørsted"]
    form = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(sent.headers["location"]).query))
    chosen = httpx.post(f"{issuer.url}/authorize", data={**form, "account": key})
    back = chosen.headers["location"]
    assert back.startswith(CALLBACK + "?code=")

    signed = browser.get(back, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/page?lang=da"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and "Max-Age=28" in cookie  # eight hours: 288xx s
    assert "Secure" not in cookie  # http: a browser would not send it back

    assert browser.get("/page", headers=html).json() == {"subject": "operator:Åsa Ørsted"}
    # a change, or an API route, is never authorised by the cookie alone
    assert browser.post("/page", headers=html, follow_redirects=False).status_code == 302
    assert browser.post("/page", follow_redirects=False).status_code == 401
    assert browser.get("/v1/data").status_code == 401

    # the callback again (a reload): the sign-in is spent
    again = browser.get(back, headers=html, follow_redirects=False)
    assert again.status_code == 400 and "This sign-in has expired" in again.text

    out = browser.post("/auth/sign-out", data={"next": "//evil.example"}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/"
    assert browser.get("/page", headers=html, follow_redirects=False).status_code == 302


def test_signing_out_passes_through_a_providers_own_sign_out_where_it_has_one(
    issuer: DevelopmentIssuer, tmp_path: Path
) -> None:
    app = service(tmp_path, issuer)
    browser = TestClient(app, base_url="https://service.test")
    sign_in = app.state.sign_in
    sign_in._discovery = {
        **issuer.discovery(),
        "end_session_endpoint": f"{issuer.url}/logout",
    }
    out = browser.post("/auth/sign-out", data={"next": "/page?lang=da"}, follow_redirects=False)
    assert out.status_code == 303
    target = urllib.parse.urlsplit(out.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{issuer.url}/logout"
    assert dict(urllib.parse.parse_qsl(target.query)) == {
        "client_id": "interlocality-dashboard",
        "post_logout_redirect_uri": "https://service.test/page?lang=da",
    }
    assert f"{SESSION_COOKIE}=" in out.headers["set-cookie"]  # cleared here all the same


def test_a_browser_signed_in_elsewhere_or_refused_by_the_issuer_reads_why(
    issuer: DevelopmentIssuer, tmp_path: Path
) -> None:
    browser = TestClient(service(tmp_path, issuer), base_url="http://service.test")
    html = {"Accept": "text/html"}
    sent = browser.get("/page", headers=html, follow_redirects=False)
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(sent.headers["location"]).query))[
        "state"
    ]
    denied = browser.get(
        "/auth/callback", params={"error": "access_denied", "state": state}, headers=html
    )
    assert denied.status_code == 400 and "did not sign you in: access_denied" in denied.text

    # a code of another region's account: signed in there, not here
    code = code_for(
        issuer,
        "Begoña Muñoz",
        state=state,
        code_challenge=challenge(_verifier_of(sent.cookies[FLOW_COOKIE])),
        redirect_uri="http://service.test/auth/callback",
    )
    elsewhere = browser.get("/auth/callback", params={"code": code, "state": state}, headers=html)
    assert elsewhere.status_code == 403
    assert "this instance serves 'tsignin'" in html_text(elsewhere)
    assert SESSION_COOKIE not in browser.cookies

    # a student is signed in, and told the page is not for them
    student = issuer.token(region=REGION, roles=[Role.STUDENT], student_id="s-iñaki")
    browser.cookies.set(SESSION_COOKIE, student)
    refused = browser.get("/page", headers=html)
    assert refused.status_code == 403 and "This page is not for your account" in refused.text
    assert 'action="/auth/sign-out"' in refused.text
    assert browser.get("/page").status_code == 403  # a program reads JSON
    assert "student may not do this" in browser.get("/page").json()["detail"]


def _verifier_of(flow_cookie: str) -> str:
    return str(json.loads(base64.urlsafe_b64decode(flow_cookie.strip('"')))["verifier"])


def html_text(answer: httpx.Response) -> str:
    return html_module.unescape(answer.text)
