"""Checkpoints through Prefect: a ``StateStore`` over Prefect Variables, and the choice of store.
The flow saves after the target acknowledged a chunk.

With a Prefect server (``PREFECT_API_URL`` set) the state of sync ``orders`` is the Variable
``apilink-state-orders`` (visible and editable in the UI); without one it is a local file in the
state folder. ``APILINK_STATE_STORE=file`` or ``=prefect`` forces the choice.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import VariableUpdate
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL

from apilink.config.models import SyncConfig
from apilink.errors import StateError
from apilink.storage.state import FileStateStore, StateStore, default_state_dir, state_slug

__all__ = [
    "STORE_ENV",
    "UNANSWERED",
    "PrefectVariableStateStore",
    "choose_state_store",
    "close_state_store",
]

STORE_ENV = "APILINK_STATE_STORE"
_PREFIX = "apilink-state-"
# How a save that met no Prefect server says so (the CLI turns it into its one error line).
UNANSWERED = "the Prefect API did not answer"
# Waits between attempts at a save the server answered "busy" (about 16 s in all). A local
# Prefect server on SQLite answers 503 when the write meets the server's own writes of task-run
# events, which happens right after every chunk; trying again a few milliseconds later works,
# where the Prefect client's own backoff waits seconds. Several runs writing at once (workers
# of a partitioned sync) may need the longer waits.
_BUSY_WAITS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0)
_BUSY_STATUSES = frozenset({429, 502, 503})
# Waits between attempts at a save the server did not answer at all: a server that is gone is
# not waited for; the run ends with the checkpoint as last saved, and a rerun once the server is
# back resumes from it. Prefect's transport already tries a refused connection again for about
# 1.5 s, so three attempts take about 6 s. After one such failure, later saves of the run are
# tried once.
_GONE_WAITS = (0.25, 1.0)


class PrefectVariableStateStore:
    """Sync state as Prefect Variables named ``apilink-state-<sync>``.

    A Variable holds at most 5000 characters of JSON; a sync's state (cursors and a reader
    position per mapping) is far smaller. A larger one is refused with :class:`StateError`.

    A run saves after every chunk, so the store keeps one API client open from its first save
    to :meth:`close`, and a save is one ``PATCH`` (a ``POST`` the first time): a client per
    save costs a TLS context and a connection, and ``Variable.set`` reads the Variable twice
    around its write; together they were a fifth of a batch sync's time. A busy server is
    asked again after milliseconds (``_BUSY_WAITS``), not after the client's seconds; a server
    that does not answer at all is given about 6 s (``_GONE_WAITS``), then the save fails
    with :class:`StateError` and the checkpoint stays as last saved.
    """

    def __init__(
        self,
        busy_waits: tuple[float, ...] = _BUSY_WAITS,
        gone_waits: tuple[float, ...] = _GONE_WAITS,
    ) -> None:
        self.busy_waits = busy_waits
        self.gone_waits = gone_waits
        self.unreachable = False
        self._client: SyncPrefectClient | None = None

    def name(self, key: str) -> str:
        """The Variable that holds ``key``."""
        return (_PREFIX + state_slug(key))[:255]

    def load(self, key: str) -> dict[str, Any] | None:
        variable = self._api().read_variable_by_name(self.name(key))
        if variable is None or variable.value is None:
            return None
        value = variable.value
        if not isinstance(value, dict):
            raise StateError(f"Prefect Variable {self.name(key)!r} does not hold sync state")
        return dict(value)

    def save(self, key: str, state: dict[str, Any]) -> None:
        name = self.name(key)
        try:
            update = VariableUpdate(name=name, value=state, tags=["apilink"])
        except ValueError as exc:
            raise StateError(
                f"cannot save the state of sync {key!r} in a Prefect Variable: {exc}"
            ) from None
        busy, gone = iter(self.busy_waits), iter(() if self.unreachable else self.gone_waits)
        while True:
            try:
                self._write(update)
                self.unreachable = False
                return
            except httpx.HTTPStatusError as exc:
                status = exc.response.status_code
                wait = next(busy, None) if status in _BUSY_STATUSES else None
                if wait is None:
                    raise StateError(
                        f"cannot save the state of sync {key!r} in Prefect Variable {name!r}: "
                        f"the API answered {status}"
                    ) from None
            except httpx.TransportError as exc:
                wait = next(gone, None)
                if wait is None:
                    self.unreachable = True
                    raise StateError(
                        f"cannot save the state of sync {key!r} in Prefect Variable {name!r}: "
                        f"{UNANSWERED} ({type(exc).__name__})"
                    ) from None
            # Saves run in a worker thread (apilink.storage.state.acknowledgement), never on the
            # event loop, so this wait holds up no request.
            time.sleep(wait)

    def _write(self, update: VariableUpdate) -> None:
        body = update.model_dump(mode="json", exclude_unset=True)
        response = self._send("PATCH", f"/variables/name/{quote(update.name or '', safe='')}", body)
        if response.status_code == 404:
            response = self._send("POST", "/variables/", body)
        response.raise_for_status()

    def _send(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        # Prefect's httpx client, for its base URL, auth and TLS settings; but httpx's own
        # ``send``, not Prefect's override, which sleeps seconds before asking a busy server
        # again (and once more after its last attempt).
        http = self._api()._client
        return httpx.Client.send(http, http.build_request(method, path, json=body))

    def close(self) -> None:
        """Close the API client (the next save opens another)."""
        if self._client is not None:
            client, self._client = self._client, None
            client.__exit__(None, None, None)

    def _api(self) -> SyncPrefectClient:
        if self._client is None:
            client = get_client(sync_client=True)
            client.__enter__()
            self._client = client
        return self._client

    def delete(self, key: str) -> None:
        with contextlib.suppress(ObjectNotFound):
            self._api().delete_variable_by_name(self.name(key))


def close_state_store(store: StateStore) -> None:
    """Release what ``store`` holds open (a Prefect API client); nothing for a file store."""
    if isinstance(store, PrefectVariableStateStore):
        store.close()


def choose_state_store(config: SyncConfig, environ: Mapping[str, str] | None = None) -> StateStore:
    """Prefect Variables when a Prefect server is configured, else the local file store."""
    env = os.environ if environ is None else environ
    choice = env.get(STORE_ENV, "auto").lower()
    if choice not in {"auto", "file", "prefect"}:
        raise StateError(f"{STORE_ENV}={choice!r}; valid values are: auto, file, prefect")
    if choice == "prefect" or (choice == "auto" and PREFECT_API_URL.value()):
        return PrefectVariableStateStore()
    return FileStateStore(default_state_dir(config.state_dir, env))
