"""Mutual TLS on the routes a caller uses, ``api_sync(...)`` and ``apilink sync``.

A source, its OAuth token endpoint and a target, each a loopback uvicorn server that refuses any
connection without a client certificate signed by the test's CA. The certificate and its key
come from the encrypted credential store (``secret://``) or the environment (``${VAR}``); the
key never reaches an output or a file left on disk.

Trusted: the operator and the config author (they name the certificate and the CA). Not
trusted: the servers and the network.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from apilink.credentials import EncryptedFileStore
from apilink.credentials.kdf import SCRYPT_FLOOR
from apilink.errors import SyncIncomplete, TLSRefused
from flows.api_sync import api_sync
from tests.cli.test_sync import apilink
from tests.fixtures.tls import ClientIdentity, MutualTLS, serve_tls

MASTER_PASSWORD = "master-password-mtls-5a1e"
TOKEN = "access-token-mtls-canary-88f1"


@dataclass
class Seen:
    """What the three servers received."""

    token_requests: int = 0
    pages: int = 0
    loaded: list[Any] = field(default_factory=list)


def token_app(seen: Seen) -> Starlette:
    async def token(request: Request) -> Response:
        seen.token_requests += 1
        return JSONResponse({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600})

    return Starlette(routes=[Route("/token", token, methods=["POST"])])


def source_app(seen: Seen) -> Starlette:
    rows = [{"id": n} for n in range(1, 26)]

    async def items(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        seen.pages += 1
        page = int(request.query_params.get("page", "1"))
        chunk = rows[(page - 1) * 10 : page * 10]
        return JSONResponse({"data": chunk, "meta": {"more": page * 10 < len(rows)}})

    return Starlette(routes=[Route("/items", items)])


def target_app(seen: Seen) -> Starlette:
    async def put(request: Request) -> Response:
        seen.loaded.append(await request.json())
        return JSONResponse({"ok": True}, status_code=201)

    return Starlette(routes=[Route("/put", put, methods=["POST"])])


@dataclass
class Apis:
    source: str
    token: str
    target: str
    seen: Seen


@pytest.fixture
def apis(mutual_tls: MutualTLS) -> Iterator[Apis]:
    seen = Seen()
    ca = mutual_tls.ca
    with (
        serve_tls(source_app(seen), mutual_tls.server, client_ca=ca) as source,
        serve_tls(token_app(seen), mutual_tls.server, client_ca=ca) as token,
        serve_tls(target_app(seen), mutual_tls.server, client_ca=ca) as target,
    ):
        yield Apis(source, token, target, seen)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mutual_tls: MutualTLS) -> Path:
    """The client identity in the encrypted credential store, as entry ``me``."""
    path = tmp_path / "credentials.enc"
    monkeypatch.setenv("APILINK_MASTER_PASSWORD", MASTER_PASSWORD)
    EncryptedFileStore(path, MASTER_PASSWORD, kdf_params=SCRYPT_FLOOR).put(
        "me",
        {"cert_pem": mutual_tls.client.cert_pem, "key_pem": mutual_tls.client.key_pem},
    )
    return path


def mtls_config(apis: Apis, ca: Path, store: Path, state_dir: Path) -> dict[str, Any]:
    identity = {"client_cert": "secret://me#cert_pem", "client_key": "secret://me#key_pem"}
    return {
        "name": "mtls",
        "state_dir": str(state_dir),
        "chunk_size": 10,
        "credentials": {"type": "file", "path": str(store)},
        "source": {
            "base_url": apis.source,
            "verify": str(ca),
            "tls": identity,
            "auth": {
                "type": "oauth2",
                "client_id": "sync",
                "client_secret": "client-secret-mtls-canary",
                "token_url": apis.token + "/token",
            },
            "endpoints": {
                "items": {
                    "path": "/items",
                    "pagination": {
                        "type": "page_number",
                        "data_path": "data",
                        "has_more_path": "meta.more",
                    },
                }
            },
        },
        "target": {
            "base_url": apis.target,
            "verify": str(ca),
            "tls": {"client_cert": "${MTLS_CERT}", "client_key": "${MTLS_KEY}"},
            "endpoints": {"put": {"path": "/put", "method": "POST"}},
        },
        "mapping": [
            {"source": "items", "target": "put", "fields": [{"source": "id", "target": "id"}]}
        ],
    }


def use_identity(monkeypatch: pytest.MonkeyPatch, identity: ClientIdentity) -> None:
    monkeypatch.setenv("MTLS_CERT", identity.cert_pem)
    monkeypatch.setenv("MTLS_KEY", identity.key_pem)


def key_files_left(identity: ClientIdentity, *folders: Path) -> list[Path]:
    """Files under ``folders`` that hold the key in clear."""
    marker = identity.key_pem.splitlines()[1].encode()
    return [
        path
        for folder in folders
        for path in folder.rglob("*")
        if path.is_file() and marker in path.read_bytes()
    ]


def test_a_sync_presents_the_client_certificate_on_every_connection(
    prefect_harness: str,
    apis: Apis,
    mutual_tls: MutualTLS,
    store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Source, token endpoint (store) and target (environment) all require the certificate."""
    use_identity(monkeypatch, mutual_tls.client)
    config = mtls_config(apis, mutual_tls.ca, store, tmp_path / "state")

    summary = asyncio.run(api_sync(config=config))

    assert summary["extracted"] == summary["loaded"] == 25
    assert apis.seen.token_requests == 1 and apis.seen.pages == 3
    assert sorted(row["id"] for row in apis.seen.loaded) == list(range(1, 26))
    key_line = mutual_tls.client.key_pem.splitlines()[1]
    assert key_line not in caplog.text and key_line not in json.dumps(summary, default=str)
    assert key_files_left(mutual_tls.client, tmp_path) == []
    assert list(Path(tempfile.gettempdir()).glob("apilink-tls-*")) == []


