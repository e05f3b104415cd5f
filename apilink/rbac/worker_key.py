"""The worker key: a secret only the workers (and the machine that mints tickets) hold.

Trusted: the worker's operator, who sets ``APILINK_WORKER_KEY`` in the worker's environment or
creates a key file (mode 0600) named by ``APILINK_WORKER_KEY_FILE`` (default
``~/.apilink/worker.key``). Not trusted: run callers and anyone with Prefect API access; they
never see the key, so they cannot make a block approval, a child partition proof or a run
ticket (:mod:`apilink.rbac.approval`).
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from apilink.errors import ProofRejected

__all__ = [
    "DEFAULT_WORKER_KEY_FILE",
    "WORKER_KEY_ENV",
    "WORKER_KEY_FILE_ENV",
    "create_worker_key_file",
    "load_worker_key",
    "require_worker_key",
]

WORKER_KEY_ENV = "APILINK_WORKER_KEY"
WORKER_KEY_FILE_ENV = "APILINK_WORKER_KEY_FILE"
DEFAULT_WORKER_KEY_FILE = Path("~/.apilink/worker.key")
_MIN_LENGTH = 32


def _key_file(env: Mapping[str, str]) -> Path:
    return Path(env.get(WORKER_KEY_FILE_ENV) or DEFAULT_WORKER_KEY_FILE).expanduser()


def load_worker_key(env: Mapping[str, str] | None = None) -> bytes | None:
    """The worker key, or ``None`` when this machine has none.

    Raises:
        ProofRejected: a key that is too short, or a key file others may read.
    """
    env = os.environ if env is None else env
    if value := env.get(WORKER_KEY_ENV):
        key = value.encode()
    else:
        path = _key_file(env)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            return None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ProofRejected(
                f"worker key file {path} may be read by others (mode {stat.S_IMODE(mode):o}); "
                "chmod 600 it"
            )
        key = path.read_bytes().strip()
    if len(key) < _MIN_LENGTH:
        raise ProofRejected(
            f"the worker key is shorter than {_MIN_LENGTH} characters; make one with "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    return key


def require_worker_key(purpose: str, env: Mapping[str, str] | None = None) -> bytes:
    """The worker key; :class:`ProofRejected` naming how to set one when there is none."""
    key = load_worker_key(env)
    if key is None:
        raise ProofRejected(
            f"{purpose} needs the worker key: set {WORKER_KEY_ENV} on every worker (and where "
            f"`apilink ticket` runs), or create the 0600 file {WORKER_KEY_FILE_ENV} names "
            f"(default {DEFAULT_WORKER_KEY_FILE})",
            permission="worker_key",
        )
    return key


def create_worker_key_file(path: Path) -> Path:
    """Write a fresh random worker key to ``path`` with mode 0600 (refuses to overwrite)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    return path
