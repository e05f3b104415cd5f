"""Rate limits shared across workers: a Prefect global concurrency limit on a real server."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError
from prefect.settings import PREFECT_API_URL, temporary_settings

from apilink.config.models import ConnectionConfig, SyncConfig
from apilink.demo import TargetInbox, make_target_app, serve
from apilink.http.rate_limit import RateLimitedTransport, TokenBucket
from apilink.http.rate_limit_config import RateLimitConfig
from tasks.rate_limit import (
    GlobalRateLimiter,
    ensure_global_rate_limit,
    rate_limited_transports,
    request_limiter,
    server_configured,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]


def _connection(url: str = "http://127.0.0.1:9", **rate: object) -> ConnectionConfig:
    section = {"rate_limit": rate} if rate else {}
    return ConnectionConfig.model_validate({"base_url": url, **section})


def test_a_configured_server_gets_a_global_limit_with_slot_decay() -> None:
    assert server_configured()
    connection = _connection(requests_per_second=5, burst=2, name="apilink-test-rps")

    async def scenario() -> tuple[object, int, float | None]:
        limiter = await request_limiter(connection)
        assert isinstance(limiter, GlobalRateLimiter)
        for _ in range(4):  # two at once, then as the slots decay
            await limiter.acquire()
        async with get_client() as client:
            limit = await client.read_global_concurrency_limit_by_name("apilink-test-rps")
        return limiter, limit.limit, limit.slot_decay_per_second

    limiter, size, decay = asyncio.run(scenario())
    assert isinstance(limiter, GlobalRateLimiter) and limiter.name == "apilink-test-rps"
    assert (size, decay) == (2, 5.0)


def test_partitions_starting_together_all_get_the_one_limit() -> None:
    # Prefect's upsert reads, then creates: eight runs at once race to create the same limit.
    config = RateLimitConfig(requests_per_second=4, burst=3)

    async def scenario() -> tuple[int, float | None]:
        await asyncio.gather(
            *(ensure_global_rate_limit("apilink-test-race", config) for _ in range(8))
        )
        async with get_client() as client:
            limit = await client.read_global_concurrency_limit_by_name("apilink-test-race")
        return limit.limit, limit.slot_decay_per_second

    assert asyncio.run(scenario()) == (3, 4.0)


def test_a_missing_global_limit_is_an_error_not_no_limit() -> None:
    async def scenario() -> None:
        await GlobalRateLimiter("apilink-test-never-created", timeout_seconds=5).acquire()

    with pytest.raises(ConcurrencySlotAcquisitionError, match="must be created"):
        asyncio.run(scenario())


def test_without_a_server_the_limit_is_a_local_bucket() -> None:
    with temporary_settings({PREFECT_API_URL: None}):
        assert not server_configured()
        limiter = asyncio.run(request_limiter(_connection(requests_per_second=3)))
    assert isinstance(limiter, TokenBucket)
    assert (limiter.rate, limiter.capacity) == (3, 3)


def test_no_section_no_limiter() -> None:
    assert asyncio.run(request_limiter(_connection())) is None


def test_requests_go_through_the_shared_limit() -> None:
    inbox = TargetInbox()
    with serve(make_target_app(inbox)) as target_url:
        config = SyncConfig.model_validate(
            {
                "source": {"base_url": "http://127.0.0.1:9", "endpoints": {"s": {"path": "/"}}},
                "target": {
                    "base_url": target_url,
                    "rate_limit": {"requests_per_second": 20, "name": "apilink-test-target"},
                    "endpoints": {"t": {"path": "/profiles", "method": "POST"}},
                },
                "mapping": [{"source": "s", "target": "t"}],
            }
        )

        async def scenario() -> list[int]:
            transports = await rate_limited_transports(config)
            assert set(transports) == {"target"}
            transport = transports["target"]
            assert isinstance(transport, RateLimitedTransport)
            async with httpx.AsyncClient(transport=transport, base_url=target_url) as client:
                responses = [await client.post("/profiles", json={"n": n}) for n in range(5)]
            return [r.status_code for r in responses]

        assert asyncio.run(scenario()) == [201] * 5
    assert len(inbox.records) == 5
