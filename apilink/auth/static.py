"""Static credentials: an API key, a bearer token, HTTP Basic."""

from __future__ import annotations

import base64
from collections.abc import Generator

import httpx

from apilink.config.auth import ApiKeyAuthConfig, BasicAuthConfig, BearerAuthConfig
from apilink.redaction import MASK

__all__ = ["ApiKeyAuth", "BasicAuth", "BearerAuth"]


class ApiKeyAuth(httpx.Auth):
    """Sends the key in a header (``X-API-Key`` by default) or a query parameter."""

    def __init__(self, config: ApiKeyAuthConfig) -> None:
        self._key = config.key
        self._in = config.in_
        self._name = config.header if config.in_ == "header" else config.param_name

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        secret = self._key.get_secret_value()
        if self._in == "header":
            request.headers[self._name] = secret
        else:
            request.url = request.url.copy_merge_params({self._name: secret})
        yield request

    def __repr__(self) -> str:
        return f"ApiKeyAuth(in={self._in!r}, name={self._name!r}, key={MASK!r})"


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>``."""

    def __init__(self, config: BearerAuthConfig) -> None:
        self._token = config.token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return f"BearerAuth(token={MASK!r})"


class BasicAuth(httpx.Auth):
    """HTTP Basic (RFC 7617); only over HTTPS or loopback."""

    def __init__(self, config: BasicAuthConfig) -> None:
        self._username = config.username
        self._password = config.password

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        pair = f"{self._username}:{self._password.get_secret_value()}".encode()
        request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        yield request

    def __repr__(self) -> str:
        return f"BasicAuth(username={self._username!r}, password={MASK!r})"
