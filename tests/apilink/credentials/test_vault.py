"""VaultStore against a real OpenBao dev server (and a loopback 5xx server for retries)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from apilink.config import SecurityConfig, VaultStoreConfig, parse_config
from apilink.credentials import VaultStore, open_store, resolve_references
from apilink.demo.serve import free_port, serve
from apilink.errors import (
    CredentialExpired,
    CredentialNotFound,
    VaultCredentialNotFound,
    VaultError,
    VaultForbidden,
    VaultPathNotFound,
    VaultSealed,
    VaultUnreachable,
)
from tests.fixtures.openbao import OpenBao

APPS_POLICY = """
path "secret/data/apps/*" { capabilities = ["read", "create", "update"] }
path "secret/metadata/apps/*" { capabilities = ["list", "read", "delete"] }
path "secret/data/private/*" { capabilities = ["deny"] }
"""


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def token_config(server: OpenBao, token: str, **extra: Any) -> VaultStoreConfig:
    return VaultStoreConfig.model_validate(
        {"type": "vault", "url": server.url, "auth": {"method": "token", "token": token}, **extra}
    )


@pytest.fixture(scope="module")
def seeded(openbao: OpenBao) -> OpenBao:
    root = openbao.client()
    root.sys.create_or_update_policy(name="apps", policy=APPS_POLICY)
    root.secrets.kv.v2.create_or_update_secret(
        path="apps/github",
        secret={"token": "ghp_canary_0001", "user": "octo"},
        mount_point="secret",
    )
    root.secrets.kv.v2.create_or_update_secret(
        path="private/db", secret={"password": "db_canary_0002"}, mount_point="secret"
    )
    if "kv1/" not in root.sys.list_mounted_secrets_engines()["data"]:
        root.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    if "approle/" not in root.sys.list_auth_methods()["data"]:
        root.sys.enable_auth_method("approle")
    root.auth.approle.create_or_update_approle("sync", token_policies=["apps"], token_ttl="1h")
    return openbao


@pytest.fixture
def apps_token(seeded: OpenBao) -> str:
    created = seeded.client().auth.token.create(policies=["apps"], ttl="10m", renewable=True)
    token: str = created["auth"]["client_token"]
    return token


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text


def test_kv2_read_and_field_selector_through_references(seeded: OpenBao, apps_token: str) -> None:
    store = VaultStore(token_config(seeded, apps_token, path_prefix="apps/"))
    assert store.get("github") == {"token": "ghp_canary_0001", "user": "octo"}
    config = parse_config(
        """
source:
  base_url: https://source.example
  auth: {type: bearer, token: "secret://github#token"}
  headers: {X-User: "secret://github#user"}
  endpoints: {list: {path: /items}}
target:
  base_url: https://target.example
  endpoints: {create: {path: /items, method: POST}}
