"""The contract every credential store meets (encrypted file, Vault/OpenBao, or in memory).

Besides ``get``/``put``/``delete``/``list``, a store may write conditionally
(:class:`VersionedStore`): ``get_versioned`` gives an entry with its version, and
``compare_and_set`` writes only while that version is still the stored one, else raises
``CredentialConflict`` and writes nothing. That is how a rotated OAuth refresh token is written
back when several processes share it (:mod:`apilink.auth.rotation`). Callers use the two
functions :func:`read_versioned` and :func:`compare_and_set` of this module, the one place of
the policy: a store with a native mechanism uses it (Vault KV v2 ``cas``, the file store's lock,
AWS staging labels); any other store gets :func:`check_then_put`, a check just before the write
whose window is not closed (a documented limit: Vault KV v1, Prefect Secret blocks, stores of
third parties).

Versions are opaque strings, valid only with the store that gave them, and never a secret: a
store without versions of its own uses :func:`entry_version`, an HMAC of the entry under a key
that lives only in this process's memory, so no version says anything about a value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from pydantic import SecretStr

from apilink.errors import (
    CredentialConflict,
    CredentialError,
    CredentialExpired,
    CredentialNotFound,
)

__all__ = [
    "PLAIN_FIELD",
    "CredentialStore",
    "Versioned",
    "VersionedStore",
    "check_name",
    "check_then_put",
    "check_unexpired",
    "compare_and_set",
    "entry_of",
    "entry_version",
    "plain_value",
    "read_versioned",
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


class Versioned:
    """An entry as read, and the version it was read at (pass it to ``compare_and_set``).

    Its ``repr`` names the fields, never a value.
    """

    __slots__ = ("entry", "version")

    def __init__(self, entry: dict[str, Any], version: str) -> None:
        self.entry = entry
        self.version = version

    def __repr__(self) -> str:
        return f"Versioned(fields={sorted(self.entry)!r}, version=<opaque>)"


@runtime_checkable
class VersionedStore(CredentialStore, Protocol):
    """A store that writes conditionally with a mechanism of its own.

    ``compare_and_set(name, entry, expected)`` writes ``entry`` only if the stored version is
    still ``expected`` (``None``: only if nothing is stored under ``name``), returns the new
    version, and otherwise raises ``CredentialConflict`` having written nothing.
    """

    def get_versioned(self, name: str) -> Versioned: ...

    def compare_and_set(self, name: str, entry: Mapping[str, Any], expected: str | None) -> str: ...


_VERSION_KEY = secrets.token_bytes(32)


def entry_version(entry: Mapping[str, Any]) -> str:
    """The version of an entry kept by a store without versions: an HMAC of its JSON under a
    key of this process, so equal entries have equal versions and none reveals a value."""
    text = json.dumps(
        dict(entry),
        sort_keys=True,
        separators=(",", ":"),
        default=lambda v: v.get_secret_value() if isinstance(v, SecretStr) else str(v),
    )
    return "h:" + hmac.new(_VERSION_KEY, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def read_versioned(store: CredentialStore, name: str) -> Versioned | None:
    """``name``'s entry with its version, or ``None`` when nothing is stored under it."""
    try:
        if isinstance(store, VersionedStore):
            return store.get_versioned(name)
        entry = store.get(name)
    except CredentialNotFound:
        return None
    return Versioned(entry, entry_version(entry))


def compare_and_set(
    store: CredentialStore, name: str, entry: Mapping[str, Any], expected: str | None
) -> str:
    """Write ``entry`` under ``name`` only while its stored version is ``expected``.

    Returns the new version. Raises ``CredentialConflict`` (nothing written) when another
    version is stored, or something is stored and ``expected`` is ``None``.
    """
    if isinstance(store, VersionedStore):
        return store.compare_and_set(name, entry, expected)
    return check_then_put(store, name, entry, expected)


def check_then_put(
    store: CredentialStore, name: str, entry: Mapping[str, Any], expected: str | None
) -> str:
    """``compare_and_set`` for a store with no conditional write: read, compare, then write.

    Not atomic: a writer between the read and the write is overwritten. It still keeps a
    process from writing over a token another process stored since it was read, which is the
    case that matters (a refresh takes a round trip to the token endpoint; this window is one
    store call).
    """
    current = read_versioned(store, name)
    if (current.version if current is not None else None) != expected:
        raise CredentialConflict(f"credential {name!r} changed since it was read; not written")
    store.put(name, dict(entry))
    return entry_version(entry)


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
