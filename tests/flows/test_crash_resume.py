"""A sync killed with SIGKILL mid-run, then run again: it resumes from its checkpoint and the
target ends with every record exactly once (or, when it ignores Idempotency-Key, with at most
the records that were in flight stored twice).

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
from cli.running import run_sync_flow
outcome = run_sync_flow(config_path=sys.argv[1])
print("finished", outcome.summary, outcome.error)
"""


def _kill_mid_run(apis: FaultyApis, path: Path, prefect_url: str, tmp_path: Path) -> None:
    """Run the sync in a subprocess and SIGKILL it once the target holds requests at its gate;
    then open the gate (the dead flow's requests in flight complete at the target)."""
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_url,
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
    apis.target.gate.set()  # held requests of the dead flow now complete at the target


def test_a_killed_sync_resumes_without_duplicates_or_losses(
    prefect_harness: str, faulty_apis: Callable[..., FaultyApis], tmp_path: Path
) -> None:
    apis = faulty_apis(items(60))
    apis.target.gate_after = 30
    config = apis.config(name=f"crash-{uuid.uuid4().hex[:8]}", chunk_size=10)
    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(config))

    _kill_mid_run(apis, path, prefect_harness, tmp_path)
    before = len(apis.source_log)

    import asyncio

    summary = asyncio.run(api_sync(config_path=str(path)))

    # The gate held chunk 4: chunks 1-3 were delivered, and at most the two chunks in flight
    # (3 and 4) were past the checkpoint when the flow was killed; what the target had
    # acknowledged of them is not sent again (and counts as loaded).
    resumed = summary["resumed_chunks"]
    assert resumed in (2, 3)
    assert summary["extracted"] == summary["loaded"] == 60 - 10 * resumed
    assert apis.source_log[before]["page"] == resumed + 1  # the rerun started at the checkpoint
    stored = Counter(r["external_id"] for r in apis.target.records)
    assert stored == Counter(range(1, 61))  # every record, exactly once


def test_a_crash_sends_again_at_most_the_requests_in_flight(
    prefect_harness: str, faulty_apis: Callable[..., FaultyApis], tmp_path: Path
) -> None:
    """A target that ignores Idempotency-Key (most real APIs) stores every request it gets:
    after a kill -9 and a rerun it holds every record, and the duplicates are at most what was
    in flight, ``max_concurrency * batch_size`` records, not the chunks past the checkpoint."""
    concurrency, batch_size, chunk = 3, 4, 40
    apis = faulty_apis(items(200))
    apis.target.honour_keys = False
    apis.target.gate_after = 25  # requests: the gate closes inside the third chunk
    config = apis.config(name=f"window-{uuid.uuid4().hex[:8]}", batch=True, chunk_size=chunk)
    config["target"]["max_concurrency"] = concurrency
    config["target"]["endpoints"]["items"]["batch_size"] = batch_size
    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(config))

    _kill_mid_run(apis, path, prefect_harness, tmp_path)

    import asyncio

    summary = asyncio.run(api_sync(config_path=str(path)))

    assert summary["extracted"] == summary["loaded"] + summary["quarantined"] + summary["failed"]
    assert summary["failed"] == 0
    stored = Counter(r["external_id"] for r in apis.target.records)
    assert set(stored) == set(range(1, 201))  # nothing lost
    duplicates = sum(stored.values()) - len(stored)
    print(f"duplicates after kill -9: {duplicates}")
    assert duplicates <= concurrency * batch_size
