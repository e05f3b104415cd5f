"""Every stage of every chunk is a task run: a three-chunk ``apilink sync`` against a started
Prefect server, and its task runs read back from the API, in order, with their states."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.fixtures.command import APILINK
from tests.fixtures.faulty import TOKEN_ENV, FaultyApis
from tests.fixtures.prefect_server import REPO, PrefectServer
from tests.servers.faulty import FaultPlan, items

pytestmark = pytest.mark.e2e

STAGES = ("extract items", "validate_fields items", "map_records items -> items", "load items")


async def _task_runs(api_url: str, flow_run_id: UUID) -> list[Any]:
    with temporary_settings({PREFECT_API_URL: api_url}):
        async with get_client() as client:
            return await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )


def test_each_stage_of_each_chunk_is_a_task_run_in_order(
    prefect_server: PrefectServer,
    faulty_apis: Callable[..., FaultyApis],
    tmp_path: Path,
) -> None:
    apis = faulty_apis(items(60, bad_every=9), source_plan=FaultPlan())
    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(apis.config(chunk_size=20)))
    done = subprocess.run(
        [*APILINK, "sync", "-c", str(path), "--json"],
        cwd=REPO,
        env=prefect_server.env(**{TOKEN_ENV: apis.token}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout)
    assert outcome["state"] == "Completed" and outcome["loaded"] == 54

    runs = asyncio.run(_task_runs(prefect_server.api_url, UUID(outcome["run_id"])))
    by_name = {run.name: run for run in runs}
    for index in range(3):
        chunk = [by_name.get(f"{stage} #{index}") for stage in STAGES]
        assert all(chunk), f"chunk #{index}: {sorted(by_name)}"
        assert [run.state.name for run in chunk] == ["Completed"] * 4
        starts = [run.start_time for run in chunk]
        assert starts == sorted(starts), f"chunk #{index} stages out of order: {starts}"
    # No chunk beyond the source's end; credentials and tokens come before any chunk (the
    # rbac_guard task runs before them when access control is on: tests/tasks/test_rbac_guard).
    assert "extract items #3" not in by_name
    ordered = [run.name for run in sorted(runs, key=lambda run: run.start_time)]
    assert ordered[0].startswith("resolve_credentials"), ordered
    assert set(ordered[1:3]) == {"acquire_token source", "acquire_token target"}, ordered
