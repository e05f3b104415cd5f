"""Progress within a chunk: offset ranges, the coalescing writer off the event loop, and the
loader skipping what an earlier run delivered (protocol level: the route through `api_sync` is
tests/flows/test_crash_resume.py and tests/e2e/test_prefect_server_outage.py)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx

from apilink.config.models import EndpointConfig
from apilink.errors import StateError
from apilink.http.sending import RetryPolicy
from apilink.run.loader import Loader
from apilink.storage.state import MemoryStateStore, SyncCheckpoint
from apilink.storage.state.acknowledgement import (
    CheckpointWriter,
    ChunkDeliveries,
    add_range,
    covers,
)
from tests.apilink.storage.state.test_checkpoint import config


def test_ranges_merge_and_cover() -> None:
    ranges = add_range([], 4, 8)
    ranges = add_range(ranges, 0, 4)
    ranges = add_range(ranges, 12, 16)
    assert ranges == [[0, 8], [12, 16]]
    assert covers(ranges, 4, 8) and not covers(ranges, 6, 13)


def _checkpoint(store: MemoryStateStore) -> tuple[SyncCheckpoint, CheckpointWriter]:
    checkpoint = SyncCheckpoint(store, config(), save=CheckpointWriter.defer)
    checkpoint.begin(checkpoint.config.mapping[0])
    return checkpoint, CheckpointWriter(checkpoint, store.save)


def test_deliveries_that_meet_are_one_save_and_survive_a_restart() -> None:
    store = MemoryStateStore()
    checkpoint, writer = _checkpoint(store)
    rule = checkpoint.config.mapping[0]

    async def deliver() -> None:
        chunk = ChunkDeliveries(checkpoint, writer, rule, 0)
        chunk.start(20)
        await asyncio.gather(*(chunk.delivered(i, i + 4) for i in range(0, 16, 4)))

    asyncio.run(deliver())
    assert store.saves <= 2  # four acknowledgements, coalesced
    saved = store.states["orders"]["mappings"]["list->put"]["run"]["delivered"]
    assert saved == {"0": {"records": 20, "ranges": [[0, 16]]}}

    again, writer2 = _checkpoint(store)
    chunk = ChunkDeliveries(again, writer2, rule, 0)
    chunk.start(20)
    assert chunk.acknowledged(0, 4) and chunk.acknowledged(12, 16)
    assert not chunk.acknowledged(16, 20)
    other = ChunkDeliveries(again, writer2, rule, 0)
    other.start(21)  # the chunk changed under the checkpoint: nothing is skipped
    assert not other.acknowledged(0, 4)


def test_a_save_runs_off_the_event_loop_and_a_failure_is_kept_not_raised() -> None:
    loop_ran = threading.Event()

    class SlowStore(MemoryStateStore):
        def save(self, key: str, state: dict[str, Any]) -> None:
            # Blocks until a coroutine on the event loop ran: a save on the loop would hang.
            if not loop_ran.wait(timeout=30):
                raise AssertionError("the event loop was blocked by the save")
            raise StateError("the Prefect API did not answer (ConnectError)")

    store = SlowStore()
    checkpoint, writer = _checkpoint(store)
    chunk = ChunkDeliveries(checkpoint, writer, checkpoint.config.mapping[0], 0)
    chunk.start(4)

    async def both() -> None:
        async def meanwhile() -> None:
            loop_ran.set()

        await asyncio.gather(chunk.delivered(0, 4), meanwhile())

    asyncio.run(both())
    assert chunk.failure is not None and "did not answer" in str(chunk.failure)


def test_the_loader_skips_acknowledged_requests_and_reports_the_others() -> None:
    sent: list[list[int]] = []

    def target(request: httpx.Request) -> httpx.Response:
        sent.append([r["id"] for r in json.loads(request.content)])
        return httpx.Response(201)

    store = MemoryStateStore()
    checkpoint, writer = _checkpoint(store)
    rule = checkpoint.config.mapping[0]
    records = [{"id": i} for i in range(10)]
    endpoint = EndpointConfig(path="/o", method="POST", batch=True, batch_size=4)

    async def load(deliveries: ChunkDeliveries) -> int:
        async with httpx.AsyncClient(
            base_url="http://127.0.0.1:2", transport=httpx.MockTransport(target)
        ) as client:
            cfg = checkpoint.config
            policy = RetryPolicy.for_connection(
                cfg.retry_for(cfg.target), cfg.timeout_for(cfg.target), cfg.target
            )
            loader = Loader(client, "put", endpoint, policy, scope="orders", concurrency=2)
            result = await loader.load(records, deliveries)
            return result.loaded

    entry = checkpoint.state["mappings"]["list->put"]["run"].setdefault("delivered", {})
    entry["3"] = {"records": 10, "ranges": [[0, 4]]}  # an earlier run delivered the first batch
    resumed = ChunkDeliveries(checkpoint, writer, rule, 3)
    assert asyncio.run(load(resumed)) == 10
    assert sorted(sent) == [[4, 5, 6, 7], [8, 9]]
    assert resumed.skipped == 4
    saved = store.states["orders"]["mappings"]["list->put"]["run"]["delivered"]["3"]
    assert saved == {"records": 10, "ranges": [[0, 10]]}


def test_one_record_per_request_does_not_wait_for_a_save_per_record() -> None:
    """Up to ``concurrency * (batch_size - 1)`` delivered records may wait for a save while
    requests go on: the window stays ``concurrency * batch_size`` records, the saves few."""
    unsaved_seen: list[int] = []

    store = MemoryStateStore()
    checkpoint, writer = _checkpoint(store)
    rule = checkpoint.config.mapping[0]

    def target(request: httpx.Request) -> httpx.Response:
        unsaved_seen.append(writer.unsaved)
        return httpx.Response(201)

    records = [{"id": i} for i in range(60)]
    endpoint = EndpointConfig(path="/o", method="POST", batch=False, batch_size=5)
    chunk = ChunkDeliveries(checkpoint, writer, rule, 0)

    async def load() -> int:
        async with httpx.AsyncClient(
            base_url="http://127.0.0.1:2", transport=httpx.MockTransport(target)
        ) as client:
            cfg = checkpoint.config
            policy = RetryPolicy.for_connection(
                cfg.retry_for(cfg.target), cfg.timeout_for(cfg.target), cfg.target
            )
            loader = Loader(client, "put", endpoint, policy, scope="orders", concurrency=2)
            loaded = (await loader.load(records, chunk)).loaded
            await writer.commit()
            return loaded

    assert asyncio.run(load()) == 60
    assert max(unsaved_seen) + 1 <= 2 * 5  # unsaved + this request: within the window
    assert store.saves < 60
    saved = store.states["orders"]["mappings"]["list->put"]["run"]["delivered"]["0"]
    assert saved == {"records": 60, "ranges": [[0, 60]]}