mapping: [{source: list, target: create}]
"""
    )
    resolved = resolve_references(config, store)
    assert resolved.source.auth is not None
    token = resolved.source.auth.token  # type: ignore[union-attr]
    assert isinstance(token, SecretStr)
    assert token.get_secret_value() == "ghp_canary_0001"
    assert resolved.source.headers == {"X-User": "octo"}
    assert "ghp_canary_0001" not in repr(resolved)
    assert_no_secret(repr(store), apps_token)


def test_put_list_delete_on_kv2(seeded: OpenBao, apps_token: str) -> None:
    store = VaultStore(token_config(seeded, seeded.root_token, path_prefix="scratch/"))
    store.put("one", {"key": SecretStr("v1"), "expires_at": 4_000_000_000})
    store.put("two", {"key": "v2"})
    assert store.list() == ["one", "two"]
    assert store.get("one")["key"] == "v1"
    store.delete("one")
    assert store.list() == ["two"]
    with pytest.raises(CredentialNotFound):
        store.delete("one")


def test_kv1_mount(seeded: OpenBao) -> None:
    store = VaultStore(
        token_config(seeded, seeded.root_token, mount_point="kv1", kv_version=1, path_prefix="a/")
    )
    store.put("api", {"key": "kv1_value"})
    assert store.get("api") == {"key": "kv1_value"}
    assert store.list() == ["api"]
    store.delete("api")
    assert store.list() == []


def test_approle_login_reads_allowed_path(seeded: OpenBao) -> None:
    root = seeded.client()
    role_id = root.auth.approle.read_role_id("sync")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("sync")["data"]["secret_id"]
    config = VaultStoreConfig.model_validate(
        {
            "type": "vault",
            "url": seeded.url,
            "auth": {"method": "approle", "role_id": role_id, "secret_id": secret_id},
            "path_prefix": "apps/",
        }
    )
    store = VaultStore(config)
    assert store.get("github")["user"] == "octo"
    assert store.token_expires_at is not None  # an AppRole token has a TTL
    assert_no_secret(repr(store) + repr(config), secret_id)


def test_wrong_approle_secret_is_forbidden(seeded: OpenBao) -> None:
    role_id = seeded.client().auth.approle.read_role_id("sync")["data"]["role_id"]
    config = VaultStoreConfig.model_validate(
        {
            "type": "vault",
            "url": seeded.url,
            "auth": {"method": "approle", "role_id": role_id, "secret_id": "not-the-secret-id"},
        }
    )
    with pytest.raises(VaultError) as caught:
        VaultStore(config).get("apps/github")
    assert "not-the-secret-id" not in str(caught.value)


def test_denied_path_is_forbidden_and_message_names_path_not_token(
    seeded: OpenBao, apps_token: str
) -> None:
    store = VaultStore(token_config(seeded, apps_token, path_prefix="private/"))
    with pytest.raises(VaultForbidden) as caught:
        store.get("db")
    message = str(caught.value)
    assert seeded.url in message and "private/db" in message
    assert_no_secret(message, apps_token, "db_canary_0002")


def test_missing_path_is_both_vault_and_credential_not_found(
    seeded: OpenBao, apps_token: str
) -> None:
    store = VaultStore(token_config(seeded, apps_token, path_prefix="apps/"))
    with pytest.raises(VaultCredentialNotFound) as caught:
        store.get("nothing-here")
    assert isinstance(caught.value, VaultPathNotFound)
    assert isinstance(caught.value, CredentialNotFound)
    assert "apps/nothing-here" in str(caught.value)


def test_expired_entry_raises(seeded: OpenBao) -> None:
    store = VaultStore(token_config(seeded, seeded.root_token), now=Clock(2_000_000_000.0))
    store.put("apps/old", {"token": "t", "expires_at": 1_999_999_999})
    with pytest.raises(CredentialExpired):
        store.get("apps/old")


def test_token_is_renewed_before_it_expires(seeded: OpenBao, apps_token: str) -> None:
    clock = Clock()
    store = VaultStore(
        token_config(seeded, apps_token, path_prefix="apps/", renew_increment=3600),
        now=clock,
    )
    store.get("github")
    assert store.renewals == 0
    first_expiry = store.token_expires_at
    assert first_expiry is not None and first_expiry <= clock.now + 600

    clock.now += 200  # 400 s left, above the 300 s threshold: no renewal yet
    store.get("github")
    assert store.renewals == 0

    clock.now += 150  # 250 s left: renew before the read
    store.get("github")
    assert store.renewals == 1
    assert store.token_expires_at is not None and store.token_expires_at > first_expiry
    server_ttl = seeded.client().auth.token.lookup(apps_token)["data"]["ttl"]
    assert server_ttl > 600  # the server granted the increment, beyond the original 10 min


def test_root_token_without_ttl_is_never_renewed(seeded: OpenBao) -> None:
    clock = Clock()
    store = VaultStore(token_config(seeded, seeded.root_token), now=clock)
    store.get("apps/github")
    clock.now += 10**9
    store.get("apps/github")
    assert store.token_expires_at is None and store.renewals == 0


def test_sealed_server(openbao_sealable: OpenBao) -> None:
    root = openbao_sealable.client()
    root.secrets.kv.v2.create_or_update_secret(path="x", secret={"k": "v"}, mount_point="secret")
    store = VaultStore(token_config(openbao_sealable, openbao_sealable.root_token))
    assert store.get("x") == {"k": "v"}
    root.sys.seal()
    with pytest.raises(VaultSealed) as caught:
        store.get("x")
    assert openbao_sealable.url in str(caught.value)
    assert openbao_sealable.root_token not in str(caught.value)


def test_unreachable_server_is_retried_a_bounded_number_of_times() -> None:
    waits: list[float] = []
    config = VaultStoreConfig.model_validate(
        {
            "type": "vault",
            "url": f"http://127.0.0.1:{free_port()}",
            "auth": {"method": "token", "token": "tok_canary_0003"},
            "max_attempts": 3,
        }
    )
    with pytest.raises(VaultUnreachable) as caught:
        VaultStore(config, sleep=waits.append).get("anything")
    assert len(waits) == 2
    assert config.url in str(caught.value)
    assert "tok_canary_0003" not in str(caught.value)


class FlakyVault:
    """A loopback stand-in that answers KV reads with chosen statuses, in order."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.reads = 0
        self.url = ""
        self.app = Starlette(
            routes=[
                Route("/v1/auth/token/lookup-self", self.lookup),
                Route("/v1/secret/data/{path:path}", self.read),
            ]
        )

    async def lookup(self, request: Request) -> JSONResponse:
        return JSONResponse({"data": {"ttl": 0, "renewable": False}})

    async def read(self, request: Request) -> JSONResponse:
        status = self.statuses[min(self.reads, len(self.statuses) - 1)]
        self.reads += 1
        if status != 200:
            return JSONResponse({"errors": ["boom"]}, status_code=status)
        return JSONResponse({"data": {"data": {"k": "v"}, "metadata": {"deleted_time": ""}}})


