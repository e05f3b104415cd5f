"""Prefect blocks over the engine: register them with ``prefect block register -m blocks``."""

from __future__ import annotations

from blocks.access_control import AccessControl
from blocks.credentials import EncryptedFileCredentials, VaultCredentials
from blocks.sync_config import SyncConfig

__all__ = ["AccessControl", "EncryptedFileCredentials", "SyncConfig", "VaultCredentials"]
