"""The Prefect server dies in the middle of ``apilink sync`` and stays down: the run ends with
one ``error:`` line naming PREFECT_API_URL, a summary that balances and the checkpoint as last
saved (in the server's Variables); once the server is started again on the same port and
database, a rerun resumes from that checkpoint and the target holds every record exactly once.

Real processes: a ``prefect server start`` the test SIGKILLs and starts again, ``apilink sync``
in a subprocess, and the fault-injecting source and target (tests/servers/faulty.py) on
loopback, whose target holds requests at a gate so the kill lands mid-run.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
import yaml

from apilink.storage.state import state_slug
from tests.fixtures.command import APILINK
from tests.fixtures.faulty import TOKEN_ENV, FaultyApis
from tests.fixtures.prefect_server import REPO, RestartableServer
from tests.servers.faulty import items


def _sync(
    server: RestartableServer, path: Path, apis: FaultyApis, log: Path
) -> subprocess.Popen[str]:
    env = server.running.env(**{TOKEN_ENV: apis.token, "PYTHONPATH": str(REPO)})
    return subprocess.Popen(
        [*APILINK, "sync", "-c", str(path), "--json"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )


def _saved_state(server: RestartableServer, name: str) -> dict[str, object]:
    variable = quote(f"apilink-state-{state_slug(name)}", safe="")
    response = httpx.get(f"{server.running.api_url}/variables/name/{variable}", timeout=10)
    response.raise_for_status()
    value = response.json()["value"]
    assert isinstance(value, dict)
    return value


def test_a_lost_prefect_server_ends_the_run_with_one_error_and_a_rerun_resumes(
    restartable_prefect_server: RestartableServer,
    faulty_apis: Callable[..., FaultyApis],
    tmp_path: Path,
) -> None:
    server = restartable_prefect_server
    server.start()
    apis = faulty_apis(items(200))
    apis.target.gate_after = 100  # records (one per request): inside the third chunk
    name = f"outage-{uuid.uuid4().hex[:8]}"
    config = apis.config(name=name, chunk_size=40)
    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(config))

    stderr = tmp_path / "first.stderr"
    process = _sync(server, path, apis, stderr)
    try:
        assert apis.target.reached_gate.wait(timeout=150), stderr.read_text()[-3000:]
        server.kill()
        killed_at = time.monotonic()
        apis.target.gate.set()
        said_at = None
        while process.poll() is None and time.monotonic() - killed_at < 150:
            if said_at is None and "error:" in stderr.read_text():
                said_at = time.monotonic()
            time.sleep(0.2)
        stdout, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    ended_after = time.monotonic() - killed_at  # reported, not asserted (see bench/)
    said = f"{said_at - killed_at:.1f} s" if said_at is not None else "-"
    print(f"\nerror line {said} and exit {ended_after:.1f} s after the server was killed")

    errors = stderr.read_text()
    assert process.returncode == 1, errors[-3000:]
    lines = [line for line in errors.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, errors[-3000:]
    assert "PREFECT_API_URL=" + server.running.api_url in lines[0]
    assert "start the server again" in lines[0] and "rerun" in lines[0]
    assert "Traceback" not in errors, errors[-3000:]
    counts = json.loads(stdout.strip().splitlines()[-1])
    assert counts["extracted"] == counts["loaded"] + counts["quarantined"] + counts["failed"]
    assert counts["failed"] == 0
    delivered_first = len(apis.target.records)

    server.start()  # same port, same database
    state = _saved_state(server, name)
    run = state["mappings"]["items->items"]["run"]  # type: ignore[index]
    # The checkpoint as last saved: acknowledged chunks, and progress within the chunks that
    # were loading.
    assert run["chunks"] >= 1 and run["position"] is not None, state
    assert run["delivered"], state

    before = len(apis.source_log)
    rerun_err = tmp_path / "rerun.stderr"
    rerun = _sync(server, path, apis, rerun_err)
    out, _ = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, rerun_err.read_text()[-3000:]
    resumed_counts = json.loads(out.strip().splitlines()[-1])
    assert resumed_counts["failed"] == 0
    assert apis.source_log[before]["page"] > 1  # it resumed, not started over
    sent_twice = sum(1 for n in apis.target.attempts.values() if n > 1)
    print(f"records sent again by the rerun: {sent_twice} of {delivered_first} delivered")
    assert sent_twice < delivered_first - 40 * run["chunks"]  # the saved progress was skipped
    stored = Counter(r["external_id"] for r in apis.target.records)
    assert stored == Counter(apis.valid_ids)  # every record, exactly once
    assert delivered_first < len(apis.valid_ids)
    assert "mappings" in _saved_state(server, name)
