"""OAuth 2.0 tokens and the token endpoint (RFC 6749 sections 2.3, 5 and 6), without I/O.

``build_token_request`` makes the ``httpx.Request`` for any grant; ``parse_token_response``
turns the answer into an ``OAuthToken`` or raises. Bodies of error responses are never put in
an exception: only the HTTP status, the content type and, for a standard error code, the code.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import httpx

from apilink.config.auth import (
    OAuth2ClientCredentialsConfig,
    OAuth2DeviceFlowConfig,
    OAuth2PKCEConfig,
)
from apilink.errors import TokenEndpointError, TokenResponseError
from apilink.redaction import MASK

__all__ = [
    "STANDARD_ERROR_CODES",
    "OAuth2Config",
    "OAuthToken",
    "build_token_request",
    "parse_token_response",
    "read_json_object",
    "token_endpoint_error",
]

OAuth2Config = OAuth2ClientCredentialsConfig | OAuth2PKCEConfig | OAuth2DeviceFlowConfig
"""Every auth section whose tokens come from a token endpoint."""

STANDARD_ERROR_CODES = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "access_denied",
        "authorization_pending",
        "slow_down",
        "expired_token",
        "server_error",
        "temporarily_unavailable",
    }
)
"""Error codes of RFC 6749 section 5.2 and RFC 8628 section 3.5; any other code is reported
as ``"unknown"`` so that a server cannot smuggle text into our messages."""


@dataclass(frozen=True)
class OAuthToken:
    """An access token with its expiry and, perhaps, a refresh token.

    Attributes:
        access_token: the bearer token.
        token_type: always ``"Bearer"`` (other types are refused when parsed).
        expires_at: Unix seconds when the access token stops working; ``None`` if not said.
        refresh_token: the refresh token, when the server issued one.
        scope: the scope granted, when the server said.
        obtained_at: Unix seconds when the token was received, when known.
    """

    access_token: str
    token_type: str = "Bearer"
    expires_at: float | None = None
    refresh_token: str | None = None
    scope: str | None = None
    obtained_at: float | None = None

    def is_expired(self, now: float, leeway: float = 0.0) -> bool:
        """Whether the access token is (or within ``leeway`` seconds will be) past its expiry.

        The leeway is capped at half the token's lifetime, so that a token living less than
        the leeway is still used rather than renewed before every request.
        """
        if self.expires_at is None:
            return False
        if self.obtained_at is not None:
            leeway = min(leeway, max(0.0, self.expires_at - self.obtained_at) / 2)
        return now >= self.expires_at - leeway

    def secrets(self) -> tuple[str, ...]:
        """The values a log must never show: the access token and any refresh token."""
        return tuple(v for v in (self.access_token, self.refresh_token) if v)

    def rotated(self, newer: OAuthToken) -> OAuthToken:
        """``newer``, keeping this token's refresh token when the server sent none."""
        if newer.refresh_token is None and self.refresh_token is not None:
            return replace(newer, refresh_token=self.refresh_token)
        return newer

    def to_entry(self) -> dict[str, Any]:
        """The credential-store entry for this token.

        The access token's expiry is kept as ``access_token_expires_at``, not ``expires_at``:
        a store refuses entries past ``expires_at``, and an expired access token with a good
        refresh token must stay readable.
        """
        entry: dict[str, Any] = {"access_token": self.access_token, "token_type": self.token_type}
        if self.expires_at is not None:
            entry["access_token_expires_at"] = self.expires_at
        if self.refresh_token is not None:
            entry["refresh_token"] = self.refresh_token
        if self.scope is not None:
            entry["scope"] = self.scope
        if self.obtained_at is not None:
            entry["obtained_at"] = self.obtained_at
        return entry

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> OAuthToken:
        """The token kept in a credential-store entry made by ``to_entry``."""
        access_token = entry.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise TokenResponseError("the stored token entry has no access_token")
        expires_at = entry.get("access_token_expires_at")
        refresh_token = entry.get("refresh_token")
        scope = entry.get("scope")
        obtained_at = entry.get("obtained_at")
        return cls(
            access_token=access_token,
            token_type="Bearer",
            expires_at=float(expires_at) if isinstance(expires_at, int | float) else None,
            refresh_token=refresh_token if isinstance(refresh_token, str) else None,
            scope=scope if isinstance(scope, str) else None,
            obtained_at=float(obtained_at) if isinstance(obtained_at, int | float) else None,
        )

    def __repr__(self) -> str:
        refresh = repr(MASK) if self.refresh_token else "None"
        return (
            f"OAuthToken(access_token={MASK!r}, token_type={self.token_type!r}, "
            f"expires_at={self.expires_at!r}, refresh_token={refresh}, scope={self.scope!r})"
        )

    __str__ = __repr__


