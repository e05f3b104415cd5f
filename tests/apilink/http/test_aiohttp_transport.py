"""AiohttpTransport under httpx: bodies both ways, headers, errors mapped to httpx's, the pool;
and ``fetch``, the fast lane's exchange: read whole, decoded, within a limit."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from apilink.config.models import ConnectionConfig, RetryConfig, TimeoutConfig
from apilink.demo.serve import free_port, serve
from apilink.errors import BodyOverLimit, TransportError
from apilink.http.aiohttp_transport import AiohttpTransport
from apilink.http.sending import RetryPolicy, build_client, send_with_retry


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


def test_compressed_bodies_are_decoded_within_the_limit_by_the_transport(url: str) -> None:
    async def go() -> tuple[dict[str, Any], str | None]:
        async with httpx.AsyncClient(base_url=url, transport=AiohttpTransport()) as client:
            response = await client.get("/gzip")
            return response.json(), response.headers.get("content-encoding")

    # Decoded once, by apilink.http.body_limit; httpx sees a plain body.
    assert run(go()) == ({"ok": True}, None)


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


# -- fetch: the fast lane's exchange, read whole within a limit ---------------------------------


class Stream:
    """How many 1 KiB chunks a streamed answer sent before it ended."""

    def __init__(self) -> None:
        self.sent = 0
        self.ended = threading.Event()


def make_body_app() -> Starlette:
    """Bodies of every framing: declared, streamed (chunked), gzip, and a gzip bomb."""

    async def declared(request: Request) -> Response:
        size = int(request.query_params["n"])
        return Response(b"d" * size, headers={"X-Kind": "declared"})

    async def chunked(request: Request) -> Response:
        size = int(request.query_params["n"])
        stream = app.state.stream = Stream()

        async def parts() -> AsyncIterator[bytes]:
            try:
                for _ in range(size // 1024):
                    stream.sent += 1
                    yield b"c" * 1024
                    await asyncio.sleep(0)
            finally:
                stream.ended.set()  # all sent, or cut off when the client went away

        return StreamingResponse(parts())

    async def gzipped(request: Request) -> Response:
        size = int(request.query_params["n"])
        body = gzip.compress(b"0" * size)
        return Response(body, headers={"Content-Encoding": "gzip"}, media_type="text/plain")

    app = Starlette(
        routes=[
            Route("/declared", declared),
            Route("/chunked", chunked),
            Route("/gzip", gzipped),
        ]
    )
    return app


@pytest.fixture(scope="module")
def body_app_url() -> Iterator[tuple[Starlette, str]]:
    app = make_body_app()
    with serve(app) as url:
        yield app, url


def fetch(url: str, path: str, max_bytes: int | None = None, **request: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = AiohttpTransport()
        try:
            return await transport.fetch(
                httpx.Request("GET", url + path, **request), max_bytes=max_bytes
            )
        finally:
            await transport.aclose()

    return run(go())


def test_fetch_reads_the_answer_whole_with_its_request(url: str) -> None:
    request = httpx.Request("POST", url + "/echo", json={"a": 1}, headers={"X-Trace": "t1"})

    async def go() -> httpx.Response:
        transport = AiohttpTransport()
        try:
            return await transport.fetch(request)
        finally:
            await transport.aclose()

    response = run(go())
    assert response.status_code == 201 and response.reason_phrase == "Created"
    assert response.request is request
    assert response.headers["x-seen"] == "yes"
    assert response.headers["content-length"] == str(len(response.content))
    seen = response.json()
    assert json.loads(seen["body"]) == {"a": 1}
    assert seen["headers"]["x-trace"] == "t1"
    assert "aiohttp" not in seen["headers"].get("user-agent", "")


def test_fetch_decodes_gzip_and_drops_the_wire_headers(
    body_app_url: tuple[Starlette, str],
) -> None:
    response = fetch(body_app_url[1], "/gzip?n=5000", max_bytes=10_000)
    assert response.content == b"0" * 5000
    assert "content-encoding" not in response.headers
    assert response.headers["content-length"] == "5000"


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/declared?n=4096", "declares 4096 bytes"),
        ("/chunked?n=268435456", "is longer"),  # 256 MiB
        ("/gzip?n=1000000", "is longer"),  # 1 KB on the wire, a megabyte decoded
    ],
    ids=["declared", "chunked", "gzip-bomb"],
)
def test_fetch_refuses_a_body_over_the_limit(
    body_app_url: tuple[Starlette, str], path: str, detail: str
) -> None:
    app, url = body_app_url
    with pytest.raises(BodyOverLimit) as caught:
        fetch(url, path, max_bytes=2048)
    assert caught.value.detail == detail and caught.value.limit == 2048
    if path.startswith("/chunked"):
        # Reading stopped at the limit and the connection was dropped: the server ended long
        # before 256 MiB (socket buffers hold a few MiB at most).
        assert app.state.stream.ended.wait(10)
        assert app.state.stream.sent < 64 * 1024


def test_fetch_under_the_limit_keeps_every_framing(body_app_url: tuple[Starlette, str]) -> None:
    url = body_app_url[1]
    assert fetch(url, "/declared?n=2048", max_bytes=2048).content == b"d" * 2048
    chunked = fetch(url, "/chunked?n=4096", max_bytes=4096)
    assert chunked.content == b"c" * 4096
    assert "transfer-encoding" not in chunked.headers
    assert fetch(url, "/chunked?n=8192").content == b"c" * 8192  # no limit


def test_fetch_maps_failures_to_httpx_errors(url: str) -> None:
    with pytest.raises(httpx.ConnectError):
        fetch(f"http://127.0.0.1:{free_port()}", "/")
    with pytest.raises(httpx.ReadTimeout):
        fetch(url, "/slow?for=1", extensions={"timeout": {"read": 0.05}})
