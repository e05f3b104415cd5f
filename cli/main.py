"""``apilink sync | validate | demo`` and the sub-command groups."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import SecretStr

from apilink.config import load_config
from apilink.errors import AccessDenied, ApilinkError, ConfigError, PrefectUnreachable
from apilink.rbac import Permission
from apilink.run.summary import COUNTS, PLAN_COUNTS
from cli import audit, auth, credentials, dlq, ticket, users
from cli import init as init_command
from cli import schema as schema_command
from cli.guard import require

if TYPE_CHECKING:
    from cli.running import SyncOutcome

__all__ = ["app", "main"]

app = typer.Typer(
    name="apilink",
    help="Link REST APIs securely: extract, validate, map and load, as Prefect flows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(credentials.app, name="credentials")
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
app.add_typer(auth.app, name="auth")
app.add_typer(dlq.app, name="dlq")
app.command("ticket")(ticket.ticket)
app.command(name="schema")(schema_command.schema)
app.command(name="init")(init_command.init)


def _print_version(value: bool) -> None:
    if value:
        from apilink import __version__

        typer.echo(f"apilink {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Link REST APIs securely: extract, validate, map and load, as Prefect flows."""


ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The sync config (YAML).", show_default=False)
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` on stderr and return the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def validate(
    config: ConfigOption,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the result (ok, errors, warnings) as one JSON line."),
    ] = False,
    strict: Annotated[
        bool, typer.Option(help="Exit 2 on warnings too (a literal secret, for example).")
    ] = False,
) -> None:
    """Check a sync config without running it; warn about secrets written in plain text."""
    from apilink.scaffold.checks import check_config_file

    report = check_config_file(config)
    if report.ok:
        try:
            require(Permission.VIEW_CONFIG, config_path=config)
        except (ConfigError, AccessDenied) as exc:
            report = type(report)(config=str(config), message=str(exc), errors=[str(exc)])
    if as_json:
        sys.stdout.write(json.dumps(report.as_json()) + "\n")
    else:
        for warning in report.warnings:
            typer.echo(f"warning: {warning}", err=True)
        if report.ok:
            typer.echo(f"{config}: valid ({', '.join(report.mappings)})")
    if not report.ok:
        raise fail(report.message) if not as_json else typer.Exit(2)
    if strict and report.warnings:
        raise typer.Exit(2)


@app.command()
def sync(
    config: ConfigOption,
    source_endpoint: Annotated[
        str | None, typer.Option(help="Run only mappings that read this source endpoint.")
    ] = None,
    target_endpoint: Annotated[
        str | None, typer.Option(help="Run only mappings that write this target endpoint.")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Extract, validate and map; send nothing.")] = False,
    plan: Annotated[
        bool,
        typer.Option(
            "--plan",
            help="For mode: upsert/mirror mappings: read the source, print what would be "
            "created, updated, deleted and left unchanged, send nothing.",
        ),
    ] = False,
    allow_mass_delete: Annotated[
        bool,
        typer.Option(
            "--allow-mass-delete",
            help="Let a mirror delete more than its max_delete_ratio of what the target holds.",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the outcome as one JSON line on stdout: run_id, state, the six counts, "
            "error, quarantine_file, dead_letter_file.",
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="No Prefect log lines below WARNING: a clean run prints only its summary.",
        ),
    ] = False,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="APILINK_API_KEY",
            help="Your API key, when the config turns access control on.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the api_sync flow once and print its summary.

    The key is the caller's own (``--api-key`` or ``APILINK_API_KEY`` in the caller's shell); it
    reaches the flow as a secret parameter, which Prefect stores masked.
    """
    try:
        load_config(config)  # fail fast, before Prefect starts
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if quiet:
        # Read when Prefect sets up its logging, on first import (below).
        os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    from cli.progress_bar import terminal_progress
    from cli.running import leave_without_prefect, run_sync_flow
    from flows.progress import watching

    with terminal_progress(shown=not (as_json or quiet)) as bar:
        with watching(*([bar] if bar is not None else [])):
            outcome = run_sync_flow(
                config_path=str(config),
                source_endpoint=source_endpoint,
                target_endpoint=target_endpoint,
                dry_run=dry_run,
                plan=plan,
                allow_mass_delete=allow_mass_delete,
                api_key=SecretStr(api_key) if api_key else None,
            )
    summary, error = outcome.summary, outcome.error
    if as_json:
        sys.stdout.write(json.dumps(_outcome_json(outcome)) + "\n")
    elif summary is not None:
        _print_summary(summary, as_json=False)
    if error is not None:
        code = 2 if isinstance(error, ConfigError) else 1
        if isinstance(error, PrefectUnreachable):  # lost during the run: nothing to wait for
            fail(str(error), code)
            leave_without_prefect(code)
        raise fail(str(error), code)


@app.command()
def demo(
    records: Annotated[int, typer.Option(help="How many users the demo source serves.")] = 120,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Run a real sync between two built-in loopback APIs; needs no account and no network."""
    from cli.running import run_demo

    summary, received, bad = run_demo(records)
    _print_summary(summary, as_json)
    if not as_json:
        typer.echo(f"\nThe demo source served {records} users, {bad} of them with a bad email.")
        typer.echo(f"The demo target received {len(received)} profiles; the first:")
        for record in received[:3]:
            typer.echo("  " + json.dumps(record, sort_keys=True))
    if summary.get("failed") or summary.get("quarantined") != bad:
        raise fail("the demo did not move the records it should have", 1)


def _outcome_json(outcome: SyncOutcome) -> dict[str, Any]:
    """``apilink sync --json``: one object whose keys are there whatever the outcome."""
    summary = outcome.summary or {}
    return {
        **_plan_json(summary),
        "run_id": outcome.run_id,
        "state": outcome.state,
        **{k: summary.get(k) for k in COUNTS},
        **{k: summary[k] for k in PLAN_COUNTS if k in summary},
        "error": str(outcome.error) if outcome.error is not None else None,
        "quarantine_file": summary.get("quarantine_file"),
        "dead_letter_file": summary.get("dead_letter_file"),
        **(
            {
                "dry_run": True,
                "would_send": summary.get("would_send"),
                "preview": summary["preview"],
            }
            if summary.get("dry_run")
            else {}
        ),
    }


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    counts = {k: summary[k] for k in (*COUNTS, *PLAN_COUNTS) if k in summary}
    if as_json:
        sys.stdout.write(json.dumps(counts) + "\n")
        return
    width = max(len(k) for k in counts)
    typer.echo("Summary")
    for key, value in counts.items():
        typer.echo(f"  {key:<{width}}  {value:>8}")
    for reason, count in summary.get("quarantine_reasons", {}).items():
        typer.echo(f"  quarantined: {reason} ({count})")
    if summary.get("quarantine_file"):
        typer.echo(f"  quarantine file: {summary['quarantine_file']}")
    if summary.get("failed") and summary.get("dead_letter_file"):
        typer.echo(f"  dead letters: {summary['dead_letter_file']} (apilink dlq list)")
    if summary.get("planned") and summary.get("dry_run"):
        _print_plan(summary)
    elif summary.get("dry_run"):
        _print_preview(summary)


def _plan_json(summary: dict[str, Any]) -> dict[str, Any]:
    """``--plan --json``: the actions first (``create``, ``update``, ``delete``,
    ``unchanged``), then the example keys and what ``max_delete_ratio`` refused."""
    if not (summary.get("planned") and summary.get("dry_run")):
        return {}
    plan = summary.get("plan", {})
    return {
        "create": summary.get("created", 0),
        "update": summary.get("updated", 0),
        "delete": summary.get("deleted", 0),
        "unchanged": summary.get("unchanged", 0),
        "delete_refused": plan.get("delete_refused", 0),
        "sample": plan.get("sample", {}),
    }


def _print_plan(summary: dict[str, Any]) -> None:
    """``--plan``: what a run would do, with a few example keys per action."""
    plan, actions = summary.get("plan", {}), _plan_json(summary)
    typer.echo("Plan (nothing was sent):")
    samples = plan.get("sample", {})
    for action in ("create", "update", "delete", "unchanged"):
        shown = samples.get(action, [])
        example = f"  e.g. {', '.join(json.dumps(k, default=str) for k in shown)}" if shown else ""
        typer.echo(f"  {action:<9}  {actions[action]:>8}{example}")
    if plan.get("delete_refused"):
        typer.echo(
            f"  the {plan['delete_refused']} deletes exceed max_delete_ratio: a run would "
            "refuse them (--allow-mass-delete applies them)"
        )


def _print_preview(summary: dict[str, Any]) -> None:
    """A dry run: what would have been sent, and the first records of each endpoint."""
    rows: list[dict[str, Any]] = summary.get("preview", [])
    typer.echo(f"Dry run: nothing was sent; {summary.get('would_send', 0)} records would be.")
    if not rows:
        return
    typer.echo("First records each target endpoint would be sent (secrets masked):")
    for row in rows:
        fields = {k: v for k, v in row.items() if k != "endpoint"}
        typer.echo(f"  {row['endpoint']}: {json.dumps(fields, default=str)}")


def main() -> None:
    """Entry point of the ``apilink`` script."""
    try:
        app()
    except ApilinkError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