def build_token_request(
    config: OAuth2Config, grant: dict[str, str], *, url: str | None = None
) -> httpx.Request:
    """The POST that asks ``config``'s token endpoint for ``grant``.

    Args:
        config: the OAuth section; its client id and secret authenticate the request
            (``client_secret_basic`` or ``client_secret_post``; a public client sends only
            ``client_id``).
        grant: the grant parameters (``grant_type`` and what it needs).
        url: another endpoint of the same server (the device authorization endpoint).
    """
    form = dict(grant)
    headers = {"Accept": "application/json"}
    secret = config.client_secret.get_secret_value() if config.client_secret else None
    if secret is not None and config.token_endpoint_auth_method == "client_secret_basic":
        # RFC 6749 section 2.3.1: both parts are form-urlencoded before Basic encoding.
        pair = f"{quote(config.client_id, safe='')}:{quote(secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    else:
        form["client_id"] = config.client_id
        if secret is not None:
            form["client_secret"] = secret
    return httpx.Request("POST", url or config.token_url, data=form, headers=headers)


def parse_token_response(response: httpx.Response, *, now: float) -> OAuthToken:
    """The token in a read token-endpoint response.

    Raises:
        TokenEndpointError: a JSON OAuth error (``invalid_grant``, ``slow_down``, ...).
        TokenResponseError: anything else that is not a Bearer token: HTML, bad JSON, no
            ``access_token``, another ``token_type``, a bad ``expires_in``.
    """
    payload = read_json_object(response)
    if response.status_code >= 400 or "error" in payload:
        raise token_endpoint_error(response, payload)
    access_token = payload.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TokenResponseError(
            f"{_where(response)} answered without an access_token", status=response.status_code
        )
    token_type = payload.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenResponseError(
            f"{_where(response)} answered with a token_type other than Bearer",
            status=response.status_code,
        )
    expires_in = payload.get("expires_in")
    expires_at: float | None = None
    if expires_in is not None:
        try:
            seconds = float(expires_in)
        except (TypeError, ValueError):
            seconds = math.nan
        if not math.isfinite(seconds):
            raise TokenResponseError(
                f"{_where(response)} sent an expires_in that is not a number",
                status=response.status_code,
            )
        expires_at = now + seconds
    refresh_token = payload.get("refresh_token")
    scope = payload.get("scope")
    return OAuthToken(
        access_token=access_token,
        token_type="Bearer",
        expires_at=expires_at,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        scope=scope if isinstance(scope, str) else None,
        obtained_at=now,
    )


def read_json_object(response: httpx.Response) -> dict[str, Any]:
    """The JSON object in ``response``; a ``TokenResponseError`` naming only status and type."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (content_type == "application/json" or content_type.endswith("+json")):
        raise TokenResponseError(
            f"{_where(response)} answered HTTP {response.status_code} with "
            f"{content_type or 'no content type'!s} instead of JSON",
            status=response.status_code,
        )
    try:
        payload = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise TokenResponseError(
            f"{_where(response)} answered HTTP {response.status_code} with invalid JSON",
            status=response.status_code,
        ) from None
    if not isinstance(payload, dict):
        raise TokenResponseError(
            f"{_where(response)} answered HTTP {response.status_code} with JSON "
            "that is not an object",
            status=response.status_code,
        )
    return payload


def token_endpoint_error(response: httpx.Response, payload: dict[str, Any]) -> TokenEndpointError:
    """The ``TokenEndpointError`` for an OAuth error payload (its description is dropped)."""
    code = payload.get("error")
    error = code if isinstance(code, str) and code in STANDARD_ERROR_CODES else "unknown"
    return TokenEndpointError(
        f"{_where(response)} refused the request: HTTP {response.status_code}, error={error}",
        error=error,
        status_code=response.status_code,
    )


def _where(response: httpx.Response) -> str:
    # Scheme, host and path only: a query string could carry a secret.
    url = response.request.url
    return f"token endpoint {url.scheme}://{url.netloc.decode('ascii')}{url.path}"
