"""send_with_retry: which failures are retried, how long it waits, the deadline, the body cap;
and the fast lane, which must do all of it (and auth) as the client's own path does."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import logging
import random
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, TypeAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from apilink.auth import build_auth
from apilink.config.auth import AuthConfig, OAuth2ClientCredentialsConfig
from apilink.config.models import ConnectionConfig, RetryConfig, TimeoutConfig
from apilink.demo.serve import free_port, serve
from apilink.errors import AuthError, HTTPStatusError, TransportError
from apilink.http.sending import (
    DeadlineExceeded,
    ResponseTooLarge,
    RetryPolicy,
    build_client,
    raise_for_status,
    send_with_retry,
)
from tests.fixtures.lanes import watch_client_sends
from tests.fixtures.oauth_server import FakeClock, OAuthServer
from tests.servers.oauth.models import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET

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


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
def test_transient_statuses_are_retried_until_the_deadline_not_a_count(status: int) -> None:
    time = FakeTime()
    seen, handler = scripted(httpx.Response(status, headers={"Retry-After": "0"}))
    retry = policy(time, deadline=30, max_attempts=None, backoff_factor=1, max_backoff=2)
    response = send(handler, retry, "PUT")
    assert response.status_code == status  # the last answer, once the budget is spent
    assert len(seen) > 10  # far more than any small default count
    assert sum(time.sleeps) <= 30  # no wait was begun that would end past the deadline
    assert 30 - sum(time.sleeps) <= 2  # ... and the budget was used up to the last wait


def test_a_storm_that_passes_is_ridden_out_by_default() -> None:
    time = FakeTime()
    storm = [httpx.Response(503, headers={"Retry-After": "0"})] * 12
    seen, handler = scripted(*storm, httpx.Response(200, json={"ok": True}))
    retry = policy(time, deadline=300, max_attempts=None, backoff_factor=0.5, max_backoff=30)
    assert send(handler, retry).status_code == 200
    assert len(seen) == 13


def test_retry_after_zero_still_backs_off_with_jitter() -> None:
    time = FakeTime()
    _, handler = scripted(
        *[httpx.Response(429, headers={"Retry-After": "0"})] * 3, httpx.Response(200)
    )
    send(handler, policy(time, deadline=60, max_attempts=None, backoff_factor=1, max_backoff=8))
    assert len(time.sleeps) == 3
    assert all(0 < wait <= 2**n for n, wait in enumerate(time.sleeps))
    assert len(set(time.sleeps)) == 3


def test_a_long_retry_after_date_is_capped() -> None:
    time = FakeTime()
    when = format_datetime(NOW.replace(hour=13), usegmt=True)  # an hour away
    _, handler = scripted(httpx.Response(503, headers={"Retry-After": when}), httpx.Response(200))
    send(handler, policy(time, deadline=300, max_attempts=None, max_retry_after=20))
    assert time.sleeps == [20.0]


def test_max_attempts_when_set_caps_the_count_within_the_budget() -> None:
    time = FakeTime()
    seen, handler = scripted(httpx.Response(429, headers={"Retry-After": "0"}))
    assert send(handler, policy(time, deadline=300, max_attempts=5)).status_code == 429
    assert len(seen) == 5


def test_connection_errors_are_retried_until_the_deadline() -> None:
    time = FakeTime()
    seen, handler = scripted(httpx.ConnectError("refused"))
    retry = policy(time, deadline=20, max_attempts=None, backoff_factor=1, max_backoff=1)
    with pytest.raises(TransportError, match="failed after") as caught:
        send(handler, retry)
    assert len(seen) > 10
    assert f"after {len(seen)} attempt(s)" in str(caught.value)
    assert sum(time.sleeps) <= 20


def test_a_500_is_not_transient_three_attempts_unless_max_attempts_says() -> None:
    time = FakeTime()
    seen, handler = scripted(httpx.Response(500))
    assert send(handler, policy(time, deadline=300, max_attempts=None)).status_code == 500
    assert len(seen) == 3
    seen, handler = scripted(httpx.Response(500))
    assert send(handler, policy(time, deadline=300, max_attempts=6)).status_code == 500
    assert len(seen) == 6


def test_without_a_deadline_even_transient_failures_are_counted() -> None:
    time = FakeTime()
    seen, handler = scripted(httpx.Response(503))
    assert send(handler, policy(time, deadline=None, max_attempts=None)).status_code == 503
    assert len(seen) == 3


def test_the_default_config_retries_on_the_deadline() -> None:
    retry = RetryPolicy.for_connection(
        RetryConfig(), TimeoutConfig(), ConnectionConfig(base_url="https://api.example.com")
    )
    assert retry.config.max_attempts is None
    assert retry.deadline == 300
    assert retry.attempt_limit(None) is None  # connection errors: the deadline
    assert retry.attempt_limit(429) is None and retry.attempt_limit(503) is None
    assert retry.attempt_limit(500) == 3


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


# -- the fast lane: clients of build_client, against a real server ------------------------------
#
# Each behaviour runs on both lanes against the same loopback API, sent as the loader sends
# (``fast_lane=True``): "fast" is build_client's AiohttpTransport, which send_with_retry drives
# itself; "httpx" is the client's own path (httpx's transport), the reference the fast lane must
# match. Requests sent without ``fast_lane`` (pages, tokens) always take the client's path.

LANES = ["fast", "httpx"]


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Api:
    """A loopback API whose answers to ``/things`` a test scripts (the last one repeats)."""

    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def script(self, *answers: tuple[int, dict[str, str]]) -> None:
        self.answers[:] = answers


def make_api(api: Api) -> Starlette:
    async def record(request: Request) -> None:
        api.seen.append(
            Seen(
                request.method,
                request.url.path,
                dict(request.query_params),
                dict(request.headers),
                await request.body(),
            )
        )

    async def things(request: Request) -> Response:
        await record(request)
        answers = api.answers
        status, headers = (
            (answers.pop(0) if len(answers) > 1 else answers[0]) if answers else (200, {})
        )
        return JSONResponse({"ok": True}, status_code=status, headers=headers)

    async def slow(request: Request) -> Response:
        await record(request)
        await asyncio.sleep(float(request.query_params["for"]))
        return Response(b"late")

    async def big(request: Request) -> Response:
        await record(request)
        return Response(b"b" * int(request.query_params["n"]))

    async def gzipped(request: Request) -> Response:
        await record(request)
        body = b"0" * int(request.query_params["n"])
        return Response(gzip.compress(body), headers={"Content-Encoding": "gzip"})

    async def cookie(request: Request) -> Response:
        await record(request)
        response = JSONResponse({"ok": True})
        response.set_cookie("session", "s1")
        return response

    async def moved(request: Request) -> Response:
        await record(request)
        return Response(status_code=302, headers={"Location": "/v1/things"})

    async def signed(request: Request) -> Response:
        await record(request)
        expected = "Nonce n-1 " + hashlib.sha256(b"n-1" + await request.body()).hexdigest()
        if request.headers.get("authorization") != expected:
            return JSONResponse({"nonce": "n-1"}, status_code=401)
        return JSONResponse({"ok": True})

    every = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(
        routes=[
            Route("/v1/things", things, methods=every),
            Route("/v1/slow", slow),
            Route("/v1/big", big),
            Route("/v1/gzip", gzipped),
            Route("/v1/cookie", cookie),
            Route("/v1/moved", moved),
            Route("/v1/signed", signed, methods=every),
        ]
    )


@pytest.fixture(scope="module")
def api_server() -> Iterator[tuple[Api, str]]:
    api = Api()
    with serve(make_api(api)) as url:
        yield api, url + "/v1"


@pytest.fixture
def api(api_server: tuple[Api, str]) -> Api:
    api_, _ = api_server
    api_.answers.clear()
    api_.seen.clear()
    return api_


@pytest.fixture
def base_url(api_server: tuple[Api, str]) -> str:
    return api_server[1]


def lane_client(
    lane: str,
    base_url: str,
    *,
    auth: httpx.Auth | None = None,
    headers: dict[str, str] | None = None,
    timeout: TimeoutConfig | None = None,
) -> httpx.AsyncClient:
    """A client as build_client makes it; on the ``httpx`` lane with httpx's own transport."""
    connection = ConnectionConfig(base_url=base_url, headers=headers or {})
    transport = None if lane == "fast" else httpx.AsyncHTTPTransport()
    return build_client(
        connection, timeout=timeout or TimeoutConfig(), auth=auth, transport=transport
    )


