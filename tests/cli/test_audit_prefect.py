"""``apilink audit verify --prefect`` against a started Prefect server.

Route: flow runs against the server write audit lines through the flow's own audit hooks
(``tasks.audit.audit_hooks``, the hooks ``api_sync`` carries), whose Prefect events carry the
anchors; then the CLI verifies the log against them. Each attack as filed first verifies
without ``--prefect`` (the file and its head alone cannot see it), then is refused with it.

Trusted: the operator (``APILINK_AUDIT_KEY``, the Prefect API address). Not trusted: whoever
can write the log and its head; anyone with Prefect API access (their events carry no valid tag).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apilink.audit import AuditLog
from apilink.audit.anchor import Anchor, chain_id
from apilink.audit.log import head_path_for
from apilink.demo import free_port
from cli import app
from tasks.audit import read_anchors
from tests.fixtures.prefect_server import (
    PREFECT,
    REPO,
    PrefectServer,
    _wait_healthy,
    stop_process_group,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

AUDIT_KEY = "operator-audit-key-for-the-anchor-test-0123456789"
runner = CliRunner()

# One process per test, doing its steps in order (a process start costs seconds here):
#   runs:N   N flow runs of a flow carrying the real audit hooks; each writes run.started and
#            run.completed to the config's audit log and emits both, anchored, to the server
#   denials:N  N denials through PrefectAuditSink, the sink the flow's access guard records
#            into, outside any flow
#   save     copy the log and its head aside; restore: put that copy back (a rollback)
#   wipe     delete the log and its head
#   forge    emit an event naming the chain with a made-up anchor (anyone with API access)
SCRIPT = """
import shutil, sys
from pathlib import Path
from prefect import flow
from prefect.events import emit_event
from apilink.audit import AuditLog
from apilink.audit.anchor import Anchor, chain_resource
from tasks.audit import PrefectAuditSink, audit_hooks

@flow(name="audit-anchor-probe", **audit_hooks())
def probe(config_path: str) -> None:
    return None

