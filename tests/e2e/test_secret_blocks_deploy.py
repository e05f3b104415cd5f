"""Prefect Secret blocks in a flow run on a process worker: the sync's config names
``credentials: {type: prefect_secret}``; the worker's run reads the source token and the target
token from Secret blocks on the started server, and neither value reaches the worker's output."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import arun_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from apilink.demo import TargetInbox, demo_users, make_source_app, make_target_app, serve
from flows.partitioned_sync import child_counts
from tests.cli.test_sync_secret_stores import _config
from tests.fixtures.prefect_server import PrefectServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SOURCE_TOKEN = "src-canary-7f3a"
TARGET_TOKEN = "tk-canary-41"


async def _run(api_url: str, config_path: Path) -> FlowRun:
    async with PrefectClient(api=api_url) as client:
        return await arun_deployment(
            "api_sync/partition",
            client=client,
            parameters={"config_path": str(config_path)},
            as_subflow=False,
            timeout=300,
            poll_interval=2,
        )


def test_a_worker_run_reads_prefect_secret_blocks(
    prefect_server: PrefectServer, tmp_path: Path
) -> None:
    server = prefect_server
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        Secret(value={"token": SOURCE_TOKEN}).save("demo-source", overwrite=True)
        Secret(value=TARGET_TOKEN).save("demo-target-key", overwrite=True)
    config = _config(tmp_path, "credentials: {type: prefect_secret}\n")
    server.cli("work-pool", "create", "apilink", "--type", "process")
    server.cli("--no-prompt", "deploy", "--name", "partition")

    inbox = TargetInbox()
    with (
        serve(make_source_app(demo_users(120), token=SOURCE_TOKEN)) as source_url,
        serve(make_target_app(inbox, token=TARGET_TOKEN)) as target_url,
    ):
        server.extra_env.update(
            DEMO_SOURCE_URL=source_url,
            DEMO_TARGET_URL=target_url,
            APILINK_STATE_DIR=str(tmp_path / "state"),
        )
        log = server.start_worker("secrets", "apilink", limit=1)
        run = asyncio.run(_run(server.api_url, config))

    assert run.state is not None and run.state.is_completed(), run.state
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        counts = asyncio.run(child_counts(run.id))
    assert counts is not None and (counts["loaded"], counts["quarantined"]) == (112, 8)
    assert len(inbox.records) == 112
    worker_output = log.read_text()
    assert SOURCE_TOKEN not in worker_output and TARGET_TOKEN not in worker_output
