"""HTTP clients and sending with retries.

One ``httpx.AsyncClient`` per API per run, shared by every chunk, so connections are reused.

:func:`send_with_retry` is the only place a request is sent:

- transient failures (connection errors, timeouts, 408, 429, 502, 503, 504) are tried again
  until the request's deadline, not a small count: a storm of 429s costs time, not records.
  ``retry.max_attempts``, when set, caps the count too; another status in ``retry_on_status``
  (a 500 is more often a bug than a passing state) is tried at most ``max_attempts`` times, 3
  when unset, and so is everything when no deadline is given;
- each wait is exponential backoff with full jitter, and never shorter than the server's
  ``Retry-After`` (seconds or an HTTP date, capped by ``max_retry_after``); a wait that would
  end past the deadline is not begun;
- a POST or PATCH is tried again only when it carries an idempotency key;
- a 4xx other than 408, 409 (a keyed request still in progress) and 429 is never tried again;
- the whole exchange, waits included, ends by an overall deadline;
- bodies are streamed and counted: one larger than ``max_response_bytes`` is refused
  (:class:`ResponseTooLarge`) instead of being buffered.

The loader's requests (``fast_lane=True``) go through :mod:`apilink.http.fast_lane` when the
client allows it; every other request goes through httpx's client.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from apilink.config.models import ConnectionConfig, RetryConfig, TimeoutConfig
from apilink.errors import (
    BodyOverLimit,
    DeadlineExceeded,
    HTTPStatusError,
    ResponseTooLarge,
    TransportError,
)
from apilink.http.aiohttp_transport import read_limited
from apilink.http.clients import api_client
from apilink.http.fast_lane import fast_lane, fast_request, json_body, resolve_url, send_fast
from apilink.redaction import sanitize_url

__all__ = [
    "DEFAULT_ATTEMPTS",
    "TRANSIENT_STATUSES",
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
# Retried until the deadline: the server said "later", or it is not answering yet.
TRANSIENT_STATUSES = frozenset({408, 429, 502, 503, 504})
# The count for other retryable statuses, and for everything when there is no deadline.
DEFAULT_ATTEMPTS = 3


def build_client(
    connection: ConnectionConfig,
    *,
    timeout: TimeoutConfig,
    auth: httpx.Auth | None,
    transport: httpx.AsyncBaseTransport | None = None,
    what: str = "API",
) -> httpx.AsyncClient:
    """An async client for ``connection``, built by :func:`apilink.http.clients.api_client`: base
    URL, headers, TLS, timeouts, pool size, and the rules every client keeps (https, its own
    origin only, bodies capped after decompression).

    Requests go through :class:`~apilink.http.aiohttp_transport.AiohttpTransport` unless a
    ``transport`` is given (tests pass mock transports): httpx's own pool costs several times
    more per request when many small ones are in flight.
    """
    return api_client(connection, what=what, timeout=timeout, auth=auth, transport=transport)


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

    def attempt_limit(self, status: int | None) -> int | None:
        """How many attempts a request may take when it fails with ``status`` (``None``: a
        connection error or timeout); ``None`` means as many as the deadline allows."""
        configured = self.config.max_attempts
        if configured is not None:
            return configured
        transient = status is None or status in TRANSIENT_STATUSES
        if transient and self.deadline is not None:
            return None
        return DEFAULT_ATTEMPTS

    def delay(
        self, attempt: int, response: httpx.Response | None, now: datetime | None = None
    ) -> float:
        """Seconds to wait after failed ``attempt`` (1-based): jittered exponential backoff,
        and at least the server's ``Retry-After`` (capped by ``max_retry_after``), so a
        ``Retry-After: 0`` storm is not answered with a tight loop."""
        ceiling = min(self.config.max_backoff, self.config.backoff_factor * 2 ** (attempt - 1))
        backoff = self._rng.uniform(0, ceiling)
        retry_after = _retry_after(response, now or self._now()) if response is not None else None
        if retry_after is None:
            return backoff
        return max(backoff, min(retry_after, self.config.max_retry_after))


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
    fast_lane: bool = False,
    **kwargs: Any,
) -> httpx.Response:
    """Send a request, retrying connection errors and retryable statuses.

    Args:
        client: the API's client.
        method: the HTTP method.
        url: a path relative to the client's base URL, or an absolute URL from
            :func:`resolve_url` (which spares httpx parsing the URL again on every request).
        policy: attempts, backoff, deadline, body cap, sleep and clock (the one retry policy).
        idempotent: whether resending is harmless; by default only for GET, HEAD, OPTIONS, PUT
            and DELETE. Pass ``True`` for a POST or PATCH that carries an idempotency key.
        fast_lane: send through :mod:`apilink.http.fast_lane` when the client allows it (the
            loader's requests, one per record; everything else goes through httpx's client).
        **kwargs: ``json``, ``params``, ``headers`` ... as ``client.build_request`` takes them.

    Returns:
        The last response, whatever its status, once retries are exhausted, not allowed, or
        their next wait would end past the deadline. Its body is already read.

    Raises:
        TransportError: the last attempt could not connect or read an answer.
        DeadlineExceeded: the overall deadline passed during an attempt.
        ResponseTooLarge: a body over the cap (never retried).
    """
    keyed = bool(idempotent)
    may_retry = idempotent if idempotent is not None else method.upper() in _IDEMPOTENT_METHODS
    started = policy.clock()

    def remaining() -> float:
        if policy.deadline is None:
            return float("inf")
        return policy.deadline - (policy.clock() - started)

    def exhausted(attempt: int, status: int | None) -> bool:
        limit = policy.attempt_limit(status)
        return not may_retry or (limit is not None and attempt >= limit)

    attempt = 0
    while True:
        attempt += 1
        left = remaining()
        if left <= 0:
            raise DeadlineExceeded(f"{method} {_safe(client, url)}: deadline passed")
        response: httpx.Response | None = None
        try:
            async with asyncio.timeout(None if left == float("inf") else left):
                response = await _send_capped(client, method, url, policy, kwargs, fast_lane)
        except TimeoutError:
            raise DeadlineExceeded(
                f"{method} {_safe(client, url)}: no answer within the "
                f"{policy.deadline:g} s deadline (attempt {attempt})"
            ) from None
        except (httpx.TransportError, httpx.DecodingError) as exc:
            failure = type(exc).__name__
            wait = policy.delay(attempt, None)
            if exhausted(attempt, None) or wait >= remaining():
                raise TransportError(
                    f"{method} {_safe(client, url)} failed after {attempt} attempt(s): {failure}"
                ) from None
            await policy.sleep(wait)
            continue
        status = response.status_code
        if not policy.should_retry_status(status, keyed=keyed) or exhausted(attempt, status):
            return response
        wait = policy.delay(attempt, response)
        if wait >= remaining():
            return response
        await policy.sleep(wait)


async def _send_capped(
    client: httpx.AsyncClient,
    method: str,
    url: str | httpx.URL,
    policy: RetryPolicy,
    kwargs: dict[str, Any],
    fast: bool = False,
) -> httpx.Response:
    """One attempt; the body is read (decoded) and counted against the cap, then kept."""
    cap = policy.max_response_bytes
    try:
        lane = fast_lane(client, url, kwargs) if fast else None
        if lane is not None:
            transport, absolute = lane
            request = fast_request(client, method, absolute, kwargs)
            return await send_fast(client, transport, request, cap)
        request = client.build_request(method, url, **kwargs)
        return await read_limited(await client.send(request, stream=True), cap)
    except BodyOverLimit as exc:
        raise _too_large(client, method, url, exc.limit, exc.detail) from None


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


def _safe(client: httpx.AsyncClient, url: str | httpx.URL) -> str:
    return _mask_query(client.base_url.join(url))


def _mask_query(url: httpx.URL) -> str:
    return sanitize_url(str(url))
