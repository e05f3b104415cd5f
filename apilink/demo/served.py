"""The demo's two APIs served for one run, with the variables its config reads.

``deployments/demo.yaml`` reads ``${DEMO_SOURCE_URL}``, ``${DEMO_TARGET_URL}`` and
``${DEMO_SOURCE_TOKEN}``; :func:`served_demo` starts both APIs on free loopback ports, sets the
three in this process's environment for the block, and puts the environment back after. The
``apilink demo`` command and the ``apilink_demo`` flow (the ``demo`` deployment) both run
inside it, so the demo needs nothing set by hand, on a laptop or on a worker.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from apilink.demo.apis import TargetInbox, demo_users, make_source_app, make_target_app
from apilink.demo.serve import serve

__all__ = ["DEMO_VARIABLES", "ServedDemo", "served_demo"]

DEMO_VARIABLES = ("DEMO_SOURCE_URL", "DEMO_TARGET_URL", "DEMO_SOURCE_TOKEN")


@dataclass(frozen=True)
class ServedDemo:
    """What the demo source serves and what its target received so far."""

    users: list[dict[str, Any]]
    inbox: TargetInbox

    @property
    def bad(self) -> int:
        """How many served users have an email that is not one (the run quarantines them)."""
        return sum(1 for user in self.users if "@" not in user["email"])


@contextmanager
def served_demo(records: int = 120) -> Iterator[ServedDemo]:
    """Serve ``records`` demo users and a target on loopback, with ``DEMO_*`` set meanwhile."""
    users = demo_users(records)
    inbox = TargetInbox()
    token = secrets.token_urlsafe(24)  # a fresh bearer token each run; it never leaves the host
    before = {name: os.environ.get(name) for name in DEMO_VARIABLES}
    with (
        serve(make_source_app(users, token=token)) as source,
        serve(make_target_app(inbox)) as target,
    ):
        os.environ.update(DEMO_SOURCE_URL=source, DEMO_TARGET_URL=target, DEMO_SOURCE_TOKEN=token)
        try:
            yield ServedDemo(users=users, inbox=inbox)
        finally:
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
