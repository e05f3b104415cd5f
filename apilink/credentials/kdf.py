"""Password-based key derivation for the credential file: scrypt or Argon2id.

Parameters travel in the file header, so a reader must not trust them blindly: a header below
the floor would let an attacker downgrade the next write, and one above the ceiling would make
a read burn gigabytes of memory. :func:`check_params` refuses both before any work is done.

Floors follow the OWASP password storage minimums (scrypt N=2^14, r=8; Argon2id 19 MiB, t=2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from apilink.errors import CredentialFileError

__all__ = [
    "ARGON2ID_CEILING",
    "ARGON2ID_DEFAULT",
    "ARGON2ID_FLOOR",
    "KEY_LENGTH",
    "SCRYPT_CEILING",
    "SCRYPT_DEFAULT",
    "SCRYPT_FLOOR",
    "KdfName",
    "KdfParams",
    "check_params",
    "default_params",
    "derive_key",
]

KdfName = Literal["scrypt", "argon2id"]

KEY_LENGTH = 32
"""AES-256."""


@dataclass(frozen=True)
class KdfParams:
    """One KDF and its three cost parameters.

    For ``scrypt`` the costs are ``(n, r, p)``; for ``argon2id`` they are
    ``(memory_cost in KiB, iterations, lanes)``.
    """

    kdf: KdfName
    cost1: int
    cost2: int
    cost3: int

    def describe(self) -> str:
        """The parameters by their usual names, for error messages."""
        if self.kdf == "scrypt":
            return f"scrypt n={self.cost1} r={self.cost2} p={self.cost3}"
        return f"argon2id memory={self.cost1}KiB iterations={self.cost2} lanes={self.cost3}"


SCRYPT_FLOOR = KdfParams("scrypt", 2**14, 8, 1)
SCRYPT_DEFAULT = KdfParams("scrypt", 2**17, 8, 1)
SCRYPT_CEILING = KdfParams("scrypt", 2**20, 16, 16)
ARGON2ID_FLOOR = KdfParams("argon2id", 19_456, 2, 1)
ARGON2ID_DEFAULT = KdfParams("argon2id", 65_536, 3, 4)
ARGON2ID_CEILING = KdfParams("argon2id", 1_048_576, 16, 16)

_BOUNDS: dict[str, tuple[KdfParams, KdfParams]] = {
    "scrypt": (SCRYPT_FLOOR, SCRYPT_CEILING),
    "argon2id": (ARGON2ID_FLOOR, ARGON2ID_CEILING),
}
_DEFAULTS: dict[str, KdfParams] = {"scrypt": SCRYPT_DEFAULT, "argon2id": ARGON2ID_DEFAULT}


def default_params(kdf: KdfName) -> KdfParams:
    """The parameters new files are written with when none are given."""
    try:
        return _DEFAULTS[kdf]
    except KeyError:
        raise ValueError(f"unknown KDF {kdf!r}; valid: argon2id, scrypt") from None


def check_params(params: KdfParams) -> KdfParams:
    """Return ``params`` if each cost lies between the floor and the ceiling of its KDF.

    Raises:
        CredentialFileError: naming the KDF and the refused parameters (never a secret).
    """
    bounds = _BOUNDS.get(params.kdf)
    if bounds is None:
        raise CredentialFileError(f"unknown KDF {params.kdf!r}; valid: argon2id, scrypt")
    floor, ceiling = bounds
    costs = (params.cost1, params.cost2, params.cost3)
    lows = (floor.cost1, floor.cost2, floor.cost3)
    highs = (ceiling.cost1, ceiling.cost2, ceiling.cost3)
    if any(c < lo for c, lo in zip(costs, lows, strict=True)):
        raise CredentialFileError(
            f"KDF parameters refused: {params.describe()} is below the floor ({floor.describe()})"
        )
    if any(c > hi for c, hi in zip(costs, highs, strict=True)):
        raise CredentialFileError(
            f"KDF parameters refused: {params.describe()} is above the ceiling "
            f"({ceiling.describe()})"
        )
    if params.kdf == "scrypt" and params.cost1 & (params.cost1 - 1):
        raise CredentialFileError(
            f"KDF parameters refused: scrypt n={params.cost1} is not a power of 2"
        )
    return params


def derive_key(password: bytes, salt: bytes, params: KdfParams) -> bytes:
    """The 32-byte AES key for ``password`` and ``salt`` (parameters are checked first)."""
    check_params(params)
    if params.kdf == "scrypt":
        return Scrypt(
            salt=salt, length=KEY_LENGTH, n=params.cost1, r=params.cost2, p=params.cost3
        ).derive(password)
    return Argon2id(
        salt=salt,
        length=KEY_LENGTH,
        memory_cost=params.cost1,
        iterations=params.cost2,
        lanes=params.cost3,
    ).derive(password)
