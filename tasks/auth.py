"""Build the auth of each side of a sync, fetching a token up front where one is needed."""

from __future__ import annotations

import httpx
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from apilink.auth import build_auth
from apilink.config.models import ConnectionConfig

__all__ = ["acquire_token"]


@task(
    name="acquire_token",
    task_run_name="acquire_token {side}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def acquire_token(connection: ConnectionConfig, side: str) -> httpx.Auth | None:
    """The ``httpx.Auth`` for one side of the sync (``None`` when it needs none)."""
    auth = build_auth(connection.auth)
    kind = connection.auth.type if connection.auth is not None else "none"
    get_run_logger().info("%s auth ready (%s)", side, kind)
    return auth
