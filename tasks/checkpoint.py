"""Checkpoints through Prefect: a ``StateStore`` over Prefect Variables, and the choice of store.
The flow saves after the target acknowledged a chunk.

With a Prefect server (``PREFECT_API_URL`` set) the state of sync ``orders`` is the Variable
``apilink-state-orders`` (visible and editable in the UI); without one it is a local file in the
state folder. ``APILINK_STATE_STORE=file`` or ``=prefect`` forces the choice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from prefect.settings import PREFECT_API_URL
from prefect.variables import Variable

from apilink.config.models import SyncConfig
from apilink.state import (
    FileStateStore,
    StateError,
    StateStore,
    default_state_dir,
    state_slug,
)

__all__ = ["STORE_ENV", "PrefectVariableStateStore", "choose_state_store"]

STORE_ENV = "APILINK_STATE_STORE"
_PREFIX = "apilink-state-"


class PrefectVariableStateStore:
    """Sync state as Prefect Variables named ``apilink-state-<sync>``.

    A Variable holds at most 5000 characters of JSON; a sync's state (cursors and a reader
    position per mapping) is far smaller. A larger one is refused with :class:`StateError`.
    """

    def name(self, key: str) -> str:
        """The Variable that holds ``key``."""
        return (_PREFIX + state_slug(key))[:255]

    def load(self, key: str) -> dict[str, Any] | None:
        value = Variable.get(self.name(key), None, _sync=True)  # type: ignore[call-overload]
        if value is None:
            return None
        if not isinstance(value, dict):
            raise StateError(f"Prefect Variable {self.name(key)!r} does not hold sync state")
        return dict(value)

    def save(self, key: str, state: dict[str, Any]) -> None:
        try:
            Variable.set(  # type: ignore[call-arg]
                self.name(key), state, overwrite=True, tags=["apilink"], _sync=True
            )
        except ValueError as exc:
            raise StateError(
                f"cannot save the state of sync {key!r} in a Prefect Variable: {exc}"
            ) from None

    def delete(self, key: str) -> None:
        Variable.unset(self.name(key), _sync=True)  # type: ignore[call-arg]


def choose_state_store(config: SyncConfig, environ: Mapping[str, str] | None = None) -> StateStore:
    """Prefect Variables when a Prefect server is configured, else the local file store."""
    env = os.environ if environ is None else environ
    choice = env.get(STORE_ENV, "auto").lower()
    if choice not in {"auto", "file", "prefect"}:
        raise StateError(f"{STORE_ENV}={choice!r}; valid values are: auto, file, prefect")
    if choice == "prefect" or (choice == "auto" and PREFECT_API_URL.value()):
        return PrefectVariableStateStore()
    return FileStateStore(default_state_dir(config.state_dir, env))
