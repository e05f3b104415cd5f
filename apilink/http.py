"""HTTP clients and sending with retries.

One ``httpx.AsyncClient`` per API per run, shared by every chunk, so connections are reused.

:func:`send_with_retry` is the only place a request is sent:

- connection errors, timeouts and retryable statuses are tried again, with exponential backoff
  and full jitter, or after the server's ``Retry-After`` (seconds or an HTTP date, capped);
- a POST or PATCH is tried again only when it carries an idempotency key;
- a 4xx other than 408, 409 (a keyed request still in progress) and 429 is never tried again;
- the whole exchange, waits included, ends by an overall deadline;
- bodies are streamed and counted: one larger than ``max_response_bytes`` is refused
  (:class:`ResponseTooLarge`) instead of being buffered.

A client built by :func:`build_client` sends through a fast lane: the request is built and
handed to :meth:`AiohttpTransport.fetch <apilink.aiohttp_transport.AiohttpTransport.fetch>`
without the general machinery of ``httpx.AsyncClient`` (its header, cookie and URL merging,
streamed responses, event hooks), which costs several times what aiohttp spends on a small
request. The lane does what the client would: base URL, default headers, timeouts, the client's
``auth`` flow (so an OAuth token is renewed and a 401 retried once), cookies an answer sets.
A request the lane does not cover goes through the client: another transport (a
``MockTransport``, a proxy), event hooks, cookies to send, redirects followed, or arguments
other than ``json``, ``params`` and ``headers``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from apilink.aiohttp_transport import AiohttpTransport, BodyOverLimit, read_limited
from apilink.config.models import ConnectionConfig, RetryConfig, TimeoutConfig
from apilink.errors import HTTPStatusError, TransportError
from apilink.redaction import sanitize_url

__all__ = [
    "DeadlineExceeded",
    "ResponseTooLarge",
    "RetryPolicy",
    "build_client",
    "json_body",
    "raise_for_status",
    "resolve_url",
    "send_with_retry",
]

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_RETRYABLE_4XX = frozenset({408, 409, 429})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_FAST_ARGUMENTS = frozenset({"json", "content", "params", "headers"})
# httpx's encoding of ``json=`` (compact, UTF-8, no NaN), with one encoder for every request.
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def json_body(value: Any) -> bytes:
    """``value`` as httpx encodes a ``json=`` body (compact UTF-8; NaN refused).

    Raises:
        ValueError: a NaN or infinite number.
        TypeError: a value JSON has no form for.
    """
    return _encode_json(value).encode()


# The fast lane logs the line httpx logs for each request, so a log that showed them still does.
_httpx_log = logging.getLogger("httpx")


class ResponseTooLarge(TransportError):
    """A response body exceeded the connection's ``max_response_bytes``; it was not kept."""


class DeadlineExceeded(TransportError):
    """The request's overall deadline passed before an answer came."""


