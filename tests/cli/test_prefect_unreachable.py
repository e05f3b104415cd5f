"""`apilink sync` with PREFECT_API_URL naming a server that is not running (what `make server`
leaves in the profile the day after): one error line that names the setting and what to do."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from apilink.demo import free_port
from tests.cli.test_sync import APILINKER_SHAPED
from tests.fixtures.apis import DemoApis
from tests.fixtures.command import APILINK


def test_sync_against_a_stopped_prefect_server_is_one_error_line(
    demo_apis: DemoApis, tmp_path: Path
) -> None:
    config = tmp_path / "apilinker.yaml"
    config.write_text(APILINKER_SHAPED)
    url = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there

    done = subprocess.run(
        [*APILINK, "sync", "-c", str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, "PREFECT_API_URL": url, "PREFECT_HOME": str(tmp_path / "home")},
        timeout=120,
        check=False,
    )

    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith(f"error: no Prefect server answers at PREFECT_API_URL={url}")
    assert "make server" in lines[0] and "unset PREFECT_API_URL" in lines[0]
    assert done.stdout == ""
    assert demo_apis.inbox.records == []  # nothing was read or sent
