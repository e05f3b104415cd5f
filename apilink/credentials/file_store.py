"""``EncryptedFileStore``: credentials in one AES-256-GCM file, never in plain text.

Every write re-encrypts the whole file under a fresh salt and nonce, into a temporary file in
the same folder that is fsynced and then renamed over the old one, so a crash leaves either the
old or the new file, never half of one. A lock file serialises read-modify-write across
processes. See :mod:`apilink.credentials.file_format` for the bytes.

``compare_and_set`` (how a rotated OAuth token is written back) compares and writes under that
same lock, which every writer takes, so the check and the write are one step for every process
on the machine (or on a shared file system whose ``flock`` works across hosts).
"""

from __future__ import annotations

import builtins
import json
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from apilink.credentials.base import Versioned, check_name, entry_version
from apilink.credentials.file_format import KeyDeriver, open_body, seal_body
from apilink.credentials.kdf import (
    KdfName,
    KdfParams,
    check_params,
    default_params,
    derive_key,
)
from apilink.credentials.master_password import resolve_master_password
from apilink.errors import (
    CredentialConflict,
    CredentialError,
    CredentialExpired,
    CredentialFileError,
    CredentialNotFound,
)
from apilink.storage.private_files import PrivateLock, write_atomically

__all__ = ["EncryptedFileStore", "check_entry"]

_Entries = dict[str, dict[str, Any]]
_CachedKey = tuple[bytes, KdfParams, bytes]
"""(salt, params, key) of the file as last read or written with the current password."""


