"""The one place that builds every outgoing HTTP client of apilink.

- :func:`api_client`: the source and target of a sync (async, aiohttp underneath);
- :func:`token_client` and :func:`send_token_request`: token endpoints (the up-front token of
  a sync, the device and PKCE logins, the guide's ``AuthManager``);
- :func:`vault_session`: the ``requests.Session`` hvac talks to Vault/OpenBao through.

Whatever the client, the same rules hold for every request and every response:

- **https only**; ``http://`` to loopback is the exception, and so is a connection that says
  ``allow_insecure_http: true`` (a warning names the host). ``HTTPS://`` is ``https://``.
- **TLS verification on**; ``verify: false`` logs a warning naming the host. A connection's
  ``tls`` client certificate (:mod:`apilink.http.tls`) is presented by every client of that
  connection: the sync's transport, its rate-limited one, its token endpoint. A handshake the
  server refuses is one :class:`~apilink.errors.TLSRefused` naming ``tls.client_cert``, never
  retried.
- **Only to its own origins** (:class:`~apilink.http.origin.OriginPolicy`): a request to any
  other origin, or down to http, is refused before it is sent, so no credential goes with it.
  That covers a redirect (httpx clients follow none; the Vault session checks every hop), a
  checkpoint position edited to point elsewhere (the first request of a resumed run) and a
  next link.
- **Capped and timed**: every body is decoded within ``max_response_bytes``
  (:mod:`apilink.http.body_limit`: counted after decompression, inflated a bounded step at a time),
  token and Vault answers included; the connection's timeouts apply to every phase, and the
  deadline to the whole answer.

Trusted: the worker's operator and the config author, who name the URLs. Not trusted: the
network, the servers (their redirects, sizes, encodings and pace), and whoever can edit a
checkpoint.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import requests
import requests.adapters

from apilink.config.auth import AuthConfig, OAuth2DeviceFlowConfig, OAuth2PKCEConfig
from apilink.config.credentials import VaultStoreConfig
from apilink.config.models import ConnectionConfig, TimeoutConfig
from apilink.errors import (
    BodyOverLimit,
    DeadlineExceeded,
    ResponseTooLarge,
    SlowBody,
    TransportError,
)
from apilink.http.aiohttp_transport import AiohttpTransport
from apilink.http.body_limit import SUPPORTED_ENCODINGS, BoundedDecoder
from apilink.http.body_limit import bounded_response as _bounded
from apilink.http.origin import OriginPolicy, tls_verify
from apilink.http.tls import ClientTLS, connection_tls, diagnose, diagnose_sync, is_tls_failure

__all__ = [
    "ACCEPT_ENCODING",
    "TOKEN_MAX_RESPONSE_BYTES",
    "ApiClient",
    "GuardedAsyncTransport",
    "GuardedTransport",
    "api_client",
    "auth_urls",
    "connection_policy",
    "login_urls",
    "send_token_request",
    "token_client",
    "token_client_for",
    "vault_session",
]

ACCEPT_ENCODING = ", ".join(SUPPORTED_ENCODINGS)
"""What every client offers: only the encodings that are decoded within a limit."""

TOKEN_MAX_RESPONSE_BYTES = 1024 * 1024
"""The cap on a token (or login) answer when no connection names one: a token is small."""


def auth_urls(auth: AuthConfig | None) -> list[str]:
    """The URLs an ``auth`` section makes apilink send requests to (token, device endpoints)."""
    if auth is None or not hasattr(auth, "token_url"):
        return []
    urls = [auth.token_url]
    if isinstance(auth, OAuth2DeviceFlowConfig):
        urls.append(auth.device_authorization_url)
    return urls


def connection_policy(connection: ConnectionConfig, what: str) -> OriginPolicy:
    """The policy of one side of a sync: its base URL and its auth's endpoints.

    Raises:
        InsecureTransport: one of them is plain http to a host that is not loopback, and the
            connection does not say ``allow_insecure_http: true``.
    """
    policy = OriginPolicy(
        what,
        [connection.base_url, *auth_urls(connection.auth)],
        allow_insecure_http=connection.allow_insecure_http,
    )
    tls_verify(connection.verify, httpx.URL(connection.base_url).host)
    return policy


def _timeout(timeout: TimeoutConfig) -> httpx.Timeout:
    return httpx.Timeout(
        connect=timeout.connect, read=timeout.read, write=timeout.write, pool=timeout.pool
    )


def api_client(
    connection: ConnectionConfig,
    *,
    what: str,
    timeout: TimeoutConfig,
    auth: httpx.Auth | None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The async client of one side of a sync (``what``: ``"source"`` or ``"target"``).

    Requests go through :class:`~apilink.http.aiohttp_transport.AiohttpTransport`, which enforces
    the policy and the cap itself (so the fast lane keeps them); another ``transport`` (tests
    pass mock transports) is wrapped in :class:`GuardedAsyncTransport`. Redirects are not
    followed: a 3xx is an answer, reported as such. Another transport that opens connections
    itself must be built with the connection's TLS (see
    :func:`~apilink.http.rate_limit.rate_limited_transport`).

    Raises:
        InsecureTransport: a URL that is plain http to a host that is not loopback.
        ConfigError: the connection's ``tls`` client certificate cannot be loaded.
    """
    policy = connection_policy(connection, what)
    limit = connection.max_concurrency
    cap = connection.max_response_bytes
    tls = connection_tls(connection, what)
    if transport is None:
        transport = AiohttpTransport(
            max_connections=limit, policy=policy, max_response_bytes=cap, tls=tls
        )
    elif not isinstance(transport, AiohttpTransport):
        transport = GuardedAsyncTransport(transport, policy, cap, tls)
    proxy = environment_proxy(connection.base_url)
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    if proxy is not None:
        # Through the proxy the environment names, with the same rules (policy, cap, TLS).
        through = httpx.AsyncHTTPTransport(proxy=proxy, verify=tls.context(), limits=_limits(limit))
        mounts["all://"] = GuardedAsyncTransport(through, policy, cap, tls)
    return ApiClient(
        base_url=connection.base_url,
        headers={"Accept-Encoding": ACCEPT_ENCODING, **connection.headers},
        auth=auth,
        verify=connection.verify,
        timeout=_timeout(timeout),
        limits=_limits(limit),
        transport=transport,
        mounts=mounts,
        follow_redirects=False,
    )


