"""Prefect blocks that hold where credentials live: an encrypted file or Vault/OpenBao.

A sync config names a saved block with ``credentials: {type: block, block: "TYPE/NAME"}``;
the flow passes :func:`load_store_config` to :func:`apilink.credentials.open_store`, which is
how the Prefect-free engine reads a block.
"""

from __future__ import annotations

from typing import Literal

from prefect.blocks.abstract import CredentialsBlock
from prefect.blocks.core import Block
from prefect.utilities.asyncutils import run_coro_as_sync
from pydantic import Field, SecretStr

from apilink.config.credentials import CredentialStoreConfig, FileStoreConfig, VaultStoreConfig
from apilink.credentials.file_store import EncryptedFileStore
from apilink.credentials.vault import VaultStore
from apilink.errors import CredentialError

__all__ = ["EncryptedFileCredentials", "VaultCredentials", "load_store_config"]

_DOCS = "https://github.com/apilink/apilink/blob/main/README.md#2-register-blocks-and-deploy"


class EncryptedFileCredentials(CredentialsBlock):
    """An AES-256-GCM credential file (scrypt or Argon2id key) and its master password.

    Example:
        Load the block and read a credential:
        ```python
        from blocks.credentials import EncryptedFileCredentials

        credentials = EncryptedFileCredentials.load("BLOCK_NAME")
        token = credentials.get_client().get("github_api")["token"]
        ```
    """

    _block_type_name = "apilink Encrypted File Credentials"
    _block_type_slug = "encrypted-file-credentials"
    _description = "An AES-256-GCM encrypted credential file and the password that opens it."
    _documentation_url = _DOCS  # type: ignore[assignment]

    path: str = Field(
        title="Credential file",
        description="Path of the encrypted credential file on the worker.",
    )
    master_password: SecretStr | None = Field(
        default=None,
        title="Master password",
        description="Password of the file; when empty, APILINK_MASTER_PASSWORD is read.",
    )
    kdf: Literal["scrypt", "argon2id"] = Field(
        default="scrypt",
        title="Key derivation",
        description="How new writes derive the key from the password.",
    )

    def store_config(self) -> FileStoreConfig:
        """The engine's config for this file store."""
        return FileStoreConfig(
            type="file", path=self.path, master_password=self.master_password, kdf=self.kdf
        )

    def get_client(self) -> EncryptedFileStore:
        """The opened :class:`~apilink.credentials.EncryptedFileStore`."""
        return EncryptedFileStore(self.path, self.master_password, kdf=self.kdf)


class VaultCredentials(CredentialsBlock):
    """A HashiCorp Vault or OpenBao KV mount and how to log in to it (token or AppRole).

    Example:
        Load the block and read a credential:
        ```python
        from blocks.credentials import VaultCredentials

        vault = VaultCredentials.load("BLOCK_NAME")
        password = vault.get_client().get("db")["password"]
        ```
    """

    _block_type_name = "apilink Vault Credentials"
    _block_type_slug = "vault-credentials"
    _description = "Credentials read from HashiCorp Vault or OpenBao (KV v2 or v1)."
    _documentation_url = _DOCS  # type: ignore[assignment]

    url: str = Field(title="Server URL", description="Address of the Vault or OpenBao server.")
    auth_method: Literal["token", "approle"] = Field(
        default="token", title="Login method", description="Log in with a token or AppRole."
    )
    token: SecretStr | None = Field(
        default=None, title="Token", description="Vault token, for the token login method."
    )
    role_id: str | None = Field(
        default=None, title="AppRole role id", description="Role id, for AppRole login."
    )
    secret_id: SecretStr | None = Field(
        default=None, title="AppRole secret id", description="Secret id, for AppRole login."
    )
    approle_mount_point: str = Field(
        default="approle", description="Where the AppRole auth method is mounted."
    )
    mount_point: str = Field(default="secret", description="Where the KV engine is mounted.")
    kv_version: Literal[1, 2] = Field(default=2, description="Version of the KV engine.")
    path_prefix: str = Field(
        default="", description="Prefix before each credential name, such as apps/sync/."
    )
    namespace: str | None = Field(default=None, description="Vault Enterprise namespace.")
    verify: bool = Field(default=True, description="Verify the server's TLS certificate.")
    timeout: float = Field(default=10.0, description="Seconds to wait for each request.")

    def store_config(self) -> VaultStoreConfig:
        """The engine's config for this Vault store.

        Raises:
            CredentialError: the fields the login method needs are missing.
        """
        auth: dict[str, object]
        if self.auth_method == "token":
            if self.token is None:
                raise CredentialError(f"block for {self.url}: the token login needs `token`")
            auth = {"method": "token", "token": self.token}
        else:
            if self.role_id is None or self.secret_id is None:
                raise CredentialError(
                    f"block for {self.url}: AppRole login needs `role_id` and `secret_id`"
                )
            auth = {
                "method": "approle",
                "role_id": self.role_id,
                "secret_id": self.secret_id,
                "mount_point": self.approle_mount_point,
            }
        return VaultStoreConfig.model_validate(
            {
                "type": "vault",
                "url": self.url,
                "auth": auth,
                "mount_point": self.mount_point,
                "kv_version": self.kv_version,
                "path_prefix": self.path_prefix,
                "namespace": self.namespace,
                "verify": self.verify,
                "timeout": self.timeout,
            }
        )

    def get_client(self) -> VaultStore:
        """The :class:`~apilink.credentials.VaultStore` (logs in on first use)."""
        return VaultStore(self.store_config())


def load_store_config(name: str) -> CredentialStoreConfig:
    """Load a saved credential block and return its store config (for ``open_store``).

    Args:
        name: ``"TYPE/NAME"`` (``encrypted-file-credentials/prod``), or a bare ``NAME`` when
            exactly one credential block of that name is saved.

    Raises:
        CredentialError: no credential block of that name, two of them, or a block of another
            type.
    """
    if "/" not in name:
        return _bare_block(name).store_config()
    try:
        # Prefect's async API, run to completion: the same from sync and async callers.
        block: object = run_coro_as_sync(Block.aload(name))
    except ValueError:
        raise CredentialError(f"no credential block {name!r} is saved in Prefect") from None
    if isinstance(block, EncryptedFileCredentials | VaultCredentials):
        return block.store_config()
    raise CredentialError(
        f"block {name!r} is a {type(block).__name__}; expected "
        "encrypted-file-credentials/... or vault-credentials/..."
    )


def _bare_block(name: str) -> EncryptedFileCredentials | VaultCredentials:
    found: list[EncryptedFileCredentials | VaultCredentials] = []
    for kind in (EncryptedFileCredentials, VaultCredentials):
        try:
            block: object = run_coro_as_sync(kind.aload(name))
        except ValueError:
            continue
        if isinstance(block, EncryptedFileCredentials | VaultCredentials):
            found.append(block)
    slugs = " or ".join(f"{kind.get_block_type_slug()}/{name}" for kind in _CREDENTIAL_BLOCKS)
    if not found:
        raise CredentialError(f"no credential block named {name!r} is saved ({slugs})")
    if len(found) > 1:
        raise CredentialError(f"two credential blocks are named {name!r}; say which: {slugs}")
    return found[0]


_CREDENTIAL_BLOCKS = (EncryptedFileCredentials, VaultCredentials)
