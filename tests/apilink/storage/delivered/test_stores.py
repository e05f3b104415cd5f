"""Both delivered-records stores, method by method, with the same expectations: SQLite in a
temporary folder, and PostgreSQL on a real server."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from apilink.errors import StateError
from apilink.storage.delivered.base import DeliveredStore, Held
from apilink.storage.delivered.opening import DELIVERED_DATABASE_ENV, open_delivered_store
from apilink.storage.delivered.postgres import PostgresDeliveredStore
from apilink.storage.delivered.sqlite import SQLiteDeliveredStore
from tests.fixtures.postgres import Postgres

Opener = Callable[[], Awaitable[DeliveredStore]]


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    if request.param == "sqlite":

        async def sqlite() -> DeliveredStore:
            return SQLiteDeliveredStore(tmp_path / "delivered.sqlite3")

        return sqlite
    server: Postgres = request.getfixturevalue("postgres")
    scope_prefix = tmp_path.name  # each test its own scopes in the shared server

    async def postgres() -> DeliveredStore:
        store = await PostgresDeliveredStore.connect(server.url)
        return _Prefixed(store, scope_prefix)

    return postgres


class _Prefixed:
    """A store whose scope names carry a prefix (tests share one PostgreSQL server)."""

    def __init__(self, store: DeliveredStore, prefix: str) -> None:
        self.store, self.prefix = store, prefix

    def __getattr__(self, name: str) -> object:
        method = getattr(self.store, name)
        if name in ("aclose",):
            return method

        def scoped(scope: str, *args: object, **options: object) -> object:
            return method(f"{self.prefix}/{scope}", *args, **options)

        return scoped


def _go(work: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(work())


def test_keys_digests_and_doubt(opener: Opener) -> None:
    async def work() -> None:
        store = await opener()
        assert await store.held("a") == 0 and await store.lookup("a", ["1"]) == {}
        await store.intend("a", ['"x"', "1", "2"])
        assert await store.lookup("a", ["1"]) == {"1": Held(None, True)}
        await store.record("a", [("1", b"d1")], settled=['"x"'])
        # 1 acknowledged; "x" refused (a create: gone); 2 still in doubt.
        assert await store.lookup("a", ['"x"', "1", "2"]) == {
            "1": Held(b"d1", False),
            "2": Held(None, True),
        }
        assert await store.held("a") == 2
        await store.intend("a", ["1"])
        await store.record("a", [], settled=["1"])  # a refused update keeps its old digest
        assert await store.lookup("a", ["1"]) == {"1": Held(b"d1", False)}
        await store.forget("a", ["1"])
        assert await store.held("a") == 1
        assert await store.held("b") == 0  # scopes never see each other's keys
        await store.clear("a")
        assert await store.held("a") == 0
        await store.aclose()

    _go(work)


def test_seen_keys_find_duplicates_and_what_a_mirror_deletes(opener: Opener) -> None:
    async def work() -> None:
        store = await opener()
        keys = [str(n) for n in range(10, 20)]
        await store.record("m", [(k, b"d") for k in keys])
        assert await store.see("m", "run-1", ["10", "11", "12"]) == set()
        assert await store.see("m", "run-1", ["12", "13"]) == {"12"}
        assert await store.see("m", "run-2", ["12"]) == set()  # another run's marks
        await store.intend("m", ["30"])  # in doubt, never acknowledged: may be at the target
        pages, after = [], None
        while page := await store.unseen("m", "run-1", after, 3):
            pages.append(page)
            after = page[-1]
        assert pages == [["14", "15", "16"], ["17", "18", "19"], ["30"]]
        await store.end_run("m", "run-1")
        assert await store.see("m", "run-1", ["10"]) == set()
        await store.aclose()

    _go(work)


def test_what_one_store_wrote_another_reads_and_concurrent_writers_agree(
    opener: Opener,
) -> None:
    async def work() -> None:
        one, two = await opener(), await opener()
        await asyncio.gather(
            one.record("c", [(str(n), b"one") for n in range(500)]),
            two.record("c", [(str(n), b"two") for n in range(250, 750)]),
        )
        assert await one.held("c") == 750
        await one.aclose()
        again = await opener()
        held = await again.lookup("c", ["0", "300", "700"])
        assert held["0"].digest == b"one" and held["700"].digest == b"two"
        assert held["300"].digest in (b"one", b"two")
        await again.aclose()
        await two.aclose()

    _go(work)


def test_the_sqlite_file_is_private(tmp_path: Path) -> None:
    store = SQLiteDeliveredStore(tmp_path / "state" / "delivered.sqlite3")
    assert stat.S_IMODE((tmp_path / "state" / "delivered.sqlite3").stat().st_mode) == 0o600
    asyncio.run(store.aclose())


def test_a_refused_password_is_one_error_without_the_password(postgres: Postgres) -> None:
    wrong = postgres.url.replace(postgres.password, "not-the-password-canary")
    with pytest.raises(StateError) as refused:
        asyncio.run(PostgresDeliveredStore.connect(wrong))
    assert "not-the-password-canary" not in str(refused.value)
    assert "postgresql://apilink:***@127.0.0.1" in str(refused.value)

    async def shown() -> str:
        store = await PostgresDeliveredStore.connect(postgres.url)
        await store.aclose()
        return repr(store)

    assert postgres.password not in asyncio.run(shown())


def test_the_worker_environment_chooses_the_store(postgres: Postgres, tmp_path: Path) -> None:
    async def work() -> None:
        local = await open_delivered_store(tmp_path, {})
        assert isinstance(local, SQLiteDeliveredStore)
        assert local.path == tmp_path / "delivered.sqlite3"
        await local.aclose()
        shared = await open_delivered_store(tmp_path, {DELIVERED_DATABASE_ENV: postgres.url})
        assert isinstance(shared, PostgresDeliveredStore)
        await shared.aclose()
        with pytest.raises(StateError, match="must be a postgresql://"):
            await open_delivered_store(tmp_path, {DELIVERED_DATABASE_ENV: "mysql://x"})

    asyncio.run(work())
