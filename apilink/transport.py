"""Transport rules: HTTPS unless the host is loopback, credentials only to their own origin,
TLS verification on unless switched off by name.

httpx already drops ``Authorization`` when a redirect leaves the origin (except an http->https
upgrade of the same host), but it forwards every other header, so an ``X-API-Key`` would follow
a redirect anywhere. :class:`CredentialOriginGuard` is a request event hook that removes the
credential headers from any request whose origin is not the one the credentials belong to.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

import httpx

from apilink.errors import InsecureTransport
from apilink.redaction import sanitize_url

__all__ = [
    "DEFAULT_CREDENTIAL_HEADERS",
    "CredentialOriginGuard",
    "check_url",
    "is_loopback",
    "origin_of",
    "tls_verify",
]

DEFAULT_CREDENTIAL_HEADERS: tuple[str, ...] = (
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "cookie",
)

_log = logging.getLogger("apilink.transport")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost``, in 127.0.0.0/8, or ``::1``."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str | httpx.URL, allow_insecure_http: bool = False) -> httpx.URL:
    """``url`` parsed, if it may carry data: ``https://``, or ``http://`` to loopback.

    Raises:
        InsecureTransport: ``http://`` to any other host (unless ``allow_insecure_http``), or a
            scheme that is neither.
    """
    parsed = httpx.URL(str(url))
    shown = sanitize_url(str(parsed))
    if parsed.scheme == "https":
        return parsed
    if parsed.scheme != "http":
        raise InsecureTransport(f"{shown}: only https:// (or http:// to loopback) is allowed")
    if is_loopback(parsed.host) or allow_insecure_http:
        return parsed
    raise InsecureTransport(
        f"{shown}: plain http:// to a host that is not loopback; use https:// "
        "(or set allow_insecure_http: true for this connection)"
    )


def origin_of(url: str | httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default port filled in."""
    parsed = httpx.URL(str(url))
    port = parsed.port or {"http": 80, "https": 443}.get(parsed.scheme)
    return parsed.scheme, parsed.host.lower(), port


class CredentialOriginGuard:
    """An httpx request hook: credential headers go only to ``origins``.

    Use ``event_hooks={"request": [guard]}`` on a ``Client`` or
    ``event_hooks={"request": [guard.async_hook]}`` on an ``AsyncClient``. Hooks run after the
    auth flow has set its headers, and on every redirect, so a redirect to another origin
    arrives without them.

    Args:
        origins: URLs whose origin may receive the credentials (the connection's base URL).
        headers: header names to strip elsewhere (case-insensitive); the defaults plus any
            header an ``api_key`` auth is configured to use.
    """

    def __init__(self, origins: Iterable[str | httpx.URL], headers: Iterable[str] = ()) -> None:
        self.origins = {origin_of(url) for url in origins}
        self.headers = {h.lower() for h in (*DEFAULT_CREDENTIAL_HEADERS, *headers)}

    def __call__(self, request: httpx.Request) -> None:
        if origin_of(request.url) in self.origins:
            return
        dropped = [name for name in request.headers if name.lower() in self.headers]
        for name in dropped:
            del request.headers[name]
        if dropped:
            _log.debug(
                "credential headers %s withheld from %s",
                sorted(dropped),
                sanitize_url(str(request.url)),
            )

    async def async_hook(self, request: httpx.Request) -> None:
        """The same, for ``httpx.AsyncClient``."""
        self(request)


def tls_verify(verify: bool | str) -> bool | str:
    """The ``verify`` argument for httpx: on, or a CA bundle path; off only when a config says
    ``verify: false`` by name, which is logged as a warning each time."""
    if verify is False:
        _log.warning("TLS certificate verification is OFF for this connection (verify: false)")
    return verify
