"""Rate limits that hold across workers: Prefect global concurrency limits when a server is
configured, a local token bucket otherwise.

A global concurrency limit with ``slot_decay_per_second`` is Prefect's rate limiter: each request
occupies one slot and slots free themselves at the configured rate, on the server, so every
worker of the pool draws from the same budget.
"""

from __future__ import annotations

import httpx
from prefect.client.orchestration import get_client
from prefect.concurrency.asyncio import rate_limit
from prefect.exceptions import ObjectAlreadyExists
from prefect.settings import PREFECT_API_URL

from apilink.config.models import ConnectionConfig, SyncConfig
from apilink.http.rate_limit import RequestLimiter, TokenBucket, limit_name, rate_limited_transport
from apilink.http.rate_limit_config import RateLimitConfig

__all__ = [
    "GlobalRateLimiter",
    "ensure_global_rate_limit",
    "rate_limited_transports",
    "request_limiter",
    "server_configured",
]


def server_configured() -> bool:
    """Whether runs talk to a Prefect server (``PREFECT_API_URL``), not an ephemeral one."""
    return bool(PREFECT_API_URL.value())


class GlobalRateLimiter:
    """One slot of the Prefect global concurrency limit ``name`` per request."""

    def __init__(self, name: str, *, timeout_seconds: float | None = None) -> None:
        self.name = name
        self.timeout_seconds = timeout_seconds

    async def acquire(self) -> None:
        # strict: a missing limit is an error, never a silent "no limit at all".
        await rate_limit(self.name, occupy=1, timeout_seconds=self.timeout_seconds, strict=True)


async def ensure_global_rate_limit(name: str, config: RateLimitConfig) -> None:
    """Create or update the global limit ``name`` to hold ``config`` (idempotent).

    Prefect's upsert reads, then creates: it is not atomic, so when the partitions of one sync
    start together on several workers, all but one of them find no limit and the server refuses
    their create (``ObjectAlreadyExists``). The limit then exists, and a second upsert finds it
    and brings it to ``config``.
    """
    async with get_client() as client:
        for attempt in range(2):
            try:
                await client.upsert_global_concurrency_limit_by_name(
                    name, limit=config.capacity, slot_decay_per_second=config.requests_per_second
                )
                return
            except ObjectAlreadyExists:
                if attempt:
                    raise


async def request_limiter(connection: ConnectionConfig) -> RequestLimiter | None:
    """The limiter for ``connection``'s ``rate_limit``, or ``None`` when it has none."""
    config = connection.rate_limit
    if config is None:
        return None
    if not server_configured():
        return TokenBucket.from_config(config)
    name = limit_name(connection)
    await ensure_global_rate_limit(name, config)
    return GlobalRateLimiter(name)


async def rate_limited_transports(config: SyncConfig) -> dict[str, httpx.AsyncBaseTransport]:
    """Transports by side (``source`` / ``target``) for ``SyncSession(transports=...)``."""
    transports: dict[str, httpx.AsyncBaseTransport] = {}
    for side, connection in (("source", config.source), ("target", config.target)):
        limiter = await request_limiter(connection)
        if limiter is not None:
            transports[side] = rate_limited_transport(connection, limiter)
    return transports
