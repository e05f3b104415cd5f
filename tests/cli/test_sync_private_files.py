"""`apilink sync` writes its files 0600 and never through a planted symlink (trusted: the
operator who picks the paths; not trusted: whoever can plant files in the state folder)."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from apilink.demo.serve import serve
from tests.fixtures.command import APILINK
from tests.security.apps import Inbox, make_careless_source, make_careless_target

TOKEN = "cli-private-token-0001"
KEY = "cli-private-key-0002"


@pytest.fixture
def apis() -> Iterator[tuple[str, str]]:
    records = [
        {"id": i, "name": "REJECT me" if i == 3 else f"user {i}", "email": f"u{i}@example.com"}
        for i in range(1, 6)
    ]
    with serve(make_careless_source(records, token=TOKEN)) as source:
        with serve(make_careless_target(Inbox(), api_key=KEY)) as target:
            yield source, target


def _config(tmp_path: Path, source: str, target: str) -> Path:
    config: dict[str, Any] = {
        "name": "private-files",
        "state_dir": str(tmp_path / "state"),
        "source": {
            "base_url": source,
            "auth": {"type": "bearer", "token": "${CLI_PRIVATE_TOKEN}"},
            "endpoints": {
                "users": {
                    "path": "/users",
                    "params": {"per_page": 10},
                    "pagination": {"type": "page_number", "page_param": "page"},
                    "response_path": "data",
                }
            },
        },
        "target": {
            "base_url": target,
            "auth": {"type": "api_key", "key": "${CLI_PRIVATE_KEY}", "header": "X-API-Key"},
            "retry": {"max_attempts": 1},
            "endpoints": {"profiles": {"path": "/profiles", "method": "POST"}},
        },
        "mapping": [
            {
                "source": "users",
                "target": "profiles",
                "fields": [{"source": f, "target": f} for f in ("id", "name", "email")],
            }
        ],
        "logging": {"level": "DEBUG", "file": str(tmp_path / "apilink.log")},
    }
    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _sync(config: Path, prefect_api_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api_url,
        "CLI_PRIVATE_TOKEN": TOKEN,
        "CLI_PRIVATE_KEY": KEY,
    }
    return subprocess.run(
        [*APILINK, "sync", "-c", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def test_a_0644_log_file_becomes_0600_and_a_planted_dead_letter_symlink_is_refused(
    prefect_harness: str, apis: tuple[str, str], tmp_path: Path
) -> None:
    source, target = apis
    log = tmp_path / "apilink.log"
    log.write_text("an earlier run\n")
    log.chmod(0o644)
    precious = tmp_path / "precious.txt"
    precious.write_text("not yours\n")
    precious.chmod(0o644)
    (tmp_path / "state").mkdir()
    planted = tmp_path / "state" / "private-files.dead-letter.jsonl"
    planted.symlink_to(precious)
    config = _config(tmp_path, source, target)

    done = _sync(config, prefect_harness)

    assert done.returncode != 0, done.stdout[-2000:]
    assert str(planted) in done.stderr and "symbolic link" in done.stderr, done.stderr[-3000:]
    assert precious.read_text() == "not yours\n"
    assert stat.S_IMODE(precious.stat().st_mode) == 0o644
    assert planted.is_symlink()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text()
    assert text.startswith("an earlier run\n") and "private-files" in text
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_every_file_a_run_writes_is_0600(
    prefect_harness: str, apis: tuple[str, str], tmp_path: Path
) -> None:
    source, target = apis
    old = os.umask(0o022)
    try:
        done = _sync(_config(tmp_path, source, target), prefect_harness)
    finally:
        os.umask(old)

    assert done.returncode == 1, done.stderr[-3000:]  # one record dead-lettered
    written = [p for p in (tmp_path / "state").rglob("*") if p.is_file()]
    assert any(p.name.endswith(".dead-letter.jsonl") for p in written), written
    for path in [*written, tmp_path / "apilink.log"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
