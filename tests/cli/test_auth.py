"""`apilink auth login` against the real OAuth server: PKCE via loopback, and device flow."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from apilink.demo.serve import free_port
from cli import auth as auth_cli
from tests.fixtures.oauth_server import FakeClock, MemoryStore, OAuthServer, browser_login
from tests.servers.oauth.models import DEVICE_CLIENT, PUBLIC_CLIENT


def write_config(tmp_path: Path, server: OAuthServer, port: int) -> Path:
    config = {
        "name": "cli-login",
        "source": {
            "base_url": server.url,
            "auth": {
                "type": "oauth2_pkce",
                "client_id": PUBLIC_CLIENT,
                "redirect_uri": f"http://127.0.0.1:{port}/callback",
                "authorization_url": server.authorize_url,
                "token_url": server.token_url,
                "storage_key": "src_tokens",
            },
            "endpoints": {"items": {"path": "/api/items"}},
        },
        "target": {
            "base_url": server.url,
            "auth": {
                "type": "oauth2_device_flow",
                "client_id": DEVICE_CLIENT,
                "device_authorization_url": server.device_url,
                "token_url": server.token_url,
                "storage_key": "dst_tokens",
            },
            "endpoints": {"push": {"path": "/api/items", "method": "POST"}},
        },
        "mapping": [
            {"source": "items", "target": "push", "fields": [{"source": "id", "target": "id"}]}
        ],
    }
    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def cli_store(monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock) -> MemoryStore:
    store = MemoryStore()
    monkeypatch.setattr(auth_cli, "open_token_store", lambda config, store_file: store)
    monkeypatch.setattr(auth_cli, "_sleep", fake_clock.sleep)
    monkeypatch.setattr(auth_cli, "_clock", fake_clock)
    return store


def test_pkce_login_catches_the_redirect_on_loopback(
    tmp_path: Path,
    oauth_server: OAuthServer,
    cli_store: MemoryStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write_config(tmp_path, oauth_server, free_port())
    opened: list[str] = []

    def browser(url: str) -> bool:  # the person's browser: log in, follow the redirect
        opened.append(url)
        import httpx

        httpx.get(browser_login(url))
        return True

    monkeypatch.setattr(auth_cli.webbrowser, "open", browser)
    result = CliRunner().invoke(
        auth_cli.app, ["login", "src_tokens", "--config", str(path), "--timeout", "20"]
    )
    assert result.exit_code == 0, result.output
    assert opened and opened[0] in result.output
    entry = cli_store.get("src_tokens")
    assert entry["access_token"] not in result.output
    assert entry["refresh_token"] not in result.output
    assert oauth_server.state.token_requests == {"authorization_code": 1}


def test_device_login_prints_code_and_polls(
    tmp_path: Path, oauth_server: OAuthServer, cli_store: MemoryStore, fake_clock: FakeClock
) -> None:
    oauth_server.state.auto_approve_after_polls = 1
    path = write_config(tmp_path, oauth_server, free_port())
    result = CliRunner().invoke(
        auth_cli.app, ["login", "dst_tokens", "--config", str(path), "--side", "target"]
    )
    assert result.exit_code == 0, result.output
    assert f"{oauth_server.url}/device and enter the code: " in result.output
    assert cli_store.get("dst_tokens")["access_token"] not in result.output
    assert fake_clock.sleeps == [5, 5]


def test_unknown_storage_key_is_refused(
    tmp_path: Path, oauth_server: OAuthServer, cli_store: MemoryStore
) -> None:
    path = write_config(tmp_path, oauth_server, free_port())
    result = CliRunner().invoke(auth_cli.app, ["login", "nope", "--config", str(path)])
    assert result.exit_code != 0
    assert "storage_key 'nope'" in result.output
    assert oauth_server.state.total_token_requests == 0