def exchange(
    lane: str,
    base_url: str,
    retry: RetryPolicy,
    method: str = "GET",
    path: str = "/things",
    *,
    auth: httpx.Auth | None = None,
    client_headers: dict[str, str] | None = None,
    timeout: TimeoutConfig | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """``send_with_retry`` on ``lane``, checking that the lane is the one taken."""

    async def go() -> httpx.Response:
        client = lane_client(lane, base_url, auth=auth, headers=client_headers, timeout=timeout)
        async with client:
            sent = watch_client_sends(client)
            response = await send_with_retry(
                client, method, path, policy=retry, fast_lane=True, **kwargs
            )
        assert (sent == []) == (lane == "fast")
        return response

    return asyncio.run(go())


def test_both_lanes_send_the_same_request(api: Api, base_url: str) -> None:
    for lane in LANES:
        response = exchange(
            lane,
            base_url,
            policy(FakeTime()),
            "POST",
            client_headers={"X-Client": "c", "X-Endpoint": "from the client"},
            json={"name": "Zoë", "n": 1},
            headers={"Idempotency-Key": "k1", "X-Endpoint": "e"},
            params={"dry": "1"},
            idempotent=True,
        )
        assert response.status_code == 200 and response.json() == {"ok": True}
    fast, reference = api.seen
    assert fast == reference
    assert (fast.method, fast.path, fast.query) == ("POST", "/v1/things", {"dry": "1"})
    assert fast.body == '{"name":"Zoë","n":1}'.encode()
    headers = fast.headers
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(fast.body))
    assert headers["idempotency-key"] == "k1"
    assert (headers["x-client"], headers["x-endpoint"]) == ("c", "e")
    assert headers["user-agent"].startswith("python-httpx/")


