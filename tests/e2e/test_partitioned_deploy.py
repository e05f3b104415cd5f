"""End to end: a real Prefect server, blocks registered, prefect.yaml deployed, two process
workers, and a partitioned demo sync whose children both workers share."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
)
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import arun_deployment

from apilink.demo import TargetInbox, demo_users, make_source_app, make_target_app, serve
from tests.fixtures.prefect_server import PrefectServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

RECORDS = 600
PARTITIONS = 4
EXAMPLES = (
    "orders-hourly",
    "crm-contacts",
    "hr-directory",
    "billing-invoices",
    "calendar-events",
    "device-telemetry",
)


async def _block_type_fields(api_url: str) -> dict[str, Any]:
    async with PrefectClient(api=api_url) as client:
        block_type = await client.read_block_type_by_slug("apilink-sync-config")
        schema = await client.get_most_recent_block_schema_for_block_type(block_type.id)
    assert schema is not None
    properties: dict[str, Any] = schema.fields["properties"]
    return properties


async def _example_schedules(api_url: str) -> dict[str, list[bool]]:
    found: dict[str, list[bool]] = {}
    async with PrefectClient(api=api_url) as client:
        for name in EXAMPLES:
            flow = (
                "partitioned_sync"
                if name in {"crm-contacts", "billing-invoices", "device-telemetry"}
                else "api_sync"
            )
            deployment = await client.read_deployment_by_name(f"{flow}/{name}")
            found[name] = [s.active for s in deployment.schedules]
    return found


async def _run_parent(api_url: str) -> tuple[FlowRun, list[FlowRun], list[dict[str, Any]]]:
    async with PrefectClient(api=api_url) as client:
        parent = await arun_deployment(
            "partitioned_sync/demo-partitioned",
            client=client,
            as_subflow=False,
            timeout=480,
            poll_interval=2,
        )
        children = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
            )
        )
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[parent.id]),
                key=ArtifactFilterKey(any_=["demo-partitions"]),
            )
        )
    rows = json.loads(str(artifacts[0].data)) if artifacts else []
    return parent, children, rows


def _runs_started(log: Path) -> set[str]:
    """Names of the flow runs this worker started a process for (not merely tried to claim)."""
    text = log.read_text(errors="replace")
    return set(re.findall(r"Flow run '([^']+)' submitted to infrastructure", text))


def test_partitioned_sync_runs_children_on_both_workers(
    prefect_server: PrefectServer, tmp_path: Path
) -> None:
    server = prefect_server
    server.cli("block", "register", "-m", "blocks.sync_config")
    listed = server.cli("block", "type", "ls").stdout
    assert "apilink-sync-config" in listed
    fields = asyncio.run(_block_type_fields(server.api_url))
    assert set(fields) == {"config_yaml", "config", "approval"}
    for spec in fields.values():
        assert spec["title"] and spec["description"]

    server.cli("work-pool", "create", "apilink", "--type", "process")
    server.cli("--no-prompt", "deploy", "--all")
    schedules = asyncio.run(_example_schedules(server.api_url))
    assert all(schedules[name] and not any(schedules[name]) for name in EXAMPLES), schedules

    users = demo_users(RECORDS)
    good_ids = {u["id"] for u in users if "@" in u["email"]}
    token = "canary-" + secrets.token_hex(12)
    inbox = TargetInbox()
    with (
        serve(make_source_app(users, token=token)) as source_url,
        serve(make_target_app(inbox)) as target_url,
    ):
        server.extra_env.update(
            DEMO_SOURCE_URL=source_url,
            DEMO_TARGET_URL=target_url,
            DEMO_SOURCE_TOKEN=token,
            DEMO_PARTITIONS=str(PARTITIONS),
            DEMO_LAST_PAGE=str(RECORDS // 25),
            APILINK_STATE_DIR=str(tmp_path / "state"),
        )
        logs = [server.start_worker(f"e2e-{n}", "apilink", limit=2) for n in ("a", "b")]
        parent, children, rows = asyncio.run(_run_parent(server.api_url))

    assert parent.state is not None and parent.state.is_completed(), [
        (c.name, c.state and c.state.message) for c in children
    ]
    assert len(children) == PARTITIONS
    assert all(c.state is not None and c.state.is_completed() for c in children)
    child_names = {c.name for c in children}
    assert len(child_names) == PARTITIONS
    started = [_runs_started(log) & child_names for log in logs]
    assert all(started), f"each worker runs a share: {started}"
    assert set.union(*started) == child_names
    for log in [*logs, server.logs / "server.log"]:
        assert token not in log.read_text(errors="replace"), f"the source token is in {log.name}"
    for child in children:
        assert token not in json.dumps(child.parameters, default=str)

    received = Counter(record["external_id"] for record in inbox.records)
    assert set(received) == good_ids
    assert max(received.values()) == 1

    assert len(rows) == PARTITIONS
    totals = {key: sum(row[key] for row in rows) for key in ("extracted", "loaded", "quarantined")}
    assert totals == {
        "extracted": RECORDS,
        "loaded": len(good_ids),
        "quarantined": RECORDS - len(good_ids),
    }
