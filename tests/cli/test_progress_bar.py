"""``apilink sync`` draws a live bar when stderr is a terminal (a pseudo-terminal here), and none
when it is not, or with ``--json`` or ``--quiet``."""

from __future__ import annotations

import os
import pty
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from apilink.demo import demo_config_path
from apilink.demo.served import served_demo
from tests.fixtures.command import APILINK

BAR = "rec/s"


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("bar")
    with served_demo(2000):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
        env.update(PREFECT_HOME=str(home), APILINK_STATE_DIR=str(home), COLUMNS="160")
        yield env


def _on_a_terminal(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``apilink sync`` with stderr on a pseudo-terminal: exit code, stdout, terminal."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [*APILINK, "sync", "-c", demo_config_path(), *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the process closed the terminal
            break
        if not data:
            break
        seen += data
    os.close(leader)
    assert process.stdout is not None
    out = process.stdout.read().decode()
    return process.wait(timeout=120), out, seen.decode(errors="replace")


def test_a_terminal_gets_a_live_bar_with_rate_and_counts(demo_env: dict[str, str]) -> None:
    code, out, terminal = _on_a_terminal(env=demo_env)
    assert code == 0, terminal[-3000:]
    assert BAR in terminal and "list_users -> create_profile" in terminal
    # It moved while the records went out, and ended on the final counts.
    assert terminal.count("\x1b[2K") > 1
    assert "loaded 1,867 · quarantined 133 · dead-lettered 0" in terminal
    # Prefect's lines are printed above the bar, never run into it.
    assert not any(line.rstrip().endswith("·") for line in terminal.splitlines())
    assert "Summary" in out


@pytest.mark.parametrize("flag", ["--json", "--quiet"])
def test_no_bar_with_json_or_quiet(demo_env: dict[str, str], flag: str) -> None:
    code, _, terminal = _on_a_terminal(flag, env=demo_env)
    assert code == 0, terminal[-3000:]
    assert BAR not in terminal


def test_no_bar_when_stderr_is_not_a_terminal(demo_env: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        [*APILINK, "sync", "-c", demo_config_path()],
        capture_output=True,
        text=True,
        env=demo_env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert BAR not in done.stderr and "\x1b[2K" not in done.stderr
