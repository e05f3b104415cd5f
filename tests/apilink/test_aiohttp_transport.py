"""AiohttpTransport under httpx: bodies both ways, headers, errors mapped to httpx's, the pool."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from apilink.aiohttp_transport import AiohttpTransport
from apilink.config.models import ConnectionConfig, RetryConfig, TimeoutConfig
from apilink.demo.serve import free_port, serve
from apilink.errors import TransportError
from apilink.http import RetryPolicy, build_client, send_with_retry


class Gate:
    """Counts requests in flight at ``/slow`` and the most seen at once."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0


def make_app(gate: Gate) -> Starlette:
    async def echo(request: Request) -> Response:
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "body": body.decode(),
                "headers": {k: v for k, v in request.headers.items()},
                "query": dict(request.query_params),
            },
            status_code=201,
            headers={"X-Seen": "yes"},
        )

    async def gzipped(request: Request) -> Response:
        body = gzip.compress(json.dumps({"ok": True}).encode())
        return Response(body, headers={"Content-Encoding": "gzip"}, media_type="application/json")

    async def slow(request: Request) -> Response:
        gate.now += 1
        gate.most = max(gate.most, gate.now)
        await asyncio.sleep(float(request.query_params.get("for", "0.05")))
        gate.now -= 1
        return Response(b"done")

    return Starlette(
        routes=[
            Route("/echo", echo, methods=["GET", "POST", "PUT"]),
            Route("/gzip", gzipped),
            Route("/slow", slow),
        ]
    )


@pytest.fixture(scope="module")
def gate_and_url() -> Iterator[tuple[Gate, str]]:
    gate = Gate()
    with serve(make_app(gate)) as url:
        yield gate, url


@pytest.fixture
def url(gate_and_url: tuple[Gate, str]) -> str:
    return gate_and_url[1]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_request_and_its_answer_cross_unchanged(url: str) -> None:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(base_url=url, transport=AiohttpTransport()) as client:
            return await client.post(
                "/echo", params={"q": "1"}, json={"a": 1}, headers={"Idempotency-Key": "k1"}
            )

    response = run(go())
    assert response.status_code == 201
    assert response.headers["x-seen"] == "yes"
    seen = response.json()
    assert seen["method"] == "POST" and json.loads(seen["body"]) == {"a": 1}
    assert seen["query"] == {"q": "1"}
    assert seen["headers"]["idempotency-key"] == "k1"
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["headers"]["user-agent"].startswith("python-httpx/")  # httpx's, not aiohttp's


def test_a_streamed_request_body_is_sent_as_it_comes(url: str) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one,", b"two,", b"three"):
            yield part

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(base_url=url, transport=AiohttpTransport()) as client:
            return await client.put("/echo", content=parts())

    assert run(go()).json()["body"] == "one,two,three"


def test_compressed_bodies_are_decoded_by_httpx(url: str) -> None:
    async def go() -> tuple[dict[str, Any], str]:
        async with httpx.AsyncClient(base_url=url, transport=AiohttpTransport()) as client:
            response = await client.get("/gzip")
            return response.json(), response.headers["content-encoding"]

    assert run(go()) == ({"ok": True}, "gzip")


def test_no_more_connections_than_the_pool_allows(gate_and_url: tuple[Gate, str]) -> None:
    gate, url = gate_and_url
    gate.most = 0

    async def go() -> list[int]:
        transport = AiohttpTransport(max_connections=3)
        async with httpx.AsyncClient(base_url=url, transport=transport) as client:
            responses = await asyncio.gather(*(client.get("/slow") for _ in range(12)))
        return [r.status_code for r in responses]

    assert run(go()) == [200] * 12
    assert gate.most == 3


def test_a_refused_connection_is_an_httpx_connect_error() -> None:
    port = free_port()

    async def go() -> None:
        transport = AiohttpTransport()
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get(f"http://127.0.0.1:{port}/")

    with pytest.raises(httpx.ConnectError):
        run(go())


def test_a_slow_answer_is_an_httpx_read_timeout(url: str) -> None:
    async def go() -> None:
        async with httpx.AsyncClient(
            base_url=url, transport=AiohttpTransport(), timeout=httpx.Timeout(5, read=0.05)
        ) as client:
            await client.get("/slow", params={"for": "1"})

    with pytest.raises(httpx.ReadTimeout):
        run(go())


def test_a_dropped_connection_is_retried_then_reported() -> None:
    """A server that accepts and closes at once: an httpx transport error, so retries apply."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []

    async def go() -> None:
        loop = asyncio.get_running_loop()
        listener.setblocking(False)

        async def drop() -> None:
            while True:
                conn, _ = await loop.sock_accept(listener)
                accepted.append(conn)
                conn.close()

        dropper = asyncio.ensure_future(drop())
        sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        policy = RetryPolicy(RetryConfig(max_attempts=3), sleep=sleep)
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", transport=AiohttpTransport()
            ) as client:
                # A POST: aiohttp itself sends an idempotent method twice on a dropped connection.
                await send_with_retry(client, "POST", "/", policy=policy, idempotent=True, json={})
        finally:
            dropper.cancel()
            assert len(sleeps) == 2

    try:
        with pytest.raises(TransportError, match="failed after 3 attempt"):
            run(go())
    finally:
        listener.close()
    assert len(accepted) == 3


def test_build_client_sends_through_aiohttp_and_closes_it(url: str) -> None:
    async def go() -> tuple[int, bool]:
        client = build_client(
            ConnectionConfig(base_url=url, max_concurrency=4), timeout=TimeoutConfig(), auth=None
        )
        transport = client._transport
        assert isinstance(transport, AiohttpTransport)
        assert transport.max_connections == 4
        response = await client.get("/echo")
        await client.aclose()
        return response.status_code, transport._session is None

    assert run(go()) == (201, True)
