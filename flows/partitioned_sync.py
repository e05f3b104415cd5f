"""``partitioned_sync``: one large sync split into child ``api_sync`` runs on the work pool.

The parent checks the caller, plans the partitions of the config's ``partitions:`` section and
starts one child flow run per partition through ``run_deployment``, so every worker of the pool
takes a share. Each child gets the config *as written* (``${VAR}`` and ``secret://`` references
unexpanded, narrowed to its partition) as its ``config`` parameter, and resolves the references
on its own worker: no secret value travels as a parameter. The parent waits for all children,
sums their counts and fails if any child did not complete.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterType,
)
from prefect.client.schemas.objects import FlowRun
from prefect.context import FlowRunContext
from prefect.deployments import arun_deployment
from pydantic import SecretStr

from apilink.errors import PartitionsFailed
from apilink.rbac.approval import config_digest, issue_child_proof
from apilink.rbac.worker_key import load_worker_key
from apilink.run.partitions import (
    Partition,
    partition_config,
    partitioned_endpoints,
    plan_partitions,
)
from apilink.run.summary import COUNTS, PLAN_COUNTS
from flows.progress import artifact_key
from tasks.rbac_guard import authorize_run
from tasks.run_config import load_raw_config, load_run_config

__all__ = [
    "DEFAULT_CHILD_DEPLOYMENT",
    "child_counts",
    "load_raw_config",
    "partitioned_sync",
    "summarize_children",
    "summary_from_table",
]

DEFAULT_CHILD_DEPLOYMENT = "api_sync/partition"


def summary_from_table(rows: list[dict[str, Any]]) -> dict[str, int]:
    """The counts (:data:`~apilink.run.summary.COUNTS`) from the rows of an ``api_sync`` counts
    table artifact; a count the table lacks (a child from before it existed) is 0. A planned
    child's :data:`~apilink.run.summary.PLAN_COUNTS` come too."""
    counts = dict.fromkeys(COUNTS, 0)
    for row in rows:
        stage, records = row.get("stage"), row.get("records")
        if (stage in counts or stage in PLAN_COUNTS) and isinstance(records, int):
            counts[str(stage)] = records
    return counts


async def child_counts(flow_run_id: UUID) -> dict[str, int] | None:
    """The counts the child published, or ``None`` if it published none (it crashed early)."""
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
                type=ArtifactFilterType(any_=["table"]),
            )
        )
    for artifact in artifacts:
        data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
        if isinstance(data, list) and any(isinstance(r, dict) and "stage" in r for r in data):
            return summary_from_table(data)
    return None


def _parent_id() -> str:
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return "local"
    return str(context.flow_run.id)