def build_client(
    connection: ConnectionConfig,
    *,
    timeout: TimeoutConfig,
    auth: httpx.Auth | None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An async client for ``connection``: base URL, headers, TLS, timeouts and pool size.

    Requests go through :class:`~apilink.aiohttp_transport.AiohttpTransport` unless a
    ``transport`` is given (tests pass mock transports): httpx's own pool costs several times
    more per request when many small ones are in flight.
    """
    limit = connection.max_concurrency
    if transport is None:
        transport = AiohttpTransport(max_connections=limit, verify=connection.verify)
    return httpx.AsyncClient(
        base_url=connection.base_url,
        headers=connection.headers,
        auth=auth,
        verify=connection.verify,
        timeout=httpx.Timeout(
            connect=timeout.connect, read=timeout.read, write=timeout.write, pool=timeout.pool
        ),
        limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        transport=transport,
        follow_redirects=False,
    )


class RetryPolicy:
    """When and how long to wait before trying a request again.

    Args:
        config: the ``retry`` section.
        rng: randomness for jitter (a seeded ``random.Random`` in tests).
        deadline: overall seconds for one request, retries and waits included.
        max_response_bytes: larger bodies are refused (``None``: no cap).
        sleep: how to wait (tests pass a fake that only records the delay).
        clock: monotonic seconds, for the deadline (tests pass a fake that ``sleep`` moves).
        now: the wall clock, for ``Retry-After`` dates.
    """

    def __init__(
        self,
        config: RetryConfig,
        rng: random.Random | None = None,
        *,
        deadline: float | None = None,
        max_response_bytes: int | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes
        self.sleep = sleep
        self.clock = clock
        self._now = now or (lambda: datetime.now(UTC))
        self._rng = rng or random.Random()

    @classmethod
    def for_connection(
        cls, retry: RetryConfig, timeout: TimeoutConfig, connection: ConnectionConfig, **kwargs: Any
    ) -> RetryPolicy:
        """The policy of one side of a sync: its retry section, deadline and body cap."""
        return cls(
            retry,
            deadline=timeout.deadline,
            max_response_bytes=connection.max_response_bytes,
            **kwargs,
        )

    def should_retry_status(self, status: int, *, keyed: bool = False) -> bool:
        """Whether a response with ``status`` is worth another attempt.

        A 409 is retried only for a keyed request (the target is still working on the same
        key); any other 4xx but 408 and 429 never is, whatever ``retry_on_status`` says.
        """
        if status == 409:
            return keyed
        if 400 <= status < 500 and status not in _RETRYABLE_4XX:
            return False
        return status in self.config.retry_on_status

    def delay(
        self, attempt: int, response: httpx.Response | None, now: datetime | None = None
    ) -> float:
        """Seconds to wait after failed ``attempt`` (1-based)."""
        retry_after = _retry_after(response, now or self._now()) if response is not None else None
        if retry_after is not None:
            return min(retry_after, self.config.max_retry_after)
        ceiling = min(self.config.max_backoff, self.config.backoff_factor * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)


def _retry_after(response: httpx.Response, now: datetime) -> float | None:
    header = response.headers.get("Retry-After")
    if header is None:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


async def send_with_retry(
    client: httpx.AsyncClient,
    method: str,
    url: str | httpx.URL,
    *,
    policy: RetryPolicy,
    idempotent: bool | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send a request, retrying connection errors and retryable statuses.

    Args:
        client: the API's client.
        method: the HTTP method.
        url: a path relative to the client's base URL, or an absolute URL from
            :func:`resolve_url` (which spares httpx parsing the URL again on every request).
        policy: attempts, backoff, deadline, body cap, sleep and clock.
        idempotent: whether resending is harmless; by default only for GET, HEAD, OPTIONS, PUT
            and DELETE. Pass ``True`` for a POST or PATCH that carries an idempotency key.
        **kwargs: ``json``, ``params``, ``headers`` ... as ``client.build_request`` takes them.

    Returns:
        The last response, whatever its status, once retries are exhausted or not allowed. Its
        body is already read.

    Raises:
        TransportError: the last attempt could not connect or read an answer.
        DeadlineExceeded: the overall deadline passed during an attempt.
        ResponseTooLarge: a body over the cap (never retried).
    """
    keyed = bool(idempotent)
    may_retry = idempotent if idempotent is not None else method.upper() in _IDEMPOTENT_METHODS
    attempts = policy.config.max_attempts if may_retry else 1
    started = policy.clock()

    def remaining() -> float:
        if policy.deadline is None:
            return float("inf")
        return policy.deadline - (policy.clock() - started)

    for attempt in range(1, attempts + 1):
        left = remaining()
        if left <= 0:
            raise DeadlineExceeded(f"{method} {_safe(client, url)}: deadline passed")
        response: httpx.Response | None = None
        try:
            async with asyncio.timeout(None if left == float("inf") else left):
                response = await _send_capped(client, method, url, policy, kwargs)
        except TimeoutError:
            raise DeadlineExceeded(
                f"{method} {_safe(client, url)}: no answer within the "
                f"{policy.deadline:g} s deadline (attempt {attempt})"
            ) from None
        except (httpx.TransportError, httpx.DecodingError) as exc:
            failure = type(exc).__name__
            wait = policy.delay(attempt, None)
            if attempt >= attempts or wait >= remaining():
                raise TransportError(
                    f"{method} {_safe(client, url)} failed after {attempt} attempt(s): {failure}"
                ) from None
            await policy.sleep(wait)
            continue
        if attempt < attempts and policy.should_retry_status(response.status_code, keyed=keyed):
            wait = policy.delay(attempt, response)
            if wait < remaining():
                await policy.sleep(wait)
                continue
        return response
    raise AssertionError("unreachable")  # pragma: no cover


async def _send_capped(
    client: httpx.AsyncClient,
    method: str,
    url: str | httpx.URL,
    policy: RetryPolicy,
    kwargs: dict[str, Any],
) -> httpx.Response:
    """One attempt; the body is read (decoded) and counted against the cap, then kept."""
    cap = policy.max_response_bytes
    try:
        lane = _fast_lane(client, url, kwargs)
        if lane is not None:
            transport, absolute = lane
            request = _fast_request(client, method, absolute, kwargs)
            return await _send_fast(client, transport, request, cap)
        request = client.build_request(method, url, **kwargs)
        return await read_limited(await client.send(request, stream=True), cap)
    except BodyOverLimit as exc:
        raise _too_large(client, method, url, exc.limit, exc.detail) from None


def _fast_lane(
    client: httpx.AsyncClient, url: str | httpx.URL, kwargs: dict[str, Any]
) -> tuple[AiohttpTransport, httpx.URL] | None:
    """The ``AiohttpTransport`` that serves ``url`` and the URL made absolute, when the fast
    lane can stand in for ``client``; ``None`` when the client must send the request itself.

    The lane can when nothing acts on the request but what it does itself: no event hooks, no
    cookies to send, no redirects to follow, no default query parameters, no credentials in the
    URL, and only ``json``, ``params`` and ``headers`` among the arguments.
    """
    if (
        client.is_closed
        or client.follow_redirects
        or client.cookies
        or client.params
        or any(client.event_hooks.values())
        or not kwargs.keys() <= _FAST_ARGUMENTS
    ):
        return None
    absolute = resolve_url(client, url)
    # httpx has no public way to ask which transport (a proxy's, by mount) serves a URL.
    transport = client._transport_for_url(absolute)
    if not isinstance(transport, AiohttpTransport) or (client.auth is None and absolute.userinfo):
        return None
    return transport, absolute


def _fast_request(
    client: httpx.AsyncClient, method: str, url: httpx.URL, kwargs: dict[str, Any]
) -> httpx.Request:
    """The request ``client.build_request`` makes of these arguments, at a fraction of the cost.

    The client's headers are overridden by the request's; a JSON body brings ``Content-Type``
    and ``Content-Length`` unless given, and a POST, PUT or PATCH without a body states
    ``Content-Length: 0``, as httpx does.
    """
    headers = client.headers.copy()
    if kwargs.get("headers"):
        headers.update(kwargs["headers"])
    body = b""
    if kwargs.get("content") is not None:
        body = bytes(kwargs["content"])
    elif kwargs.get("json") is not None:
        body = json_body(kwargs["json"])
        if "content-type" not in headers:
            headers["Content-Type"] = "application/json"
    if (body or method.upper() in _BODY_METHODS) and "content-length" not in headers:
        headers["Content-Length"] = str(len(body))
    request = httpx.Request(
        method,
        url,
        params=kwargs.get("params"),
        headers=headers,
        stream=httpx.ByteStream(body),
        extensions={"timeout": client.timeout.as_dict()},
    )
    request.read()
    return request


async def _send_fast(
    client: httpx.AsyncClient, transport: AiohttpTransport, request: httpx.Request, cap: int | None
) -> httpx.Response:
    """Send ``request`` as ``client.send`` would, each exchange read within ``cap``.

    The client's auth flow is driven as httpx drives it: it may send token requests first, and
    it sees each answer, so an OAuth flow renews its token and resends after a 401.
    """
    auth = client.auth
    if auth is None:
        return await _fetch(client, transport, request, cap)
    flow = auth.async_auth_flow(request)
    history: list[httpx.Response] = []
    try:
        request = await anext(flow)
        while True:
            response = await _fetch(client, transport, request, cap)
            response.history = list(history)
            try:
                request = await flow.asend(response)
            except StopAsyncIteration:
                return response
            history.append(response)
    finally:
        await flow.aclose()


async def _fetch(
    client: httpx.AsyncClient, transport: AiohttpTransport, request: httpx.Request, cap: int | None
) -> httpx.Response:
    """One exchange on the wire; the cookies it sets are kept, as the client keeps them."""
    response = await transport.fetch(request, max_bytes=cap)
    if "set-cookie" in response.headers:
        client.cookies.extract_cookies(response)
    if _httpx_log.isEnabledFor(logging.INFO):
        _httpx_log.info(
            'HTTP Request: %s %s "%s %d %s"',
            request.method,
            request.url,
            response.http_version,
            response.status_code,
            response.reason_phrase,
        )
    return response


def _too_large(
    client: httpx.AsyncClient, method: str, url: str | httpx.URL, cap: int, what: str
) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"{method} {_safe(client, url)}: the response {what} than max_response_bytes "
        f"({cap}); refused"
    )


def raise_for_status(response: httpx.Response) -> None:
    """Raise ``HTTPStatusError`` naming the status and the URL (query values masked)."""
    if response.is_success:
        return
    url = _mask_query(response.request.url)
    raise HTTPStatusError(
        f"{response.request.method} {url} answered {response.status_code} {response.reason_phrase}",
        status_code=response.status_code,
        url=url,
    )


def resolve_url(client: httpx.AsyncClient, path: str | httpx.URL) -> httpx.URL:
    """``path`` under the client's base URL, as httpx resolves it when sending.

    A loader resolves its endpoint once instead of letting httpx parse the joined URL for each
    of a hundred thousand requests.
    """
    url = path if isinstance(path, httpx.URL) else httpx.URL(path)
    if not url.is_relative_url:
        return url
    base = client.base_url
    return base.copy_with(raw_path=base.raw_path + url.raw_path.lstrip(b"/"))


def _safe(client: httpx.AsyncClient, url: str | httpx.URL) -> str:
    return _mask_query(client.base_url.join(url))


def _mask_query(url: httpx.URL) -> str:
    if not url.query:
        return sanitize_url(str(url))
    return str(url.copy_with(query=None)) + "?" + "&".join(f"{k}=***" for k in url.params)
