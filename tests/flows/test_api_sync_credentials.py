"""Whole syncs whose credentials come from OpenBao, the encrypted file, and each OAuth grant."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from apilink.compat.auth_manager import AuthManager
from apilink.credentials import EncryptedFileStore
from apilink.credentials.kdf import SCRYPT_FLOOR
from apilink.demo import TargetInbox, demo_users, make_source_app, make_target_app, serve
from flows.api_sync import api_sync
from tests.fixtures.apis import DemoApis, users_endpoint
from tests.fixtures.oauth_server import OAuthServer, browser_login
from tests.fixtures.openbao import OpenBao
from tests.servers.oauth.models import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    DEVICE_CLIENT,
    PUBLIC_CLIENT,
    REDIRECT_URI,
)

MASTER_PASSWORD = "master-password-canary-71c0"


def write_config(
    path: Path,
    source_url: str,
    target_url: str,
    source_auth: dict[str, Any],
    credentials: dict[str, Any] | None = None,
) -> str:
    config: dict[str, Any] = {
        "name": "secrets-e2e",
        "source": {
            "base_url": source_url,
            "auth": source_auth,
            "endpoints": {"users": users_endpoint()},
        },
        "target": {
            "base_url": target_url,
            "endpoints": {"profiles": {"path": "/profiles", "method": "POST"}},
        },
        "mapping": [
            {
                "source": "users",
                "target": "profiles",
                "fields": [
                    {"source": "id", "target": "id"},
                    {"source": "email", "target": "email"},
                ],
                "validation": {"email_fields": ["email"]},
            }
        ],
    }
    if credentials is not None:
        config["credentials"] = credentials
    path.write_text(yaml.safe_dump(config))
    return str(path)


def run(config_path: str) -> dict[str, Any]:
    result: dict[str, Any] = asyncio.run(api_sync(config_path=config_path))
    return result


def assert_all_valid_users_arrived(
    apis: DemoApis | TargetInbox, users: list[dict[str, Any]]
) -> None:
    inbox = apis.inbox if isinstance(apis, DemoApis) else apis
    expected = sorted(u["id"] for u in users if "@" in u["email"])
    assert sorted(r["id"] for r in inbox.records) == expected


def test_source_token_from_openbao(
    prefect_harness: str,
    demo_apis: DemoApis,
    openbao: OpenBao,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path="apilink/demo-source", secret={"token": demo_apis.token, "note": "e2e"}
    )
    monkeypatch.setenv("E2E_VAULT_TOKEN", openbao.root_token)
    config = write_config(
        tmp_path / "vault.yaml",
        demo_apis.source_url,
        demo_apis.target_url,
        {"type": "bearer", "token": "secret://demo-source#token"},
        {
            "type": "vault",
            "url": openbao.url,
            "auth": {"method": "token", "token": "${E2E_VAULT_TOKEN}"},
            "path_prefix": "apilink/",
        },
    )

    summary = run(config)

    assert summary["loaded"] == 112 and summary["quarantined"] == 8
    assert_all_valid_users_arrived(demo_apis, demo_apis.users)


def test_source_token_from_the_encrypted_file(
    prefect_harness: str, demo_apis: DemoApis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_path = tmp_path / "credentials.enc"
    EncryptedFileStore(store_path, MASTER_PASSWORD).put("demo_source", {"token": demo_apis.token})
    monkeypatch.setenv("APILINK_MASTER_PASSWORD", MASTER_PASSWORD)
    config = write_config(
        tmp_path / "file.yaml",
        demo_apis.source_url,
        demo_apis.target_url,
        {"type": "bearer", "token": "secret://demo_source"},
        {"type": "file", "path": str(store_path)},
    )

    summary = run(config)

    assert summary["loaded"] == 112
    assert demo_apis.token.encode() not in store_path.read_bytes()


def test_a_missing_reference_fails_before_any_request(
    prefect_harness: str, demo_apis: DemoApis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apilink.errors import CredentialNotFound

    store_path = tmp_path / "credentials.enc"
    EncryptedFileStore(store_path, MASTER_PASSWORD).put("other", {"token": "x"})
    monkeypatch.setenv("APILINK_MASTER_PASSWORD", MASTER_PASSWORD)
    config = write_config(
        tmp_path / "file.yaml",
        demo_apis.source_url,
        demo_apis.target_url,
        {"type": "bearer", "token": "secret://demo_source#token"},
        {"type": "file", "path": str(store_path)},
    )
    with pytest.raises(CredentialNotFound, match="demo_source"):
        run(config)
    assert demo_apis.inbox.requests == 0


class OAuthSource:
    """The demo source behind the test OAuth server's tokens, counting the pages it serves."""

    def __init__(self, oauth: OAuthServer) -> None:
        self.users = demo_users(60)
        self.pages: Counter[int] = Counter()
        self.oauth = oauth
        self.expire_on_page: int | None = None

    def served(self, page: int) -> None:
        self.pages[page] += 1
        if page == self.expire_on_page:
            # The access token expires between this page and the next (server time moves on).
            self.oauth.state.clock.advance(self.oauth.state.access_token_lifetime + 1)  # type: ignore[attr-defined]