@pytest.mark.parametrize("lane", LANES)
def test_retry_after_and_backoff_with_the_same_key_on_every_attempt(
    api: Api, base_url: str, lane: str
) -> None:
    when = format_datetime(NOW.replace(second=7), usegmt=True)
    api.script(
        (429, {"Retry-After": "3"}),
        (503, {"Retry-After": when}),
        (429, {"Retry-After": "120"}),
        (502, {}),
        (201, {}),
    )
    time = FakeTime()
    retry = policy(time, max_attempts=5, max_retry_after=10, max_backoff=8)
    response = exchange(
        lane, base_url, retry, "POST", json={}, headers={"Idempotency-Key": "k1"}, idempotent=True
    )
    assert response.status_code == 201
    assert time.sleeps[:3] == [3.0, 7.0, 10.0]
    assert 0 <= time.sleeps[3] <= 8
    assert [s.headers["idempotency-key"] for s in api.seen] == ["k1"] * 5


@pytest.mark.parametrize("lane", LANES)
@pytest.mark.parametrize(
    ("method", "idempotent", "status", "attempts"),
    [("POST", None, 503, 1), ("PUT", None, 422, 1), ("PUT", None, 409, 1), ("POST", True, 409, 4)],
    ids=["unkeyed-post", "422", "unkeyed-409", "keyed-409"],
)
def test_only_idempotent_or_keyed_requests_and_retryable_statuses_are_sent_again(
    api: Api,
    base_url: str,
    lane: str,
    method: str,
    idempotent: bool | None,
    status: int,
    attempts: int,
) -> None:
    api.script((status, {}))
    retry = policy(FakeTime(), retry_on_status=[409, 422, 503])
    response = exchange(lane, base_url, retry, method, json={}, idempotent=idempotent)
    assert response.status_code == status
    assert len(api.seen) == attempts


@pytest.mark.parametrize("lane", LANES)
def test_the_deadline_cuts_a_slow_answer(api: Api, base_url: str, lane: str) -> None:
    retry = RetryPolicy(RetryConfig(max_attempts=3), deadline=0.2)
    with pytest.raises(DeadlineExceeded, match=r"0\.2 s deadline"):
        exchange(lane, base_url, retry, "GET", "/slow", params={"for": "1"})
    assert len(api.seen) == 1


@pytest.mark.parametrize("lane", LANES)
def test_a_read_timeout_is_retried_then_a_transport_error(
    api: Api, base_url: str, lane: str
) -> None:
    time = FakeTime()
    with pytest.raises(TransportError, match=r"failed after 2 attempt\(s\): ReadTimeout"):
        exchange(
            lane,
            base_url,
            policy(time, max_attempts=2),
            "GET",
            "/slow",
            timeout=TimeoutConfig(read=0.05),
            params={"for": "1"},
        )
    assert len(api.seen) == 2 and len(time.sleeps) == 1


