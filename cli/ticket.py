"""``apilink ticket``: a single-use run ticket, so no API key ever sits in a flow run.

::

    apilink ticket --deployment api_sync/orders --param dry_run=true
    prefect deployment run api_sync/orders --param dry_run=true --param ticket=apl1....

Trusted: the machine the command runs on holds the worker key (``APILINK_WORKER_KEY``) and the
operator's users (``APILINK_USERS_FILE`` or ``APILINK_ACCESS_CONTROL_BLOCK``). Not trusted: the
caller, whose key is checked here (never sent to Prefect), and anyone with Prefect API access, who
can read the ticket from the run but cannot use it again, for another deployment or with other
parameters, or after ten minutes. The flow re-checks the user's role when it runs.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Annotated, Any

import typer

from apilink.audit.settings import denial_audit_log
from apilink.errors import AccessDenied, ApilinkError, ConfigError
from apilink.rbac import AccessControl, FileUserStore, Permission
from apilink.rbac.approval import TICKET_SECONDS, issue_ticket
from apilink.rbac.policy import ACCESS_CONTROL_BLOCK_ENV, USERS_FILE_ENV
from apilink.rbac.worker_key import require_worker_key

__all__ = ["parse_params", "ticket"]


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``k=v`` pairs as parameters; a value that is JSON (``true``, ``3``, ``{...}``) is parsed.

    Raises:
        ConfigError: a pair without ``=``.
    """
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigError(f"--param {pair!r}: write NAME=VALUE", source="--param")
        try:
            params[name] = json.loads(value)
        except json.JSONDecodeError:
            params[name] = value
    return params


async def _deployment_defaults(name: str) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    async with get_client() as client:
        try:
            deployment = await client.read_deployment_by_name(name)
        except ObjectNotFound:
            raise ConfigError(f"no deployment {name!r} on the Prefect server") from None
    return dict(deployment.parameters or {})


def _engine() -> AccessControl:
    audit = denial_audit_log()
    if block := os.environ.get(ACCESS_CONTROL_BLOCK_ENV):
        from prefect.utilities.asyncutils import run_coro_as_sync

        from blocks.access_control import AccessControl as AccessControlBlock

        loaded: object = run_coro_as_sync(AccessControlBlock.aload(block))
        if not isinstance(loaded, AccessControlBlock):
            raise ConfigError(
                f"{ACCESS_CONTROL_BLOCK_ENV}: {block!r} is not an AccessControl block"
            )
        return loaded.access_control(audit=audit)
    if users := os.environ.get(USERS_FILE_ENV):
        return AccessControl(FileUserStore(users), enabled=True, audit=audit)
    raise AccessDenied(
        f"no users to check your key against: set {USERS_FILE_ENV} or {ACCESS_CONTROL_BLOCK_ENV} "
        "as on the workers",
        permission="run_sync",
    )


def ticket(
    deployment: Annotated[
        str, typer.Option("--deployment", "-d", help="FLOW/DEPLOYMENT the run is for.")
    ],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE, as for the run.")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", envvar="APILINK_API_KEY", help="Your API key.", show_default=False
        ),
    ] = None,
) -> None:
    """Print a single-use ticket for one run of DEPLOYMENT with exactly these parameters."""
    try:
        params = parse_params(param or [])
        if "ticket" in params or "api_key" in params:
            raise ConfigError("--param: `ticket` and `api_key` are not run parameters here")
        try:
            engine = _engine()
        except AccessDenied as exc:
            denial_audit_log().record(
                "access.denied", actor="unknown", target="run_sync", outcome="denied",
                details={"reason": str(exc), "command": "ticket"},
            )  # fmt: skip
            raise
        user = engine.authorize(api_key, Permission.RUN_SYNC)
        key = require_worker_key("`apilink ticket`")
        merged = {**asyncio.run(_deployment_defaults(deployment)), **params}
        made = issue_ticket(key, deployment=deployment, parameters=merged, principal=user.username)
    except ApilinkError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(made)
    shown = " ".join(f"--param {p}" for p in param or [])
    typer.echo(
        f"single use, for {TICKET_SECONDS // 60} minutes: prefect deployment run {deployment} "
        f"{shown} --param ticket=<the line above>".replace("  ", " "),
        err=True,
    )
