"""The credential blocks: Prefect's standard suite, engine configs, and a saved round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from pydantic import SecretStr

from apilink.config import FileStoreConfig, SecurityConfig, VaultStoreConfig
from apilink.config.credentials import BlockStoreConfig, VaultAppRoleAuth
from apilink.credentials import EncryptedFileStore, VaultStore, open_store
from apilink.credentials.kdf import SCRYPT_FLOOR
from apilink.errors import CredentialError
from blocks.credentials import EncryptedFileCredentials, VaultCredentials, load_store_config
from tests.fixtures.openbao import OpenBao


class TestEncryptedFileCredentialsStandard(BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return EncryptedFileCredentials


class TestVaultCredentialsStandard(BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return VaultCredentials


def test_file_block_builds_the_engine_store(tmp_path: Path) -> None:
    path = tmp_path / "c.enc"
    EncryptedFileStore(path, "pw-canary", kdf_params=SCRYPT_FLOOR).put("a", {"k": "v"})
    block = EncryptedFileCredentials(path=str(path), master_password=SecretStr("pw-canary"))
    config = block.store_config()
    assert isinstance(config, FileStoreConfig)
    assert config.master_password is not None
    assert config.master_password.get_secret_value() == "pw-canary"
    assert block.get_client().get("a") == {"k": "v"}
    assert "pw-canary" not in repr(block)


def test_vault_block_token_and_approle_configs() -> None:
    block = VaultCredentials(url="http://127.0.0.1:8200", token=SecretStr("tok-canary"))
    config = block.store_config()
    assert config.auth.method == "token"
    assert "tok-canary" not in repr(block) and "tok-canary" not in repr(config)
    approle = VaultCredentials(
        url="http://127.0.0.1:8200",
        auth_method="approle",
        role_id="r",
        secret_id=SecretStr("sid-canary"),
        path_prefix="apps/",
    ).store_config()
    assert isinstance(approle.auth, VaultAppRoleAuth)
    assert approle.path_prefix == "apps/"
    with pytest.raises(CredentialError, match="needs `role_id` and `secret_id`"):
        VaultCredentials(url="http://127.0.0.1:8200", auth_method="approle").store_config()
    with pytest.raises(CredentialError, match="needs `token`"):
        VaultCredentials(url="http://127.0.0.1:8200").store_config()


def test_saved_vault_block_is_loaded_by_open_store(prefect_harness: str, openbao: OpenBao) -> None:
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path="blocks/db", secret={"password": "db-canary"}, mount_point="secret"
    )
    VaultCredentials(
        url=openbao.url, token=SecretStr(openbao.root_token), path_prefix="blocks/"
    ).save("apilink-test-vault", overwrite=True)

    config = load_store_config("vault-credentials/apilink-test-vault")
    assert isinstance(config, VaultStoreConfig)
    store = open_store(
        BlockStoreConfig(type="block", block="vault-credentials/apilink-test-vault"),
        SecurityConfig(),
        load_block=load_store_config,
    )
    assert isinstance(store, VaultStore)
    assert store.get("db") == {"password": "db-canary"}
