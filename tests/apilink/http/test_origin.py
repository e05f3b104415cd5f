from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from apilink.demo.serve import serve
from apilink.errors import InsecureTransport
from apilink.http.origin import CredentialOriginGuard, check_url, is_loopback, tls_verify

CANARY = "CANARY-transport-key-3390"


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/x",
        "http://127.0.0.1:8000/x",
        "http://127.5.6.7/x",
        "http://localhost:9/x",
        "http://[::1]:8080/x",
    ],
)
def test_allowed_urls(url: str) -> None:
    assert str(check_url(url)).startswith(("http://", "https://"))


@pytest.mark.parametrize(
    "url", ["http://api.example.com/x", "http://10.0.0.1/x", "ftp://127.0.0.1/x"]
)
def test_insecure_urls_are_refused(url: str) -> None:
    with pytest.raises(InsecureTransport):
        check_url(url)


def test_insecure_http_allowed_by_name() -> None:
    assert check_url("http://api.example.com/x", allow_insecure_http=True).host == "api.example.com"


def test_refusal_does_not_echo_secret_query() -> None:
    with pytest.raises(InsecureTransport) as info:
        check_url(f"http://api.example.com/x?api_key={CANARY}")
    assert CANARY not in str(info.value)


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("128.0.0.1") and not is_loopback("example.com")


def _echo(request: Request) -> JSONResponse:
    return JSONResponse({k.lower(): v for k, v in request.headers.items()})


def _app(target: str | None) -> Starlette:
    async def redirect(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{target}/echo", status_code=302)

    return Starlette(routes=[Route("/echo", _echo), Route("/go", redirect)])


def test_cross_origin_redirect_with_real_servers() -> None:
    with serve(_app(None)) as other:
        with serve(_app(other)) as home:
            headers = {"Authorization": f"Bearer {CANARY}", "X-API-Key": CANARY}
            # httpx alone: Authorization is dropped, X-API-Key follows the redirect.
            with httpx.Client(follow_redirects=True) as client:
                seen = client.get(f"{home}/go", headers=headers).json()
            assert "authorization" not in seen
            assert seen.get("x-api-key") == CANARY
            # With the guard: nothing credential-like reaches the other origin...
            guard = CredentialOriginGuard([home])
            with httpx.Client(follow_redirects=True, event_hooks={"request": [guard]}) as client:
                seen = client.get(f"{home}/go", headers=headers).json()
                assert "authorization" not in seen and "x-api-key" not in seen
                # ...while the home origin still gets them.
                assert client.get(f"{home}/echo", headers=headers).json()["x-api-key"] == CANARY


def test_async_guard_with_configured_header() -> None:
    async def fetch(home: str, guard: CredentialOriginGuard) -> dict[str, str]:
        async with httpx.AsyncClient(
            follow_redirects=True, event_hooks={"request": [guard.async_hook]}
        ) as client:
            response = await client.get(f"{home}/go", headers={"X-Custom-Token": CANARY})
            return dict(response.json())

    with serve(_app(None)) as other, serve(_app(other)) as home:
        seen = asyncio.run(fetch(home, CredentialOriginGuard([home], headers=["X-Custom-Token"])))
        assert "x-custom-token" not in seen and seen["host"] == other.removeprefix("http://")


def test_tls_verify_off_is_warned(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="apilink.http.origin"):
        assert tls_verify(True) is True
        assert not caplog.records
        assert tls_verify(False) is False
    assert "OFF" in caplog.text