@pytest.fixture
def flaky() -> Iterator[tuple[FlakyVault, list[int]]]:
    statuses: list[int] = []
    vault = FlakyVault(statuses)
    with serve(vault.app) as url:
        vault.url = url
        yield vault, statuses


def flaky_store(vault: FlakyVault, waits: list[float]) -> VaultStore:
    config = VaultStoreConfig.model_validate(
        {"type": "vault", "url": vault.url, "auth": {"method": "token", "token": "t"}}
    )
    return VaultStore(config, sleep=waits.append)


def test_5xx_is_retried_then_succeeds(flaky: tuple[FlakyVault, list[int]]) -> None:
    vault, statuses = flaky
    statuses.extend([500, 502, 200])
    waits: list[float] = []
    assert flaky_store(vault, waits).get("x") == {"k": "v"}
    assert vault.reads == 3 and len(waits) == 2


def test_5xx_gives_up_after_max_attempts(flaky: tuple[FlakyVault, list[int]]) -> None:
    vault, statuses = flaky
    statuses.append(500)
    waits: list[float] = []
    with pytest.raises(VaultError, match="after 3 tries"):
        flaky_store(vault, waits).get("x")
    assert vault.reads == 3


@pytest.mark.parametrize(("status", "error"), [(403, VaultForbidden), (503, VaultSealed)])
def test_non_transient_errors_are_not_retried(
    flaky: tuple[FlakyVault, list[int]], status: int, error: type[Exception]
) -> None:
    vault, statuses = flaky
    statuses.append(status)
    waits: list[float] = []
    with pytest.raises(error):
        flaky_store(vault, waits).get("x")
    assert vault.reads == 1 and waits == []


def test_open_store_builds_a_vault_store_and_never_falls_back(seeded: OpenBao) -> None:
    config = token_config(seeded, "wrong-token-canary")
    security = SecurityConfig(credential_storage_path="/nonexistent/creds.enc")
    store = open_store(config, security)
    assert isinstance(store, VaultStore)
    with pytest.raises(VaultForbidden) as caught:
        store.get("apps/github")
    assert "wrong-token-canary" not in str(caught.value)
