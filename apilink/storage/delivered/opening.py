"""Which :class:`~apilink.storage.delivered.base.DeliveredStore` a run uses: the worker
operator's choice, never a config's."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from apilink.errors import StateError
from apilink.storage.delivered.base import DeliveredStore
from apilink.storage.delivered.sqlite import SQLiteDeliveredStore

__all__ = ["DELIVERED_DATABASE_ENV", "open_delivered_store"]

DELIVERED_DATABASE_ENV = "APILINK_DELIVERED_DATABASE_URL"


async def open_delivered_store(
    state_dir: Path, environ: Mapping[str, str] | None = None
) -> DeliveredStore:
    """PostgreSQL when ``APILINK_DELIVERED_DATABASE_URL`` is set, else the SQLite file
    ``delivered.sqlite3`` under ``state_dir``.

    Raises:
        StateError: the variable is not a PostgreSQL URL, or the store cannot be opened.
    """
    env = os.environ if environ is None else environ
    url = env.get(DELIVERED_DATABASE_ENV, "")
    if not url:
        return SQLiteDeliveredStore(state_dir / "delivered.sqlite3")
    if not url.startswith(("postgresql://", "postgres://")):
        raise StateError(
            f"{DELIVERED_DATABASE_ENV} must be a postgresql:// (or postgres://) URL; unset it "
            "for the local SQLite store under the state directory"
        )
    from apilink.storage.delivered.postgres import PostgresDeliveredStore

    store: DeliveredStore = await PostgresDeliveredStore.connect(url)
    return store
