"""API keys: random, recognisable, shown once, stored only as a hash.

A key is ``alk_`` followed by 32 url-safe base64 characters (192 random bits from
:mod:`secrets`). Only ``sha256:<hex>`` of the key is stored. A plain hash is enough for keys this
random (no dictionary to try); a predefined key from a config (``security.users[].api_key``) is
as strong as whoever chose it. Comparison uses :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["KEY_PREFIX", "generate_api_key", "hash_api_key", "key_matches"]

KEY_PREFIX = "alk_"
_HASH_SCHEME = "sha256:"


def generate_api_key() -> str:
    """A fresh API key: ``alk_`` and 192 random bits."""
    return KEY_PREFIX + secrets.token_urlsafe(24)


def hash_api_key(api_key: str) -> str:
    """The stored form of ``api_key`` (``sha256:<hex>``)."""
    return _HASH_SCHEME + hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def key_matches(api_key: str, stored_hash: str) -> bool:
    """Whether ``api_key`` hashes to ``stored_hash``, compared in constant time."""
    return hmac.compare_digest(hash_api_key(api_key).encode(), stored_hash.encode())
