"""Secret-named fields of a kept record, sealed with AES-256-GCM while they rest in a file.

A dead letter must be replayable, so it cannot drop a ``password`` the target needs; and the
dead-letter file must hold no secret. :class:`FieldSealer` replaces the value of every
secret-named key (``filter_fields`` and the usual names, at any depth) with
``{"$sealed": "<base64 nonce + ciphertext>"}`` on the way to the file, and restores it on the way
back. The 256-bit key lives in its own file (mode 0600, created on first use) next to the data
it protects, so the data file alone (copied into a ticket, read by a log shipper) shows no
secret; whoever can read both files holds the records, exactly as the target does.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from apilink.errors import StateError
from apilink.redaction import is_secret_name, secret_words
from apilink.storage.private_files import open_private_fd

__all__ = ["SEALED", "FieldSealer"]

SEALED = "$sealed"
_AAD = b"apilink sealed field v1"
_NONCE_BYTES = 12


class FieldSealer:
    """Seals and unseals the secret-named fields of JSON-like records.

    Args:
        key_file: where the key is kept (created with mode 0600 when first needed).
        words: a key is secret when its name contains one (see
            :func:`apilink.redaction.secret_words` and :func:`~apilink.redaction.is_secret_name`).
    """

    def __init__(self, key_file: str | os.PathLike[str], words: Iterable[str]) -> None:
        self.key_file = Path(key_file)
        self.words = secret_words(words)
        self._aead: AESGCM | None = None

    def __repr__(self) -> str:
        return f"FieldSealer({str(self.key_file)!r})"

    def seal(self, value: Any) -> Any:
        """A copy of ``value`` with every secret-named field's value sealed."""
        if isinstance(value, dict):
            return {
                key: self._seal_one(item)
                if is_secret_name(str(key), self.words)
                else self.seal(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.seal(item) for item in value]
        return value

    def unseal(self, value: Any) -> Any:
        """``value`` with every sealed field restored.

        Raises:
            StateError: a sealed field that does not open with the key (a changed key file or
                an edited value).
        """
        if isinstance(value, dict):
            if set(value) == {SEALED} and isinstance(value[SEALED], str):
                return self._unseal_one(value[SEALED])
            return {key: self.unseal(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.unseal(item) for item in value]
        return value

    def _secret(self, key: object) -> bool:
        return is_secret_name(str(key), self.words)

    def _seal_one(self, value: Any) -> dict[str, str]:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        plain = json.dumps(value, default=str).encode()
        sealed = nonce + self._cipher(create=True).encrypt(nonce, plain, _AAD)
        return {SEALED: base64.urlsafe_b64encode(sealed).decode()}

    def _unseal_one(self, token: str) -> Any:
        try:
            raw = base64.urlsafe_b64decode(token.encode())
            nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
            return json.loads(self._cipher(create=False).decrypt(nonce, sealed, _AAD))
        except (InvalidTag, ValueError) as exc:
            raise StateError(
                f"a sealed field does not open with the key in {self.key_file} "
                f"({type(exc).__name__}): the key file was replaced or the value edited"
            ) from None

    def _cipher(self, *, create: bool) -> AESGCM:
        if self._aead is None:
            self._aead = AESGCM(self._key(create=create))
        return self._aead

    def _key(self, *, create: bool) -> bytes:
        try:
            key = self.key_file.read_bytes()
        except FileNotFoundError:
            if not create:
                raise StateError(
                    f"sealed fields need the key file {self.key_file}, which is missing"
                ) from None
            return self._new_key()
        if len(key) != 32:
            raise StateError(f"{self.key_file} is not a sealing key (32 bytes)")
        return key

    def _new_key(self) -> bytes:
        key = AESGCM.generate_key(bit_length=256)
        self.key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written whole under a temporary name, then linked into place: a reader never sees
        # half a key, and of two processes creating it at once, the second uses the first's.
        temporary = self.key_file.with_name(f".{self.key_file.name}.{secrets.token_hex(6)}")
        fd = open_private_fd(temporary, "x")
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, self.key_file)
        except FileExistsError:
            return self._key(create=False)
        finally:
            temporary.unlink()
        return key
