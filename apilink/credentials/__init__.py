"""Credential stores (encrypted file, Vault/OpenBao) and ``secret://`` references."""

from __future__ import annotations

from apilink.credentials.base import CredentialStore
from apilink.credentials.file_store import EncryptedFileStore
from apilink.credentials.kdf import KdfParams
from apilink.credentials.master_password import MASTER_PASSWORD_ENV, resolve_master_password
from apilink.credentials.opening import BlockLoader, open_store
from apilink.credentials.references import SecretReference, parse_reference, resolve_references
from apilink.credentials.vault import VaultStore
from apilink.errors import VaultCredentialNotFound

__all__ = [
    "MASTER_PASSWORD_ENV",
    "BlockLoader",
    "CredentialStore",
    "EncryptedFileStore",
    "KdfParams",
    "SecretReference",
    "VaultCredentialNotFound",
    "VaultStore",
    "open_store",
    "parse_reference",
    "resolve_master_password",
    "resolve_references",
]
