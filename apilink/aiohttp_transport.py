"""An ``httpx`` transport that sends requests with aiohttp.

httpx's own pool (httpcore) spends more time choosing a connection than sending on it when many
small requests are in flight: every request walks every connection, and checks each one's
socket, several times. aiohttp's connector hands out a free connection in constant time, so a
loader that POSTs one record per request runs several times faster over it. Everything above
the transport stays httpx: auth flows, redirects (off), cookies, event hooks, ``Response``.

What the transport does, so that retries and caps behave as with httpx's own transport:

- request bodies are passed through (a streaming body stays a stream), and response bodies are
  streamed undecoded: httpx decodes ``Content-Encoding`` and :func:`apilink.http.send_with_retry`
  counts the bytes against ``max_response_bytes``;
- the ``connect``, ``read`` and ``pool`` timeouts of the request map to aiohttp's
  ``sock_connect``, ``sock_read`` and ``connect`` (aiohttp has no write timeout; the overall
  deadline of ``send_with_retry`` bounds a stalled upload);
- aiohttp's errors become httpx's: :class:`httpx.ConnectError`, :class:`httpx.ConnectTimeout`,
  :class:`httpx.ReadTimeout`, :class:`httpx.PoolTimeout`, :class:`httpx.ReadError`,
  :class:`httpx.RemoteProtocolError`, so they are retried where httpx's would be;
- TLS: ``verify`` is ``True`` (certifi's bundle, as httpx), ``False``, or a CA bundle path; the
  context is built on the first ``https://`` request only.

The aiohttp session is opened on the first request (it belongs to the running event loop) and
closed by ``aclose()``, which ``httpx.AsyncClient.aclose()`` calls.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx

__all__ = ["AiohttpTransport"]

_CHUNK = 64 * 1024
# httpx sets these itself (or leaves them out on purpose); aiohttp must not add its own.
_SKIP_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


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
            path.
        trust_env: read proxy settings and ``.netrc`` from the environment, as aiohttp does.
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        keepalive_expiry: float = 5.0,
        verify: bool | str = True,
        trust_env: bool = False,
    ) -> None:
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self.verify = verify
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
            if self.verify is False:
                self._ssl = False
            else:
                import certifi

                cafile = self.verify if isinstance(self.verify, str) else certifi.where()
                self._ssl = ssl.create_default_context(cafile=cafile)
        return self._ssl

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
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
            response = await session.request(request.method, str(request.url), **options)
        except Exception as exc:
            raise _httpx_error(exc, request) from exc
        return httpx.Response(
            response.status,
            headers=list(response.raw_headers),
            stream=_ResponseStream(response, request),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


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
