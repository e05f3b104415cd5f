"""The pipeline without Prefect: read-ahead, acknowledgement in order, a balance that holds
whatever a stage raises, and the invalid-ratio guard; against real loopback APIs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from apilink.auth import build_auth
from apilink.config import SyncConfig
from apilink.demo.serve import serve
from apilink.mapping.mapper import RecordMapper
from apilink.redaction import MASK
from apilink.run.loader import Loader, LoadResult
from apilink.run.pipeline import Pipeline
from apilink.run.preview import SendPreview
from apilink.run.reader import PageReader
from apilink.run.session import MappingRun, SyncSession
from apilink.run.stages import DirectStages
from apilink.run.summary import SyncSummary
from apilink.storage.dead_letter import DeadLetterQueue
from apilink.storage.delivered.sqlite import SQLiteDeliveredStore
from apilink.storage.quarantine import QuarantineWriter
from apilink.storage.state import FileStateStore, StateError, SyncCheckpoint
from apilink.storage.state.acknowledgement import CheckpointWriter, ChunkDeliveries
from apilink.validation import ChunkValidation, Quarantined, Validator
from tests.servers.faulty import FaultPlan, FaultyTarget, items, make_faulty_source
from tests.servers.faulty import make_faulty_target as faulty_target_app

TOKEN = "pipeline-canary-token"


@dataclass
class Apis:
    source_url: str
    target: FaultyTarget
    target_url: str
    tmp: Path

    def config(self, **extra: Any) -> SyncConfig:
        validation = extra.pop("validation", {"required_fields": ["id"], "email_fields": ["email"]})
        return SyncConfig.model_validate(
            {
                "name": "pipeline",
                "state_dir": str(self.tmp / "state"),
                "chunk_size": 20,
                "source": {
                    "base_url": self.source_url,
                    "endpoints": {
                        "items": {
                            "path": "/items",
                            "params": {"per_page": 10},
                            "pagination": {
                                "type": "page_number",
                                "data_path": "data",
                                "has_more_path": "meta.more",
                            },
                        }
                    },
                },
                "target": {
                    "base_url": self.target_url,
                    "auth": {"type": "bearer", "token": TOKEN},
                    "endpoints": {"items": {"path": "/items", "method": "POST"}},
                },
                "mapping": [
                    {
                        "source": "items",
                        "target": "items",
                        "fields": [
                            {"source": "id", "target": "external_id"},
                            {"source": "email", "target": "email"},
                        ],
                        "validation": validation,
                    }
                ],
                **extra,
            }
        )


@pytest.fixture
def apis(tmp_path: Path) -> Iterator[Any]:
    """``apis(records)``: a source serving ``records`` in pages of 10, and a target."""
    with ExitStack() as stack:

        def start(records: list[dict[str, Any]], target: FaultyTarget | None = None) -> Apis:
            source_app, _ = make_faulty_source(records, FaultPlan())
            target = target or FaultyTarget(FaultPlan(), TOKEN)
            return Apis(
                stack.enter_context(serve(source_app)),
                target,
                stack.enter_context(serve(faulty_target_app(target))),
                tmp_path,
            )

        yield start


@dataclass
class Recording(DirectStages):
    """The plain stages, noting when each starts and ends; ``fail`` makes a stage raise."""

    events: list[tuple[str, str, int]] = field(default_factory=list)
    fail: dict[tuple[str, int], Exception] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    async def _stage(self, name: str, index: int, run: Coroutine[Any, Any, Any]) -> Any:
        self.events.append(("start", name, index))
        await asyncio.sleep(0)  # the others may go on meanwhile
        if (name, index) in self.fail:
            run.close()
            raise self.fail[name, index]
        result = await run
        self.events.append(("end", name, index))
        return result

    async def extract(self, reader: PageReader, size: int, index: int) -> list[dict[str, Any]]:
        return await self._stage("extract", index, super().extract(reader, size, index))  # type: ignore[no-any-return]

    async def validate(
        self, validator: Validator, records: list[dict[str, Any]], endpoint: str, index: int
    ) -> ChunkValidation:
        run = super().validate(validator, records, endpoint, index)
        return await self._stage("validate", index, run)  # type: ignore[no-any-return]

    async def map(
        self, mapper: RecordMapper, records: list[dict[str, Any]], label: str, index: int
    ) -> tuple[list[dict[str, Any]], list[Quarantined]]:
        return await self._stage("map", index, super().map(mapper, records, label, index))  # type: ignore[no-any-return]

    async def load(
        self,
        loader: Loader,
        records: list[dict[str, Any]],
        deliveries: ChunkDeliveries | None,
        index: int,
    ) -> LoadResult:
        run = super().load(loader, records, deliveries, index)
        return await self._stage("load", index, run)  # type: ignore[no-any-return]

    def order_of(self, kind: str, name: str) -> list[int]:
        return [i for k, n, i in self.events if (k, n) == (kind, name)]


@dataclass
class Watched:
    """A :class:`~apilink.run.pipeline.Progress` that keeps what it was told."""

    chunks: list[str] = field(default_factory=list)
    failures: list[StateError] = field(default_factory=list)
    started: list[str] = field(default_factory=list)

    def mapping_started(self, mapping: int, work: MappingRun) -> None:
        self.started.append(work.reader.name)

    async def update(
        self, mapping: int, within: float | None, summary: SyncSummary, *, what: str = ""
    ) -> None:
        self.chunks.append(what)

    def checkpoint_failed(self, error: StateError) -> None:
        self.failures.append(error)


@dataclass
class Ran:
    summary: SyncSummary
    pipeline: Pipeline
    dead_letters: DeadLetterQueue
    checkpoint: SyncCheckpoint | None
    store: FileStateStore


def run(
    config: SyncConfig,
    stages: Recording,
    *,
    dry_run: bool = False,
    progress: Watched | None = None,
    preview: SendPreview | None = None,
) -> Ran:
    async def go() -> Ran:
        store = FileStateStore(Path(config.state_dir or "."))
        checkpoint = None if dry_run else SyncCheckpoint(store, config, save=CheckpointWriter.defer)
        writer = None if checkpoint is None else CheckpointWriter(checkpoint, store.save)
        dead_letters = DeadLetterQueue.for_sync(config)
        quarantine = QuarantineWriter.for_run(config, "test-run", secret_values={TOKEN})
        target_auth = build_auth(config.target.auth)
        async with SyncSession(config, target_auth=target_auth) as session:
            pipeline = Pipeline(
                session,
                dead_letters,
                quarantine=quarantine,
                checkpoint=checkpoint,
                writer=writer,
                dry_run=dry_run,
                stages=stages,
                progress=progress or Watched(),
                preview=preview,
            )
            summary = await pipeline.run(config.mapping)
        quarantine.close()
        if writer is not None:
            await writer.idle()
        return Ran(summary, pipeline, dead_letters, checkpoint, store)

    return asyncio.run(go())


def test_chunks_are_read_ahead_and_acknowledged_in_order(apis: Any) -> None:
    started = apis(items(60, bad_every=7))
    stages, watched = Recording(), Watched()
    ran = run(started.config(), stages, progress=watched)
    summary = ran.summary
    assert (summary.extracted, summary.quarantined, summary.loaded) == (60, 8, 52)
    assert summary.balanced and not summary.errors
    assert sorted(r["external_id"] for r in started.target.records) == [
        r["id"] for r in items(60, bad_every=7) if "@" in r["email"]
    ]
    # Each chunk: extract, validate, map, load, in that order.
    assert [i for k, n, i in stages.events if k == "start" and n == "extract"] == [0, 1, 2]
    for index in (0, 1, 2):
        mine = [(k, n) for k, n, i in stages.events if i == index and k == "end"]
        assert mine == [("end", "extract"), ("end", "validate"), ("end", "map"), ("end", "load")]
    # The read-ahead: chunk 1 is being read before chunk 0 is loaded.
    assert stages.events.index(("start", "extract", 1)) < stages.events.index(("end", "load", 0))
    # Acknowledged in order, then the mapping is done.
    assert watched.chunks == [
        "items -> items chunk #0: ",
        "items -> items chunk #1: ",
        "items -> items chunk #2: ",
        "items -> items done: ",
    ]
    assert watched.started == ["items"]


def test_a_stage_that_raises_dead_letters_its_records_and_the_balance_holds(apis: Any) -> None:
    started = apis(items(60))
    stages = Recording(fail={("map", 1): RuntimeError("mapper broke")})
    ran = run(started.config(), stages)
    summary = ran.summary
    assert summary.balanced
    # Chunk 0 went through; chunk 1's 20 records are dead-lettered; chunk 2 was abandoned
    # (neither counted nor acknowledged: a rerun reads it again).
    assert (summary.extracted, summary.loaded, summary.failed) == (40, 20, 20)
    assert len(ran.dead_letters.read()) == 20
    assert any("chunk #1" in e and "mapper broke" in e for e in summary.errors)
    assert 2 not in stages.order_of("end", "load")


def test_a_load_that_raises_dead_letters_the_mapped_records(apis: Any) -> None:
    started = apis(items(40))
    ran = run(started.config(), Recording(fail={("load", 0): ValueError("wire cut")}))
    summary = ran.summary
    assert summary.balanced
    assert (summary.extracted, summary.valid, summary.loaded, summary.failed) == (20, 20, 0, 20)
    assert {letter.stage for letter in ran.dead_letters.read()} == {"load"}


def test_a_failed_read_counts_the_chunk_still_loading_first(apis: Any) -> None:
    started = apis(items(60))
    stages = Recording(fail={("extract", 1): OSError("source went away")})
    ran = run(started.config(), stages)
    summary = ran.summary
    assert (summary.extracted, summary.loaded) == (20, 20) and summary.balanced
    assert summary.errors == ["extract items: OSError: source went away"]
    assert ran.checkpoint is not None
    # Chunk 0 was acknowledged: a rerun goes on after it.
    assert ran.checkpoint.begin(started.config().mapping[0]).resumed_chunks == 1


def test_the_invalid_ratio_guard_stops_before_a_chunk_is_loaded(apis: Any) -> None:
    started = apis(items(60, bad_every=2))
    config = started.config(
        validation={"required_fields": ["id"], "email_fields": ["email"], "max_invalid_ratio": 0.2}
    )
    ran = run(config, Recording())
    summary = ran.summary
    # Under 1,000 records the ratio is judged at the end: the last chunk is not loaded.
    assert (summary.extracted, summary.quarantined, summary.loaded) == (40, 20, 20)
    assert len(started.target.records) == 20 and summary.balanced
    assert summary.errors == [
        "30 of 60 records of items failed validation (50.0%); `max_invalid_ratio` allows "
        "20.0%; chunk #2 (20 records) not loaded"
    ]


def test_a_target_that_refuses_the_credentials_stops_the_run_without_dead_letters(
    apis: Any,
) -> None:
    target = FaultyTarget(FaultPlan(), TOKEN, forbid_after=20)
    started = apis(items(60), target)
    ran = run(started.config(), Recording())
    assert ran.pipeline.stopped
    assert ran.summary.loaded == 20 and ran.summary.failed == 0 and ran.summary.balanced
    assert "not acknowledged" in ran.summary.errors[0]
    assert ran.dead_letters.read() == []


def test_a_dry_run_loads_nothing_and_keeps_no_checkpoint(apis: Any) -> None:
    started = apis(items(30))
    stages = Recording()
    preview = SendPreview(secret_values={"item3@example.com"}, rows=4)
    ran = run(started.config(), stages, dry_run=True, preview=preview)
    assert started.target.records == [] and stages.order_of("start", "load") == []
    summary = ran.summary
    assert (summary.extracted, summary.would_send, summary.loaded) == (30, 30, 0)
    assert summary.balanced and summary.balance().startswith("extracted 30 = would send 30 +")
    # The first four mapped records, a run secret masked.
    assert [row["external_id"] for row in summary.preview] == [1, 2, 3, 4]
    assert summary.preview[2]["email"] == MASK and summary.preview[0]["endpoint"] == "items"


def test_the_engine_imports_no_prefect() -> None:
    probe = (
        "import sys, apilink.run.pipeline, apilink.run.stages; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'prefect', 'flows', 'tasks'}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_partition_plans_against_its_own_keys_only(apis: Any, tmp_path: Path) -> None:
    started = apis(items(30))
    base = started.config()
    raw = base.model_dump(mode="json", by_alias=True, exclude_none=True)
    raw["target"]["auth"]["token"] = TOKEN
    raw["target"]["endpoints"]["items_update"] = {"path": "/items", "method": "POST"}
    raw["mapping"][0] |= {"mode": "upsert", "key": "external_id", "update": "items_update"}
    config = SyncConfig.model_validate(raw)

    async def once(state_key: str) -> SyncSummary:
        delivered = SQLiteDeliveredStore(tmp_path / "delivered.sqlite3")
        async with SyncSession(config, target_auth=build_auth(config.target.auth)) as session:
            pipeline = Pipeline(
                session,
                DeadLetterQueue.for_sync(config),
                delivered=delivered,
                state_key=state_key,
            )
            summary = await pipeline.run(config.mapping)
        await delivered.aclose()
        return summary

    first = asyncio.run(once("pipeline#p1"))
    other = asyncio.run(once("pipeline#p2"))
    again = asyncio.run(once("pipeline#p1"))
    assert (first.created, first.unchanged) == (30, 0)
    assert (other.created, other.unchanged) == (30, 0)  # p1's keys are not p2's
    assert (again.created, again.unchanged, again.loaded) == (0, 30, 0)
    assert first.balanced and other.balanced and again.balanced
