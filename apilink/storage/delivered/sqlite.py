"""The local :class:`~apilink.storage.delivered.base.DeliveredStore`: one SQLite file under the
state directory (``delivered.sqlite3``, mode 0600).

SQLite (the standard library's) is the store made for this: a million keys take a few tens of
MB on disk and none in memory, lookups are indexed, and WAL mode lets the runs of several
syncs on one machine share the file. Calls run on a worker thread, one at a time, so the event
loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from apilink.errors import StateError
from apilink.storage.delivered.base import Held
from apilink.storage.private_files import open_private_fd

__all__ = ["SQLiteDeliveredStore"]

T = TypeVar("T")

# Keys per statement: well under SQLite's bound on host parameters (32,766 since 3.32).
_BATCH = 900

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scopes (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS delivered (
    scope INTEGER NOT NULL,
    key TEXT NOT NULL,
    digest BLOB,
    in_doubt INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (
    run TEXT NOT NULL,
    scope INTEGER NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (run, scope, key)
) WITHOUT ROWID;
"""


def _batches(keys: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), _BATCH):
        yield keys[start : start + _BATCH]


class SQLiteDeliveredStore:
    """Keys and digests in the SQLite file at ``path`` (created 0600 when absent).

    Raises:
        StateError: the file cannot be opened or is not an apilink store.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(open_private_fd(self.path, "lock"))  # 0600, never through a symlink
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StateError(f"delivered-records store {self.path}: {exc}") from None
        self._lock = asyncio.Lock()
        self._scopes: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"SQLiteDeliveredStore({str(self.path)!r})"

    async def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one transaction on the worker thread."""

        def transaction() -> T:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        async with self._lock:
            try:
                return await asyncio.to_thread(transaction)
            except sqlite3.Error as exc:
                raise StateError(f"delivered-records store {self.path}: {exc}") from None

    def _scope(self, db: sqlite3.Connection, name: str) -> int:
        found = self._scopes.get(name)
        if found is None:
            db.execute("INSERT OR IGNORE INTO scopes (name) VALUES (?)", (name,))
            (found,) = db.execute("SELECT id FROM scopes WHERE name = ?", (name,)).fetchone()
            self._scopes[name] = found
        return found

    async def held(self, scope: str) -> int:
        def count(db: sqlite3.Connection) -> int:
            row = db.execute(
                "SELECT count(*) FROM delivered WHERE scope = ? "
                "AND (digest IS NOT NULL OR in_doubt)",
                (self._scope(db, scope),),
            ).fetchone()
            return int(row[0])

        return await self._call(count)

    async def lookup(self, scope: str, keys: Sequence[str]) -> dict[str, Held]:
        def find(db: sqlite3.Connection) -> dict[str, Held]:
            sid, found = self._scope(db, scope), {}
            for batch in _batches(keys):
                marks = ",".join("?" * len(batch))
                for key, digest, in_doubt in db.execute(
                    "SELECT key, digest, in_doubt FROM delivered "
                    f"WHERE scope = ? AND key IN ({marks})",
                    (sid, *batch),
                ):
                    found[key] = Held(digest, bool(in_doubt))
            return found

        return await self._call(find)

    async def intend(self, scope: str, keys: Sequence[str]) -> None:
        def mark(db: sqlite3.Connection) -> None:
            sid = self._scope(db, scope)
            db.executemany(
                "INSERT INTO delivered (scope, key, digest, in_doubt) VALUES (?, ?, NULL, 1) "
                "ON CONFLICT (scope, key) DO UPDATE SET in_doubt = 1",
                ((sid, key) for key in keys),
            )

        await self._call(mark)

    async def record(
        self, scope: str, delivered: Sequence[tuple[str, bytes]], settled: Sequence[str] = ()
    ) -> None:
        def write(db: sqlite3.Connection) -> None:
            sid = self._scope(db, scope)
            db.executemany(
                "INSERT INTO delivered (scope, key, digest, in_doubt) VALUES (?, ?, ?, 0) "
                "ON CONFLICT (scope, key) DO UPDATE SET digest = excluded.digest, in_doubt = 0",
                ((sid, key, digest) for key, digest in delivered),
            )
            # A refused create leaves nothing behind; a refused update keeps its old digest.
            db.executemany(
                "DELETE FROM delivered WHERE scope = ? AND key = ? AND digest IS NULL",
                ((sid, key) for key in settled),
            )
            db.executemany(
                "UPDATE delivered SET in_doubt = 0 WHERE scope = ? AND key = ?",
                ((sid, key) for key in settled),
            )

        await self._call(write)

    async def forget(self, scope: str, keys: Sequence[str]) -> None:
        def drop(db: sqlite3.Connection) -> None:
            sid = self._scope(db, scope)
            db.executemany(
                "DELETE FROM delivered WHERE scope = ? AND key = ?", ((sid, k) for k in keys)
            )

        await self._call(drop)

    async def clear(self, scope: str) -> None:
        await self._call(
            lambda db: db.execute(
                "DELETE FROM delivered WHERE scope = ?", (self._scope(db, scope),)
            )
        )

    async def see(self, scope: str, run: str, keys: Sequence[str]) -> set[str]:
        def mark(db: sqlite3.Connection) -> set[str]:
            sid, again = self._scope(db, scope), set[str]()
            for batch in _batches(keys):
                marks = ",".join("?" * len(batch))
                again.update(
                    key
                    for (key,) in db.execute(
                        f"SELECT key FROM seen WHERE run = ? AND scope = ? AND key IN ({marks})",
                        (run, sid, *batch),
                    )
                )
            db.executemany(
                "INSERT OR IGNORE INTO seen (run, scope, key) VALUES (?, ?, ?)",
                ((run, sid, key) for key in keys),
            )
            return again

        return await self._call(mark)

    async def unseen(self, scope: str, run: str, after: str | None, limit: int) -> list[str]:
        def page(db: sqlite3.Connection) -> list[str]:
            sid = self._scope(db, scope)
            rows = db.execute(
                "SELECT d.key FROM delivered d WHERE d.scope = ? AND d.key > ? "
                "AND (d.digest IS NOT NULL OR d.in_doubt) AND NOT EXISTS ("
                "SELECT 1 FROM seen s WHERE s.run = ? AND s.scope = d.scope AND s.key = d.key) "
                "ORDER BY d.key LIMIT ?",
                (sid, after if after is not None else "", run, limit),
            )
            return [key for (key,) in rows]

        return await self._call(page)

    async def end_run(self, scope: str, run: str) -> None:
        await self._call(
            lambda db: db.execute(
                "DELETE FROM seen WHERE run = ? AND scope = ?", (run, self._scope(db, scope))
            )
        )

    async def aclose(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._db.close)
