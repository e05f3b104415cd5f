"""Transport rules: HTTPS unless the host is loopback, credentials only to their own origin,
TLS verification on unless switched off by name.

:class:`OriginPolicy` is the rule every outgoing request of apilink passes, wherever it was
built (:mod:`apilink.http.clients` puts it in every client): the URL is ``https://`` (or ``http://``
to loopback, or to a connection with ``allow_insecure_http: true``), and its origin is one the
connection was configured for. A request anywhere else is refused before it is sent, so no
header, key, token or secret parameter goes with it: a redirect to another origin or down to
http, a checkpoint position edited to point elsewhere, a next link that leaves.

Trusted: the worker's operator and the config author (who name the origins). Not trusted:
remote networks, servers and their redirects, API response bodies, whoever can edit a
checkpoint.

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
    "OriginPolicy",
    "check_url",
    "insecure_url_problem",
    "is_loopback",
    "normalize_url",
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

_log = logging.getLogger("apilink.http.origin")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost``, in 127.0.0.0/8, or ``::1``."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_url(url: str) -> str:
    """``url`` with its scheme in lower case (``HTTPS://x`` is ``https://x``), else unchanged."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in ("http", "https"):
        return scheme.lower() + sep + rest
    return url


def insecure_url_problem(url: str, allow_insecure_http: bool = False) -> str | None:
    """Why ``url`` may not carry data (``None`` when it may): what :func:`check_url` raises."""
    try:
        check_url(url, allow_insecure_http)
    except InsecureTransport as exc:
        return str(exc)
    except httpx.InvalidURL:
        return f"{sanitize_url(url)}: not a URL"
    return None


def check_url(url: str | httpx.URL, allow_insecure_http: bool = False) -> httpx.URL:
    """``url`` parsed, if it may carry data: ``https://``, or ``http://`` to loopback.

    Raises:
        InsecureTransport: ``http://`` to any other host (unless ``allow_insecure_http``), or a
            scheme that is neither.
    """
    parsed = httpx.URL(normalize_url(str(url)))
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


def tls_verify(verify: bool | str, host: str = "") -> bool | str:
    """The ``verify`` argument for httpx: on, or a CA bundle path; off only when a config says
    ``verify: false`` by name, which is logged as a warning (naming ``host``) each time."""
    if verify is False:
        where = f" to {host}" if host else ""
        _log.warning("TLS certificate verification is OFF for connections%s (verify: false)", where)
    return verify


Origin = tuple[str, str, int | None]


class OriginPolicy:
    """Where one client may send requests: https (or loopback http), to its own origins only.

    Args:
        what: what the client talks to, for messages (``"source"``, ``"token endpoint"``).
        urls: the configured URLs whose origins may receive requests (base URL, token URL).
        allow_insecure_http: plain http to a host that is not loopback is allowed (the
            connection says ``allow_insecure_http: true``; a warning names the host).

    Raises:
        InsecureTransport: one of ``urls`` is not allowed (see :func:`check_url`).
    """

    def __init__(
        self, what: str, urls: Iterable[str | httpx.URL], *, allow_insecure_http: bool = False
    ) -> None:
        self.what = what
        self.allow_insecure_http = allow_insecure_http
        self.origins: frozenset[Origin] = frozenset()
        origins = set()
        for url in urls:
            parsed = check_url(url, allow_insecure_http)
            origins.add(origin_of(parsed))
            if parsed.scheme == "http" and not is_loopback(parsed.host):
                _log.warning(
                    "%s: plain http:// to %s (allow_insecure_http: true): credentials and "
                    "data travel unencrypted",
                    what,
                    parsed.host,
                )
        self.origins = frozenset(origins)

    def allows(self, url: httpx.URL) -> bool:
        """Whether a request to ``url`` may be sent."""
        port = url.port or _DEFAULT_PORTS.get(url.scheme)
        return (url.scheme, url.host.lower(), port) in self.origins

    def check(self, url: httpx.URL) -> None:
        """Refuse a request to ``url`` unless its origin is one of this policy's.

        Raises:
            InsecureTransport: naming both origins (never the path or query: they may carry
                secrets).
        """
        if self.allows(url):
            return
        allowed = ", ".join(sorted(_shown(o) for o in self.origins))
        raise InsecureTransport(
            f"refused a request to {_shown(origin_of(url))}: the {self.what} sends only to "
            f"{allowed} (its credentials go nowhere else; a redirect, a next link or a saved "
            "position that leaves the origin, or downgrades to http, is not followed)"
        )


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _shown(origin: Origin) -> str:
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}"
