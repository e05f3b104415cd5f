"""The first step of every flow: is the caller allowed to do this? Fails closed, audits denials.

Trusted: the worker's operator (its environment: :mod:`apilink.rbac.policy`, the worker key).
Not trusted: run callers and anyone with Prefect API access, who choose every flow-run
parameter. So, for a run through the flow:

* the caller's identity is an ``api_key`` given in process, or a run ticket (``apilink
  ticket``) for a deployment run; the worker's own ``APILINK_API_KEY`` is never used, and a plain
  ``api_key`` parameter on a deployment run is refused (it would sit in clear in the run);
* a config the caller supplied (mapping, unapproved block) needs ``edit_config`` and
  ``run_sync``; a block sealed by apilink needs ``run_sync``; a child partition run shows the
  proof its parent made instead;
* every denial and refusal is one line in the worker's audit file
  (:func:`apilink.audit.settings.denial_audit_log`) and an ``apilink.access.denied`` event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger
from pydantic import SecretStr

from apilink.audit import AuditLog, AuditSink
from apilink.audit.settings import DenialAudit
from apilink.config.models import SecurityConfig
from apilink.errors import AccessDenied, ProofRejected, UserNotFound
from apilink.rbac import ANONYMOUS, AccessControl, Permission, User
from apilink.rbac.approval import consume_ticket, verify_approval, verify_child_proof, verify_ticket
from apilink.rbac.policy import WorkerPolicy, refuse_caller_security
from apilink.rbac.worker_key import require_worker_key
from apilink.storage.state.store import default_state_dir
from blocks.access_control import AccessControl as AccessControlBlock
from tasks.audit import PrefectAuditSink, current_run_id
from tasks.run_config import RunConfig

__all__ = ["API_KEY_ENV", "RunCaller", "authorize_run", "rbac_guard"]

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
    """Check that the holder of ``api_key`` may ``permission``; returns the username.

    There is no fallback to the worker's ``APILINK_API_KEY``: no key is no key.

    Raises:
        AccessDenied: without the permission (never retried; the message holds no key).
    """
    run_id = current_run_id()
    sink = PrefectAuditSink(audit, run_id=run_id)
    if isinstance(security, AccessControlBlock):
        engine = security.access_control(audit=sink)
    else:
        engine = AccessControl.from_config(security, audit=sink)
    user = engine.authorize(api_key, permission, run_id=run_id)
    _logger().info(
        "access granted: %s (role %s) may %s", user.username, user.role.value, permission
    )
    return user.username


@dataclass(frozen=True)
class RunCaller:
    """Who a run runs as, and whether its config counts as the operator's own."""

    username: str
    trusted: bool


async def _parent_flow_run() -> str | None:
    context = FlowRunContext.get()
    if context is None or context.flow_run is None or context.flow_run.parent_task_run_id is None:
        return None
    async with get_client() as client:
        task_run = await client.read_task_run(context.flow_run.parent_task_run_id)
    return str(task_run.flow_run_id) if task_run.flow_run_id else None


def _deployment_name() -> str | None:
    context = FlowRunContext.get()
    if context is None or context.flow_run is None or context.flow_run.deployment_id is None:
        return None
    from prefect.runtime import deployment, flow_run

    return f"{flow_run.flow_name}/{deployment.name}"