@pytest.fixture
def oauth_apis(
    oauth_server: OAuthServer,
) -> Iterator[tuple[OAuthSource, str, str, TargetInbox]]:
    source = OAuthSource(oauth_server)
    inbox = TargetInbox()
    app = make_source_app(
        source.users, accept_token=oauth_server.state.access_ok, on_page=source.served
    )
    with serve(app) as source_url, serve(make_target_app(inbox)) as target_url:
        yield source, source_url, target_url, inbox


def _file_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[EncryptedFileStore, dict[str, Any]]:
    path = tmp_path / "tokens.enc"
    monkeypatch.setenv("APILINK_MASTER_PASSWORD", MASTER_PASSWORD)
    store = EncryptedFileStore(path, MASTER_PASSWORD, kdf_params=SCRYPT_FLOOR)
    return store, {"type": "file", "path": str(path)}


def _pkce_login(oauth: OAuthServer, store: EncryptedFileStore) -> dict[str, Any]:
    section = {
        "type": "oauth2_pkce",
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "authorization_url": oauth.authorize_url,
        "token_url": oauth.token_url,
        "scope": "read",
        "storage_key": "source_pkce",
    }
    manager = AuthManager(token_store=store)
    pkce = manager.configure_auth(section)
    manager.complete_pkce_flow(pkce, browser_login(manager.get_pkce_authorization_url(pkce)))  # type: ignore[arg-type]
    return section


def _device_login(oauth: OAuthServer, store: EncryptedFileStore) -> dict[str, Any]:
    section = {
        "type": "oauth2_device_flow",
        "client_id": DEVICE_CLIENT,
        "device_authorization_url": oauth.device_url,
        "token_url": oauth.token_url,
        "storage_key": "source_device",
    }
    oauth.state.auto_approve_after_polls = 1
    manager = AuthManager(token_store=store, sleep=lambda seconds: None)
    device = manager.start_device_flow(manager.configure_auth(section))  # type: ignore[arg-type]
    manager.wait_for_device_flow(device)
    return section


@pytest.mark.parametrize("grant", ["client_credentials", "pkce", "device_flow"])
def test_oauth_source_with_expiry_mid_sync(
    grant: str,
    prefect_harness: str,
    oauth_server: OAuthServer,
    oauth_apis: tuple[OAuthSource, str, str, TargetInbox],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source, source_url, target_url, inbox = oauth_apis
    store, credentials = _file_store(tmp_path, monkeypatch)
    if grant == "client_credentials":
        monkeypatch.setenv("E2E_CLIENT_SECRET", CONFIDENTIAL_SECRET)
        section: dict[str, Any] = {
            "type": "oauth2",
            "client_id": CONFIDENTIAL_CLIENT,
            "client_secret": "${E2E_CLIENT_SECRET}",
            "token_url": oauth_server.token_url,
            "scope": "read",
        }
    elif grant == "pkce":
        section = _pkce_login(oauth_server, store)
    else:
        section = _device_login(oauth_server, store)
    before = Counter(oauth_server.state.token_requests)
    source.expire_on_page = 3
    config = write_config(tmp_path / "oauth.yaml", source_url, target_url, section, credentials)

    summary = run(config)

    assert summary["extracted"] == 60 and summary["failed"] == 0
    assert_all_valid_users_arrived(inbox, source.users)
    assert set(source.pages) == set(range(1, 7)) and max(source.pages.values()) == 1
    grants = Counter(oauth_server.state.token_requests) - before
    if grant == "client_credentials":
        assert grants == {"client_credentials": 2}  # the first token, then one after expiry
    else:
        assert grants == {"refresh_token": 1}  # the stored token, refreshed once
        stored = store.get(section["storage_key"])
        assert stored["access_token"] not in json.dumps(summary)