@pytest.mark.parametrize("lane", LANES)
def test_a_refused_connection_is_retried_then_reported_without_the_query(lane: str) -> None:
    time = FakeTime()
    with pytest.raises(
        TransportError, match=r"failed after 4 attempt\(s\): ConnectError"
    ) as caught:
        exchange(
            lane,
            f"http://127.0.0.1:{free_port()}",
            policy(time),
            params={"api_key": "s3cret-value"},
        )
    assert len(time.sleeps) == 3
    assert "s3cret-value" not in str(caught.value)


@pytest.mark.parametrize("lane", LANES)
@pytest.mark.parametrize(
    ("path", "detail"),
    [("/big?n=4096", "declares 4096 bytes"), ("/gzip?n=1000000", "is longer")],
    ids=["declared", "gzip-bomb"],
)
def test_a_body_over_the_cap_is_refused_and_not_retried(
    api: Api, base_url: str, lane: str, path: str, detail: str
) -> None:
    with pytest.raises(ResponseTooLarge) as caught:
        exchange(lane, base_url, policy(FakeTime(), cap=2048), "GET", path)
    assert str(caught.value).endswith(
        f"the response {detail} than max_response_bytes (2048); refused"
    )
    assert len(api.seen) == 1


@pytest.mark.parametrize("lane", LANES)
def test_a_gzip_body_under_the_cap_is_decoded_on_both_lanes(
    api: Api, base_url: str, lane: str
) -> None:
    response = exchange(lane, base_url, policy(FakeTime(), cap=2048), "GET", "/gzip?n=2000")
    assert response.content == b"0" * 2000
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize("lane", LANES)
def test_a_redirect_is_answered_not_followed(api: Api, base_url: str, lane: str) -> None:
    response = exchange(lane, base_url, policy(FakeTime()), "GET", "/moved")
    assert response.status_code == 302
    assert response.headers["location"] == "/v1/things"
    assert [s.path for s in api.seen] == ["/v1/moved"]


STATIC_AUTH: dict[str, tuple[dict[str, Any], Callable[[Seen], str | None]]] = {
    "api_key-header": (
        {"type": "api_key", "key": "k-123", "header": "X-Key"},
        lambda seen: seen.headers.get("x-key"),
    ),
    "api_key-query": (
        {"type": "api_key", "key": "k-123", "in": "query", "param_name": "key"},
        lambda seen: seen.query.get("key"),
    ),
    "bearer": (
        {"type": "bearer", "token": "k-123"},
        lambda seen: seen.headers.get("authorization", "").removeprefix("Bearer "),
    ),
    "basic": (
        {"type": "basic", "username": "u", "password": "k-123"},
        lambda seen: base64.b64decode(seen.headers["authorization"][6:]).decode().split(":")[1],
    ),
}


@pytest.mark.parametrize("lane", LANES)
@pytest.mark.parametrize("kind", sorted(STATIC_AUTH))
def test_static_credentials_are_sent_and_kept_out_of_errors(
    api: Api, base_url: str, lane: str, kind: str
) -> None:
    section, sent_secret = STATIC_AUTH[kind]
    auth = build_auth(TypeAdapter(AuthConfig).validate_python(section))
    api.script((403, {}))
    response = exchange(lane, base_url, policy(FakeTime()), auth=auth, params={"page": "2"})
    assert sent_secret(api.seen[0]) == "k-123"
    assert api.seen[0].query["page"] == "2"
    with pytest.raises(HTTPStatusError, match="403 Forbidden") as caught:
        raise_for_status(response)
    assert "k-123" not in str(caught.value)


def oauth_client_credentials(server: OAuthServer) -> OAuth2ClientCredentialsConfig:
    return OAuth2ClientCredentialsConfig(
        type="oauth2_client_credentials",
        client_id=CONFIDENTIAL_CLIENT,
        client_secret=SecretStr(CONFIDENTIAL_SECRET),
        token_url=server.token_url,
    )


@pytest.mark.parametrize("lane", LANES)
def test_an_oauth_token_is_renewed_when_due_and_after_a_401(
    oauth_server: OAuthServer, fake_clock: FakeClock, lane: str
) -> None:
    auth = build_auth(oauth_client_credentials(oauth_server), clock=fake_clock)
    retry = policy(FakeTime())

    async def go() -> list[int]:
        statuses: list[int] = []
        async with lane_client(lane, oauth_server.url, auth=auth) as client:
            for step in ("first", "expired", "revoked"):
                if step == "expired":
                    fake_clock.advance(3600)
                elif step == "revoked":
                    oauth_server.state.revoke_access_tokens()
                response = await send_with_retry(client, "GET", "/api/items", policy=retry)
                statuses.append(response.status_code)
        return statuses

    assert asyncio.run(go()) == [200, 200, 200]
    assert oauth_server.state.token_requests == {"client_credentials": 3}
    assert oauth_server.state.resource_requests == 4  # the 401 was answered by one resend


