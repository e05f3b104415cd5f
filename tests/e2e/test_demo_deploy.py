"""The README's operator steps, as written: a started Prefect server, ``make deploy``,
``make worker``, then ``prefect deployment run 'apilink_demo/demo'``. The run reaches Completed
with nothing else set on the worker: it serves the demo APIs itself and syncs them."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import pytest
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterName,
    FlowRunFilterParentFlowRunId,
)
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL, temporary_settings

from apilink.demo import DEMO_VARIABLES
from flows.partitioned_sync import child_counts
from tests.fixtures.prefect_server import REPO, PrefectServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def make(server: PrefectServer, target: str) -> None:
    done = subprocess.run(
        ["make", target], cwd=REPO, env=server.env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


async def _finished(api_url: str, name: str) -> tuple[FlowRun, list[FlowRun]]:
    """The flow run ``name`` once it ended, and its subflow runs."""
    async with PrefectClient(api=api_url) as client:
        for _ in range(300):
            (run,) = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
            )
            if run.state is not None and run.state.is_final():
                children = await client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run.id])
                    )
                )
                return run, children
            await asyncio.sleep(1)
    raise AssertionError(f"flow run {name} did not end within 300 s")


def test_the_demo_deployment_completes_after_the_readme_steps(
    prefect_server: PrefectServer, tmp_path: Path
) -> None:
    server = prefect_server
    assert not set(DEMO_VARIABLES) & set(server.env())  # the worker has none of them
    server.extra_env["APILINK_STATE_DIR"] = str(tmp_path / "state")

    make(server, "deploy")
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            ["make", "worker"],
            cwd=REPO,
            env=server.env(WORKER_LIMIT="1", PREFECT_WORKER_QUERY_SECONDS="1"),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server.processes.append(worker)  # stopped with the server: its process group and all

    started = server.cli("deployment", "run", "apilink_demo/demo").stdout
    match = re.search(r"Created flow run '([^']+)'", started)
    assert match, started
    run, children = asyncio.run(_finished(server.api_url, match.group(1)))

    assert run.state is not None and run.state.is_completed(), run.state
    (sync,) = children
    assert sync.state is not None and sync.state.is_completed(), sync.state
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        counts = asyncio.run(child_counts(sync.id))
    assert counts == {
        "extracted": 120,
        "skipped": 0,
        "valid": 112,
        "quarantined": 8,
        "loaded": 112,
        "failed": 0,
    }
