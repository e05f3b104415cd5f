"""send_with_retry: which failures are retried, how long it waits, the deadline, the body cap."""

from __future__ import annotations

import asyncio
import gzip
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from apilink.config.models import RetryConfig
from apilink.errors import TransportError
from apilink.http import (
    DeadlineExceeded,
    ResponseTooLarge,
    RetryPolicy,
    raise_for_status,
    send_with_retry,
)

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class FakeTime:
    """A monotonic clock that only ``sleep`` moves; records every wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def policy(
    time: FakeTime, *, deadline: float | None = None, cap: int | None = None, **retry: object
) -> RetryPolicy:
    config = RetryConfig.model_validate({"max_attempts": 4, "backoff_factor": 1, **retry})
    return RetryPolicy(
        config,
        random.Random(7),
        deadline=deadline,
        max_response_bytes=cap,
        sleep=time.sleep,
        clock=time.clock,
        now=lambda: NOW,
    )


def client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url="http://api.test", transport=httpx.MockTransport(handler))


def scripted(*responses: httpx.Response | Exception) -> tuple[list[httpx.Request], Callable]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return seen, handler


def send(
    handler: Callable[[httpx.Request], httpx.Response],
    retry: RetryPolicy,
    method: str = "GET",
    **kwargs: object,
) -> httpx.Response:
    async def go() -> httpx.Response:
        async with client(handler) as c:
            return await send_with_retry(c, method, "/things", policy=retry, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


def test_retry_after_seconds_is_honoured_and_capped() -> None:
    time = FakeTime()
    seen, handler = scripted(
        httpx.Response(429, headers={"Retry-After": "3"}),
        httpx.Response(429, headers={"Retry-After": "120"}),
        httpx.Response(200, json={"ok": True}),
    )
    response = send(handler, policy(time, max_retry_after=10))
    assert response.status_code == 200
    assert len(seen) == 3
    assert time.sleeps == [3.0, 10.0]


def test_retry_after_http_date_is_read_against_now() -> None:
    time = FakeTime()
    when = format_datetime(NOW.replace(second=7), usegmt=True)
    _, handler = scripted(httpx.Response(503, headers={"Retry-After": when}), httpx.Response(200))
    send(handler, policy(time))
    assert time.sleeps == [7.0]


def test_backoff_is_exponential_with_full_jitter_under_the_ceiling() -> None:
    time = FakeTime()
    _, handler = scripted(
        httpx.Response(502), httpx.Response(502), httpx.Response(502), httpx.Response(200)
    )
    send(handler, policy(time, backoff_factor=1, max_backoff=3))
    assert len(time.sleeps) == 3
    for attempt, wait in enumerate(time.sleeps, start=1):
        assert 0 <= wait <= min(3, 2 ** (attempt - 1))
    assert len(set(time.sleeps)) == 3  # jittered, not fixed


def test_post_without_a_key_is_sent_once() -> None:
    time = FakeTime()
    seen, handler = scripted(httpx.Response(503), httpx.Response(200))
    response = send(handler, policy(time), "POST", json={"a": 1})
    assert response.status_code == 503
    assert len(seen) == 1


def test_post_with_a_key_is_retried() -> None:
    time = FakeTime()
    seen, handler = scripted(httpx.Response(503), httpx.Response(201))
    response = send(
        handler,
        policy(time),
        "POST",
        json={"a": 1},
        headers={"Idempotency-Key": "k1"},
        idempotent=True,
    )
    assert response.status_code == 201
    assert [r.headers["Idempotency-Key"] for r in seen] == ["k1", "k1"]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_4xx_are_never_retried_even_when_configured(status: int) -> None:
    time = FakeTime()
    seen, handler = scripted(httpx.Response(status), httpx.Response(200))
    retry = policy(time, retry_on_status=[status, 503])
    assert send(handler, retry, "PUT").status_code == status
    assert len(seen) == 1


@pytest.mark.parametrize("status", [408, 429])
def test_408_and_429_are_retried(status: int) -> None:
    time = FakeTime()
    seen, handler = scripted(httpx.Response(status), httpx.Response(200))
    assert send(handler, policy(time), "PUT").status_code == 200
    assert len(seen) == 2


def test_409_is_retried_only_for_a_keyed_request() -> None:
    time = FakeTime()
    seen, handler = scripted(httpx.Response(409), httpx.Response(201))
    assert send(handler, policy(time), "PUT").status_code == 409
    seen, handler = scripted(httpx.Response(409), httpx.Response(201))
    assert send(handler, policy(time), "POST", idempotent=True).status_code == 201
    assert len(seen) == 2


def test_connection_errors_are_retried_then_reported_without_the_query() -> None:
    time = FakeTime()
    seen, handler = scripted(httpx.ConnectError("refused"))
    with pytest.raises(TransportError, match="after 4 attempt") as caught:
        send(handler, policy(time), params={"api_key": "s3cret-value"})
    assert len(seen) == 4
    assert "s3cret-value" not in str(caught.value)


def test_a_dropped_connection_then_success() -> None:
    time = FakeTime()
    seen, handler = scripted(httpx.RemoteProtocolError("cut"), httpx.Response(200, json=[1]))
    assert send(handler, policy(time)).json() == [1]
    assert len(seen) == 2


def test_the_deadline_stops_retries_whose_wait_would_pass_it() -> None:
    time = FakeTime()
    seen, handler = scripted(httpx.Response(429, headers={"Retry-After": "8"}))
    response = send(handler, policy(time, deadline=20, max_retry_after=60))
    # 0 s: try, wait 8; 8 s: try, wait 8; 16 s: try; the next wait would end past 20 s.
    assert len(seen) == 3
    assert time.sleeps == [8.0, 8.0]
    assert response.status_code == 429


def test_an_attempt_that_outlives_the_deadline_is_cut() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200)

    async def go() -> None:
        retry = RetryPolicy(RetryConfig(max_attempts=3), deadline=0.05)
        async with httpx.AsyncClient(
            base_url="http://api.test", transport=httpx.MockTransport(slow)
        ) as c:
            await send_with_retry(c, "GET", "/slow", policy=retry)

    with pytest.raises(DeadlineExceeded, match="deadline"):
        asyncio.run(go())


def test_a_declared_length_over_the_cap_is_refused_and_not_retried() -> None:
    time = FakeTime()
    seen, handler = scripted(httpx.Response(200, content=b"x" * 2048))
    with pytest.raises(ResponseTooLarge, match="max_response_bytes"):
        send(handler, policy(time, cap=1024))
    assert len(seen) == 1


def test_a_streamed_body_is_counted_and_reading_stops_at_the_cap() -> None:
    produced: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for i in range(10_000):
            produced.append(i)
            yield b"y" * 1024

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())  # no Content-Length: chunked

    with pytest.raises(ResponseTooLarge):
        send(handler, policy(FakeTime(), cap=64 * 1024))
    assert len(produced) < 100


def test_a_gzip_body_under_the_cap_is_decoded() -> None:
    body = gzip.compress(b'{"data": [1, 2, 3]}')

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Encoding": "gzip"})

    response = send(handler, policy(FakeTime(), cap=1024))
    assert response.json() == {"data": [1, 2, 3]}


def test_a_gzip_bomb_is_counted_decoded() -> None:
    body = gzip.compress(b"0" * 1_000_000)
    assert len(body) < 10_000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Encoding": "gzip"})

    with pytest.raises(ResponseTooLarge):
        send(handler, policy(FakeTime(), cap=100_000))


def test_raise_for_status_masks_query_values() -> None:
    time = FakeTime()
    _, handler = scripted(httpx.Response(404))
    response = send(handler, policy(time), params={"token": "abc123"})
    with pytest.raises(Exception, match="404") as caught:
        raise_for_status(response)
    assert "abc123" not in str(caught.value)
