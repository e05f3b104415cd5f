"""Canary sweep on the deployment route (issue 14): the echo APIs and the canaries of
``echo_sync`` (plain headers, query params and URL paths, a Basic password, a JSON-escaped
header), the sync run as a deployment on a process worker against a started Prefect server;
the worker's output, every file and everything the Prefect API keeps of the run (flow run,
parameters, Variables, logs, artifacts, events, task runs) are searched."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml
from prefect.client.orchestration import PrefectClient
from prefect.deployments import arun_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.fixtures.prefect_server import PrefectServer
from tests.security.canaries import assert_no_canary
from tests.security.prefect_api import read_run
from tests.security.test_canary_sweep import Lab, echo_sync

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


@pytest.fixture
def lab(tmp_path: Path, _state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    with ExitStack() as stack:
        yield Lab(tmp_path, _state_dir, monkeypatch, stack)


async def _run(api_url: str, config: dict[str, Any]) -> UUID:
    async with PrefectClient(api=api_url) as client:
        run = await arun_deployment(
            "api_sync/partition",
            client=client,
            parameters={"config_path": None, "config": config},
            as_subflow=False,
            timeout=300,
            poll_interval=2,
        )
    return run.id


def test_no_canary_leaks_from_a_deployment_run_on_a_process_worker(
    prefect_server: PrefectServer, lab: Lab, tmp_path: Path
) -> None:
    server = prefect_server
    echo_sync(lab, reject={4}, fail={17})
    # the flow-run parameter is the config as written: ${VAR} references, read on the worker
    config = yaml.safe_load(lab.config_path.read_text())
    assert "${SWEEP_TGT_PASSWORD}" in str(config)
    # A `config` parameter cannot declare users (issue 13): this worker's operator leaves
    # access control off, so the run goes ahead and only the secret handling is on trial.
    del config["security"]
    server.cli("work-pool", "create", "apilink", "--type", "process")
    server.cli("--no-prompt", "deploy", "--name", "partition")
    worker_log = server.start_worker("sweep", "apilink", limit=1)

    flow_run_id = asyncio.run(_run(server.api_url, config))
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        run = read_run(flow_run_id)

    assert run.state_name == "Failed", run.state_message
    assert "dead-lettered" in run.state_message, run.state_message
    dead = lab.state_dir / "canary-sweep.dead-letter.jsonl"
    assert len(dead.read_text().splitlines()) == 2
    assert lab.log_file.exists() and "you_sent" in dead.read_text()
    assert_no_canary(
        lab.canaries,
        ("worker output", worker_log),
        *lab.sources(),
        ("Prefect server home and logs", server.home),
        *run.texts(),
    )
