"""What the Prefect API keeps of one flow run: logs, artifacts, events, parameters, states, the
whole flow-run record, and every Variable on the server (where checkpoints live)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.sorting import FlowRunSort
from prefect.events.filters import EventAnyResourceFilter, EventFilter, EventOccurredFilter

__all__ = ["RunRecord", "find_flow_run", "read_run"]

_DEADLINE = 20.0
_POLL = 0.2


@dataclass
class RunRecord:
    """A flow run as the API shows it, once its last log line and its end event arrived."""

    flow_run_id: UUID
    state_name: str
    state_message: str
    parameters: dict[str, Any]
    logs: list[str]
    artifacts: list[dict[str, Any]]
    events: list[dict[str, Any]]
    task_runs: list[dict[str, Any]] = field(default_factory=list)
    flow_run: dict[str, Any] = field(default_factory=dict)
    variables: list[dict[str, Any]] = field(default_factory=list)

    def texts(self) -> list[tuple[str, str]]:
        """Everything above as labelled texts, for ``assert_no_canary``."""
        out = [
            ("flow run parameters", json.dumps(self.parameters, default=str)),
            ("flow run state", f"{self.state_name}: {self.state_message}"),
        ]
        out += [(f"Prefect log #{n}", line) for n, line in enumerate(self.logs)]
        out += [
            (f"artifact {a.get('key')} ({a.get('type')})", json.dumps(a, default=str))
            for a in self.artifacts
        ]
        out += [(f"event {e.get('event')}", json.dumps(e, default=str)) for e in self.events]
        out += [(f"task run {t.get('name')}", json.dumps(t, default=str)) for t in self.task_runs]
        out.append(("flow run (the whole record)", json.dumps(self.flow_run, default=str)))
        out += [
            (f"Prefect Variable {v.get('name')}", json.dumps(v, default=str))
            for v in self.variables
        ]
        return out

    def event_names(self) -> set[str]:
        return {str(e["event"]) for e in self.events}

    def artifact(self, key: str) -> dict[str, Any]:
        chosen = [a for a in self.artifacts if a.get("key") == key]
        assert chosen, f"no artifact {key!r}; the run has {[a.get('key') for a in self.artifacts]}"
        return chosen[-1]


async def _read(flow_run_id: UUID) -> RunRecord:
    async with get_client() as client:
        run = await client.read_flow_run(flow_run_id)
        logs: list[str] = []
        offset = 0
        while True:
            logs_page = await client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
                limit=200,
                offset=offset,
            )
            logs += [f"{log.name} {log.level}: {log.message}" for log in logs_page]
            if len(logs_page) < 200:
                break
            offset += len(logs_page)
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
        task_runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
        page = await client.read_events(
            EventFilter(
                occurred=EventOccurredFilter(
                    since=datetime.now(UTC) - timedelta(hours=1),
                    until=datetime.now(UTC) + timedelta(minutes=1),
                ),
                any_resource=EventAnyResourceFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
            ),
            limit=50,
        )
        events = [e.model_dump(mode="json") for e in page.events]
        while page.next_page is not None:
            page = await client.read_events_page(str(page.next_page))
            events += [e.model_dump(mode="json") for e in page.events]
        # Every Variable on the server: the checkpoint (apilink-state-<sync>) and any other.
        variables = [v.model_dump(mode="json") for v in await client.read_variables()]
    state = run.state
    return RunRecord(
        flow_run_id=flow_run_id,
        state_name=(state.name or "") if state else "",
        state_message=(state.message or "") if state else "",
        parameters=dict(run.parameters),
        logs=logs,
        artifacts=[a.model_dump(mode="json") for a in artifacts],
        events=events,
        flow_run=run.model_dump(mode="json"),
        variables=variables,
        task_runs=[
            {
                "name": t.name,
                "state": t.state.name if t.state else None,
                "message": t.state.message if t.state else None,
                "task_inputs": t.task_inputs,
            }
            for t in task_runs
        ],
    )


def _settled(record: RunRecord) -> bool:
    """The engine's last log line and the audit hook's end event have arrived."""
    ended = {"apilink.run.completed", "apilink.run.failed", "apilink.run.crashed"}
    return any("Finished in state" in line for line in record.logs) and bool(
        ended & record.event_names()
    )


def read_run(flow_run_id: UUID) -> RunRecord:
    """The run as the API shows it; logs and events arrive in the background, so this polls
    (briefly) until both the final log line and the run's end event are there."""
    deadline = time.monotonic() + _DEADLINE
    while True:
        record = asyncio.run(_read(flow_run_id))
        if _settled(record) or time.monotonic() > deadline:
            return record
        time.sleep(_POLL)


async def _find(config_path: str) -> UUID | None:
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["api_sync"])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=50,
        )
    for run in runs:
        if run.parameters.get("config_path") == config_path:
            return run.id
    return None


def find_flow_run(config_path: str) -> UUID:
    """The (latest) api_sync run of ``config_path``: how a test finds a run the CLI made."""
    deadline = time.monotonic() + _DEADLINE
    while True:
        found = asyncio.run(_find(config_path))
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"no api_sync flow run of {config_path}"
        time.sleep(_POLL)