def test_without_a_client_certificate_the_run_fails_at_once_naming_tls_client_cert(
    prefect_harness: str,
    apis: Apis,
    mutual_tls: MutualTLS,
    store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No retry until the 300 s deadline: a refused handshake is not a passing fault."""
    use_identity(monkeypatch, mutual_tls.client)
    config = mtls_config(apis, mutual_tls.ca, store, tmp_path / "state")
    del config["source"]["tls"]
    started = time.monotonic()

    with pytest.raises(TLSRefused) as caught:
        asyncio.run(api_sync(config=config))

    message = str(caught.value)
    assert "requires a client certificate" in message
    assert "`source.tls.client_cert`" in message and apis.token in message
    assert time.monotonic() - started < 60
    assert apis.seen.token_requests == apis.seen.pages == 0 and apis.seen.loaded == []


def test_a_certificate_from_another_ca_is_refused_naming_the_side(
    prefect_harness: str,
    apis: Apis,
    mutual_tls: MutualTLS,
    store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The target gets a stranger's certificate: nothing is loaded, the error names it."""
    use_identity(monkeypatch, mutual_tls.stranger)
    config = mtls_config(apis, mutual_tls.ca, store, tmp_path / "state")

    with pytest.raises((TLSRefused, SyncIncomplete)) as caught:
        asyncio.run(api_sync(config=config))

    message = str(caught.value)
    assert "`target.tls.client_cert`" in message, message
    assert "refused the client certificate" in message
    assert apis.seen.loaded == []
    assert mutual_tls.stranger.key_pem.splitlines()[1] not in message


def test_apilink_sync_without_a_certificate_exits_1_with_one_line(
    prefect_harness: str, apis: Apis, mutual_tls: MutualTLS, store: Path, tmp_path: Path
) -> None:
    config = mtls_config(apis, mutual_tls.ca, store, tmp_path / "state")
    del config["target"]["tls"]
    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(config))

    done = apilink(
        "sync",
        "-c",
        str(path),
        "--quiet",
        env={"PREFECT_API_URL": prefect_harness, "APILINK_MASTER_PASSWORD": MASTER_PASSWORD},
    )

    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert "`target.tls.client_cert`" in errors[0]
    assert apis.seen.loaded == []
    assert mutual_tls.client.key_pem.splitlines()[1] not in done.stdout + done.stderr
