"""partitioned_sync's parts: loading the raw config, reading child counts, and adding them up.
The whole flow, children on two workers, runs in tests/e2e/test_partitioned_deploy.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
import yaml
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.states import Completed, Crashed, Failed

from apilink.errors import ConfigError, PartitionsFailed
from apilink.run.partitions import Partition
from flows.partitioned_sync import load_raw_config, summarize_children, summary_from_table

DEMO = Path(__file__).resolve().parents[2] / "deployments" / "demo_partitioned.yaml"


def test_raw_config_from_a_file_keeps_references() -> None:
    raw, source = asyncio.run(load_raw_config(str(DEMO), None, None))
    assert source == str(DEMO)
    assert raw["source"]["auth"]["token"] == "${DEMO_SOURCE_TOKEN}"
    assert raw["partitions"]["type"] == "page_range"


def test_raw_config_from_a_mapping() -> None:
    given = yaml.safe_load(DEMO.read_text())
    raw, source = asyncio.run(load_raw_config(None, given, None))
    assert raw == given and raw is not given
    assert "parameter" in source


@pytest.mark.parametrize(
    ("path", "mapping", "block", "problem"),
    [
        (None, None, None, "exactly one"),
        ("a.yaml", {"name": "x"}, None, "exactly one"),
        ("a.yaml", None, "b", "exactly one"),
        ("/nonexistent/sync.yaml", None, None, "no such config file"),
    ],
)
def test_raw_config_errors(
    path: str | None, mapping: dict[str, Any] | None, block: str | None, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        asyncio.run(load_raw_config(path, mapping, block))


def test_raw_config_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="is a mapping"):
        asyncio.run(load_raw_config(str(path), None, None))


def test_summary_from_table_reads_the_counts_table() -> None:
    rows = [
        {"stage": "extracted", "records": 157},
        {"stage": "skipped", "records": 7},
        {"stage": "valid", "records": 140},
        {"stage": "quarantined", "records": 10},
        {"stage": "loaded", "records": 140},
        {"stage": "failed", "records": 0},
        {"stage": "something else", "records": 9},
    ]
    assert summary_from_table(rows) == {
        "extracted": 157,
        "skipped": 7,
        "valid": 140,
        "quarantined": 10,
        "loaded": 140,
        "failed": 0,
    }
    # A child of an apilink from before `skipped` existed: none skipped.
    assert summary_from_table([r for r in rows if r["stage"] != "skipped"])["skipped"] == 0
    # A planned child (mode upsert or mirror) adds what it created, updated and deleted.
    planned = [*rows, *({"stage": k, "records": n} for k, n in [("created", 3), ("deleted", 1)])]
    assert summary_from_table(planned) == {
        **summary_from_table(rows),
        "created": 3,
        "deleted": 1,
    }


def _run(name: str, state: Any) -> FlowRun:
    return FlowRun(id=uuid4(), name=name, flow_id=uuid4(), state=state)


def _counts(extracted: int, quarantined: int, failed: int = 0, skipped: int = 0) -> dict[str, int]:
    valid = extracted - skipped - quarantined
    return {
        "extracted": extracted,
        "skipped": skipped,
        "valid": valid,
        "quarantined": quarantined,
        "loaded": valid - failed,
        "failed": failed,
    }


async def _summarize(runs: list[FlowRun], counts: dict[UUID, dict[str, int] | None]) -> Any:
    plan = [Partition(i, f"pages {i}") for i in range(len(runs))]

    async def read_counts(run_id: UUID) -> dict[str, int] | None:
        return counts[run_id]

    @flow(name="summarize-children-test")
    async def parent() -> dict[str, Any]:
        return await summarize_children("demo test", plan, runs, read_counts)

    return await parent(return_state=True)


@pytest.mark.usefixtures("prefect_harness")
def test_children_counts_are_summed_and_published() -> None:
    runs = [_run("a", Completed()), _run("b", Completed())]
    counts: dict[UUID, dict[str, int] | None] = {
        runs[0].id: _counts(150, 10, skipped=20),
        runs[1].id: _counts(100, 5),
    }
    state = asyncio.run(_summarize(runs, counts))
    summary = state.result()
    assert {k: summary[k] for k in ("extracted", "skipped", "quarantined", "loaded")} == {
        "extracted": 250,
        "skipped": 20,
        "quarantined": 15,
        "loaded": 215,
    }
    assert [row["state"] for row in summary["partitions"]] == ["Completed", "Completed"]

    async def published() -> Any:
        async with get_client() as client:
            return await client.read_latest_artifacts()

    keys = {artifact.key for artifact in asyncio.run(published())}
    assert "demo-test-partitions" in keys


@pytest.mark.usefixtures("prefect_harness")
def test_parent_fails_when_a_child_did_not_complete() -> None:
    runs = [_run("a", Completed()), _run("b", Failed()), _run("c", Crashed())]
    counts: dict[UUID, dict[str, int] | None] = {
        runs[0].id: _counts(150, 10),
        runs[1].id: _counts(150, 0, failed=3),
        runs[2].id: None,  # crashed before it published anything
    }
    state = asyncio.run(_summarize(runs, counts))
    assert state.is_failed()
    with pytest.raises(PartitionsFailed) as caught:
        state.result()
    assert caught.value.failed == ["pages 1 (Failed)", "pages 2 (Crashed)"]
    assert caught.value.summary["extracted"] == 300
    assert caught.value.summary["failed"] == 3
