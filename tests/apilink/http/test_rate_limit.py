from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import ValidationError

from apilink.config.models import ConnectionConfig
from apilink.http.rate_limit import (
    RateLimitedTransport,
    TokenBucket,
    limit_name,
    rate_limited_transport,
)
from apilink.http.rate_limit_config import RateLimitConfig


class FakeClock:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_capacity_defaults_to_one_seconds_worth() -> None:
    assert RateLimitConfig(requests_per_second=2.5).capacity == 3
    assert RateLimitConfig(requests_per_second=0.2).capacity == 1
    assert RateLimitConfig(requests_per_second=5, burst=1).capacity == 1


@pytest.mark.parametrize(
    "section", [{"requests_per_second": 0}, {"requests_per_second": 1, "name": "bad name!"}]
)
def test_bad_sections_are_refused(section: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RateLimitConfig.model_validate(section)


def test_bucket_serves_the_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, capacity=3, clock=clock, sleep=clock.sleep)
    assert [bucket.try_acquire() for _ in range(3)] == [0, 0, 0]
    assert bucket.try_acquire() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.try_acquire() == 0
    clock.now += 60  # a long quiet spell refills up to the capacity, not beyond
    assert [bucket.try_acquire() for _ in range(4)][-1] == pytest.approx(0.5)


def test_acquire_paces_requests_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4, capacity=1, clock=clock, sleep=clock.sleep)

    async def take(n: int) -> None:
        for _ in range(n):
            await bucket.acquire()

    asyncio.run(take(9))
    # one at once, then eight more at 4 per second
    assert clock.now - 100.0 == pytest.approx(2.0)
    assert all(s == pytest.approx(0.25) for s in clock.slept)


def test_concurrent_callers_share_one_budget() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, capacity=5, clock=clock, sleep=clock.sleep)

    async def many() -> None:
        await asyncio.gather(*(bucket.acquire() for _ in range(25)))

    asyncio.run(many())
    assert clock.now - 100.0 == pytest.approx(2.0)


def test_bucket_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, capacity=1)


class CountingLimiter:
    def __init__(self) -> None:
        self.permits = 0

    async def acquire(self) -> None:
        self.permits += 1


def test_transport_takes_a_permit_per_request() -> None:
    limiter = CountingLimiter()
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        assert limiter.permits == len(seen)  # the permit came first
        return httpx.Response(200, json={"ok": True})

    transport = RateLimitedTransport(httpx.MockTransport(handler), limiter)

    async def send() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            for path in ("/a", "/b", "/c"):
                (await client.get(path)).raise_for_status()

    asyncio.run(send())
    assert limiter.permits == 3
    assert seen == ["/a", "/b", "/c"]


def _connection(**extra: object) -> ConnectionConfig:
    return ConnectionConfig.model_validate({"base_url": "https://api.example.com:8443/v1", **extra})


def test_limit_name_comes_from_the_host_or_the_config() -> None:
    assert limit_name(_connection()) == "apilink-api.example.com-8443"
    named = _connection(rate_limit={"requests_per_second": 5, "name": "orders-api"})
    assert limit_name(named) == "orders-api"
    assert limit_name(ConnectionConfig(base_url="https://h.example")) == "apilink-h.example"


def test_connection_accepts_a_rate_limit_section() -> None:
    connection = _connection(rate_limit={"requests_per_second": 5, "burst": 10})
    assert connection.rate_limit == RateLimitConfig(requests_per_second=5, burst=10)


def test_rate_limited_transport_wraps_a_real_transport() -> None:
    limiter = CountingLimiter()
    transport = rate_limited_transport(_connection(max_concurrency=3), limiter)
    assert isinstance(transport.inner, httpx.AsyncHTTPTransport)
    assert transport.limiter is limiter
    asyncio.run(transport.aclose())
