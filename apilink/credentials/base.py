"""The contract every credential store meets (encrypted file, Vault/OpenBao, or in memory)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from apilink.errors import CredentialError, CredentialExpired

__all__ = [
    "PLAIN_FIELD",
    "CredentialStore",
    "check_name",
    "check_unexpired",
    "entry_of",
    "plain_value",
]

PLAIN_FIELD = "value"
"""The one field of an entry kept as a plain string by a store of strings (AWS, Prefect)."""


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


def check_name(name: object) -> str:
    """``name`` if it can name an entry (a non-empty string), else a ``CredentialError``."""
    if not isinstance(name, str) or not name.strip():
        raise CredentialError("a credential name must be a non-empty string")
    return name


def check_unexpired(name: str, entry: Mapping[str, Any], now: float, where: str) -> None:
    """Raise ``CredentialExpired`` when ``entry``'s ``expires_at`` (Unix seconds) is past."""
    expires_at = entry.get("expires_at")
    if expires_at is not None and now >= float(expires_at):
        raise CredentialExpired(f"credential {name!r} in {where} has expired")


def entry_of(value: Any) -> dict[str, Any]:
    """An entry from a store that holds one value per name: a JSON object (a mapping, or a
    string holding one) gives its fields; anything else is the one field ``value``."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {PLAIN_FIELD: value}
        if isinstance(parsed, dict):
            return parsed
    return {PLAIN_FIELD: value}


def plain_value(entry: Mapping[str, Any]) -> str | None:
    """The string an entry of just ``value`` stands for (stored as is), else ``None``."""
    value = entry.get(PLAIN_FIELD)
    return value if set(entry) == {PLAIN_FIELD} and isinstance(value, str) else None
