"""Two OS processes refresh one stored OAuth token at once, against the test server on
loopback, whose refresh tokens are single-use: both succeed, and the store ends with exactly
one refresh token, the valid one. Run for every store whose writes are compare-and-set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from apilink.config import VaultStoreConfig
from apilink.config.credentials import AwsSecretsManagerConfig
from apilink.credentials import EncryptedFileStore, VaultStore
from apilink.credentials.aws import AwsSecretsManagerStore
from apilink.credentials.base import CredentialStore
from apilink.credentials.kdf import SCRYPT_FLOOR
from tests.apilink.auth.test_oauth import pkce_login
from tests.fixtures.oauth_server import FakeClock, OAuthServer

ROOT = Path(__file__).resolve().parents[2]
KEY = "pkce_creds"
PASSWORD = "master-canary-e2e-6a"

Opened = tuple[CredentialStore, dict[str, Any]]
"""The store for the test's own use, and how a worker process opens the same one."""


def file_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opened:
    path = tmp_path / "tokens.enc"
    spec = {"type": "file", "path": str(path)}
    return EncryptedFileStore(path, PASSWORD, kdf_params=SCRYPT_FLOOR), spec


def vault_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opened:
    server = request.getfixturevalue("openbao")
    spec = {
        "type": "vault",
        "url": server.url,
        "auth": {"method": "token", "token": server.root_token},
        "path_prefix": f"e2e-{uuid.uuid4().hex[:8]}/",
    }
    return VaultStore(VaultStoreConfig.model_validate(spec)), spec


def aws_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opened:
    moto = request.getfixturevalue("moto_server")  # sets the AWS_* variables workers inherit
    httpx.post(f"{moto.url}/moto-api/reset").raise_for_status()
    spec = {"type": "aws_secrets_manager", "region": moto.region, "endpoint_url": moto.url}
    return AwsSecretsManagerStore(AwsSecretsManagerConfig.model_validate(spec)), spec


STORES: dict[str, Callable[[pytest.FixtureRequest, Path], Opened]] = {
    "file": file_store,
    "vault": vault_store,
    "aws": aws_store,
}


def start_worker(server: OAuthServer, spec: dict[str, Any]) -> subprocess.Popen[str]:
    args = json.dumps({"server": server.url, "store": spec, "storage_key": KEY})
    return subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.refresh_worker", args],
        cwd=ROOT,
        env={**os.environ, "APILINK_MASTER_PASSWORD": PASSWORD},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("kind", sorted(STORES))
def test_two_processes_refreshing_at_once_both_succeed_and_one_valid_token_stays(
    oauth_server: OAuthServer,
    fake_clock: FakeClock,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    kind: str,
) -> None:
    store, spec = STORES[kind](request, tmp_path)
    pkce_login(oauth_server, store, fake_clock)  # type: ignore[arg-type]
    first = store.get(KEY)
    # The workers' clock is the real one, so the stored access token (issued at the fake
    # clock's time, in 2023) is long expired for them: each must refresh. The winner's answer
    # is held back a second, so the loser's refusal comes before the winner has stored.
    oauth_server.state.refresh_response_delay = 1.0

    workers = [start_worker(oauth_server, spec) for _ in range(2)]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline()
            assert line == "ready\n", (line, worker.stderr.read() if worker.stderr else "")
        for worker in workers:  # go: both at once
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=120) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

    results = []
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
        for secret in (first["refresh_token"], first["access_token"]):
            assert secret not in out + err
    assert [r["status"] for r in results] == [200, 200]
    assert results[0]["access_token_sha256"] == results[1]["access_token_sha256"]

    state = oauth_server.state
    # Both sent the same refresh token; the server honoured one and refused the other, which
    # used the winner's token instead of refreshing again.
    assert state.token_requests["refresh_token"] == 2
    issued = [t for t in state.tokens if t.refresh_token is not None]
    assert len(issued) == 2  # the login's, and the one refresh that succeeded
    stored = store.get(KEY)
    (valid,) = [t for t in issued if not t.refresh_revoked]
    assert stored["refresh_token"] == valid.refresh_token != first["refresh_token"]
    assert state.access_ok(stored["access_token"])
    for out, err in outputs:
        assert stored["refresh_token"] not in out + err
