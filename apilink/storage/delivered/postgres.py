"""The shared :class:`~apilink.storage.delivered.base.DeliveredStore`: PostgreSQL, for workers
on several machines that run one sync (``APILINK_DELIVERED_DATABASE_URL`` on each worker).

asyncpg (which Prefect's server already uses) is the driver: one small pool, each method one
transaction, keys passed as arrays (``unnest``) so a chunk is one statement. ``INSERT ... ON
CONFLICT`` keeps concurrent workers on one scope safe. The URL's password never appears in an
error or a repr.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from apilink.errors import StateError
from apilink.storage.delivered.base import Held

__all__ = ["PostgresDeliveredStore", "masked_url"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS apilink_scopes (id SERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS apilink_delivered (
    scope INTEGER NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    digest BYTEA,
    in_doubt BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS apilink_seen (
    run TEXT NOT NULL,
    scope INTEGER NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (run, scope, key)
);
"""


def masked_url(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class PostgresDeliveredStore:
    """Keys and digests in PostgreSQL; open with :meth:`connect`."""

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool = pool
        self._shown = masked_url(url)
        self._scopes: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"PostgresDeliveredStore({self._shown!r})"

    @classmethod
    async def connect(cls, url: str) -> PostgresDeliveredStore:
        """A pool on ``url`` (``postgresql://``), the tables created when absent.

        Raises:
            StateError: the server cannot be reached or refuses (the password masked).
        """
        shown = masked_url(url)
        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=2, command_timeout=60)
            async with pool.acquire() as connection:
                # One creator at a time: workers that start together would race on the DDL.
                async with connection.transaction():
                    await connection.execute("SELECT pg_advisory_xact_lock(8261604)")
                    await connection.execute(_SCHEMA)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StateError(
                f"delivered-records store {shown}: {type(exc).__name__}: "
                f"{str(exc).replace(url, shown)}"
            ) from None
        return cls(pool, url)

    async def _call(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                return await work(connection)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StateError(
                f"delivered-records store {self._shown}: {type(exc).__name__}: {exc}"
            ) from None

    async def _scope(self, connection: asyncpg.Connection, name: str) -> int:
        found = self._scopes.get(name)
        if found is None:
            await connection.execute(
                "INSERT INTO apilink_scopes (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", name
            )
            found = int(
                await connection.fetchval("SELECT id FROM apilink_scopes WHERE name = $1", name)
            )
            self._scopes[name] = found
        return found

    async def held(self, scope: str) -> int:
        async def count(db: asyncpg.Connection) -> int:
            return int(
                await db.fetchval(
                    "SELECT count(*) FROM apilink_delivered WHERE scope = $1 "
                    "AND (digest IS NOT NULL OR in_doubt)",
                    await self._scope(db, scope),
                )
            )

        return await self._call(count)

    async def lookup(self, scope: str, keys: Sequence[str]) -> dict[str, Held]:
        async def find(db: asyncpg.Connection) -> dict[str, Held]:
            rows = await db.fetch(
                "SELECT key, digest, in_doubt FROM apilink_delivered "
                "WHERE scope = $1 AND key = ANY($2::text[])",
                await self._scope(db, scope),
                list(keys),
            )
            return {r["key"]: Held(r["digest"], r["in_doubt"]) for r in rows}

        return await self._call(find)

    async def intend(self, scope: str, keys: Sequence[str]) -> None:
        async def mark(db: asyncpg.Connection) -> None:
            await db.execute(
                "INSERT INTO apilink_delivered (scope, key, digest, in_doubt) "
                "SELECT $1, k, NULL, TRUE FROM unnest($2::text[]) AS k "
                "ON CONFLICT (scope, key) DO UPDATE SET in_doubt = TRUE",
                await self._scope(db, scope),
                list(keys),
            )

        await self._call(mark)

    async def record(
        self, scope: str, delivered: Sequence[tuple[str, bytes]], settled: Sequence[str] = ()
    ) -> None:
        async def write(db: asyncpg.Connection) -> None:
            sid = await self._scope(db, scope)
            await db.execute(
                "INSERT INTO apilink_delivered (scope, key, digest, in_doubt) "
                "SELECT $1, k, d, FALSE FROM unnest($2::text[], $3::bytea[]) AS t(k, d) "
                "ON CONFLICT (scope, key) DO UPDATE SET digest = excluded.digest, "
                "in_doubt = FALSE",
                sid,
                [key for key, _ in delivered],
                [digest for _, digest in delivered],
            )
            # A refused create leaves nothing behind; a refused update keeps its old digest.
            await db.execute(
                "DELETE FROM apilink_delivered WHERE scope = $1 AND key = ANY($2::text[]) "
                "AND digest IS NULL",
                sid,
                list(settled),
            )
            await db.execute(
                "UPDATE apilink_delivered SET in_doubt = FALSE "
                "WHERE scope = $1 AND key = ANY($2::text[])",
                sid,
                list(settled),
            )

        await self._call(write)

    async def forget(self, scope: str, keys: Sequence[str]) -> None:
        async def drop(db: asyncpg.Connection) -> None:
            await db.execute(
                "DELETE FROM apilink_delivered WHERE scope = $1 AND key = ANY($2::text[])",
                await self._scope(db, scope),
                list(keys),
            )

        await self._call(drop)

    async def clear(self, scope: str) -> None:
        async def drop(db: asyncpg.Connection) -> None:
            await db.execute(
                "DELETE FROM apilink_delivered WHERE scope = $1", await self._scope(db, scope)
            )

        await self._call(drop)

    async def see(self, scope: str, run: str, keys: Sequence[str]) -> set[str]:
        async def mark(db: asyncpg.Connection) -> set[str]:
            sid = await self._scope(db, scope)
            rows = await db.fetch(
                "SELECT key FROM apilink_seen WHERE run = $1 AND scope = $2 "
                "AND key = ANY($3::text[])",
                run,
                sid,
                list(keys),
            )
            await db.execute(
                "INSERT INTO apilink_seen (run, scope, key) "
                "SELECT $1, $2, k FROM unnest($3::text[]) AS k ON CONFLICT DO NOTHING",
                run,
                sid,
                list(keys),
            )
            return {r["key"] for r in rows}

        return await self._call(mark)

    async def unseen(self, scope: str, run: str, after: str | None, limit: int) -> list[str]:
        async def page(db: asyncpg.Connection) -> list[str]:
            rows = await db.fetch(
                "SELECT d.key FROM apilink_delivered d WHERE d.scope = $1 AND d.key > $2 "
                "AND (d.digest IS NOT NULL OR d.in_doubt) AND NOT EXISTS ("
                "SELECT 1 FROM apilink_seen s WHERE s.run = $3 AND s.scope = d.scope "
                "AND s.key = d.key) ORDER BY d.key LIMIT $4",
                await self._scope(db, scope),
                after if after is not None else "",
                run,
                limit,
            )
            return [r["key"] for r in rows]

        return await self._call(page)

    async def end_run(self, scope: str, run: str) -> None:
        async def drop(db: asyncpg.Connection) -> None:
            await db.execute(
                "DELETE FROM apilink_seen WHERE run = $1 AND scope = $2",
                run,
                await self._scope(db, scope),
            )

        await self._call(drop)

    async def aclose(self) -> None:
        await self._pool.close()