def _limits(connections: int) -> httpx.Limits:
    return httpx.Limits(max_connections=connections, max_keepalive_connections=connections)


def environment_proxy(base_url: str) -> str | None:
    """The proxy ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` name for ``base_url``'s host,
    unless ``NO_PROXY`` exempts it (the standard library's reading of the variables, which httpx
    reads too); ``None`` for none. A client talks to its base URL's origin only, so one answer
    holds for all its requests."""
    url = httpx.URL(base_url)
    host = url.host
    if not host or urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(url.scheme) or proxies.get("all")


class ApiClient(httpx.AsyncClient):
    """The ``httpx.AsyncClient`` of one side of a sync, which says which transport its requests
    go through: :attr:`direct` is the :class:`AiohttpTransport` when nothing stands between
    them (no proxy is mounted), which lets :mod:`apilink.http.fast_lane` hand it requests.

    Proxies come from the environment here (:func:`environment_proxy`), never from httpx's own
    reading (``trust_env`` is off), so every mount is known and guarded.
    """

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport,
        mounts: dict[str, httpx.AsyncBaseTransport | None] | None = None,
        **options: Any,
    ) -> None:
        mounts = mounts or {}
        super().__init__(transport=transport, mounts=mounts, trust_env=False, **options)
        self.direct = transport if isinstance(transport, AiohttpTransport) and not mounts else None


