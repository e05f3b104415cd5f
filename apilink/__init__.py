"""apilink: link REST APIs securely, as Prefect 3 flows.

The engine (this package) never imports Prefect; ``flows.api_sync`` runs it as a flow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from apilink.config import SyncConfig, load_config, parse_config
from apilink.errors import (
    AccessDenied,
    ApilinkError,
    AuditTampered,
    AuthError,
    ConfigError,
    CredentialError,
    TransportError,
)
from apilink.run.summary import SyncSummary

if TYPE_CHECKING:
    from apilink.compat.linker import ApiLinker

__all__ = [
    "AccessDenied",
    "ApiLinker",
    "ApilinkError",
    "AuditTampered",
    "AuthError",
    "ConfigError",
    "CredentialError",
    "SyncConfig",
    "SyncSummary",
    "TransportError",
    "__version__",
    "load_config",
    "parse_config",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # ApiLinker pulls in the credential stores (hvac, cryptography) and RBAC; the CLI and the
    # flow often need neither, so it is imported on first use.
    if name == "ApiLinker":
        from apilink.compat.linker import ApiLinker

        return ApiLinker
    raise AttributeError(f"module 'apilink' has no attribute {name!r}")
