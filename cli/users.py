"""`apilink users ...`: manage the users file. Every command but the first ``add`` of an admin
into an empty file needs an admin's key (``--api-key`` or ``APILINK_API_KEY``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from apilink.audit import AuditLog
from apilink.audit.settings import DenialAudit, denial_audit_log
from apilink.config import load_config
from apilink.errors import ApilinkError
from apilink.rbac import AccessControl, FileUserStore, Permission, Role, User

__all__ = ["app"]

app = typer.Typer(help="Manage apilink users, roles and API keys.", no_args_is_help=True)

UsersFile = Annotated[
    Path, typer.Option("--users-file", envvar="APILINK_USERS_FILE", help="The users file.")
]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar="APILINK_API_KEY", help="Your API key.", show_default=False),
]
# Plain strings, checked by the engine, whose error lists the valid values; --help lists them too.
RoleArgument = Annotated[str, typer.Argument(help=f"One of: {', '.join(Role)}.")]
AuditFile = Annotated[
    Path | None,
    typer.Option("--audit-file", envvar="APILINK_AUDIT_FILE", help="Audit log to write to."),
]


def _engine(users_file: Path, audit_file: Path | None) -> AccessControl:
    full = AuditLog.open(audit_file) if audit_file is not None else None
    audit = DenialAudit(full=full)  # a denial always reaches the operator's audit file
    return AccessControl(FileUserStore(users_file), enabled=True, audit=audit)


def _fail(exc: ApilinkError) -> typer.Exit:
    # Every refusal here is of the request itself (who asks, which user, which role): bad
    # input, exit 2, as everywhere else in the CLI.
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def _caller(engine: AccessControl, api_key: str | None, permission: Permission) -> User:
    return engine.authorize(api_key, permission)


@app.command("add")
def add(
    username: str,
    role: RoleArgument,
    users_file: UsersFile = Path("apilink_users.json"),
    api_key: ApiKey = None,
    audit_file: AuditFile = None,
    expires_in_days: Annotated[int | None, typer.Option(min=1)] = None,
) -> None:
    """Add a user and print its API key, once. An empty file takes its first admin keyless."""
    engine = _engine(users_file, audit_file)
    try:
        bootstrap = not engine.list_users() and api_key is None and role == Role.ADMIN.value
        actor = None if bootstrap else _caller(engine, api_key, Permission.MANAGE_USERS)
        expires = None
        if expires_in_days is not None:
            expires = datetime.now(UTC) + timedelta(days=expires_in_days)
        user, key = engine.add_user(username, role, actor=actor, expires_at=expires)
    except ApilinkError as exc:
        raise _fail(exc) from None
    typer.echo(f"added {user.username} ({user.role.value})")
    typer.echo(f"API key (shown once, store it now): {key}")


@app.command("import")
def import_users(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="A config whose `security.users` to add.")
    ],
    users_file: UsersFile = Path("apilink_users.json"),
    api_key: ApiKey = None,
    audit_file: AuditFile = None,
) -> None:
    """Add the config's ``security.users`` (predefined keys hashed) to the users file.

    Loading a config never writes users; this explicit ``manage_users`` action does. Users
    already in the file keep their records. An empty file takes its users keyless.
    """
    audit = AuditLog.open(audit_file) if audit_file is not None else denial_audit_log()
    engine = AccessControl(FileUserStore(users_file), enabled=True, audit=audit)
    try:
        bootstrap = not engine.list_users() and api_key is None
        actor = None if bootstrap else _caller(engine, api_key, Permission.MANAGE_USERS)
        security = load_config(config).security
        added = engine.import_users(security, actor=actor)
    except ApilinkError as exc:
        raise _fail(exc) from None
    kept = len(security.users) - len(added)
    typer.echo(f"imported {len(added)} user(s) into {users_file}: {', '.join(added) or '-'}")
    if kept:
        typer.echo(f"{kept} already there, kept as they were")


@app.command("list")
def list_users(
    users_file: UsersFile = Path("apilink_users.json"),
    api_key: ApiKey = None,
    audit_file: AuditFile = None,
) -> None:
    """List users and roles (never keys)."""
    engine = _engine(users_file, audit_file)
    try:
        _caller(engine, api_key, Permission.MANAGE_USERS)
    except ApilinkError as exc:
        raise _fail(exc) from None
    for user in engine.list_users():
        state = "revoked" if user.key_hash is None else "active"
        expiry = f" expires {user.expires_at.isoformat()}" if user.expires_at else ""
        typer.echo(f"{user.username}\t{user.role.value}\t{state}{expiry}")


@app.command("set-role")
def set_role(
    username: str,
    role: RoleArgument,
    users_file: UsersFile = Path("apilink_users.json"),
    api_key: ApiKey = None,
    audit_file: AuditFile = None,
) -> None:
    """Change a user's role (never the last admin's away from admin)."""
    engine = _engine(users_file, audit_file)
    try:
        actor = _caller(engine, api_key, Permission.MANAGE_USERS)
        user = engine.set_role(username, role, actor=actor)
    except ApilinkError as exc:
        raise _fail(exc) from None
    typer.echo(f"{user.username} is now {user.role.value}")


@app.command("remove")
def remove(
    username: str,
    users_file: UsersFile = Path("apilink_users.json"),
    api_key: ApiKey = None,
    audit_file: AuditFile = None,
) -> None:
    """Delete a user (never the last admin)."""
    engine = _engine(users_file, audit_file)
    try:
        actor = _caller(engine, api_key, Permission.MANAGE_USERS)
        engine.remove_user(username, actor=actor)
    except ApilinkError as exc:
        raise _fail(exc) from None
    typer.echo(f"removed {username}")


@app.command("revoke")
def revoke(
    username: str,
    users_file: UsersFile = Path("apilink_users.json"),
    api_key: ApiKey = None,
    audit_file: AuditFile = None,
) -> None:
    """Withdraw a user's API key now."""
    engine = _engine(users_file, audit_file)
    try:
        actor = _caller(engine, api_key, Permission.MANAGE_USERS)
        engine.revoke_key(username, actor=actor)
    except ApilinkError as exc:
        raise _fail(exc) from None
    typer.echo(f"revoked the key of {username}")


@app.command("rotate")
def rotate(
    username: str,
    users_file: UsersFile = Path("apilink_users.json"),
    api_key: ApiKey = None,
    audit_file: AuditFile = None,
) -> None:
    """Give a user a fresh API key (printed once); the old one stops working."""
    engine = _engine(users_file, audit_file)
    try:
        actor = _caller(engine, api_key, Permission.MANAGE_USERS)
        key = engine.issue_key(username, actor=actor)
    except ApilinkError as exc:
        raise _fail(exc) from None
    typer.echo(f"API key for {username} (shown once, store it now): {key}")


@app.command("check")
def check(
    permission: Annotated[str, typer.Argument(help=f"One of: {', '.join(Permission)}.")],
    users_file: UsersFile = Path("apilink_users.json"),
    api_key: ApiKey = None,
    audit_file: AuditFile = None,
) -> None:
    """Say whether your key grants PERMISSION (exit 0) or not (exit 2)."""
    engine = _engine(users_file, audit_file)
    try:
        user = engine.authorize(api_key, permission)
    except ApilinkError as exc:
        raise _fail(exc) from None
    typer.echo(f"allowed: {user.username} ({user.role.value}) may {permission}")
