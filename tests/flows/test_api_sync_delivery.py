"""The api_sync flow against APIs that fail on purpose: every valid record arrives once, and
extracted = loaded + quarantined + dead-lettered, whatever failed."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from apilink.config.loader import parse_config
from apilink.errors import SyncIncomplete
from apilink.run.loader import Loader, LoadResult
from apilink.storage.dead_letter import DeadLetterQueue
from tests.fixtures.faulty import FaultyApis
from tests.fixtures.faulty import run_sync as run
from tests.servers.faulty import FaultPlan, items


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def assert_balanced(summary: dict[str, Any]) -> None:
    assert summary["extracted"] == summary["loaded"] + summary["quarantined"] + summary["failed"]
    assert summary["balanced"] is True


@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_faults_refusals_and_bad_rows_all_add_up(
    prefect_harness: str, faulty_apis: Callable[..., FaultyApis], batch: bool
) -> None:
    records = items(60, bad_every=10, reject={7, 33})
    apis = faulty_apis(
        records,
        source_plan=FaultPlan(seed=21, rate=0.3),
        target_plan=FaultPlan(seed=22, rate=0.3),
    )
    config = apis.config(name=unique("delivery"), batch=batch)
    summary, error = run(config)

    assert isinstance(error, SyncIncomplete)  # the refused records make the run incomplete
    assert_balanced(summary)
    assert summary["extracted"] == 60 and summary["quarantined"] == 6
    stored = Counter(r["external_id"] for r in apis.target.records)
    assert all(count == 1 for count in stored.values())  # nothing twice
    injected = apis.source_plan.injected + apis.target.plan.injected
    assert {"429", "503", "drop", "slow"} <= set(injected)

    queue = DeadLetterQueue.for_sync(parse_config(_yaml(config)))
    letters = queue.read()
    assert len(letters) == summary["failed"]
    refused = {letter.record["external_id"] for letter in letters}
    assert {7, 33} <= refused
    # nothing valid is lost: it is at the target or (sharing a batch with a refused record) in
    # the dead-letter file, never both
    assert set(stored) | (refused - {7, 33}) == set(apis.valid_ids)
    assert not set(stored) & refused
    assert all(letter.status == 422 for letter in letters)
    if not batch:
        assert summary["failed"] == 2 and summary["loaded"] == 52
    text = queue.path.read_text()
    assert apis.token not in text
    assert "Bearer" not in text


def test_a_chunk_whose_load_raises_is_dead_lettered_and_replayed(
    prefect_harness: str,
    faulty_apis: Callable[..., FaultyApis],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apis = faulty_apis(items(60))
    config = apis.config(name=unique("raises"), chunk_size=20)
    original = Loader.load
    calls = 0

    async def flaky(self: Loader, records: list[dict[str, Any]], *rest: Any) -> LoadResult:
        nonlocal calls
        calls += 1
        if calls == 2:
            await original(self, records[:5])  # some arrive before it breaks
            raise RuntimeError("the target client broke")
        return await original(self, records, *rest)

    monkeypatch.setattr(Loader, "load", flaky)
    summary, error = run(config)
    assert isinstance(error, SyncIncomplete)
    assert "the target client broke" in str(error)
    assert_balanced(summary)
    assert summary == {**summary, "extracted": 40, "loaded": 20, "failed": 20}

    monkeypatch.setattr(Loader, "load", original)
    rerun, error = run(config)  # goes on after the dead-lettered chunk
    assert error is None
    assert rerun["extracted"] == 20 and rerun["resumed_chunks"] == 2

    from typer.testing import CliRunner

    from cli.dlq import app

    path = apis.state_dir / "sync.yaml"
    path.write_text(_yaml(config))
    result = CliRunner().invoke(app, ["retry", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "delivered 20" in result.output
    stored = Counter(r["external_id"] for r in apis.target.records)
    assert stored == Counter(range(1, 61))
    # The five that had arrived are sent again, harmlessly; so are, at most, the requests of the
    # abandoned chunk that were in flight when the run stopped (one record per request here).
    in_flight = parse_config(_yaml(config)).target.max_concurrency
    assert 5 <= apis.target.duplicates <= 5 + in_flight
    assert DeadLetterQueue.for_sync(parse_config(_yaml(config))).read() == []


def test_incremental_syncs_fetch_only_what_is_new(
    prefect_harness: str, faulty_apis: Callable[..., FaultyApis]
) -> None:
    records = items(30)
    apis = faulty_apis(records)
    config = apis.config(name=unique("incremental"), incremental=True)
    first, error = run(config)
    assert error is None and first["loaded"] == 30

    records.extend(items(45)[30:])  # the source grows
    second, error = run(config)
    assert error is None
    assert second["extracted"] == 15 and second["loaded"] == 15
    assert apis.source_log[-1]["since"] == "300"  # the first run's highest seq
    assert Counter(r["external_id"] for r in apis.target.records) == Counter(range(1, 46))


def _yaml(config: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(config)
