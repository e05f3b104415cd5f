"""Token endpoint protocol: request building and every kind of bad answer (MockTransport)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from apilink.auth import build_auth
from apilink.auth.token import build_token_request, parse_token_response
from apilink.config.auth import OAuth2ClientCredentialsConfig
from apilink.errors import TokenEndpointError, TokenResponseError

CANARY = "tok-CANARY-7e1d"


def config(**extra: object) -> OAuth2ClientCredentialsConfig:
    return OAuth2ClientCredentialsConfig.model_validate(
        {
            "type": "oauth2",
            "client_id": "id with:colon",
            "client_secret": "s&cret/+",
            "token_url": "https://auth.example/token",
            **extra,
        }
    )


def answer(status: int, body: bytes, content_type: str) -> httpx.Response:
    request = httpx.Request("POST", "https://auth.example/token?x=secretquery")
    return httpx.Response(
        status, content=body, headers={"content-type": content_type}, request=request
    )


def test_client_secret_basic_form_urlencodes_both_parts() -> None:
    request = build_token_request(
        config(token_endpoint_auth_method="client_secret_basic"), {"grant_type": "x"}
    )
    encoded = request.headers["authorization"].removeprefix("Basic ")
    assert base64.b64decode(encoded).decode() == "id+with%3Acolon:s%26cret%2F%2B".replace(
        "+with", "%20with"
    )
    assert b"client_secret" not in request.content


def test_client_secret_post_puts_credentials_in_the_form() -> None:
    request = build_token_request(config(), {"grant_type": "x"})
    assert "authorization" not in request.headers
    assert b"client_secret=s%26cret%2F%2B" in request.content


@pytest.mark.parametrize(
    ("status", "body", "content_type", "fragment"),
    [
        (200, b"<html>" + CANARY.encode() + b"</html>", "text/html", "text/html instead of JSON"),
        (200, b'{"access_token": "' + CANARY.encode(), "application/json", "invalid JSON"),
        (200, b'["' + CANARY.encode() + b'"]', "application/json", "not an object"),
        (
            200,
            json.dumps({"token_type": "Bearer", "x": CANARY}).encode(),
            "application/json",
            "without an access_token",
        ),
        (
            200,
            json.dumps({"access_token": CANARY, "token_type": "mac"}).encode(),
            "application/json",
            "other than Bearer",
        ),
        (
            200,
            json.dumps({"access_token": CANARY}).encode(),
            "application/json",
            "other than Bearer",
        ),
        (
            200,
            json.dumps(
                {"access_token": CANARY, "token_type": "bearer", "expires_in": "soon"}
            ).encode(),
            "application/json",
            "expires_in",
        ),
        (502, CANARY.encode(), "text/plain", "HTTP 502"),
    ],
)
def test_bad_token_answers_never_echo_the_body(
    status: int, body: bytes, content_type: str, fragment: str
) -> None:
    with pytest.raises(TokenResponseError) as caught:
        parse_token_response(answer(status, body, content_type), now=0)
    message = str(caught.value)
    assert fragment in message
    assert CANARY not in message
    assert "secretquery" not in message


def test_error_codes_are_kept_only_when_standard() -> None:
    body = json.dumps({"error": "invalid_grant", "error_description": CANARY}).encode()
    with pytest.raises(TokenEndpointError) as caught:
        parse_token_response(answer(400, body, "application/json"), now=0)
    assert caught.value.error == "invalid_grant"
    assert CANARY not in str(caught.value)
    body = json.dumps({"error": CANARY}).encode()
    with pytest.raises(TokenEndpointError) as caught:
        parse_token_response(answer(400, body, "application/json"), now=0)
    assert caught.value.error == "unknown"
    assert CANARY not in str(caught.value)


def test_good_answer_sets_expiry_from_the_clock() -> None:
    body = json.dumps(
        {
            "access_token": "a",
            "token_type": "Bearer",
            "expires_in": 100,
            "refresh_token": "r",
            "scope": "read",
        }
    ).encode()
    token = parse_token_response(answer(200, body, "application/json; charset=utf-8"), now=1000)
    assert (token.expires_at, token.refresh_token, token.scope) == (1100, "r", "read")
    assert not token.is_expired(1039, leeway=60)
    assert token.is_expired(1050, leeway=60)  # leeway capped at half of a 100 s lifetime
    assert "'a'" not in repr(token) and "'r'" not in repr(token)


def test_html_from_a_real_client_flow_is_a_token_response_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<html>login page " + CANARY + "</html>")

    auth = build_auth(config())
    with httpx.Client(auth=auth, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(TokenResponseError) as caught:
            client.get("https://api.example/items")
    assert CANARY not in str(caught.value)
