"""Plain http to a host that is not loopback: refused by `apilink validate`, `apilink sync` and
`apilink auth login` before any request, in one line; allowed only by
``allow_insecure_http: true``, with a warning naming the host.

The remote host is a listener in a network namespace behind a veth pair
(tests/fixtures/remote_host.py), which records every request it gets.

Trusted: the config author (who may opt in with ``allow_insecure_http``). Not trusted: the
network between us and a non-loopback host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from tests.cli.test_sync import apilink
from tests.fixtures.remote_host import RemoteHost

LOOPBACK = "http://127.0.0.1:9"  # never reached: each config is refused before any request


def sync_config(source: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "transport-rules",
        "source": {"endpoints": {"users": {"path": "/users"}}, **source},
        "target": {"endpoints": {"put": {"path": "/put", "method": "POST"}}, **target},
        "mapping": [
            {"source": "users", "target": "put", "fields": [{"source": "id", "target": "id"}]}
        ],
    }


class Done:
    """What an in-process CLI run left: exit code and output (as the subprocess helper's)."""

    def __init__(self, *args: str) -> None:
        result = CliRunner().invoke(app, list(args))
        self.returncode = result.exit_code
        self.stdout = result.stdout
        self.stderr = result.stderr


def write(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def remote_cases(remote: str) -> dict[str, tuple[dict[str, Any], dict[str, Any], str]]:
    """(source, target, the key the error names) for each URL a sync or login sends to."""
    client_credentials = {
        "type": "oauth2",
        "client_id": "sync",
        "client_secret": "canary-secret-9431",
        "token_url": f"{remote}/token",
    }
    device = {
        "type": "oauth2_device_flow",
        "client_id": "dev",
        "client_secret": "canary-device-secret-2231",
        "device_authorization_url": f"{remote}/device",
        "token_url": f"{remote}/token",
        "storage_key": "dev_tokens",
    }
    pkce = {
        "type": "oauth2_pkce",
        "client_id": "pub",
        "redirect_uri": "http://127.0.0.1:9/callback",
        "authorization_url": f"{remote}/authorize",
        "token_url": f"{remote}/token",
        "storage_key": "pkce_tokens",
    }
    return {
        "source": ({"base_url": remote}, {"base_url": LOOPBACK}, "base_url"),
        "target": ({"base_url": LOOPBACK}, {"base_url": remote}, "base_url"),
        "token_url": (
            {"base_url": LOOPBACK, "auth": client_credentials},
            {"base_url": LOOPBACK},
            "auth.token_url",
        ),
        "device": ({"base_url": LOOPBACK}, {"base_url": LOOPBACK, "auth": device}, "auth."),
        "pkce": ({"base_url": LOOPBACK, "auth": pkce}, {"base_url": LOOPBACK}, "auth."),
    }


CASES = ["source", "target", "token_url", "device", "pkce"]


def error_lines(stderr: str) -> list[str]:
    """What the command printed but its warnings (validate may warn about a literal secret)."""
    return [line for line in stderr.strip().splitlines() if not line.startswith("warning:")]


@pytest.mark.parametrize("case", CASES)
def test_validate_reports_plain_http_to_a_remote_host(
    case: str, remote_host: RemoteHost, tmp_path: Path
) -> None:
    source, target, key = remote_cases(remote_host.url)[case]
    config = write(tmp_path, sync_config(source, target))

    done = Done("validate", "-c", str(config))

    assert done.returncode == 2
    lines = error_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert key in lines[0] and remote_host.address in lines[0]
    assert "allow_insecure_http" in lines[0]
    assert "canary" not in done.stderr + done.stdout


@pytest.mark.parametrize("case", ["source", "target", "token_url"])
def test_sync_to_a_remote_plain_http_host_sends_nothing(
    case: str, remote_host: RemoteHost, tmp_path: Path
) -> None:
    remote_host.clear()
    source, target, key = remote_cases(remote_host.url)[case]
    config = write(tmp_path, sync_config(source, target))

    # The source case runs as a user runs it, in a subprocess; the others in process.
    run = apilink if case == "source" else Done
    done = run("sync", "-c", str(config))

    assert done.returncode == 2
    lines = error_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert key in lines[0] and "plain http://" in lines[0]
    assert remote_host.requests() == []


@pytest.mark.parametrize(("case", "name"), [("device", "dev_tokens"), ("pkce", "pkce_tokens")])
def test_login_to_a_remote_plain_http_endpoint_sends_nothing(
    case: str, name: str, remote_host: RemoteHost, tmp_path: Path
) -> None:
    remote_host.clear()
    source, target, _ = remote_cases(remote_host.url)[case]
    config = write(tmp_path, sync_config(source, target))

    done = Done("auth", "login", name, "--config", str(config), "--no-browser", "--timeout", "1")

    assert done.returncode == 2  # a config that names a plain http:// endpoint: bad input
    lines = error_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("login failed:") and "plain http://" in lines[0]
    assert remote_host.requests() == []
    assert "canary" not in done.stderr + done.stdout


def test_a_remote_plain_http_vault_is_refused_before_any_request(
    remote_host: RemoteHost, tmp_path: Path
) -> None:
    remote_host.clear()
    config = sync_config(
        {"base_url": LOOPBACK, "auth": {"type": "bearer", "token": "secret://src#token"}},
        {"base_url": LOOPBACK},
    )
    config["credentials"] = {
        "type": "vault",
        "url": remote_host.url,
        "auth": {"method": "token", "token": "canary-vault-token-5521"},
    }
    path = write(tmp_path, config)

    for command in (["validate", "-c", str(path)], ["sync", "-c", str(path)]):
        done = Done(*command)
        assert done.returncode == 2
        lines = error_lines(done.stderr)
        assert len(lines) == 1, done.stderr
        assert "credentials" in lines[0] and "plain http://" in lines[0]
        assert "canary" not in done.stderr + done.stdout
    assert remote_host.requests() == []


def test_allow_insecure_http_sends_with_a_warning_naming_the_host(
    prefect_harness: str, remote_host: RemoteHost, tmp_path: Path
) -> None:
    remote_host.clear()
    config = sync_config(
        {"base_url": remote_host.url, "allow_insecure_http": True, "verify": False},
        {"base_url": LOOPBACK},
    )
    path = write(tmp_path, config)

    assert Done("validate", "-c", str(path)).returncode == 0
    done = apilink("sync", "-c", str(path), env={"PREFECT_API_URL": prefect_harness})

    # The listener answers [] (no records): the run reads one page and sends nothing.
    assert done.returncode == 0, done.stderr
    assert [r["path"] for r in remote_host.requests()] == ["/users"]
    out = done.stdout + done.stderr
    assert f"plain http:// to {remote_host.address}" in out
    assert f"verification is OFF for connections to {remote_host.address}" in out
