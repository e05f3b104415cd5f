"""secret:// references resolved against a real encrypted file store; open_store choices."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from apilink.config import (
    BearerAuthConfig,
    FileStoreConfig,
    OAuth2ClientCredentialsConfig,
    SecurityConfig,
    SyncConfig,
    VaultStoreConfig,
    parse_config,
)
from apilink.config.credentials import BlockStoreConfig
from apilink.credentials import (
    CredentialStore,
    EncryptedFileStore,
    SecretReference,
    VaultStore,
    open_store,
    parse_reference,
    resolve_references,
)
from apilink.credentials.kdf import SCRYPT_FLOOR
from apilink.errors import CredentialError, CredentialNotFound

SECRET = "client_secret_canary_9a8b"
KEY = "api_key_canary_44c1"

CONFIG = """
source:
  base_url: https://source.example
  auth:
    type: oauth2
    client_id: "secret://oauth#client_id"
    client_secret: "secret://oauth#client_secret"
    token_url: https://source.example/token
    extra_token_params: {resource: "secret://oauth#resource"}
  headers: {X-Api-Key: "secret://partner"}
  endpoints:
    list:
      path: /items
      params: {api_key: "secret://partner", page_size: 50, tenant: "secret://oauth#tenant"}
      headers: {X-Plain: plain}
target:
  base_url: https://target.example
  auth: {type: bearer, token: "secret://oauth#client_secret"}
  endpoints: {create: {path: /items, method: POST}}
mapping: [{source: list, target: create}]
"""


class CountingStore:
    """A real store that counts reads."""

    def __init__(self, inner: CredentialStore) -> None:
        self.inner = inner
        self.reads: Counter[str] = Counter()

    def get(self, name: str) -> dict[str, Any]:
        self.reads[name] += 1
        return self.inner.get(name)

    def put(self, name: str, entry: dict[str, Any]) -> None:
        self.inner.put(name, entry)

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def list(self) -> list[str]:
        return self.inner.list()


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    inner = EncryptedFileStore(tmp_path / "c.enc", "pw-canary", kdf_params=SCRYPT_FLOOR)
    inner.put(
        "oauth",
        {"client_id": "my-client", "client_secret": SECRET, "resource": "api://x", "tenant": 7},
    )
    inner.put("partner", {"key": KEY, "expires_at": 4_000_000_000})
    return CountingStore(inner)


def test_every_reference_is_replaced_and_secrets_stay_secret(store: CountingStore) -> None:
    config = parse_config(CONFIG)
    resolved = resolve_references(config, store)

    auth = resolved.source.auth
    assert isinstance(auth, OAuth2ClientCredentialsConfig)
    assert auth.client_id == "my-client"
    assert isinstance(auth.client_secret, SecretStr)
    assert auth.client_secret.get_secret_value() == SECRET
    assert auth.extra_token_params == {"resource": "api://x"}
    assert resolved.source.headers == {"X-Api-Key": KEY}
    params = resolved.source.endpoints["list"].params
    assert params == {"api_key": KEY, "page_size": 50, "tenant": 7}
    assert resolved.source.endpoints["list"].headers == {"X-Plain": "plain"}
    target_auth = resolved.target.auth
    assert isinstance(target_auth, BearerAuthConfig)
    assert target_auth.token.get_secret_value() == SECRET
    assert SECRET not in repr(resolved)

    assert store.reads == {"oauth": 1, "partner": 1}  # each entry read once per call
    assert isinstance(resolved, SyncConfig)
    # the input is untouched
    assert config.source.headers == {"X-Api-Key": "secret://partner"}


def test_a_config_without_references_needs_no_store() -> None:
    config = parse_config(CONFIG.replace("secret://", "plain-"))
    assert resolve_references(config, None) == config


def test_reference_without_a_store_names_the_reference() -> None:
    with pytest.raises(
        CredentialError,
        match=r"`source.headers.X-Api-Key` refers to secret://partner, but no credential store",
    ):
        resolve_references(parse_config(CONFIG), None)


def test_unknown_name(store: CountingStore) -> None:
    text = CONFIG.replace("secret://partner", "secret://nobody#key")
    with pytest.raises(CredentialNotFound, match=r"secret://nobody#key"):
        resolve_references(parse_config(text), store)


def test_missing_field_names_reference_and_fields_never_values(store: CountingStore) -> None:
    text = CONFIG.replace("secret://oauth#tenant", "secret://oauth#nope")
    with pytest.raises(CredentialError) as caught:
        resolve_references(parse_config(text), store)
    message = str(caught.value)
    assert "secret://oauth#nope" in message and "client_secret" in message
    assert SECRET not in message and "my-client" not in message


def test_reference_to_an_entry_of_many_fields_needs_a_field(store: CountingStore) -> None:
    text = CONFIG.replace("secret://partner", "secret://oauth")
    with pytest.raises(CredentialError, match="has 4 fields") as caught:
        resolve_references(parse_config(text), store)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("secret://a", SecretReference("a")),
        ("secret://apps/db#password", SecretReference("apps/db", "password")),
        (SecretStr("secret://x#y"), SecretReference("x", "y")),
        ("plain", None),
        (42, None),
    ],
)
def test_parse_reference(value: object, expected: SecretReference | None) -> None:
    assert parse_reference(value) == expected


@pytest.mark.parametrize("value", ["secret://", "secret://a#", "secret://a b", "secret://a#b#c"])
def test_malformed_reference(value: str) -> None:
    with pytest.raises(CredentialError, match="malformed"):
        parse_reference(value)


def test_open_store_without_anything_is_none() -> None:
    assert open_store(None, SecurityConfig()) is None


def test_open_store_falls_back_to_the_guide_security_settings(tmp_path: Path) -> None:
    security = SecurityConfig(
        master_password=SecretStr("pw"), credential_storage_path=str(tmp_path / "c.enc")
    )
    store = open_store(None, security, environ={})
    assert isinstance(store, EncryptedFileStore)
    assert store.path == tmp_path / "c.enc"


def test_open_store_file_password_precedence(tmp_path: Path) -> None:
    config = FileStoreConfig(type="file", path=str(tmp_path / "c.enc"), kdf="argon2id")
    with pytest.raises(CredentialError, match="no master password"):
        open_store(config, SecurityConfig(), environ={})
    store = open_store(config, SecurityConfig(), environ={"APILINK_MASTER_PASSWORD": "env-pw"})
    assert isinstance(store, EncryptedFileStore)
    assert store.kdf_params.kdf == "argon2id"


def test_open_store_block_uses_the_injected_loader() -> None:
    vault = VaultStoreConfig.model_validate(
        {"type": "vault", "url": "http://127.0.0.1:1", "auth": {"method": "token", "token": "t"}}
    )
    block = BlockStoreConfig(type="block", block="vault-credentials/prod")
    asked: list[str] = []

    def load(name: str) -> VaultStoreConfig:
        asked.append(name)
        return vault

    assert isinstance(open_store(block, SecurityConfig(), load_block=load), VaultStore)
    assert asked == ["vault-credentials/prod"]
    with pytest.raises(CredentialError, match="only a Prefect flow can load"):
        open_store(block, SecurityConfig())
    with pytest.raises(CredentialError, match="names another block"):
        open_store(block, SecurityConfig(), load_block=lambda name: block)
