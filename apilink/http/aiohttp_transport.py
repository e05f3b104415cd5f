"""An ``httpx`` transport that sends requests with aiohttp.

httpx's own pool (httpcore) spends more time choosing a connection than sending on it when many
small requests are in flight: every request walks every connection, and checks each one's
socket, several times. aiohttp's connector hands out a free connection in constant time, so a
loader that POSTs one record per request runs several times faster over it. Everything above
the transport stays httpx: auth flows, redirects (off), cookies, event hooks, ``Response``.

What the transport does, so that retries and caps behave as with httpx's own transport:

- request bodies are passed through (a streaming body stays a stream), and response bodies are
  streamed undecoded: httpx decodes ``Content-Encoding`` and
  :func:`apilink.http.sending.send_with_retry`
  counts the bytes against ``max_response_bytes``;
- the ``connect``, ``read`` and ``pool`` timeouts of the request map to aiohttp's
  ``sock_connect``, ``sock_read`` and ``connect`` (aiohttp has no write timeout; the overall
  deadline of ``send_with_retry`` bounds a stalled upload);
- aiohttp's errors become httpx's: :class:`httpx.ConnectError`, :class:`httpx.ConnectTimeout`,
  :class:`httpx.ReadTimeout`, :class:`httpx.PoolTimeout`, :class:`httpx.ReadError`,
  :class:`httpx.RemoteProtocolError`, so they are retried where httpx's would be;
- TLS: ``verify`` is ``True`` (certifi's bundle, as httpx), ``False``, or a CA bundle path, and
  ``tls`` (a :class:`~apilink.http.tls.ClientTLS`) adds the client certificate of mutual TLS;
  the context is built on the first ``https://`` request only. A connection dropped during or
  just after the handshake is probed (:func:`apilink.http.tls.diagnose`): a refused client
  certificate is :class:`~apilink.errors.TLSRefused`, which is never retried;
- with a ``policy`` (:class:`~apilink.http.origin.OriginPolicy`), a request to another origin, or
  down to http, is refused before it is sent; with ``max_response_bytes``, every body (a token
  endpoint's too) is decoded by :mod:`apilink.http.body_limit` and refused past the limit.

The aiohttp session is opened on the first request (it belongs to the running event loop) and
closed by ``aclose()``, which ``httpx.AsyncClient.aclose()`` calls.

:meth:`AiohttpTransport.fetch` serves the fast lane of
:func:`apilink.http.sending.send_with_retry`: it
sends a request as ``handle_async_request`` does, then reads the answer whole within a byte
limit and hands back a read ``httpx.Response``, without httpx's streaming machinery in between.
A body without ``Content-Encoding`` is taken from aiohttp as it came; an encoded one is decoded
by httpx, counted as :func:`read_limited` counts any streamed body.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp
import httpx

from apilink.errors import BodyOverLimit
from apilink.http.body_limit import BoundedDecoder, bounded_response
from apilink.http.origin import OriginPolicy
from apilink.http.tls import ClientTLS, diagnose, is_tls_failure

__all__ = ["AiohttpTransport", "read_limited"]

_CHUNK = 64 * 1024
# httpx sets these itself (or leaves them out on purpose); aiohttp must not add its own.
_SKIP_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
# A body kept decoded no longer matches the headers that described it on the wire.
_WIRE_HEADERS = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})
_HTTP_11 = {"http_version": b"HTTP/1.1"}


class _ResponseStream(httpx.AsyncByteStream):
    """The body of an aiohttp response as an httpx stream; errors become httpx errors."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(_CHUNK):
                yield chunk
        except Exception as exc:
            raise _httpx_error(exc, self._request) from exc

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests through one aiohttp session with a bounded connection pool.

    Use as ``httpx.AsyncClient(transport=AiohttpTransport(max_connections=32))``.

    Args:
        max_connections: connections open at once (further requests wait for one, at most the
            request's ``pool`` timeout).
        keepalive_expiry: seconds an idle connection is kept.
        verify: ``True`` (certifi's CA bundle), ``False`` (no verification), or a CA bundle
            path; ignored when ``tls`` is given.
        tls: the connection's TLS, its client certificate included (it has ``verify``).
        trust_env: read proxy settings and ``.netrc`` from the environment, as aiohttp does.
        policy: where requests may go (``None``: anywhere).
        max_response_bytes: decoded bytes allowed in any body (``None``: no limit).
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        keepalive_expiry: float = 5.0,
        verify: bool | str = True,
        trust_env: bool = False,
        policy: OriginPolicy | None = None,
        max_response_bytes: int | None = None,
        tls: ClientTLS | None = None,
    ) -> None:
        self.policy = policy
        self.tls = tls if tls is not None else ClientTLS(verify)
        self.max_response_bytes = max_response_bytes
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self.verify = self.tls.verify
        self.trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | bool | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                limit_per_host=0,
                keepalive_timeout=self.keepalive_expiry,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
                auto_decompress=False,  # httpx decodes
                skip_auto_headers=_SKIP_AUTO_HEADERS,
                trust_env=self.trust_env,
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    def _tls(self) -> ssl.SSLContext | bool:
        if self._ssl is None:
            plain = self.tls.verify is False and self.tls.identity is None
            self._ssl = False if plain else self.tls.context()
        return self._ssl

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = await self._start(request)
        try:
            return bounded_response(_streamed(answer, request), self._cap(None), request=request)
        except BaseException:
            answer.release()
            raise

    def _cap(self, max_bytes: int | None) -> int | None:
        limits = [n for n in (max_bytes, self.max_response_bytes) if n is not None]
        return min(limits) if limits else None

    async def fetch(
        self, request: httpx.Request, *, max_bytes: int | None = None
    ) -> httpx.Response:
        """Send ``request`` and read the answer whole, refusing a body over ``max_bytes``.

        The request is sent as it is: auth, cookies and hooks are the caller's to apply. The
        body is decoded as httpx decodes it.

        Returns:
            A read response carrying ``request``, without the headers of the wire encoding
            (``Content-Length`` is set again, to the decoded length).

        Raises:
            httpx.TransportError: what ``handle_async_request`` and its stream raise.
            BodyOverLimit: the body declares or runs past ``max_bytes`` (``None``: no limit).
        """
        response = await self._start(request)
        max_bytes = self._cap(max_bytes)
        if "Content-Encoding" in response.headers:
            return await read_limited(_streamed(response, request), max_bytes)
        try:
            body = await _read_plain(response, request, max_bytes)
        finally:
            response.release()
        return _read_response(response.status, response.raw_headers, body, request)

    async def _start(self, request: httpx.Request) -> aiohttp.ClientResponse:
        """Send ``request``: the answer's status and headers are in, its body is not read."""
        if self.policy is not None:
            self.policy.check(request.url)
        session = self._open()
        timeout: dict[str, float | None] = request.extensions.get("timeout", {})
        options: dict[str, Any] = {
            # aiohttp frames a streamed body itself (chunked); it refuses the header as well.
            "headers": [
                (k, v) for k, v in request.headers.multi_items() if k != "transfer-encoding"
            ],
            "data": _body(request),
            "allow_redirects": False,
            "timeout": aiohttp.ClientTimeout(
                total=None,
                connect=timeout.get("pool"),
                sock_connect=timeout.get("connect"),
                sock_read=timeout.get("read"),
            ),
        }
        if request.url.scheme == "https":
            options["ssl"] = self._tls()
        try:
            return await session.request(request.method, str(request.url), **options)
        except Exception as exc:
            if request.url.scheme == "https" and is_tls_failure(exc):
                what = self.policy.what if self.policy is not None else "API"
                refused = await diagnose(self.tls, request.url, what)
                if refused is not None:
                    raise refused from None
            raise _httpx_error(exc, request) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def read_limited(response: httpx.Response, max_bytes: int | None) -> httpx.Response:
    """A streamed ``response`` read whole and decoded, as a read response; closes it.

    Decoded bytes are counted as they are inflated
    (:class:`~apilink.http.body_limit.BoundedDecoder`),
    so a small compressed body that inflates past ``max_bytes`` is refused like one that
    declares or sends too many, without ever being inflated whole.

    Returns:
        A read copy with the ``request``, ``extensions`` and ``history`` of ``response``,
        without the headers of the wire encoding.

    Raises:
        BodyOverLimit: the body declares or runs past ``max_bytes`` (``None``: no limit).
    """
    decoder = BoundedDecoder(response.headers.get("content-encoding", ""), max_bytes)
    body = bytearray()
    try:
        decoder.declared(response.headers.get("content-length"))
        if response.is_stream_consumed:  # read already (an auth flow reads what it sees)
            body += decoder.feed_whole(response.content)
        else:
            async for part in response.aiter_raw():
                for piece in decoder.feed(part):
                    body += piece
            body += decoder.flush()
    finally:
        await response.aclose()
    read = _read_response(response.status_code, response.headers.raw, bytes(body), response.request)
    read.extensions = response.extensions
    read.history = response.history
    return read


def _streamed(response: aiohttp.ClientResponse, request: httpx.Request) -> httpx.Response:
    """``response`` as httpx takes it from a transport: its body a stream, still to be read."""
    return httpx.Response(
        response.status,
        headers=list(response.raw_headers),
        stream=_ResponseStream(response, request),
        request=request,
        extensions=_HTTP_11,
    )


async def _read_plain(
    response: aiohttp.ClientResponse, request: httpx.Request, max_bytes: int | None
) -> bytes:
    """The body of an answer without ``Content-Encoding``, as it came, within ``max_bytes``."""
    declared = response.content_length
    if max_bytes is not None and declared is not None and declared > max_bytes:
        raise BodyOverLimit(f"declares {declared} bytes", max_bytes)
    try:
        if max_bytes is None or declared is not None:
            return await response.read()
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > max_bytes:
                raise BodyOverLimit("is longer", max_bytes)
        return bytes(body)
    except BodyOverLimit:
        raise
    except Exception as exc:
        raise _httpx_error(exc, request) from exc


def _read_response(
    status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes, request: httpx.Request
) -> httpx.Response:
    """A read ``httpx.Response`` of a decoded ``body`` (its encoding headers dropped, so httpx
    reads it as it is; ``content=`` sets its length)."""
    kept = [(k, v) for k, v in headers if k.lower() not in _WIRE_HEADERS]
    return httpx.Response(status, headers=kept, content=body, request=request, extensions=_HTTP_11)


def _body(request: httpx.Request) -> bytes | AsyncIterator[bytes] | None:
    try:
        content = request.content
    except httpx.RequestNotRead:
        return _stream(request)
    return content or None


async def _stream(request: httpx.Request) -> AsyncIterator[bytes]:
    assert isinstance(request.stream, httpx.AsyncByteStream)
    async for chunk in request.stream:
        yield chunk


def _httpx_error(exc: BaseException, request: httpx.Request) -> Exception:
    """The httpx exception that stands for an aiohttp (or socket) error."""
    if isinstance(exc, httpx.HTTPError):
        return exc
    message = str(exc) or type(exc).__name__
    error: type[httpx.TransportError]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        error = httpx.ConnectTimeout
    elif isinstance(exc, aiohttp.SocketTimeoutError):
        error = httpx.ReadTimeout
    elif isinstance(exc, TimeoutError):
        error = httpx.PoolTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        error = httpx.ConnectError
    elif isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        error = httpx.RemoteProtocolError
    elif isinstance(exc, aiohttp.ClientResponseError):  # a malformed status line or header
        error = httpx.RemoteProtocolError
    elif isinstance(exc, aiohttp.InvalidURL):
        error = httpx.UnsupportedProtocol
    elif isinstance(exc, aiohttp.ClientError | OSError):
        error = httpx.ReadError
    else:
        return exc if isinstance(exc, Exception) else RuntimeError(message)
    return error(message, request=request)
