"""The first task of every flow: is the caller allowed to do this? Fails closed, audits denials."""

from __future__ import annotations

import logging
import os

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger
from pydantic import SecretStr

from apilink.audit import AuditSink
from apilink.config.models import SecurityConfig
from apilink.rbac import AccessControl
from blocks.access_control import AccessControl as AccessControlBlock
from tasks.audit import PrefectAuditSink, current_run_id

__all__ = ["API_KEY_ENV", "rbac_guard"]

API_KEY_ENV = "APILINK_API_KEY"


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("apilink.rbac")


@task(name="rbac_guard", cache_policy=NO_CACHE, persist_result=False, retries=0)
def rbac_guard(
    security: SecurityConfig | AccessControlBlock,
    api_key: SecretStr | None = None,
    permission: str = "run_sync",
    *,
    audit: AuditSink | None = None,
) -> str:
    """Check that the caller may ``permission``; returns the principal's username.

    Args:
        security: the config's ``security`` section, or a saved ``AccessControl`` block.
        api_key: the caller's key; ``APILINK_API_KEY`` when not given.
        permission: what the flow is about to do.
        audit: the run's audit log; the decision is written there and emitted as a Prefect
            event (``apilink.access.granted`` / ``apilink.access.denied``).

    Raises:
        AccessDenied: without the permission (never retried; the message holds no key).
    """
    key: SecretStr | str | None = api_key or os.environ.get(API_KEY_ENV) or None
    run_id = current_run_id()
    sink = PrefectAuditSink(audit, run_id=run_id)
    if isinstance(security, AccessControlBlock):
        engine = security.access_control(audit=sink)
    else:
        engine = AccessControl.from_config(security, audit=sink)
    user = engine.authorize(key, permission, run_id=run_id)
    _logger().info(
        "access granted: %s (role %s) may %s", user.username, user.role.value, permission
    )
    return user.username