@flow(name="partitioned_sync", log_prints=False, validate_parameters=True)
async def partitioned_sync(
    config_path: str | None = None,
    config: dict[str, Any] | None = None,
    config_block: str | None = None,
    child_deployment: str = DEFAULT_CHILD_DEPLOYMENT,
    source_endpoint: str | None = None,
    target_endpoint: str | None = None,
    dry_run: bool = False,
    plan: bool = False,
    allow_mass_delete: bool = False,
    api_key: SecretStr | None = None,
    poll_interval: float = 2.0,
    ticket: str | None = None,
) -> dict[str, Any]:
    """Run a partitioned sync as child runs of ``child_deployment`` and add up their counts.

    Args:
        config_path: a sync config YAML file on the worker (relative to the pulled code).
        config: the config as a mapping, instead of a file.
        config_block: the name of a saved ``SyncConfig`` block, instead of a file.
        child_deployment: the ``api_sync`` deployment children run as (``flow/deployment``).
        source_endpoint: passed to every child.
        target_endpoint: passed to every child.
        dry_run: passed to every child.
        plan: passed to every child (each plans its own partition's keys).
        allow_mass_delete: passed to every child.
        api_key: the caller's apilink API key, in process only (a deployment run takes
            ``ticket``). Never a child parameter: each child gets a proof of this run's
            authorization instead (worker key; bound to this run, its partition and its config;
            minutes long).
        poll_interval: seconds between checks on the children.
        ticket: a single-use run ticket from ``apilink ticket --deployment ...``.

    Returns:
        The summed counts, and ``partitions``: each child's label, run name, state and counts.

    Raises:
        PartitionsFailed: when any child run did not complete.
    """
    logger = get_run_logger()
    run_config = await load_run_config(config_path, config, config_block)
    raw, sync_config = run_config.raw, run_config.config
    caller = await authorize_run(
        run_config,
        api_key=api_key,
        ticket=ticket,
        parameters={
            "config_path": config_path,
            "config": config,
            "config_block": config_block,
            "child_deployment": child_deployment,
            "source_endpoint": source_endpoint,
            "target_endpoint": target_endpoint,
            "dry_run": dry_run,
            "plan": plan,
            "allow_mass_delete": allow_mass_delete,
        },
    )
    worker_key = load_worker_key()
    if sync_config.partitions is None:
        partitions = [Partition(0, "whole sync")]
        endpoints: list[str] = []
    else:
        partitions = plan_partitions(sync_config.partitions)
        endpoints = partitioned_endpoints(sync_config)
    logger.info(
        "sync %s: %d partition(s) of %s on %s",
        sync_config.name,
        len(partitions),
        ", ".join(endpoints) or "the whole source",
        child_deployment,
    )
    parent = _parent_id()

    async def run_child(partition: Partition) -> FlowRun:
        child_config = partition_config(raw, partition, endpoints)
        proof = (
            issue_child_proof(
                worker_key,
                parent_run=parent,
                partition=partition.label,
                digest=config_digest(child_config),
                principal=caller.username,
                trusted=caller.trusted,
            )
            if worker_key is not None
            else None
        )
        return await arun_deployment(
            child_deployment,
            parameters={
                "config_path": None,
                "config": child_config,
                "proof": proof,
                "source_endpoint": source_endpoint,
                "target_endpoint": target_endpoint,
                "dry_run": dry_run,
                "plan": plan,
                "allow_mass_delete": allow_mass_delete,
                "partition": partition.label,
            },
            flow_run_name=f"{sync_config.name} {partition.label}",
            tags=["apilink", "partition", sync_config.name],
            idempotency_key=f"{parent}:partition:{partition.index}",
            poll_interval=poll_interval,
            as_subflow=True,
        )

    runs = await asyncio.gather(*(run_child(p) for p in partitions))
    return await summarize_children(sync_config.name, partitions, runs)


async def summarize_children(
    name: str,
    plan: list[Partition],
    runs: list[FlowRun],
    read_counts: Callable[[UUID], Awaitable[dict[str, int] | None]] = child_counts,
) -> dict[str, Any]:
    """Sum the children's counts, publish one row per child, fail if any did not complete.

    Raises:
        PartitionsFailed: naming each partition whose run did not complete.
    """
    totals = dict.fromkeys(COUNTS, 0)
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    for partition, run in zip(plan, runs, strict=True):
        counts = await read_counts(run.id)
        state = run.state.name if run.state is not None else "Unknown"
        completed = run.state is not None and run.state.is_completed()
        if not completed:
            failed.append(f"{partition.label} ({state})")
        for key, value in (counts or {}).items():
            totals[key] = totals.get(key, 0) + value
        rows.append(
            {
                "partition": partition.label,
                "flow_run": run.name,
                "state": state,
                **(counts or dict.fromkeys(COUNTS, None)),
            }
        )
    await acreate_table_artifact(
        key=f"{artifact_key(name)}-partitions",
        table=rows,
        description=f"apilink partitioned sync `{name}`: one row per child run",
    )
    summary: dict[str, Any] = {**totals, "partitions": rows}
    get_run_logger().info(
        "sync %s: %d partition(s), %s",
        name,
        len(plan),
        ", ".join(f"{k} {totals[k]}" for k in COUNTS),
    )
    if failed:
        raise PartitionsFailed(failed, summary)
    return summary