config, log = sys.argv[1], Path(sys.argv[2])
head, saved = Path(f"{log}.head"), log.with_name("saved")
for step in sys.argv[3:]:
    name, _, count = step.partition(":")
    if name == "runs":
        for _ in range(int(count)):
            probe(config_path=config)
    elif name == "denials":
        sink = PrefectAuditSink(AuditLog.open(log))
        for index in range(int(count)):
            sink.record("access.denied", actor=f"user{index}", target="run_sync", outcome="denied")
    elif name == "save":
        saved.mkdir()
        shutil.copy(log, saved / "log")
        shutil.copy(head, saved / "head")
    elif name == "restore":
        shutil.copy(saved / "log", log)
        shutil.copy(saved / "head", head)
    elif name == "wipe":
        log.unlink()
        head.unlink()
    elif name == "forge":
        chain = AuditLog.open(log).chain
        emit_event(
            event="apilink.access.denied",
            resource={"prefect.resource.id": "apilink.principal.mallory"},
            related=[chain_resource(chain)],
            payload={"audit": Anchor(chain, 99, "f" * 64, "0" * 64).payload()},
        )
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """One ``prefect server start`` for the module."""
    folder = tmp_path_factory.mktemp("prefect")
    home, logs = folder / "home", folder / "logs"
    home.mkdir()
    logs.mkdir()
    port = free_port()
    running = PrefectServer(api_url=f"http://127.0.0.1:{port}/api", home=home, logs=logs)
    log = logs / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=folder,
            # events are stored in batches; a short interval keeps the waits below short
            env=running.env(PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL="0.5"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_healthy(running.api_url, process, log)
        yield running
    finally:
        stop_process_group(process)


@pytest.fixture(autouse=True)
def _operator_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APILINK_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.delenv("APILINK_USERS_FILE", raising=False)


def _config(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "audit.log"
    config = tmp_path / "sync.yaml"
    config.write_text(
        "source: {base_url: 'https://a.example', endpoints: {u: {path: /u}}}\n"
        "target: {base_url: 'https://b.example', endpoints: {p: {path: /p, method: POST}}}\n"
        "mapping: [{source: u, target: p}]\n"
        f"logging: {{security_audit: true, audit_file: '{log}'}}\n"
    )
    return config, log


def _steps(server: PrefectServer, tmp_path: Path, *steps: str) -> Path:
    """Run ``steps`` (see SCRIPT) in one process against ``server``; returns the log."""
    config, log = _config(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(config), str(log), *steps],
        cwd=REPO,
        env=server.env(APILINK_AUDIT_KEY=AUDIT_KEY),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return log


def _anchors(server: PrefectServer, log: Path, count: int) -> list[Anchor]:
    """Wait until the server holds ``count`` anchors of ``log`` (events are stored in batches)."""
    chain = chain_id(AUDIT_KEY.encode(), log)
    deadline = time.monotonic() + 90
    while True:
        found = read_anchors(server.api_url, chain)
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) == count, found
            return found
        time.sleep(1)


def _verify(log: Path, server: PrefectServer | None = None) -> tuple[int, str]:
    args = ["audit", "verify", str(log)]
    if server is not None:
        args += ["--prefect", "--prefect-url", server.api_url]
    result = runner.invoke(app, args)
    return result.exit_code, result.output


def test_a_log_that_matches_its_anchors_verifies(server: PrefectServer, tmp_path: Path) -> None:
    log = _steps(server, tmp_path, "runs:2", "forge")
    _anchors(server, log, 5)  # four lines, and one event anyone with Prefect API access added

    code, output = _verify(log, server)

    assert code == 0, output
    assert "4 lines verified; 4 anchored in Prefect and matching (up to line 4)" in output
    assert "1 anchor(s) not made with this key ignored" in output


def test_an_older_log_restored_with_its_head_is_caught(
    server: PrefectServer, tmp_path: Path
) -> None:
    log = _steps(server, tmp_path, "runs:1", "save", "runs:2", "restore")
    _anchors(server, log, 6)

    assert _verify(log) == (0, "2 lines verified\n")  # the file and its head see nothing
    code, output = _verify(log, server)

    assert code == 1
    assert "line 3: missing; Prefect holds an anchor for line 6" in output


def test_a_log_and_head_wiped_and_restarted_is_caught(
    server: PrefectServer, tmp_path: Path
) -> None:
    log = _steps(server, tmp_path, "runs:2", "wipe", "runs:1")
    _anchors(server, log, 6)

    assert _verify(log) == (0, "2 lines verified\n")
    code, output = _verify(log, server)

    assert code == 1
    assert "line 1: is not the line Prefect holds an anchor for" in output


def test_anchors_are_read_past_the_first_page(server: PrefectServer, tmp_path: Path) -> None:
    # the API returns at most 50 events a page
    log = _steps(server, tmp_path, "denials:55", "save", "denials:3")
    _anchors(server, log, 58)
    assert _verify(log, server) == (
        0,
        "58 lines verified; 58 anchored in Prefect and matching (up to line 58)\n",
    )
    saved = log.with_name("saved")  # then the rollback, as in the test above
    shutil.copy(saved / "log", log)
    shutil.copy(saved / "head", head_path_for(log))

    code, output = _verify(log, server)

    assert code == 1
    assert "line 56: missing; Prefect holds an anchor for line 58" in output


def test_an_unreadable_prefect_server_fails_closed(server: PrefectServer, tmp_path: Path) -> None:
    _, log = _config(tmp_path)
    AuditLog.open(log).record("access.denied", actor="eve", outcome="denied")
    closed = f"http://127.0.0.1:{free_port()}/api"

    result = runner.invoke(app, ["audit", "verify", str(log), "--prefect", "--prefect-url", closed])
    assert result.exit_code == 2
    assert f"error: cannot read the audit anchors from the Prefect API at {closed}" in result.output

    # no Prefect API configured at all: an error, never an in-process server with no events
    env = server.env(APILINK_AUDIT_KEY=AUDIT_KEY)
    del env["PREFECT_API_URL"]
    apilink = str(Path(sys.executable).with_name("apilink"))
    done = subprocess.run(
        [apilink, "audit", "verify", str(log), "--prefect"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--prefect needs a Prefect API: set PREFECT_API_URL" in done.stderr
