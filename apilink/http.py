"""HTTP clients and sending with retries.

One ``httpx.AsyncClient`` per API per run, shared by every chunk, so connections are reused.
Retries honour ``Retry-After`` (seconds or an HTTP date, capped), back off exponentially with
full jitter, and never resend a non-idempotent request.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from apilink.config.models import ConnectionConfig, RetryConfig, TimeoutConfig
from apilink.errors import HTTPStatusError, TransportError

__all__ = ["RetryPolicy", "build_client", "raise_for_status", "send_with_retry"]

Sleep = Callable[[float], Awaitable[None]]

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def build_client(
    connection: ConnectionConfig,
    *,
    timeout: TimeoutConfig,
    auth: httpx.Auth | None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An async client for ``connection``: base URL, headers, TLS, timeouts and pool size."""
    limit = connection.max_concurrency
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
    """

    def __init__(self, config: RetryConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self._rng = rng or random.Random()

    def should_retry_status(self, status: int) -> bool:
        return status in self.config.retry_on_status

    def delay(
        self, attempt: int, response: httpx.Response | None, now: datetime | None = None
    ) -> float:
        """Seconds to wait after failed ``attempt`` (1-based)."""
        retry_after = _retry_after(response, now) if response is not None else None
        if retry_after is not None:
            return min(retry_after, self.config.max_retry_after)
        ceiling = min(self.config.max_backoff, self.config.backoff_factor * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)


def _retry_after(response: httpx.Response, now: datetime | None) -> float | None:
    header = response.headers.get("Retry-After")
    if header is None:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


async def send_with_retry(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    policy: RetryPolicy,
    idempotent: bool | None = None,
    sleep: Sleep = asyncio.sleep,
    **kwargs: Any,
) -> httpx.Response:
    """Send a request, retrying connection errors and retryable statuses.

    A POST or PATCH is retried only when ``idempotent`` is true (it carries an idempotency key).
    Returns the last response, whatever its status, once retries are exhausted or not allowed;
    raises ``TransportError`` when the last attempt could not connect.
    """
    may_retry = idempotent if idempotent is not None else method.upper() in _IDEMPOTENT_METHODS
    attempts = policy.config.max_attempts if may_retry else 1
    for attempt in range(1, attempts + 1):
        try:
            response = await client.request(method, url, **kwargs)
        except (httpx.TransportError, httpx.DecodingError) as exc:
            if attempt >= attempts:
                raise TransportError(
                    f"{method} {_safe(client, url)} failed after {attempt} attempt(s): "
                    f"{type(exc).__name__}"
                ) from None
            await sleep(policy.delay(attempt, None))
            continue
        if attempt < attempts and policy.should_retry_status(response.status_code):
            await response.aread()
            await sleep(policy.delay(attempt, response))
            continue
        return response
    raise AssertionError("unreachable")  # pragma: no cover


def raise_for_status(response: httpx.Response) -> None:
    """Raise ``HTTPStatusError`` naming the status and the URL (query values masked)."""
    if response.is_success:
        return
    url = _mask_query(response.request.url)
    raise HTTPStatusError(
        f"{response.request.method} {url} answered {response.status_code} "
        f"{response.reason_phrase}",
        status_code=response.status_code,
        url=url,
    )


def _safe(client: httpx.AsyncClient, url: str) -> str:
    return _mask_query(client.base_url.join(url))


def _mask_query(url: httpx.URL) -> str:
    if not url.query:
        return str(url)
    return str(url.copy_with(query=None)) + "?" + "&".join(f"{k}=***" for k in url.params)
