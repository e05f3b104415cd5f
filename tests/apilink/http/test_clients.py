"""The one client builder: https or loopback only, own origins only, no redirect to another
origin (Vault's ``X-Vault-Token`` included), bodies capped after decompression, warnings that
name the host. Real servers on loopback, a veth peer for the remote host."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from apilink.auth.token import build_token_request
from apilink.compat.auth_manager import AuthManager, OAuth2DeviceFlow, OAuth2PKCE
from apilink.config.auth import OAuth2ClientCredentialsConfig
from apilink.config.credentials import VaultStoreConfig
from apilink.config.models import ConnectionConfig, RetryConfig, TimeoutConfig
from apilink.credentials.vault import VaultStore
from apilink.demo.serve import serve
from apilink.errors import InsecureTransport, VaultError
from apilink.http.clients import ApiClient, api_client, send_token_request, token_client
from apilink.http.origin import OriginPolicy
from apilink.http.sending import RetryPolicy, send_with_retry
from tests.fixtures.remote_host import RemoteHost
from tests.fixtures.tls import LoopbackCert, serve_tls
from tests.servers.faulty import gzip_bomb

VAULT_TOKEN = "canary-vault-token-8812"


@dataclass
class Recorder:
    url: str = ""
    seen: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def other_origin() -> Iterator[Recorder]:
    recorder = Recorder()

    async def anything(request: Request) -> Response:
        with recorder.lock:
            recorder.seen.append({k.lower(): v for k, v in request.headers.items()})
        return JSONResponse({})

    app = Starlette(routes=[Route("/{p:path}", anything, methods=["GET", "POST"])])
    with serve(app) as url:
        recorder.url = url
        yield recorder


def redirector(to: str) -> Starlette:
    async def go(request: Request) -> Response:
        return RedirectResponse(to + request.url.path, status_code=307)

    return Starlette(routes=[Route("/{p:path}", go, methods=["GET", "POST"])])


def test_uppercase_schemes_are_normalised_not_refused() -> None:
    connection = ConnectionConfig.model_validate(
        {"base_url": "HTTPS://API.Example.com/v1/", "endpoints": {}}
    )
    assert connection.base_url == "https://API.Example.com/v1"
    auth = OAuth2ClientCredentialsConfig.model_validate(
        {
            "type": "oauth2",
            "client_id": "c",
            "client_secret": "s",
            "token_url": "HTTP://127.0.0.1/t",
        }
    )
    assert auth.token_url == "http://127.0.0.1/t"


def test_a_policy_refuses_other_origins_and_downgrades() -> None:
    policy = OriginPolicy("source", ["https://api.example.com/v1"])
    policy.check(httpx.URL("https://API.example.com:443/other"))
    for url in (
        "http://api.example.com/v1",
        "https://evil.example/v1",
        "https://api.example.com:8443/",
    ):
        with pytest.raises(InsecureTransport, match="the source sends only to"):
            policy.check(httpx.URL(url + "?api_key=canary-q"))
    with pytest.raises(InsecureTransport) as caught:
        policy.check(httpx.URL("https://evil.example/x?api_key=canary-q"))
    assert "canary" not in str(caught.value)


def test_insecure_http_and_verify_false_are_warned_naming_the_host(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "apilink.http.origin")
    connection = ConnectionConfig.model_validate(
        {"base_url": "http://api.example.com", "allow_insecure_http": True, "verify": False}
    )
    client = api_client(connection, what="source", timeout=TimeoutConfig(), auth=None)
    text = caplog.text
    assert "plain http:// to api.example.com" in text
    assert "verification is OFF for connections to api.example.com" in text
    assert client.follow_redirects is False


def test_logins_refuse_a_remote_plain_http_endpoint_before_any_request(
    remote_host: RemoteHost,
) -> None:
    """The guide's AuthManager, without a config's validation in front: the builder refuses."""
    remote_host.clear()
    manager = AuthManager()
    device = manager.configure_auth(
        {
            "type": "oauth2_device_flow",
            "client_id": "dev",
            "client_secret": "canary-device-secret",
            "device_authorization_url": remote_host.url + "/device",
            "token_url": remote_host.url + "/token",
        }
    )
    assert isinstance(device, OAuth2DeviceFlow)
    with pytest.raises(InsecureTransport, match="plain http://"):
        manager.start_device_flow(device)
    pkce = manager.configure_auth(
        {
            "type": "oauth2_pkce",
            "client_id": "pub",
            "redirect_uri": "http://127.0.0.1:9/cb",
            "authorization_url": remote_host.url + "/authorize",
            "token_url": remote_host.url + "/token",
        }
    )
    assert isinstance(pkce, OAuth2PKCE)
    with pytest.raises(InsecureTransport, match="plain http://"):
        manager.get_pkce_authorization_url(pkce)
    assert remote_host.requests() == []


def test_a_token_endpoint_redirect_is_not_followed(other_origin: Recorder) -> None:
    with serve(redirector(other_origin.url)) as url:
        config = OAuth2ClientCredentialsConfig.model_validate(
            {
                "type": "oauth2",
                "client_id": "c",
                "client_secret": "canary-client-secret",
                "token_url": url + "/token",
                "token_endpoint_auth_method": "client_secret_basic",
            }
        )
        with token_client("token endpoint", [config.token_url]) as client:
            response = send_token_request(
                client, build_token_request(config, {"grant_type": "client_credentials"})
            )
    assert response.status_code == 307
    assert other_origin.seen == []


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_vault_never_follows_a_redirect_to_another_origin(
    scheme: str, other_origin: Recorder, loopback_cert: LoopbackCert
) -> None:
    """http -> another origin; https -> http. X-Vault-Token reaches no other origin."""
    app = redirector(other_origin.url)
    with serve(app) if scheme == "http" else serve_tls(app, loopback_cert) as url:
        config = VaultStoreConfig.model_validate(
            {
                "type": "vault",
                "url": url,
                "auth": {"method": "token", "token": VAULT_TOKEN},
                "verify": str(loopback_cert.cert),
            }
        )
        with pytest.raises(InsecureTransport, match="the Vault server sends only to") as caught:
            VaultStore(config, backoff=0).get("anything")
    assert VAULT_TOKEN not in str(caught.value)
    assert other_origin.seen == []


def test_a_vault_gzip_bomb_is_refused() -> None:
    bomb = gzip_bomb(64 * 1024 * 1024)

    async def answer(request: Request) -> Response:
        return Response(
            bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        )

    with serve(Starlette(routes=[Route("/{p:path}", answer)])) as url:
        config = VaultStoreConfig.model_validate(
            {"type": "vault", "url": url, "auth": {"method": "token", "token": VAULT_TOKEN}}
        )
        with pytest.raises(VaultError, match="max_response_bytes") as caught:
            VaultStore(config, backoff=0).get("anything")
    assert VAULT_TOKEN not in str(caught.value)


# -- proxies from the environment ---------------------------------------------------------------


@dataclass
class ForwardProxy:
    """A stand-in HTTP proxy on loopback: it answers every request and keeps its target."""

    targets: list[str] = field(default_factory=list)

    async def __call__(self, scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        if scope["type"] != "http":
            return
        self.targets.append(
            scope["raw_path"].decode() + " " + dict(scope["headers"]).get(b"host", b"").decode()
        )
        response = JSONResponse({"via": "proxy"})
        await response(scope, receive, send)  # type: ignore[arg-type]


def test_a_proxy_the_environment_names_is_used_with_the_same_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = ForwardProxy()
    with serve(proxy) as proxy_url:  # type: ignore[arg-type]
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        api = "http://127.0.0.1:9/v1"  # nothing listens: only the proxy can answer

        async def go() -> tuple[bool, int, str]:
            client = api_client(
                ConnectionConfig(base_url=api), what="source", timeout=TimeoutConfig(), auth=None
            )
            async with client:
                response = await send_with_retry(
                    client, "GET", "things", policy=RetryPolicy(RetryConfig()), fast_lane=True
                )
                with pytest.raises(InsecureTransport, match="the source sends only to"):
                    await client.get("http://127.0.0.2:9/elsewhere")
                return (
                    isinstance(client, ApiClient) and client.direct is None,
                    response.status_code,
                    response.text,
                )

        no_lane, status, text = asyncio.run(go())
    assert no_lane and status == 200 and "proxy" in text
    # Through the proxy, and the off-origin request never left.
    assert len(proxy.targets) == 1 and "127.0.0.1:9" in proxy.targets[0]


def test_no_proxy_keeps_the_direct_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = api_client(
        ConnectionConfig(base_url="http://127.0.0.1:8/v1"),
        what="source",
        timeout=TimeoutConfig(),
        auth=None,
    )
    assert isinstance(client, ApiClient) and client.direct is not None
    asyncio.run(client.aclose())
