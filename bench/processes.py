"""Subprocesses the benchmark times: wall time, peak RSS, CPU of the servers, Prefect server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from apilink.demo import free_port

__all__ = [
    "CpuMeter",
    "Finished",
    "apilink_command",
    "compile_bytecode",
    "prefect_server",
    "run_measured",
]

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Finished:
    """A subprocess that ran to its end."""

    returncode: int
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str

    def json_line(self) -> dict[str, Any]:
        """The last stdout line that is a JSON object (``--json`` counts)."""
        for line in reversed(self.stdout.splitlines()):
            if line.startswith("{"):
                data: dict[str, Any] = json.loads(line)
                return data
        raise RuntimeError(
            f"no JSON line in the output (exit {self.returncode}):\n{self.stderr[-3000:]}"
        )


def _drain(stream: Any, into: list[str]) -> None:
    into.append(stream.read())


def run_measured(command: list[str], env: dict[str, str], timeout: float = 3600) -> Finished:
    """Run ``command``; its wall time and its peak RSS (``ru_maxrss`` from ``wait4``).

    ``wait4`` reports the child's own high-water mark exactly, so no sampling is needed.
    """
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=_drain, args=(process.stdout, out), daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, err), daemon=True),
    ]
    for reader in readers:
        reader.start()
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join(10)
    return Finished(
        returncode=process.returncode,
        seconds=seconds,
        peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        stdout="".join(out),
        stderr="".join(err),
    )


def compile_bytecode() -> float:
    """Compile the project's modules to bytecode; returns the seconds.

    With ``PYTHONDONTWRITEBYTECODE`` set Python never writes ``.pyc`` files, so every measured
    run would compile apilink's modules from source again. The installed packages were compiled
    by ``make install`` (``uv sync --compile-bytecode``). Modules compiled already are skipped.
    """
    started = time.perf_counter()
    paths = [REPO / package for package in ("apilink", "flows", "tasks", "blocks")]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", *map(str, paths)],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def apilink_command(config: Path) -> list[str]:
    """``apilink sync -c CONFIG --json`` with the virtualenv's script."""
    return [str(Path(sys.executable).with_name("apilink")), "sync", "-c", str(config), "--json"]


class CpuMeter:
    """CPU seconds used by some processes between ``start()`` and ``stop()``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._start: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {
            name: process.cpu_times().user + process.cpu_times().system
            for name, process in self._processes.items()
        }

    def start(self) -> None:
        self._start = self._now()

    def stop(self) -> dict[str, float]:
        end = self._now()
        return {name: end[name] - self._start[name] for name in end}


@contextmanager
def prefect_server(home: Path, *, start_timeout: float = 180) -> Iterator[dict[str, str]]:
    """Start ``prefect server start`` on a free loopback port with its own ``PREFECT_HOME``.

    Yields the environment a client needs (``PREFECT_API_URL`` and friends); stops the server
    (its process group, which this function created) at the end.
    """
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "GX_ANALYTICS_ENABLED": "False",
        "PREFECT_UI_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    log = tempfile.TemporaryFile(mode="w+")
    prefect = str(Path(sys.executable).with_name("prefect"))
    server = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if server.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"prefect server exited:\n{log.read()[-3000:]}")
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not answer within {start_timeout}s")
            time.sleep(0.25)
        yield {**env, "PREFECT_API_URL": api}
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(10)
        log.close()