class GuardedAsyncTransport(httpx.AsyncBaseTransport):
    """Any async transport, with a policy checked before each request and bodies capped; with
    ``tls``, a refused handshake is :class:`~apilink.errors.TLSRefused`."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        policy: OriginPolicy,
        max_bytes: int | None,
        tls: ClientTLS | None = None,
    ) -> None:
        self.inner = inner
        self.policy = policy
        self.max_bytes = max_bytes
        self.tls = tls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.policy.check(request.url)
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TransportError as exc:
            if self.tls is not None and request.url.scheme == "https" and is_tls_failure(exc):
                refused = await diagnose(self.tls, request.url, self.policy.what)
                if refused is not None:
                    raise refused from None
            raise
        try:
            return _bounded(response, self.max_bytes, request=request)
        except BaseException:
            await response.aclose()
            raise

    async def aclose(self) -> None:
        await self.inner.aclose()


class GuardedTransport(httpx.BaseTransport):
    """A sync transport with a policy, a body cap and a deadline on each whole exchange.

    Each phase's timeout is cut to what is left of ``deadline`` when the request starts, and
    the body is read no longer than the deadline: a server that answers after 12 s to a client
    with ``read: 2, deadline: 3`` fails it within 3 s, one that drips its body byte by byte
    fails it once the deadline passes (plus at most one read timeout).
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        policy: OriginPolicy,
        max_bytes: int | None,
        deadline: float | None,
        tls: ClientTLS | None = None,
    ) -> None:
        self.inner = inner
        self.policy = policy
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.tls = tls

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.policy.check(request.url)
        ends = None if self.deadline is None else time.monotonic() + self.deadline
        if self.deadline is not None:
            phases = request.extensions.get("timeout", {})
            request.extensions["timeout"] = {
                k: self.deadline if v is None else min(v, self.deadline) for k, v in phases.items()
            }
        try:
            response = self.inner.handle_request(request)
        except httpx.TransportError as exc:
            if self.tls is not None and request.url.scheme == "https" and is_tls_failure(exc):
                refused = diagnose_sync(self.tls, request.url, self.policy.what)
                if refused is not None:
                    raise refused from None
            raise
        try:
            return _bounded(response, self.max_bytes, request=request, deadline=ends)
        except BaseException:
            response.close()
            raise

    def close(self) -> None:
        self.inner.close()


def token_client(
    what: str,
    urls: list[str],
    *,
    timeout: TimeoutConfig | None = None,
    max_response_bytes: int = TOKEN_MAX_RESPONSE_BYTES,
    allow_insecure_http: bool = False,
    verify: bool | str = True,
    transport: httpx.BaseTransport | None = None,
    tls: ClientTLS | None = None,
) -> httpx.Client:
    """A sync client for token and login endpoints at ``urls`` (``what`` names them).

    ``tls``, when given, is the TLS of the connection the endpoints belong to (its client
    certificate is presented, its ``verify`` replaces ``verify``).

    Raises:
        InsecureTransport: a URL that is plain http to a host that is not loopback.
        ConfigError: ``tls``'s client certificate cannot be loaded.
    """
    timeout = timeout or TimeoutConfig()
    tls = tls or ClientTLS(verify, None, what)
    policy = OriginPolicy(what, urls, allow_insecure_http=allow_insecure_http)
    if urls:
        tls_verify(tls.verify, httpx.URL(urls[0]).host)
    inner = transport or httpx.HTTPTransport(verify=tls.for_httpx())
    return httpx.Client(
        headers={"Accept-Encoding": ACCEPT_ENCODING},
        timeout=_timeout(timeout),
        transport=GuardedTransport(inner, policy, max_response_bytes, timeout.deadline, tls),
        follow_redirects=False,
    )


def token_client_for(
    connection: ConnectionConfig, timeout: TimeoutConfig | None = None, *, side: str = "source"
) -> httpx.Client:
    """The token client of one side of a sync: its auth's endpoints, timeouts, cap and TLS (the
    client certificate of ``side``'s ``tls`` included)."""
    return token_client(
        "token endpoint",
        auth_urls(connection.auth),
        timeout=timeout or connection.timeout,
        max_response_bytes=connection.max_response_bytes,
        allow_insecure_http=connection.allow_insecure_http,
        tls=connection_tls(connection, side),
    )