async def authorize_run(
    run: RunConfig,
    *,
    api_key: SecretStr | None,
    ticket: str | None,
    proof: str | None = None,
    partition: str | None = None,
    parameters: Mapping[str, Any],
    audit: AuditLog | None = None,
    policy: WorkerPolicy | None = None,
) -> RunCaller:
    """Check that this run may go ahead; every refusal is audited before it is raised.

    Args:
        run: the config and where it came from.
        api_key: the caller's key, in process only.
        ticket: a run ticket from ``apilink ticket`` (deployment runs).
        proof: a child partition run's proof from its parent.
        partition: the child's partition label (bound by ``proof``).
        parameters: the run's parameters a ticket is bound to.
        audit: the config's own audit log (grants are written there when the config is trusted).
        policy: the worker's policy (default: from the environment).

    Raises:
        AccessDenied: the caller may not (PolicyRefused / ProofRejected for the reasons named).
    """
    run_id = current_run_id()
    # Grants go to the config's own log when the config is the operator's; denials always
    # reach the operator's file as well.
    sink = PrefectAuditSink(
        DenialAudit(
            run.config,
            trusted=run.trusted,
            run_id=run_id,
            full=audit if run.trusted else None,
        ),
        run_id=run_id,
    )

    def refused(exc: AccessDenied, actor: str = "unknown") -> AccessDenied:
        sink.record(
            "access.denied",
            actor=actor,
            target=exc.permission or "run_sync",
            outcome="denied",
            details={"reason": str(exc), "config": run.source},
        )
        return exc

    try:
        if proof is not None:
            return await _child(run, proof, partition)
        policy = policy or WorkerPolicy.from_env()
        deployment = _deployment_name()
        if api_key is not None and deployment is not None:
            raise AccessDenied(
                "an `api_key` parameter is refused on a deployment run: it would be stored in "
                "clear in the flow run for anyone with Prefect API access to read. Make a "
                f"single-use ticket with `apilink ticket --deployment {deployment} --param "
                "k=v ...` and pass it as `ticket`",
                permission="run_sync",
            )
        security = run.config.security
        enabled = policy.enabled_for(security, run.origin)
        refuse_caller_security(run.raw, run.origin, run.source, enabled=enabled)
    except AccessDenied as exc:
        raise refused(exc) from None
    if not enabled:
        sink.record("access.granted", actor=ANONYMOUS.username, target="run_sync", details={})
        return RunCaller(ANONYMOUS.username, run.trusted)
    try:
        wanted = _permissions(run)
        block = await AccessControlBlock.aload(policy.block) if policy.block else None
        engine = _engine(policy, run, sink, block)
    except AccessDenied as exc:
        raise refused(exc) from None
    if ticket is None:
        # The engine writes its own denial.
        user = engine.authorize(api_key, wanted[0], run_id=run_id)
    else:
        try:
            user = _ticket_user(engine, ticket, deployment, parameters)
        except AccessDenied as exc:
            raise refused(exc) from None
    for permission in wanted:
        engine.check(user, permission, run_id=run_id)
    _logger().info(
        "access granted: %s (role %s) may %s",
        user.username,
        user.role.value,
        " and ".join(p.value for p in wanted),
    )
    return RunCaller(user.username, run.trusted)


def _permissions(run: RunConfig) -> list[Permission]:
    if run.trusted:
        return [Permission.RUN_SYNC]
    if run.approval is not None:
        key = require_worker_key("checking a SyncConfig block's approval")
        verify_approval(key, run.raw, run.approval, block=run.block or run.source)
        return [Permission.RUN_SYNC]
    return [Permission.EDIT_CONFIG, Permission.RUN_SYNC]


def _engine(
    policy: WorkerPolicy, run: RunConfig, sink: AuditSink, block: AccessControlBlock | None
) -> AccessControl:
    security = run.config.security
    if block is not None:
        return block.access_control(audit=sink)
    if not policy.has_users_source(run.origin, security):
        raise AccessDenied(
            f"access control is on for a {run.origin.value} but this worker names no users: "
            "its operator sets APILINK_USERS_FILE or APILINK_ACCESS_CONTROL_BLOCK",
            permission="run_sync",
        )
    return AccessControl.from_config(policy.security_for(security, run.origin), audit=sink)


def _ticket_user(
    engine: AccessControl,
    ticket: str,
    deployment: str | None,
    parameters: Mapping[str, Any],
) -> User:
    key = require_worker_key("checking a run ticket")
    claims = verify_ticket(key, ticket, deployment=deployment, parameters=parameters)
    consume_ticket(claims, default_state_dir(None) / "used-tickets")
    try:
        user = engine.get_user(str(claims.get("principal")))
    except UserNotFound:
        raise ProofRejected(
            "run ticket: its user no longer exists", permission="run_ticket"
        ) from None
    if user.key_hash is None:
        raise ProofRejected("run ticket: its user's key was revoked", permission="run_ticket")
    return user


async def _child(run: RunConfig, proof: str, partition: str | None) -> RunCaller:
    key = require_worker_key("checking a child partition's proof")
    claims = verify_child_proof(
        key, proof, parent_run=await _parent_flow_run(), partition=partition, digest=run.digest
    )
    _logger().info("child of %s: runs as %s", claims["parent"], claims["principal"])
    return RunCaller(str(claims["principal"]), bool(claims.get("trusted")))
