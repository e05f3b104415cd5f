"""A sync killed with SIGKILL mid-run, then run again: it resumes from its checkpoint and the
target ends with every record exactly once.

The target runs in the test process (it outlives the killed flow). It holds requests at a gate
once 30 records are stored, so the kill lands while a chunk is in flight; after the kill the
held requests go through, storing records the dead flow never heard about.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import yaml

from flows.api_sync import api_sync
from tests.fixtures.faulty import TOKEN_ENV, FaultyApis
from tests.servers.faulty import items

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, faulthandler
faulthandler.dump_traceback_later(100, exit=False)  # a stack dump if it ever hangs
from apilink.cli.running import run_sync_flow
summary, error = run_sync_flow(config_path=sys.argv[1])
print("finished", summary, error)
"""


def test_a_killed_sync_resumes_without_duplicates_or_losses(
    prefect_harness: str, faulty_apis: Callable[..., FaultyApis], tmp_path: Path
) -> None:
    apis = faulty_apis(items(60))
    apis.target.gate_after = 30
    config = apis.config(name=f"crash-{uuid.uuid4().hex[:8]}", chunk_size=10)
    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(config))

    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_harness,
        TOKEN_ENV: apis.token,
        "PYTHONPATH": str(ROOT),
    }
    log = (tmp_path / "flow.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(path)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        reached = apis.target.reached_gate.wait(timeout=150)
        assert reached, (tmp_path / "flow.log").read_text()[-3000:]
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    before = len(apis.source_log)
    apis.target.gate.set()  # held requests of the dead flow now complete at the target

    import asyncio

    summary = asyncio.run(api_sync(config_path=str(path)))

    # The gate held chunk 4: chunks 1-3 were delivered, and at most the two chunks in flight
    # (3 and 4) were past the checkpoint when the flow was killed.
    resumed = summary["resumed_chunks"]
    assert resumed in (2, 3)
    assert summary["extracted"] == summary["loaded"] == 60 - 10 * resumed
    assert apis.source_log[before]["page"] == resumed + 1  # the rerun started at the checkpoint
    stored = Counter(r["external_id"] for r in apis.target.records)
    assert stored == Counter(range(1, 61))  # every record, exactly once
