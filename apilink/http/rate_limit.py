"""Requests per second per API: the ``rate_limit`` section, a local token bucket, and an httpx
transport that waits for a permit before each request.

```yaml
source:
  base_url: https://api.example.com
  rate_limit:
    requests_per_second: 10
    burst: 20            # optional; defaults to one second's worth
    name: example-api    # optional; the Prefect global concurrency limit shared by workers
```

One process uses :class:`TokenBucket`. When runs on many workers must share one budget, the
task layer (``tasks/rate_limit.py``) hands :class:`RateLimitedTransport` a limiter backed by a
Prefect global concurrency limit instead; both satisfy :class:`RequestLimiter`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

import httpx

from apilink.http.rate_limit_config import RateLimitConfig
from apilink.http.tls import connection_tls

if TYPE_CHECKING:
    from apilink.config.models import ConnectionConfig

__all__ = [
    "RateLimitedTransport",
    "RequestLimiter",
    "TokenBucket",
    "limit_name",
    "rate_limited_transport",
]

_EPSILON = 1e-9


class RequestLimiter(Protocol):
    """Something that returns once the next request may go out."""

    async def acquire(self) -> None: ...


class TokenBucket:
    """A token bucket: ``capacity`` tokens, refilled at ``rate`` per second.

    Args:
        rate: tokens added per second.
        capacity: most tokens held at once (the burst).
        clock: monotonic seconds; pin it in tests.
        sleep: how to wait; tests pass one that advances their clock.
    """

    def __init__(
        self,
        rate: float,
        capacity: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(capacity)
        self._updated = clock()
        self._lock = asyncio.Lock()

    @classmethod
    def from_config(
        cls,
        config: RateLimitConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> TokenBucket:
        return cls(config.requests_per_second, config.capacity, clock=clock, sleep=sleep)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.capacity), self._tokens + elapsed * self.rate)
        self._updated = now

    def try_acquire(self) -> float:
        """Take a token if one is there; else return the seconds until one will be (> 0)."""
        self._refill()
        # A waiter sleeps exactly until a token is due; float rounding must not send it back
        # to sleep for a few femtoseconds forever.
        if self._tokens >= 1 - _EPSILON:
            self._tokens = max(0.0, self._tokens - 1)
            return 0.0
        return (1 - self._tokens) / self.rate

    async def acquire(self) -> None:
        """Wait for a token; callers are served one at a time, in order of arrival."""
        async with self._lock:
            while (wait := self.try_acquire()) > 0:
                await self._sleep(wait)


class RateLimitedTransport(httpx.AsyncBaseTransport):
    """Waits for ``limiter`` before handing each request (retries included) to ``inner``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limiter: RequestLimiter) -> None:
        self.inner = inner
        self.limiter = limiter

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.limiter.acquire()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def rate_limited_transport(
    connection: ConnectionConfig, limiter: RequestLimiter
) -> RateLimitedTransport:
    """A transport for ``connection`` with its TLS and pool settings, behind ``limiter``.

    httpx ignores ``verify`` and ``limits`` of a client given its own transport, so they are set
    here on the inner transport, the ``tls`` client certificate included.
    """
    size = connection.max_concurrency
    inner = httpx.AsyncHTTPTransport(
        verify=connection_tls(connection, "connection").for_httpx(),
        limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
    )
    return RateLimitedTransport(inner, limiter)


def limit_name(connection: ConnectionConfig) -> str:
    """The global limit's name: ``rate_limit.name``, else ``apilink-<host>`` (port included).

    Every sync that talks to the same API shares the budget, whatever the sync is called.
    """
    config = connection.rate_limit
    if config is not None and config.name is not None:
        return config.name
    url = httpx.URL(connection.base_url)
    host = url.host + (f"-{url.port}" if url.port else "")
    return "apilink-" + re.sub(r"[^A-Za-z0-9_.-]", "-", host)
