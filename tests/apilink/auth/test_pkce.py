"""PKCE (RFC 7636): the Appendix B vector, verifiers, the authorization URL and state."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from apilink.auth.pkce import (
    PKCESession,
    authorization_url,
    code_challenge_s256,
    generate_code_verifier,
    parse_redirect,
)
from apilink.config.auth import OAuth2PKCEConfig
from apilink.errors import AuthError, StateMismatch


def test_rfc7636_appendix_b_vector() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize("length", [43, 64, 128])
def test_verifiers_are_random_unreserved_and_in_bounds(length: int) -> None:
    first, second = generate_code_verifier(length), generate_code_verifier(length)
    assert re.fullmatch(r"[A-Za-z0-9\-._~]{" + str(length) + "}", first)
    assert first != second


@pytest.mark.parametrize("length", [42, 129])
def test_verifier_length_outside_rfc_is_refused(length: int) -> None:
    with pytest.raises(ValueError, match="43 to 128"):
        generate_code_verifier(length)


def test_authorization_url_carries_s256_challenge_and_state() -> None:
    config = OAuth2PKCEConfig(
        type="oauth2_pkce",
        client_id="app",
        redirect_uri="http://127.0.0.1:8080/callback",
        authorization_url="https://auth.example/authorize?tenant=t1",
        token_url="https://auth.example/token",
        scope="read write",
    )
    session = PKCESession()
    query = parse_qs(urlsplit(authorization_url(config, session)).query)
    assert query["tenant"] == ["t1"]
    assert query["code_challenge"] == [code_challenge_s256(session.verifier)]
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"] == [session.state]
    assert query["scope"] == ["read write"]
    assert session.verifier not in repr(session) and session.state not in repr(session)


def test_state_check() -> None:
    session = PKCESession()
    session.check_state(session.state)
    for wrong in (None, "forged", session.state + "x"):
        with pytest.raises(StateMismatch):
            session.check_state(wrong)


def test_redirect_parsing() -> None:
    assert parse_redirect("http://127.0.0.1/cb?code=abc&state=s") == ("abc", "s")
    with pytest.raises(AuthError, match="access_denied"):
        parse_redirect("http://127.0.0.1/cb?error=access_denied&state=s")
    with pytest.raises(AuthError, match="no authorization code"):
        parse_redirect("http://127.0.0.1/cb?state=s")
