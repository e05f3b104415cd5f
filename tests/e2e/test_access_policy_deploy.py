"""Issue 13 by the deployment route: flow runs created through the Prefect API (as anyone with
API access can) against a started Prefect server and a process worker, whose operator set a
users file, an audit file, a worker key and, to tempt, the worker's own ``APILINK_API_KEY``.

Each attack asserts: the run fails with a reason, nothing reached the attacker's loopback host
(named as source and target with the worker's ``${APILINK_MASTER_PASSWORD}`` as a header), and
the worker's audit file holds a denial for that very run. One server and worker for the module;
all runs are created at once and awaited together.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
from prefect.client.schemas.objects import FlowRun

from apilink.audit import read_events
from apilink.demo import serve
from apilink.rbac import AccessControl, FileUserStore
from apilink.rbac.approval import config_digest, issue_child_proof
from tests.fixtures.attacker import Attacker, attack_config, attacker_app
from tests.fixtures.prefect_server import REPO, PrefectServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

MASTER = "canary-master-password-e2e-41c7"
WORKER_KEY = "canary-worker-key-e2e-" + "5" * 32
APILINK = str(Path(sys.executable).with_name("apilink"))


@dataclass
class Lab:
    server: PrefectServer
    attacker: Attacker
    audit: Path
    keys: dict[str, str]
    worker_log: Path


@pytest.fixture(scope="module")
def lab(
    prefect_server_module: PrefectServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lab]:
    folder = tmp_path_factory.mktemp("worker")
    users = folder / "users.json"
    engine = AccessControl(FileUserStore(users))
    keys = {role: engine.add_user(f"{role}1", role)[1] for role in ("admin", "operator")}
    server = prefect_server_module
    server.cli("block", "register", "-m", "blocks")
    server.cli("work-pool", "create", "apilink", "--type", "process")
    server.cli("--no-prompt", "deploy", "--name", "partition", "--name", "demo-partitioned")
    audit = folder / "worker-audit.log"
    server.extra_env.update(
        APILINK_ACCESS_CONTROL="",  # unset: configs from callers are checked
        APILINK_USERS_FILE=str(users),
        APILINK_AUDIT_FILE=str(audit),
        APILINK_WORKER_KEY=WORKER_KEY,
        APILINK_MASTER_PASSWORD=MASTER,
        APILINK_API_KEY=keys["admin"],  # the worker's own key: a caller must never run as it
        APILINK_STATE_DIR=str(folder / "state"),
    )
    seen = Attacker()
    with serve(attacker_app(seen)) as url:
        seen.url = url
        log = server.start_worker("access-policy", "apilink", limit=4)
        yield Lab(server, seen, audit, keys, log)


async def _run_all(api_url: str, runs: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, FlowRun]:
    async with PrefectClient(api=api_url) as client:
        created: dict[str, UUID] = {}
        for label, (name, parameters) in runs.items():
            deployment = await client.read_deployment_by_name(name)
            run = await client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
            created[label] = run.id
        done: dict[str, FlowRun] = {}
        for _ in range(600):
            for label, run_id in created.items():
                run = await client.read_flow_run(run_id)
                if run.state is not None and run.state.is_final():
                    done[label] = run
            if len(done) == len(created):
                return done
            await asyncio.sleep(1)
    raise AssertionError(f"runs not finished: {set(created) - set(done)}")


async def _children(api_url: str, parent: UUID) -> list[FlowRun]:
    async with PrefectClient(api=api_url) as client:
        return await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent])
            )
        )


def _ticket(lab: Lab, deployment: str, params: dict[str, Any], key: str) -> str:
    args = [APILINK, "ticket", "--deployment", deployment]
    for name, value in params.items():
        args += ["--param", f"{name}={json.dumps(value)}"]
    done = subprocess.run(
        args,
        cwd=REPO,
        env={**lab.server.env(), "APILINK_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[0]


def test_attacks_through_the_prefect_api(lab: Lab) -> None:
    loot = attack_config(lab.attacker.url)
    quiet = attack_config("http://127.0.0.1:9")  # the discard port: nothing answers
    proof = issue_child_proof(
        WORKER_KEY.encode(), parent_run="00000000-0000-0000-0000-000000000000",
        partition="pages 1-2", digest=config_digest(loot), principal="admin1", trusted=True,
    )  # fmt: skip
    ticket_params = {"config": quiet, "dry_run": True}
    ticket = _ticket(lab, "api_sync/partition", ticket_params, lab.keys["admin"])
    runs: dict[str, tuple[str, dict[str, Any]]] = {
        "access off": (
            "api_sync/partition",
            {"config": attack_config(lab.attacker.url, enable_access_control=False)},
        ),
        "declares users": (
            "api_sync/partition",
            {
                "config": attack_config(
                    lab.attacker.url,
                    users=[{"username": "eve", "role": "admin", "api_key": "eve-key-0123456789"}],
                )
            },
        ),
        "no key": ("api_sync/partition", {"config": loot}),
        "api_key parameter": ("api_sync/partition", {"config": loot, "api_key": lab.keys["admin"]}),
        "replayed child parameters": (
            "api_sync/partition",
            {"config": loot, "proof": proof, "partition": "pages 1-2"},
        ),
        "partitioned, access off": (
            "partitioned_sync/demo-partitioned",
            {
                "config_path": None,
                "config": attack_config(lab.attacker.url, enable_access_control=False),
            },
        ),
        "ticket for other parameters": (
            "api_sync/partition",
            {"config": loot, "dry_run": True, "ticket": ticket},
        ),
        "ticket": ("api_sync/partition", {**ticket_params, "ticket": ticket}),
        "ticket again": ("api_sync/partition", {**ticket_params, "ticket": ticket}),
    }
    done = asyncio.run(_run_all(lab.server.api_url, runs))
    reasons = {
        "access off": "enable_access_control: false",
        "declares users": "declares users",
        "no key": "no API key",
        "api_key parameter": "apilink ticket",
        "replayed child parameters": "another parent flow run",
        "partitioned, access off": "enable_access_control: false",
        "ticket for other parameters": "other parameters",
    }
    denied_runs = {e.get("run_id") for e in read_events(lab.audit) if e["outcome"] == "denied"}
    for label, reason in reasons.items():
        run = done[label]
        assert run.state is not None and run.state.is_failed(), (label, run.state)
        assert reason in (run.state.message or ""), (label, run.state.message)
        assert str(run.id) in denied_runs, f"{label}: no denial in the worker's audit file"
    # A ticket is single use: of two runs with it, one passes the guard (and then fails to reach
    # the discard port), the other is refused.
    messages = sorted((done[k].state.message or "") for k in ("ticket", "ticket again"))  # type: ignore[union-attr]
    assert sum("already used" in m for m in messages) == 1, messages
    passed = next(m for m in messages if "already used" not in m)
    assert "denied" not in passed and "ticket" not in passed and "refused" not in passed, passed
    reused = next(
        k for k in ("ticket", "ticket again") if "already used" in (done[k].state.message or "")
    )  # type: ignore[union-attr]
    assert str(done[reused].id) in denied_runs
    assert lab.keys["admin"] not in json.dumps(done["ticket"].parameters)
    assert asyncio.run(_children(lab.server.api_url, done["partitioned, access off"].id)) == []
    assert lab.attacker.requests == []
    for text in (lab.audit.read_text(), lab.worker_log.read_text(errors="replace")):
        assert MASTER not in text and WORKER_KEY not in text
    assert os.environ.get("APILINK_WORKER_KEY") != WORKER_KEY
