"""The demo's two APIs served for one run, in a process of their own, with the variables its
config reads.

``deployments/demo.yaml`` reads ``${DEMO_SOURCE_URL}``, ``${DEMO_TARGET_URL}`` and
``${DEMO_SOURCE_TOKEN}``; :func:`served_demo` starts both APIs on free loopback ports, sets the
three in this process's environment for the block, and puts the environment back after. The
``apilink demo`` command and the ``apilink_demo`` flow (the ``demo`` deployment) both run
inside it, so the demo needs nothing set by hand, on a laptop or on a worker.

The APIs run in a child process (:mod:`apilink.demo.api_process`), not in threads of the
sync's own: in one process they share its interpreter lock, and a sync that sends one request
per record would wait on its own test servers. The child ends with the block, or by itself
when its parent goes away (its stdin closes).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from apilink.demo.apis import demo_users

__all__ = ["DEMO_VARIABLES", "ServedDemo", "served_demo"]

DEMO_VARIABLES = ("DEMO_SOURCE_URL", "DEMO_TARGET_URL", "DEMO_SOURCE_TOKEN")
_START_SECONDS = 30.0


@dataclass(frozen=True)
class ServedDemo:
    """What the demo source serves, and where its target is."""

    users: list[dict[str, Any]]
    source_url: str
    target_url: str

    @property
    def bad(self) -> int:
        """How many served users have an email that is not one (the run quarantines them)."""
        return sum(1 for user in self.users if "@" not in user["email"])

    def received(self) -> list[dict[str, Any]]:
        """Every profile the demo target has accepted so far, in order."""
        answer = httpx.get(f"{self.target_url}/profiles", timeout=60)
        answer.raise_for_status()
        records: list[dict[str, Any]] = answer.json()["records"]
        return records


@contextmanager
def served_demo(records: int = 120) -> Iterator[ServedDemo]:
    """Serve ``records`` demo users and a target on loopback, with ``DEMO_*`` set meanwhile."""
    token = secrets.token_urlsafe(24)  # a fresh bearer token each run; it never leaves the host
    child = subprocess.Popen(
        [sys.executable, "-m", "apilink.demo.api_process", "--records", str(records)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "DEMO_SOURCE_TOKEN": token, "PYTHONUNBUFFERED": "1"},
    )
    before = {name: os.environ.get(name) for name in DEMO_VARIABLES}
    try:
        source, target = _started(child)
        os.environ.update(DEMO_SOURCE_URL=source, DEMO_TARGET_URL=target, DEMO_SOURCE_TOKEN=token)
        yield ServedDemo(users=demo_users(records), source_url=source, target_url=target)
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _stop(child)


def _started(child: subprocess.Popen[str]) -> tuple[str, str]:
    """The two URLs the child prints once both servers listen."""
    stdout = child.stdout
    assert stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(_START_SECONDS)
    urls = lines[0].split() if lines else []
    if len(urls) != 2:
        _stop(child)
        raise RuntimeError(f"the demo APIs did not start within {_START_SECONDS:.0f} s")
    return urls[0], urls[1]


def _stop(child: subprocess.Popen[str]) -> None:
    if child.stdin is not None:
        child.stdin.close()  # the child's signal to end
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(10)
    if child.stdout is not None:
        child.stdout.close()