class EncryptedFileStore:
    """A :class:`~apilink.credentials.base.CredentialStore` kept in one encrypted file.

    Args:
        path: the credential file; created on the first ``put``.
        master_password: the password; ``None`` reads ``APILINK_MASTER_PASSWORD``.
        kdf: ``"scrypt"`` (default) or ``"argon2id"``, used for every write.
        kdf_params: explicit costs for writes (checked against floor and ceiling); defaults to
            :func:`~apilink.credentials.kdf.default_params` of ``kdf``.
        now: clock for ``expires_at`` checks, Unix seconds.
        lock_timeout: seconds to wait for another writer before giving up.
        random_bytes: source of salts and nonces.

    Example:
        >>> store = EncryptedFileStore("credentials.enc", "a strong password")
        >>> store.put("github_api", {"token": "ghp_...", "expires_at": 1735689600})
        >>> store.get("github_api")["token"]
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        master_password: str | SecretStr | None = None,
        *,
        kdf: KdfName = "scrypt",
        kdf_params: KdfParams | None = None,
        now: Callable[[], float] = time.time,
        lock_timeout: float = 30.0,
        random_bytes: Callable[[int], bytes] = os.urandom,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._params = check_params(kdf_params if kdf_params is not None else default_params(kdf))
        self._path = Path(path)
        self._password = resolve_master_password(master_password, environ=environ)
        self._now = now
        self._random_bytes = random_bytes
        self._lock = PrivateLock(f"{self._path}.lock", timeout=lock_timeout)
        self._cache_guard = threading.Lock()
        # The key of the file as last read or written: reads then cost no KDF run.
        self._cached: _CachedKey | None = None

    def __repr__(self) -> str:
        return f"EncryptedFileStore(path={str(self._path)!r}, kdf={self._params.kdf!r})"

    @property
    def path(self) -> Path:
        """The credential file."""
        return self._path

    @property
    def kdf_params(self) -> KdfParams:
        """The KDF parameters every write uses."""
        return self._params

    # -- CredentialStore -------------------------------------------------------------------

    def get(self, name: str) -> dict[str, Any]:
        """The entry stored under ``name`` (a copy).

        Raises:
            CredentialNotFound: no such entry (or no file yet).
            CredentialExpired: its ``expires_at`` is not in the future.
            DecryptionError: wrong password or a changed file.
            CredentialFileError: not a credential file, or a refused header.
        """
        entries = self._read()
        if name not in entries:
            raise CredentialNotFound(f"no credential named {name!r} in {self._path}")
        entry = dict(entries[name])
        expires_at = entry.get("expires_at")
        if expires_at is not None and self._now() >= float(expires_at):
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(expires_at)))
            raise CredentialExpired(f"credential {name!r} expired at {when}")
        return entry

    def put(self, name: str, entry: Mapping[str, Any]) -> None:
        """Store ``entry`` under ``name``, replacing any entry of that name.

        ``SecretStr`` values are stored as their secret; every value must be JSON.
        """
        clean = check_entry(name, entry)
        with self._lock:
            entries = self._read()
            entries[name] = clean
            self._write(entries, self._password)

    def get_versioned(self, name: str) -> Versioned:
        """``get``, with the entry's version for ``compare_and_set``."""
        entry = self.get(name)
        return Versioned(entry, entry_version(entry))

    def compare_and_set(self, name: str, entry: Mapping[str, Any], expected: str | None) -> str:
        """Store ``entry`` under ``name`` only while the stored entry is at version ``expected``
        (``None``: only while there is none); returns the new version.

        The version of an entry is a keyed digest of its content (the file keeps no counter):
        an entry that changed back to exactly what was read compares equal, and writing over
        it is then the same as writing over what was read.

        Raises:
            CredentialConflict: the entry changed since it was read; nothing was written.
        """
        clean = check_entry(name, entry)
        with self._lock:
            entries = self._read()
            current = entry_version(entries[name]) if name in entries else None
            if current != expected:
                raise CredentialConflict(
                    f"credential {name!r} in {self._path} changed since it was read; not written"
                )
            entries[name] = clean
            self._write(entries, self._password)
        return entry_version(clean)

    def delete(self, name: str) -> None:
        """Remove ``name``.

        Raises:
            CredentialNotFound: no such entry.
        """
        with self._lock:
            entries = self._read()
            if name not in entries:
                raise CredentialNotFound(f"no credential named {name!r} in {self._path}")
            del entries[name]
            self._write(entries, self._password)

    def list(self) -> list[str]:
        """The names stored, sorted (expired ones included)."""
        return sorted(self._read())

    # -- password rotation -----------------------------------------------------------------

    def rotate_password(self, new_password: str | SecretStr) -> None:
        """Re-encrypt the file under ``new_password`` in one atomic replace.

        The old password must open the file; if anything fails the file is left as it was
        and this store keeps the old password.
        """
        new = new_password if isinstance(new_password, SecretStr) else SecretStr(new_password)
        if not new.get_secret_value():
            raise CredentialError("the new master password is empty")
        with self._lock:
            entries = self._read()
            self._write(entries, new)
            self._password = new

    # -- file I/O --------------------------------------------------------------------------

    def _deriver(self, password: SecretStr) -> tuple[KeyDeriver, builtins.list[_CachedKey]]:
        """A key derivation that reuses the cached key, and the list of keys it derived."""
        secret = password.get_secret_value().encode("utf-8")
        use_cache = password is self._password
        derived: builtins.list[_CachedKey] = []

        def derive(salt: bytes, params: KdfParams) -> bytes:
            with self._cache_guard:
                cached = self._cached
            if use_cache and cached is not None and cached[:2] == (salt, params):
                return cached[2]
            key = derive_key(secret, salt, params)
            derived.append((salt, params, key))
            return key

        return derive, derived

    def _remember(self, derived: builtins.list[_CachedKey]) -> None:
        if derived:
            with self._cache_guard:
                self._cached = derived[-1]

    def _read(self) -> _Entries:
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CredentialFileError(f"{self._path}: cannot read ({exc.strerror})") from None
        derive, derived = self._deriver(self._password)
        entries = open_body(data, derive)
        self._remember(derived)  # only a key that authenticated the file is kept
        return entries

    def _write(self, entries: _Entries, password: SecretStr) -> None:
        derive, derived = self._deriver(password)
        data = seal_body(entries, self._params, derive, random_bytes=self._random_bytes)
        write_atomically(self._path, data)
        self._remember(derived)


def check_entry(name: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-ready copy of ``entry`` (``SecretStr`` unwrapped), or a clear ``CredentialError``.

    The error names the entry and field, never a value.
    """
    check_name(name)
    if not isinstance(entry, Mapping):
        raise CredentialError(f"credential {name!r} must be a mapping of fields")
    clean: dict[str, Any] = {}
    for key, value in entry.items():
        if not isinstance(key, str):
            raise CredentialError(f"credential {name!r}: field names must be strings")
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        try:
            json.dumps(plain, allow_nan=False)
        except (TypeError, ValueError):
            raise CredentialError(
                f"credential {name!r}: field {key!r} is a {type(plain).__name__}, not JSON"
            ) from None
        clean[key] = plain
    expires_at = clean.get("expires_at")
    if expires_at is not None and (
        isinstance(expires_at, bool)
        or not isinstance(expires_at, int | float)
        or not math.isfinite(expires_at)
    ):
        raise CredentialError(f"credential {name!r}: `expires_at` must be Unix seconds (a number)")
    return clean