def login_urls(auth: OAuth2PKCEConfig | OAuth2DeviceFlowConfig) -> list[str]:
    """What a login talks to: its token endpoint, and the device endpoint of a device flow."""
    return auth_urls(auth)


def send_token_request(client: httpx.Client, request: httpx.Request) -> httpx.Response:
    """Send a token (or login) request with ``client``; the answer comes back read.

    Raises:
        InsecureTransport: the request's origin is not one the client was built for.
        ResponseTooLarge: the answer, decoded, is over the client's cap.
        DeadlineExceeded: no whole answer within the timeouts and the deadline.
        TransportError: the endpoint could not be reached.
    """
    url = request.url
    where = f"token endpoint {url.scheme}://{url.netloc.decode('ascii')}{url.path}"
    try:
        response = client.send(request)
        response.read()
    except BodyOverLimit as exc:
        raise ResponseTooLarge(
            f"{where}: the answer {exc.detail} than the {exc.limit}-byte limit "
            "(max_response_bytes); refused"
        ) from None
    except (SlowBody, httpx.TimeoutException) as exc:
        raise DeadlineExceeded(
            f"{where}: no whole answer within the timeouts and deadline ({type(exc).__name__})"
        ) from None
    except httpx.HTTPError as exc:
        raise TransportError(f"{where}: {type(exc).__name__}") from None
    return response


# -- Vault --------------------------------------------------------------------------------------


class _CountedBody:
    """A urllib3 response whose ``stream`` inflates and counts through a ``BoundedDecoder``."""

    def __init__(self, raw: Any, decoder: BoundedDecoder) -> None:
        self._raw = raw
        self._decoder = decoder

    def stream(self, amt: int = 65536, decode_content: bool | None = None) -> Iterator[bytes]:
        for chunk in self._raw.stream(amt, decode_content=False):
            yield from self._decoder.feed(chunk)
        if tail := self._decoder.flush():
            yield tail

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _GuardedAdapter(requests.adapters.HTTPAdapter):
    """Bodies decoded within a cap and read within a deadline."""

    def __init__(self, max_bytes: int, deadline: float) -> None:
        self.max_bytes = max_bytes
        self.deadline = deadline
        super().__init__()

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        decoder = BoundedDecoder(
            resp.headers.get("content-encoding", ""),
            self.max_bytes,
            deadline=time.monotonic() + self.deadline,
        )
        decoder.declared(resp.headers.get("content-length"))
        return super().build_response(req, _CountedBody(resp, decoder))


class _GuardedSession(requests.Session):
    """A session that sends only to its policy's origins, every redirect hop included."""

    def __init__(self, policy: OriginPolicy, max_bytes: int, deadline: float) -> None:
        super().__init__()
        self.policy = policy
        self.headers["Accept-Encoding"] = ACCEPT_ENCODING
        adapter = _GuardedAdapter(max_bytes, deadline)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        # requests sends each redirect hop through send() too, so each is checked here.
        self.policy.check(httpx.URL(request.url or ""))
        return super().send(request, **kwargs)


def vault_session(config: VaultStoreConfig) -> requests.Session:
    """The session hvac uses for ``config``'s server (pass it as ``hvac.Client(session=...)``).

    Raises:
        InsecureTransport: the URL is plain http to a host that is not loopback without
            ``allow_insecure_http: true``.
    """
    policy = OriginPolicy(
        "Vault server", [config.url], allow_insecure_http=config.allow_insecure_http
    )
    tls_verify(config.verify, httpx.URL(config.url).host)
    session = _GuardedSession(policy, config.max_response_bytes, config.deadline)
    session.verify = config.verify  # hvac takes a session's own verify over its argument
    return session
