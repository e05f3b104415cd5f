"""Client certificates (mutual TLS) on every client apilink builds for a connection: the sync's
aiohttp transport, the rate-limited httpx transport, the token client. The servers are loopback
uvicorn servers that require a certificate the test's CA signed."""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from apilink.config.models import ConnectionConfig, TimeoutConfig
from apilink.errors import ConfigError, TLSRefused
from apilink.http import tls as tls_module
from apilink.http.clients import api_client, token_client_for
from apilink.http.rate_limit import TokenBucket, rate_limited_transport
from apilink.http.tls import ClientTLS, connection_tls, ssl_context
from apilink.http.tls_config import TLSConfig
from tests.fixtures.tls import ClientIdentity, MutualTLS, serve_tls


async def ok(request: Request) -> Response:
    return JSONResponse({"ok": True})


@pytest.fixture(scope="module")
def server(mutual_tls: MutualTLS) -> Iterator[str]:
    app = Starlette(routes=[Route("/", ok), Route("/token", ok, methods=["POST"])])
    with serve_tls(app, mutual_tls.server, client_ca=mutual_tls.ca) as url:
        yield url


def connection(
    url: str, ca: Path, identity: ClientIdentity | None, **extra: Any
) -> ConnectionConfig:
    tls = (
        {"client_cert": identity.cert_pem, "client_key": identity.key_pem}
        if identity is not None
        else None
    )
    return ConnectionConfig.model_validate(
        {"base_url": url, "verify": str(ca), "tls": tls, **extra}
    )


async def get(conn: ConnectionConfig) -> int:
    async with api_client(conn, what="source", timeout=TimeoutConfig(), auth=None) as client:
        return (await client.get("/")).status_code


def test_the_sync_client_presents_the_certificate(server: str, mutual_tls: MutualTLS) -> None:
    assert asyncio.run(get(connection(server, mutual_tls.ca, mutual_tls.client))) == 200


@pytest.mark.parametrize("who", ["nobody", "stranger"])
def test_a_refused_handshake_is_one_error_naming_tls_client_cert(
    who: str, server: str, mutual_tls: MutualTLS
) -> None:
    identity = None if who == "nobody" else mutual_tls.stranger
    with pytest.raises(TLSRefused) as caught:
        asyncio.run(get(connection(server, mutual_tls.ca, identity)))

    message = str(caught.value)
    assert "`source.tls.client_cert`" in message and server in message
    expected = "requires a client certificate" if identity is None else "refused the client"
    assert expected in message
    assert mutual_tls.stranger.key_pem.splitlines()[1] not in message


def test_an_untrusted_server_certificate_says_verify(server: str, mutual_tls: MutualTLS) -> None:
    conn = connection(server, mutual_tls.ca, mutual_tls.client).model_copy(update={"verify": True})
    with pytest.raises(TLSRefused, match=r"server's certificate is not trusted.*source\.verify"):
        asyncio.run(get(conn))


def test_the_token_client_presents_the_certificate(server: str, mutual_tls: MutualTLS) -> None:
    auth = {
        "type": "oauth2",
        "client_id": "c",
        "client_secret": "s",
        "token_url": server + "/token",
    }
    good = connection(server, mutual_tls.ca, mutual_tls.client, auth=auth)
    with token_client_for(good, side="target") as client:
        assert client.post(server + "/token").status_code == 200

    bare = connection(server, mutual_tls.ca, None, auth=auth)
    with token_client_for(bare, side="target") as client, pytest.raises(TLSRefused) as caught:
        client.post(server + "/token")
    assert "`target.tls.client_cert`" in str(caught.value)


def test_the_rate_limited_transport_presents_the_certificate(
    server: str, mutual_tls: MutualTLS
) -> None:
    conn = connection(server, mutual_tls.ca, mutual_tls.client)

    async def main() -> int:
        transport = rate_limited_transport(conn, TokenBucket(1000, 10))
        async with api_client(
            conn, what="source", timeout=TimeoutConfig(), auth=None, transport=transport
        ) as client:
            return (await client.get("/")).status_code

    assert asyncio.run(main()) == 200


def test_a_key_that_is_not_the_certificates_is_a_config_error(mutual_tls: MutualTLS) -> None:
    mixed = TLSConfig(
        client_cert=mutual_tls.client.cert_pem, client_key=mutual_tls.stranger.key_pem
    )
    with pytest.raises(ConfigError) as caught:
        ssl_context(True, mixed, where="target")

    message = str(caught.value)
    assert "the key is not the certificate's" in message
    assert "`target.tls.client_key`" in message
    assert mutual_tls.stranger.key_pem.splitlines()[1] not in message


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("client_cert", "/etc/ssl/client.pem", "must be a PEM certificate"),
        ("client_key", "/etc/ssl/client-key.pem", "must be a PEM private key"),
        ("client_keys", "x", "Extra inputs"),
    ],
)
def test_a_tls_section_that_is_not_pem_is_refused_naming_the_field(
    key: str, value: str, says: str, mutual_tls: MutualTLS
) -> None:
    section = {
        "client_cert": mutual_tls.client.cert_pem,
        "client_key": "secret://me#key_pem",
        key: value,
    }
    with pytest.raises(ValidationError) as caught:
        ConnectionConfig.model_validate({"base_url": "https://api.example", "tls": section})

    assert ("tls", key) == caught.value.errors()[0]["loc"][:2]
    assert says in str(caught.value)


def test_the_key_is_masked_and_never_in_a_repr(mutual_tls: MutualTLS) -> None:
    conn = connection("https://api.example", mutual_tls.ca, mutual_tls.client)
    secret_line = mutual_tls.client.key_pem.splitlines()[1]
    assert secret_line not in repr(conn) and secret_line not in str(conn.model_dump())
    assert secret_line not in repr(connection_tls(conn, "source"))


@pytest.mark.parametrize("memfd", [True, False], ids=["memory-file", "private-temp-file"])
def test_the_key_is_read_from_no_file_left_behind(
    memfd: bool, mutual_tls: MutualTLS, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In a memory file, or (where there is none) in a 0600 file removed once it is loaded."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tls_module.tempfile, "tempdir", None)
    seen: list[tuple[str, int]] = []
    real = ssl.SSLContext.load_cert_chain

    def spy(self: ssl.SSLContext, certfile: str, keyfile: str, **kwargs: Any) -> None:
        seen.append((keyfile, os.stat(keyfile).st_mode & 0o777))
        real(self, certfile, keyfile, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    if not memfd:
        monkeypatch.delattr(os, "memfd_create", raising=False)
    identity = TLSConfig(
        client_cert=mutual_tls.client.cert_pem, client_key=mutual_tls.client.key_pem
    )

    ClientTLS(True, identity, "source").context()

    ((key_path, mode),) = seen
    if memfd:
        assert key_path.startswith("/proc/self/fd/")
    else:
        assert key_path.startswith(str(tmp_path)) and mode == 0o600
    assert list(tmp_path.iterdir()) == []
