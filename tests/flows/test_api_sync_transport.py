"""The transport rules on the route a Prefect caller uses, ``api_sync(...)``:

- plain http to a non-loopback host (a veth peer in a network namespace) sends nothing;
- a checkpoint whose position URL was edited to another origin, a redirect to another origin
  and a redirect from https down to http each reach that other origin with no request at all
  (so none carrying a credential), and the run fails naming why;
- a token endpoint that answers a gzip bomb, or answers too late, fails the run clearly.

Trusted: the operator and the config author. Not trusted: whoever can edit the checkpoint
(the state file here; the Prefect Variable ``apilink-state-<sync>`` in a deployment), the
servers (their redirects, sizes and pace), the network.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from apilink.demo.serve import serve
from apilink.errors import (
    ConfigError,
    DeadlineExceeded,
    PaginationError,
    ResponseTooLarge,
    SyncIncomplete,
)
from flows.api_sync import api_sync
from tasks.checkpoint import STORE_ENV, PrefectVariableStateStore
from tests.fixtures.attacker import Attacker
from tests.fixtures.remote_host import RemoteHost
from tests.fixtures.tls import LoopbackCert, serve_tls
from tests.servers.faulty import make_faulty_token_endpoint


@dataclass
class Source:
    """A paginated source that wants ``Authorization: Bearer <token>``."""

    token: str
    fail_page: int | None = None
    redirect_to: str | None = None


def source_app(source: Source) -> Starlette:
    rows = [{"id": n, "email": f"u{n}@example.com"} for n in range(1, 31)]

    async def items(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {source.token}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if source.redirect_to is not None:
            return RedirectResponse(source.redirect_to + "/items", status_code=307)
        page = int(request.query_params.get("page", "1"))
        if page == source.fail_page:
            return JSONResponse({"error": "bad page"}, status_code=400)
        chunk = rows[(page - 1) * 10 : page * 10]
        return JSONResponse({"data": chunk, "meta": {"more": page * 10 < len(rows)}})

    return Starlette(routes=[Route("/items", items)])


@pytest.fixture
def target() -> Iterator[tuple[str, list[Any]]]:
    received: list[Any] = []

    async def put(request: Request) -> Response:
        received.append(await request.json())
        return JSONResponse({"ok": True}, status_code=201)

    with serve(Starlette(routes=[Route("/put", put, methods=["POST"])])) as url:
        yield url, received


def sync_config(
    name: str, source_url: str, target_url: str, token: str, state_dir: Path, **source: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "state_dir": str(state_dir),
        "chunk_size": 10,
        "source": {
            "base_url": source_url,
            "auth": {"type": "bearer", "token": token},
            "retry": {"max_attempts": 1},
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
            **source,
        },
        "target": {
            "base_url": target_url,
            "endpoints": {"put": {"path": "/put", "method": "POST"}},
        },
        "mapping": [
            {"source": "items", "target": "put", "fields": [{"source": "id", "target": "id"}]}
        ],
    }


def test_a_remote_plain_http_source_sends_nothing(
    prefect_harness: str, remote_host: RemoteHost, tmp_path: Path, target: tuple[str, list[Any]]
) -> None:
    remote_host.clear()
    config = sync_config("remote", remote_host.url, target[0], "canary-tok-1", tmp_path)

    with pytest.raises(ConfigError, match="plain http://") as caught:
        asyncio.run(api_sync(config=config))

    assert "allow_insecure_http" in str(caught.value) and "\n" not in str(caught.value)
    assert remote_host.requests() == []


@pytest.mark.parametrize("store", ["file", "prefect"])
def test_an_edited_checkpoint_url_reaches_no_other_origin(
    store: str,
    prefect_harness: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    attacker: Attacker,
    target: tuple[str, list[Any]],
) -> None:
    """The state file, or the Prefect Variable ``apilink-state-<sync>``, edited between runs."""
    monkeypatch.setenv(STORE_ENV, store)
    token = "canary-" + secrets.token_hex(8)
    source = Source(token, fail_page=3)
    name = f"tampered-{store}-{secrets.token_hex(3)}"
    with serve(source_app(source)) as source_url:
        config = sync_config(name, source_url, target[0], token, tmp_path)
        with pytest.raises(SyncIncomplete, match="answered 400"):
            asyncio.run(api_sync(config=config))
        edit_position(store, name, tmp_path, attacker.url + "/items")

        source.fail_page = None
        with pytest.raises(PaginationError, match="refusing to resume") as caught:
            asyncio.run(api_sync(config=config))

    assert attacker.url.split("//")[1].split(":")[0] in str(caught.value)
    assert token not in str(caught.value)
    assert attacker.requests == []
    assert len(target[1]) == 20  # the first two pages, before the edit; nothing since


def edit_position(store: str, name: str, state_dir: Path, url: str) -> None:
    """What an attacker with write access to the checkpoint does: point it elsewhere."""
    if store == "file":
        (state_file,) = state_dir.glob("*.json")
        state = json.loads(state_file.read_text())
    else:
        variables = PrefectVariableStateStore()
        state = variables.load(name) or {}
    run = state["mappings"]["items->put"]["run"]
    assert run["position"]["url"] == "/items"
    run["position"]["url"] = url
    if store == "file":
        state_file.write_text(json.dumps(state))
    else:
        variables.save(name, state)
        variables.close()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_redirect_to_another_origin_is_not_followed(
    scheme: str,
    prefect_harness: str,
    tmp_path: Path,
    loopback_cert: LoopbackCert,
    attacker: Attacker,
    target: tuple[str, list[Any]],
) -> None:
    """http -> another http origin; https -> http (a downgrade, and another origin)."""
    token = "canary-" + secrets.token_hex(8)
    source = Source(token, redirect_to=attacker.url)
    served = serve(source_app(source)) if scheme == "http" else None
    with served or serve_tls(source_app(source), loopback_cert) as source_url:
        assert source_url.startswith(f"{scheme}://")
        config = sync_config(
            f"redirect-{scheme}",
            source_url,
            target[0],
            token,
            tmp_path,
            verify=str(loopback_cert.cert),
        )
        with pytest.raises(SyncIncomplete, match="answered 307") as caught:
            asyncio.run(api_sync(config=config))

    assert token not in str(caught.value)
    assert attacker.credential_requests() == []
    assert attacker.requests == []
    assert target[1] == []


@pytest.mark.parametrize("kind", ["gzip_bomb", "slow"])
def test_a_hostile_token_endpoint_fails_the_run_clearly(
    kind: str, prefect_harness: str, tmp_path: Path, target: tuple[str, list[Any]]
) -> None:
    app, log = make_faulty_token_endpoint(kind, delay=12.0)
    with serve(app) as token_url, serve(source_app(Source("unused"))) as source_url:
        config = sync_config("hostile-token", source_url, target[0], "x", tmp_path)
        config["source"]["auth"] = {
            "type": "oauth2",
            "client_id": "sync",
            "client_secret": "canary-client-secret-77",
            "token_url": token_url + "/token",
        }
        config["source"]["timeout"] = {"read": 2, "deadline": 3}
        config["source"]["max_response_bytes"] = 1024 * 1024
        expected = ResponseTooLarge if kind == "gzip_bomb" else DeadlineExceeded
        with pytest.raises(expected) as caught:
            asyncio.run(api_sync(config=config))

    message = str(caught.value)
    assert message.startswith(f"token endpoint {token_url}/token")
    if kind == "gzip_bomb":
        assert "1048576" in message and "max_response_bytes" in message
    else:
        assert "deadline" in message
    assert "canary" not in message
    assert log.requests == 1
    assert target[1] == []
