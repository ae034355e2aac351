"""Tokens are verified as an OpenID Connect provider's would be: keys, issuer, audience,
expiry and region; roles as our issuer and as Keycloak put them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from interlocality.common.access import Principal, Role, TokenRefused, TokenVerifier
from interlocality.common.issuer import DevelopmentIssuer, issuer_app
from interlocality.common.testing import served


@pytest.fixture
def issuer(tmp_path: Path) -> DevelopmentIssuer:
    return DevelopmentIssuer(
        "https://sso.aarhus.example.dk/realms/interlocality", tmp_path / "k.pem"
    )


@pytest.fixture
def verifier(issuer: DevelopmentIssuer, tmp_path: Path) -> TokenVerifier:
    keys = issuer.write_jwks(tmp_path / "jwks.json")
    return TokenVerifier(
        issuer=issuer.url, audience="interlocality", region="aarhus", jwks_url=keys.as_uri()
    )


def refusal(verifier: TokenVerifier, token: str) -> TokenRefused:
    with pytest.raises(TokenRefused) as refused:
        verifier.principal(token)
    return refused.value


def test_a_good_token_names_the_caller_their_roles_and_what_is_theirs(
    issuer: DevelopmentIssuer, verifier: TokenVerifier
) -> None:
    token = issuer.token(
        region="Aarhus", roles=[Role.STUDENT, "librarian"], student_id="s-Ø1", subject="ørsted"
    )
    assert verifier.principal(token) == Principal(
        subject="ørsted", roles=frozenset({Role.STUDENT}), region="aarhus", student_id="s-Ø1"
    )


def test_expired_foreign_misaddressed_and_regionless_tokens_are_refused(
    issuer: DevelopmentIssuer, verifier: TokenVerifier, tmp_path: Path
) -> None:
    expired = issuer.token(
        region="aarhus",
        roles=[Role.OPERATOR],
        issued_at=datetime.now(UTC) - timedelta(hours=1),
        lifetime=timedelta(minutes=10),
    )
    assert (refusal(verifier, expired).status_code, refusal(verifier, expired).reason) == (
        401,
        "the token has expired",
    )
    # a key the issuer never published, though the token claims its name
    impostor = DevelopmentIssuer(issuer.url, tmp_path / "other.pem")
    assert refusal(verifier, impostor.token(region="aarhus", roles=["operator"])).status_code == 401
    other_issuer = DevelopmentIssuer("https://sso.example.org", issuer.key_path)
    assert (
        "issuer"
        in refusal(verifier, other_issuer.token(region="aarhus", roles=["operator"])).reason
    )
    for_others = issuer.token(region="aarhus", roles=["operator"], audience="somebody-else")
    assert "audience" in refusal(verifier, for_others).reason.lower()
    assert refusal(verifier, "not.a.token").status_code == 401

    elsewhere = refusal(verifier, issuer.token(region="leipzig", roles=["operator"]))
    assert elsewhere.status_code == 403 and "leipzig" in elsewhere.reason
    no_region = issuer.token(region="", roles=["operator"])
    assert refusal(verifier, no_region).status_code == 401


def test_keycloak_realm_roles_count_when_there_is_no_roles_claim(
    issuer: DevelopmentIssuer, verifier: TokenVerifier
) -> None:
    now = datetime.now(UTC)
    claims = {
        "iss": issuer.url,
        "aud": ["interlocality", "account"],
        "sub": "f1c0",
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "region": "aarhus",
        "realm_access": {"roles": ["coordinator", "offline_access"]},
    }
    key = issuer._key  # the issuer's own key signs what a Keycloak realm would
    token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": issuer.key_id})
    assert verifier.principal(token).roles == frozenset({Role.COORDINATOR})


def test_the_keys_are_found_through_the_issuers_discovery_document(tmp_path: Path) -> None:
    issuer = DevelopmentIssuer("http://127.0.0.1", tmp_path / "k.pem")
    with served(issuer_app(issuer)) as url:
        issuer.url = url  # the port is known once it serves
        verifier = TokenVerifier(issuer=url, audience="interlocality", region="aarhus")
        token = issuer.token(region="aarhus", roles=["company"], company_id="c-1")
        principal = verifier.principal(token)
        assert principal.company_id == "c-1" and principal.roles == {Role.COMPANY}
