"""Build the credential store a config names: ``open_store``."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from apilink.config.credentials import (
    AwsSecretsManagerConfig,
    BlockStoreConfig,
    CredentialStoreConfig,
    FileStoreConfig,
    PrefectSecretConfig,
    VaultStoreConfig,
)
from apilink.config.models import SecurityConfig
from apilink.credentials.base import CredentialStore
from apilink.credentials.file_store import EncryptedFileStore
from apilink.credentials.master_password import resolve_master_password
from apilink.credentials.vault import VaultStore
from apilink.errors import CredentialError

__all__ = ["BlockLoader", "SecretBlocks", "open_store"]

BlockLoader = Callable[[str], CredentialStoreConfig]
"""Loads a saved Prefect block by ``"block-type/name"`` and returns its store config."""

SecretBlocks = Callable[[], CredentialStore]
"""Opens the store over Prefect ``Secret`` blocks (given by the Prefect layer)."""


def open_store(
    config: CredentialStoreConfig | None,
    security: SecurityConfig,
    *,
    load_block: BlockLoader | None = None,
    secret_blocks: SecretBlocks | None = None,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], float] = time.time,
) -> CredentialStore | None:
    """The store ``config`` describes, or ``None`` when there is none.

    Without a ``credentials:`` section, ``security.credential_storage_path`` (the guide's
    setting) opens an encrypted file with the master password of ``security`` or the
    environment. ``type: block`` asks ``load_block`` for the block's config, and
    ``type: prefect_secret`` opens ``secret_blocks``; both are given by the Prefect layer,
    since the engine never imports Prefect.

    Raises:
        CredentialError: a block store without a loader, a block naming a block, or no master
            password for a file store.
    """
    if config is None:
        if security.credential_storage_path is None:
            return None
        password = resolve_master_password(None, security, environ)
        return EncryptedFileStore(security.credential_storage_path, password, now=now)
    if isinstance(config, FileStoreConfig):
        password = resolve_master_password(config.master_password, security, environ)
        return EncryptedFileStore(config.path, password, kdf=config.kdf, now=now)
    if isinstance(config, VaultStoreConfig):
        return VaultStore(config, now=now)
    if isinstance(config, AwsSecretsManagerConfig):
        from apilink.credentials.aws import AwsSecretsManagerStore  # boto3 only when used

        return AwsSecretsManagerStore(config, now=now)
    if isinstance(config, PrefectSecretConfig):
        if secret_blocks is None:
            raise CredentialError(
                "credentials come from Prefect Secret blocks, which only a Prefect flow can "
                "read; run through the flow (apilink sync or a deployment)"
            )
        return secret_blocks()
    if isinstance(config, BlockStoreConfig):
        if load_block is None:
            raise CredentialError(
                f"credentials come from Prefect block {config.block!r}, which only a Prefect "
                "flow can load; run through the flow, or name a file or vault store"
            )
        loaded = load_block(config.block)
        if isinstance(loaded, BlockStoreConfig):
            raise CredentialError(f"Prefect block {config.block!r} names another block")
        return open_store(loaded, security, environ=environ, now=now)
    raise CredentialError(f"unknown credential store type {type(config).__name__}")
