"""The planner of ``mode: upsert`` and ``mirror`` (apilink.run.plan), against the local store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from apilink.config.models import MappingConfig
from apilink.errors import MassDeleteRefused
from apilink.run.plan import Planner, record_digest
from apilink.storage.delivered.sqlite import SQLiteDeliveredStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _rule(**overrides: Any) -> MappingConfig:
    return MappingConfig(
        source="list_users",
        target="create_profile",
        mode=overrides.pop("mode", "mirror"),
        key="id",
        update="update_profile",
        delete="delete_profile",
        fields=[
            {"source": "id", "target": "id"},
            {"source": "name", "target": "name"},
        ],
        **overrides,
    )


def _users(*ids: int, name: str = "n") -> list[dict[str, Any]]:
    return [{"id": n, "name": f"{name}{n}"} for n in ids]


async def _apply(planner: Planner, records: list[dict[str, Any]]) -> dict[str, int]:
    """Plan a chunk and acknowledge all of it, as a target that accepts everything."""
    plan = await planner.plan(records)
    await planner.intend(plan)
    await planner.acknowledge(plan, refused=[], unanswered=[])
    return {
        "create": len(plan.creates) + len(plan.in_doubt),
        "update": len(plan.updates),
        "unchanged": plan.unchanged,
        "duplicates": len(plan.duplicates),
    }


async def _run(store: SQLiteDeliveredStore, records: list[dict[str, Any]], run: str) -> Planner:
    planner = Planner(store, "sync:users", _rule(), run)
    await planner.start()
    await _apply(planner, records)
    return planner


def test_digest_is_stable_under_key_order_and_sees_every_value() -> None:
    assert record_digest({"a": 1, "b": {"x": 1, "y": 2}}) == record_digest(
        {"b": {"y": 2, "x": 1}, "a": 1}
    )
    assert record_digest({"a": 1}) != record_digest({"a": "1"})
    assert record_digest({"a": 1, "extra": 2}, ("a",)) == record_digest({"a": 1})
    assert len(record_digest({"a": 1})) == 16


async def test_a_second_plan_over_the_same_records_is_all_unchanged(tmp_path: Path) -> None:
    store = SQLiteDeliveredStore(tmp_path / "delivered.sqlite3")
    first = Planner(store, "sync:users", _rule(), "run-1")
    assert await _apply(first, _users(1, 2, 3)) == {
        "create": 3,
        "update": 0,
        "unchanged": 0,
        "duplicates": 0,
    }
    await first.end()
    second = Planner(store, "sync:users", _rule(), "run-2")
    # Key order in the source does not matter.
    reordered = [{"name": r["name"], "id": r["id"]} for r in _users(1, 2, 3)]
    assert await _apply(second, reordered) == {
        "create": 0,
        "update": 0,
        "unchanged": 3,
        "duplicates": 0,
    }
    changed = Planner(store, "sync:users", _rule(), "run-3")
    counts = await _apply(changed, [*_users(1, 2), {"id": 3, "name": "renamed"}, *_users(4)])
    assert counts == {"create": 1, "update": 1, "unchanged": 2, "duplicates": 0}
    assert changed.samples == {"create": [4], "update": [3], "delete": []}
    await store.aclose()


async def test_duplicate_keys_are_quarantined_naming_the_key_across_chunks(
    tmp_path: Path,
) -> None:
    store = SQLiteDeliveredStore(tmp_path / "delivered.sqlite3")
    planner = Planner(store, "sync:users", _rule(), "run-1")
    first = await planner.plan([*_users(1, 2), {"id": 2, "name": "again"}])
    second = await planner.plan([*_users(3), {"id": 1, "name": "later"}, {"name": "no id"}])
    assert [q.record["name"] for q in first.duplicates] == ["again"]
    assert first.duplicates[0].reasons == (
        "duplicate key `id` 2: an earlier record of this run has it",
    )
    assert [q.record["name"] for q in second.duplicates] == ["no id", "later"]
    assert "no `id`" in second.duplicates[0].reasons[0]
    assert planner.duplicates == 2 and planner.duplicate_keys == [2, 1]
    assert len(first.creates) == 2 and len(second.creates) == 1
    await store.aclose()


async def _deletions(planner: Planner) -> list[str]:
    found: list[str] = []
    async for page in planner.deletions(2):  # pages smaller than the result
        found += page
    return found


async def test_a_mirror_deletes_only_what_a_complete_read_did_not_see(tmp_path: Path) -> None:
    store = SQLiteDeliveredStore(tmp_path / "delivered.sqlite3")
    await (await _run(store, _users(*range(1, 21)), "run-1")).end()
    second = Planner(store, "sync:users", _rule(), "run-2")
    await second.start()
    await _apply(second, _users(*range(1, 19)))
    assert second.held_before == 20
    assert await _deletions(second) == ["19", "20"]
    assert await second.count_deletions() == 2
    second.check_delete_ratio(2, allowed=False)  # 10% of 20: at the limit
    await second.forget([second.delete_record(k) for k in await _deletions(second)])
    assert await _deletions(second) == []
    assert await store.held("sync:users") == 18
    await store.aclose()


async def test_max_delete_ratio_refuses_with_the_counts_unless_allowed(tmp_path: Path) -> None:
    store = SQLiteDeliveredStore(tmp_path / "delivered.sqlite3")
    await (await _run(store, _users(*range(1, 11)), "run-1")).end()
    planner = Planner(store, "sync:users", _rule(), "run-2")
    await planner.start()
    await _apply(planner, _users(1, 2, 3))
    deletes = await planner.count_deletions()
    with pytest.raises(MassDeleteRefused) as refused:
        planner.check_delete_ratio(deletes, allowed=False)
    message = str(refused.value)
    assert "deletes 7 of the 10 records the target holds (70.0%)" in message
    assert "max_delete_ratio 0.1" in message and "--allow-mass-delete" in message
    planner.check_delete_ratio(deletes, allowed=True)
    await store.aclose()


async def test_an_unacknowledged_create_is_in_doubt_and_a_refused_one_is_forgotten(
    tmp_path: Path,
) -> None:
    store = SQLiteDeliveredStore(tmp_path / "delivered.sqlite3")
    planner = Planner(store, "sync:users", _rule(), "run-1")
    records = _users(1, 2, 3)
    plan = await planner.plan(records)
    await planner.intend(plan)
    # The run dies here (kill -9): nothing acknowledged.
    rerun = Planner(store, "sync:users", _rule(), "run-2")
    again = await rerun.plan(_users(1, 2, 3))
    assert len(again.in_doubt) == 3 and not again.creates
    await rerun.intend(again)
    # 1 acknowledged, 2 refused by the target (422), 3 unanswered.
    await rerun.acknowledge(again, refused=[again.in_doubt[1]], unanswered=[again.in_doubt[2]])
    held = await store.lookup("sync:users", ["1", "2", "3"])
    assert held["1"].digest is not None and not held["1"].in_doubt
    assert "2" not in held  # a refused create leaves nothing behind
    assert held["3"].in_doubt and held["3"].digest is None
    # A mirror deletes an in-doubt create the source no longer has (it may have arrived).
    third = Planner(store, "sync:users", _rule(), "run-3")
    await third.plan(_users(1))
    assert await _deletions(third) == ["3"]
    await store.aclose()


async def test_a_plan_that_reconciles_changes_nothing_in_the_store(tmp_path: Path) -> None:
    store = SQLiteDeliveredStore(tmp_path / "delivered.sqlite3")
    await (await _run(store, _users(1, 2), "run-1")).end()

    async def target_holds() -> AsyncIterator[list[dict[str, Any]]]:
        # The target's own fields (createdAt) are not part of the comparison.
        yield [{"id": 1, "name": "n1", "createdAt": "2026"}, {"id": 2, "name": "drifted"}]
        yield [{"id": 7, "name": "n7"}, {"name": "no key"}]

    planner = Planner(store, "sync:users", _rule(), "plan-1", applying=False)
    assert await planner.reconcile(target_holds()) == 3
    plan = await planner.plan(_users(1, 2, 3))
    assert (len(plan.creates), len(plan.updates), plan.unchanged) == (1, 1, 1)
    assert await _deletions(planner) == ["7"]
    await planner.end()
    # The real scope is as the first run left it; the plan's scratch copy is gone.
    assert await store.held("sync:users") == 2
    assert await store.held("sync:users#plan:plan-1") == 0
    await store.aclose()


def test_mode_needs_its_endpoints_and_append_refuses_them() -> None:
    with pytest.raises(ValueError, match=r"`mode: mirror` needs `delete`"):
        MappingConfig(source="s", target="t", mode="mirror", key="id", update="u")
    with pytest.raises(ValueError, match=r"`mode: upsert` needs `key`, `update`"):
        MappingConfig(source="s", target="t", mode="upsert")
    with pytest.raises(ValueError, match=r"only apply with `mode: upsert` or `mode: mirror`"):
        MappingConfig(source="s", target="t", key="id")
