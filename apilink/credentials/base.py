"""The contract every credential store meets (encrypted file, Vault/OpenBao, or in memory)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["CredentialStore"]


@runtime_checkable
class CredentialStore(Protocol):
    """A named set of credential entries; each entry is a dict of fields.

    ``get`` raises ``CredentialNotFound`` for an unknown name and ``CredentialExpired`` when the
    entry's ``expires_at`` (Unix seconds) is past.
    """

    def get(self, name: str) -> dict[str, Any]: ...

    def put(self, name: str, entry: dict[str, Any]) -> None: ...

    def delete(self, name: str) -> None: ...

    def list(self) -> list[str]: ...
