"""`apilink audit ...`: verify and read the tamper-evident audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from apilink.audit import AuditKeyError, load_audit_key, read_events, verify
from apilink.cli.guard import require
from apilink.errors import AccessDenied, AuditTampered
from apilink.rbac import Permission

__all__ = ["app"]

app = typer.Typer(help="Verify and read the audit log.", no_args_is_help=True)


@app.command("verify")
def verify_command(file: Path) -> None:
    """Check the HMAC chain of FILE (key from APILINK_AUDIT_KEY or FILE.key).

    Exit 0 and "N lines verified", or exit 1 and "line K: ..." for the first bad line.
    """
    try:
        require(Permission.VIEW_LOGS)
        key = load_audit_key(file, create=False)
        count = verify(file, key)
    except AuditTampered as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except (AuditKeyError, AccessDenied, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{count} lines verified")


@app.command("show")
def show(
    file: Path,
    tail: Annotated[int | None, typer.Option("--tail", min=0, help="Only the last N.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw lines.")] = False,
) -> None:
    """Print the events of FILE (not verified: run `apilink audit verify` for that)."""
    try:
        require(Permission.VIEW_LOGS)
        events = read_events(file, tail=tail)
    except AccessDenied as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except FileNotFoundError:
        typer.echo(f"error: no such file: {file}", err=True)
        raise typer.Exit(2) from None
    except ValueError:
        typer.echo(f"error: {file} is not an audit log (run `apilink audit verify`)", err=True)
        raise typer.Exit(1) from None
    for event in events:
        if as_json:
            typer.echo(json.dumps(event, sort_keys=True))
            continue
        run = f" run={event['run_id']}" if event.get("run_id") else ""
        typer.echo(
            f"{event.get('seq', '?'):>5} {event.get('ts', '')} {event.get('actor', '')} "
            f"{event.get('action', '')} {event.get('target', '')} -> "
            f"{event.get('outcome', '')}{run}"
        )
