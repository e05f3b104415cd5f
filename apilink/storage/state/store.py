"""Where a sync keeps what must outlive a run: the ``StateStore`` protocol and the local file
store.

A store holds one JSON object per key (the sync's name). The engine ships
:class:`FileStateStore`; the flow layer adds a store over Prefect Variables (the engine never
imports Prefect). Implement the three methods to keep state anywhere else.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from apilink.errors import StateError
from apilink.storage.private_files import PrivateLock, write_atomically

__all__ = [
    "STATE_DIR_ENV",
    "FileStateStore",
    "MemoryStateStore",
    "StateStore",
    "default_state_dir",
    "state_slug",
]

STATE_DIR_ENV = "APILINK_STATE_DIR"
_UNSAFE = re.compile(r"[^a-z0-9_-]+")


@runtime_checkable
class StateStore(Protocol):
    """One JSON object per key; ``save`` replaces it whole and atomically."""

    def load(self, key: str) -> dict[str, Any] | None:
        """The object saved under ``key``, or ``None``."""
        ...

    def save(self, key: str, state: dict[str, Any]) -> None:
        """Replace the object under ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Forget ``key`` (no error when absent)."""
        ...


def state_slug(name: str) -> str:
    """A file- and variable-safe form of a sync name, unique per name."""
    slug = _UNSAFE.sub("-", name.lower()).strip("-")[:80] or "sync"
    if slug != name:
        slug += "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return slug


def default_state_dir(configured: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """``state_dir`` from the config, else ``APILINK_STATE_DIR``, else ``~/.apilink/state``."""
    env = os.environ if environ is None else environ
    if configured:
        return Path(configured).expanduser()
    if env.get(STATE_DIR_ENV):
        return Path(env[STATE_DIR_ENV]).expanduser()
    return Path.home() / ".apilink" / "state"


class FileStateStore:
    """State as ``<folder>/<sync>.state.json``: written atomically, mode 0600, under a lock.

    Args:
        folder: created (mode 0700) on the first write.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"FileStateStore({str(self.folder)!r})"

    def path(self, key: str) -> Path:
        """The file that holds ``key``."""
        return self.folder / f"{state_slug(key)}.state.json"

    def load(self, key: str) -> dict[str, Any] | None:
        path = self.path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"{path}: cannot read sync state ({exc.strerror})") from None
        try:
            state = json.loads(text)
        except ValueError:
            raise StateError(
                f"{path}: sync state is not JSON; move it away to start over"
            ) from None
        if not isinstance(state, dict):
            raise StateError(f"{path}: sync state is not a JSON object")
        return state

    def save(self, key: str, state: dict[str, Any]) -> None:
        path = self.path(key)
        data = json.dumps(state, sort_keys=True, separators=(",", ":")).encode()
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with PrivateLock(str(path) + ".lock"):
            write_atomically(path, data)

    def delete(self, key: str) -> None:
        path = self.path(key)
        with PrivateLock(str(path) + ".lock"):
            path.unlink(missing_ok=True)


class MemoryStateStore:
    """State in a dict, for tests and dry runs; ``saves`` counts writes."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}
        self.saves = 0

    def load(self, key: str) -> dict[str, Any] | None:
        state = self.states.get(key)
        return json.loads(json.dumps(state)) if state is not None else None

    def save(self, key: str, state: dict[str, Any]) -> None:
        self.saves += 1
        self.states[key] = json.loads(json.dumps(state))

    def delete(self, key: str) -> None:
        self.states.pop(key, None)