@pytest.mark.parametrize("lane", LANES)
def test_concurrent_requests_that_find_the_token_expired_cause_one_renewal(
    oauth_server: OAuthServer, fake_clock: FakeClock, lane: str
) -> None:
    auth = build_auth(oauth_client_credentials(oauth_server), clock=fake_clock)
    retry = policy(FakeTime())

    async def go() -> list[int]:
        async with lane_client(lane, oauth_server.url, auth=auth) as client:
            get = [send_with_retry(client, "GET", "/api/items", policy=retry) for _ in range(10)]
            first = await asyncio.gather(*get)
            fake_clock.advance(3600)
            get = [send_with_retry(client, "GET", "/api/items", policy=retry) for _ in range(10)]
            second = await asyncio.gather(*get)
        return [r.status_code for r in [*first, *second]]

    assert asyncio.run(go()) == [200] * 20
    assert oauth_server.state.token_requests == {"client_credentials": 2}


@pytest.mark.parametrize("lane", LANES)
def test_a_second_oauth_401_is_an_auth_error(
    oauth_server: OAuthServer, fake_clock: FakeClock, lane: str
) -> None:
    oauth_server.state.reject_resource = True
    auth = build_auth(oauth_client_credentials(oauth_server), clock=fake_clock)
    with pytest.raises(AuthError, match="401 again"):
        exchange(lane, oauth_server.url, policy(FakeTime()), "GET", "/api/items", auth=auth)
    assert oauth_server.state.resource_requests == 2


class NonceAuth(httpx.Auth):
    """A third party's challenge-response scheme: the server's nonce signs the body."""

    requires_request_body = True
    requires_response_body = True

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield request
        if response.status_code != 401:
            return
        nonce = response.json()["nonce"]
        signature = hashlib.sha256(nonce.encode() + request.content).hexdigest()
        request.headers["Authorization"] = f"Nonce {nonce} {signature}"
        yield request


@pytest.mark.parametrize("lane", LANES)
def test_any_httpx_auth_flow_sees_the_body_and_the_challenge(
    api: Api, base_url: str, lane: str
) -> None:
    response = exchange(
        lane, base_url, policy(FakeTime()), "POST", "/signed", auth=NonceAuth(), json={"a": 1}
    )
    assert response.status_code == 200
    assert [s.headers.get("authorization", "")[:9] for s in api.seen] == ["", "Nonce n-1"]
    assert [h.status_code for h in response.history] == [401]


def test_cookies_an_answer_sets_go_with_later_requests_through_the_client(
    api: Api, base_url: str
) -> None:
    async def go() -> list[httpx.Request]:
        async with lane_client("fast", base_url) as client:
            sent = watch_client_sends(client)
            for path in ("/cookie", "/things"):
                await send_with_retry(
                    client, "GET", path, policy=policy(FakeTime()), fast_lane=True
                )
        return sent

    sent = asyncio.run(go())
    assert [s.headers.get("cookie") for s in api.seen] == [None, "session=s1"]
    assert [r.url.path for r in sent] == ["/v1/things"]  # with a cookie to send: the client's path


def test_a_client_with_event_hooks_keeps_its_own_path(api: Api, base_url: str) -> None:
    hooked: list[str] = []

    async def hook(request: httpx.Request) -> None:
        hooked.append(request.url.path)

    async def go() -> None:
        async with lane_client("fast", base_url) as client:
            client.event_hooks = {"request": [hook]}
            await send_with_retry(client, "GET", "/things", policy=policy(FakeTime()))

    asyncio.run(go())
    assert hooked == ["/v1/things"]


def test_both_lanes_log_the_line_httpx_logs(
    api: Api, base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    lines = []
    for lane in LANES:
        caplog.clear()
        exchange(lane, base_url, policy(FakeTime()), "GET", params={"page": "2"})
        lines.append([r.getMessage() for r in caplog.records if r.name == "httpx"])
    fast, reference = lines
    assert fast == reference == [f'HTTP Request: GET {base_url}/things?page=2 "HTTP/1.1 200 OK"']
