"""`apilink audit ...`: verify and read the tamper-evident audit log.

``verify --prefect`` also holds the log against the anchors its lines left in Prefect events
(:mod:`apilink.audit.anchor`), which catches a log rolled back, or wiped and restarted, together
with its head. Trusted: the operator running it (the audit key, the Prefect API address). Not
trusted: whoever can write the log and its head, or add events through the Prefect API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from apilink.audit import load_audit_key, read_events
from apilink.audit.anchor import AnchorReport, chain_id, check_anchors
from apilink.audit.log import chain_macs
from apilink.errors import AccessDenied, AuditAnchorUnavailable, AuditKeyError, AuditTampered
from apilink.rbac import Permission
from cli.guard import require

__all__ = ["app"]

app = typer.Typer(help="Verify and read the audit log.", no_args_is_help=True)


@app.command("verify")
def verify_command(
    file: Path,
    prefect: Annotated[
        bool,
        typer.Option(
            "--prefect",
            help="Also hold the log against the anchors its events left in Prefect (catches a "
            "log rolled back or wiped together with its head).",
        ),
    ] = False,
    prefect_url: Annotated[
        str | None,
        typer.Option(
            "--prefect-url",
            help="The Prefect API to read the anchors from (default: PREFECT_API_URL / profile).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check the HMAC chain of FILE (key from APILINK_AUDIT_KEY or FILE.key).

    Exit 0 and "N lines verified", or exit 1 and "line K: ..." for the first bad line. With
    --prefect, exit 2 when the Prefect server cannot be read: the check fails closed.
    """
    try:
        require(Permission.VIEW_LOGS)
        if not file.is_file():
            raise FileNotFoundError(f"{file}: no audit log there")
        key = load_audit_key(file, create=False)
        macs = chain_macs(file, key)
        report = _check_prefect(file, key, macs, prefect_url) if prefect else None
    except AuditTampered as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except (AuditKeyError, AccessDenied, AuditAnchorUnavailable, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{len(macs)} lines verified" + (f"; {report.summary()}" if report else ""))


def _check_prefect(
    file: Path, key: bytes, macs: list[str], prefect_url: str | None
) -> AnchorReport:
    from prefect.settings import get_current_settings

    from tasks.audit import read_anchors

    api = get_current_settings().api
    url = prefect_url or api.url
    if not url:
        raise AuditAnchorUnavailable(
            "--prefect needs a Prefect API: set PREFECT_API_URL or pass --prefect-url"
        )
    chain = chain_id(key, file)
    anchors = read_anchors(
        url,
        chain,
        api_key=api.key.get_secret_value() if api.key else None,
        auth_string=api.auth_string.get_secret_value() if api.auth_string else None,
    )
    return check_anchors(macs, anchors, key=key, chain=chain)


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
