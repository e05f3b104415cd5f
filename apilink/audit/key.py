"""Where the audit HMAC key comes from.

1. ``APILINK_AUDIT_KEY`` (at least 32 characters), best handed in from a secret store: then
   whoever can write the log cannot forge it, because the key never sits next to it.
2. Otherwise ``<log>.key``: 32 random bytes (hex), created once with mode 0600 beside the log.
   This catches accidental edits and anyone who can write the log but not read the key; someone
   who can read the key file can rewrite the whole chain. Keep the directory private, or use 1.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from apilink.errors import AuditKeyError
from apilink.storage.private_files import PrivateLock, open_private_fd

__all__ = ["AUDIT_KEY_ENV", "key_path_for", "load_audit_key"]

AUDIT_KEY_ENV = "APILINK_AUDIT_KEY"
_MIN_ENV_KEY = 32


def key_path_for(log_path: str | os.PathLike[str]) -> Path:
    """The key file that belongs to ``log_path`` (``<log>.key``)."""
    return Path(str(log_path) + ".key")


def load_audit_key(
    log_path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    create: bool = True,
) -> bytes:
    """The HMAC key for the audit log at ``log_path``.

    Args:
        log_path: the audit log.
        env: the environment to read ``APILINK_AUDIT_KEY`` from (``os.environ`` by default).
        create: make ``<log>.key`` when it does not exist (writers yes, ``verify`` no).

    Raises:
        AuditKeyError: a short environment key, or no key file while ``create`` is false.
    """
    env = os.environ if env is None else env
    value = env.get(AUDIT_KEY_ENV)
    if value:
        if len(value) < _MIN_ENV_KEY:
            raise AuditKeyError(f"{AUDIT_KEY_ENV} must be at least {_MIN_ENV_KEY} characters")
        return value.encode("utf-8")
    path = key_path_for(log_path)
    if not create:
        return _read_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The lock keeps two first writers from each making (and using) a different key.
    with PrivateLock(str(path) + ".lock"):
        if path.exists():
            return _read_key(path)
        key = secrets.token_bytes(32)
        fd = open_private_fd(path, "x")
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key.hex() + "\n")
        return key


def _read_key(path: Path) -> bytes:
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        raise AuditKeyError(f"no audit key: set {AUDIT_KEY_ENV} or provide {path}") from None
    except ValueError:
        raise AuditKeyError(f"{path} is not an audit key file") from None
    if len(key) < 16:
        raise AuditKeyError(f"{path} holds a key shorter than 16 bytes")
    return key
