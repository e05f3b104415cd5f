"""The credential file format, as pure functions over bytes.

```
offset  size  field
0       8     magic  b"APLKCRED"
8       1     format version (1)
9       1     KDF id (1 = scrypt, 2 = argon2id)
10      12    three KDF costs, big-endian uint32 (see KdfParams)
22      16    salt
38      12    nonce
50      ...   AES-256-GCM ciphertext of the JSON body, 16-byte tag last
```

The 50 header bytes are the associated data of the AEAD, so a changed magic, version, KDF
parameter, salt or nonce fails authentication just like a changed ciphertext byte. Every write
draws a fresh salt and nonce. The body is ``{"entries": {name: {field: value}}}``.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from apilink.credentials.kdf import KdfParams, check_params
from apilink.errors import CredentialFileError, DecryptionError

__all__ = [
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "NONCE_SIZE",
    "SALT_SIZE",
    "FileHeader",
    "KeyDeriver",
    "open_body",
    "parse_header",
    "seal_body",
]

MAGIC = b"APLKCRED"
FORMAT_VERSION = 1
SALT_SIZE = 16
NONCE_SIZE = 12
_LAYOUT = struct.Struct(f">8sBBIII{SALT_SIZE}s{NONCE_SIZE}s")
HEADER_SIZE = _LAYOUT.size
_TAG_SIZE = 16
_KDF_IDS = {"scrypt": 1, "argon2id": 2}
_KDF_NAMES = {v: k for k, v in _KDF_IDS.items()}

KeyDeriver = Callable[[bytes, KdfParams], bytes]
"""``(salt, params) -> key``: the store's password-bound (and cached) key derivation."""

_DECRYPTION_FAILED = (
    "cannot decrypt the credential file: wrong master password or the file was changed"
)


@dataclass(frozen=True)
class FileHeader:
    """What precedes the ciphertext; its raw bytes are the associated data."""

    params: KdfParams
    salt: bytes
    nonce: bytes

    def to_bytes(self) -> bytes:
        """The 50-byte header."""
        p = self.params
        return _LAYOUT.pack(
            MAGIC, FORMAT_VERSION, _KDF_IDS[p.kdf], p.cost1, p.cost2, p.cost3, self.salt, self.nonce
        )


def parse_header(data: bytes) -> FileHeader:
    """Read and check the header of ``data``; KDF parameters outside the bounds are refused.

    Raises:
        CredentialFileError: not an apilink credential file, an unknown version or KDF, or
            refused KDF parameters.
    """
    if len(data) < HEADER_SIZE + _TAG_SIZE or not data.startswith(MAGIC):
        raise CredentialFileError("not an apilink credential file (bad magic or too short)")
    _, version, kdf_id, c1, c2, c3, salt, nonce = _LAYOUT.unpack_from(data)
    if version != FORMAT_VERSION:
        raise CredentialFileError(
            f"credential file format version {version} is not supported (expected {FORMAT_VERSION})"
        )
    kdf = _KDF_NAMES.get(kdf_id)
    if kdf is None:
        raise CredentialFileError(f"credential file names an unknown KDF (id {kdf_id})")
    params = check_params(KdfParams(kdf, c1, c2, c3))  # type: ignore[arg-type]
    return FileHeader(params=params, salt=salt, nonce=nonce)


def open_body(data: bytes, derive: KeyDeriver) -> dict[str, dict[str, Any]]:
    """Decrypt a whole file and return its entries.

    Raises:
        CredentialFileError: the header is not ours or is refused (before any KDF work).
        DecryptionError: wrong password or any changed byte; one message for every cause.
    """
    header = parse_header(data)
    key = derive(header.salt, header.params)
    try:
        plain = AESGCM(key).decrypt(header.nonce, data[HEADER_SIZE:], data[:HEADER_SIZE])
    except InvalidTag:
        raise DecryptionError(_DECRYPTION_FAILED) from None
    # Authenticated plaintext was written by us; a failure here means a bug, not tampering.
    body = json.loads(plain.decode("utf-8"))
    entries: dict[str, dict[str, Any]] = body["entries"]
    return entries


def seal_body(
    entries: dict[str, dict[str, Any]],
    params: KdfParams,
    derive: KeyDeriver,
    *,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """Encrypt ``entries`` under a fresh salt and nonce; returns the whole file."""
    header = FileHeader(
        params=check_params(params), salt=random_bytes(SALT_SIZE), nonce=random_bytes(NONCE_SIZE)
    )
    head = header.to_bytes()
    plain = json.dumps({"entries": entries}, separators=(",", ":"), sort_keys=True).encode()
    key = derive(header.salt, header.params)
    return head + AESGCM(key).encrypt(header.nonce, plain, head)
