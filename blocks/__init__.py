"""Prefect blocks over the engine: register them with ``prefect block register -m blocks``."""

from __future__ import annotations

from blocks.access_control import AccessControl
from blocks.credentials import EncryptedFileCredentials, VaultCredentials

__all__ = ["AccessControl", "EncryptedFileCredentials", "VaultCredentials"]
