"""Where ``secret://name#field`` references are read from: an encrypted file, Vault/OpenBao,
or a Prefect block that holds either."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "BlockStoreConfig",
    "CredentialStoreConfig",
    "FileStoreConfig",
    "VaultAppRoleAuth",
    "VaultStoreConfig",
    "VaultTokenAuth",
]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileStoreConfig(_Base):
    """An AES-256-GCM credential file; the password usually comes from ``${APILINK_MASTER_PASSWORD}``."""

    type: Literal["file"]
    path: str
    master_password: SecretStr | None = None


class VaultTokenAuth(_Base):
    method: Literal["token"]
    token: SecretStr


class VaultAppRoleAuth(_Base):
    method: Literal["approle"]
    role_id: str
    secret_id: SecretStr
    mount_point: str = "approle"


class VaultStoreConfig(_Base):
    """HashiCorp Vault or OpenBao, KV v2 (or v1)."""

    type: Literal["vault"]
    url: str
    auth: Annotated[VaultTokenAuth | VaultAppRoleAuth, Field(discriminator="method")]
    mount_point: str = "secret"
    kv_version: Literal[1, 2] = 2
    path_prefix: str = ""
    namespace: str | None = None
    verify: bool | str = True
    timeout: float = 10.0


class BlockStoreConfig(_Base):
    """A saved Prefect block (``VaultCredentials`` or ``EncryptedFileCredentials``) by name."""

    type: Literal["block"]
    block: str


CredentialStoreConfig = Annotated[
    FileStoreConfig | VaultStoreConfig | BlockStoreConfig, Field(discriminator="type")
]
