"""``apilink dlq list | retry``: the records a sync could not deliver.

``list`` needs ``view_results`` and shows every sealed value (a secret-named field of a record)
masked, for every role. ``list --reveal`` opens them: it needs ``manage_credentials`` and writes
a ``dead_letters.revealed`` line to the operator's audit file before anything is shown; a denial
is audited like every other. Trusted: the worker's operator (the seal key, the audit file). Not
trusted: a caller holding only ``view_results`` (a viewer, an operator), who sees no sealed value.
``retry`` needs ``run_sync`` (the same permission as a sync).
``retry`` sends each record again with the idempotency key of its first attempt, so one that
did reach the target is not stored twice, and removes the letters the target accepted.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from apilink.audit.settings import DenialAudit
from apilink.auth import build_auth
from apilink.config.loader import load_config
from apilink.config.models import SyncConfig
from apilink.credentials.references import resolve_references
from apilink.errors import AccessDenied, ApilinkError, ConfigError, MappingFailure
from apilink.mapping.mapper import RecordMapper
from apilink.rbac import Permission
from apilink.run.session import SyncSession
from apilink.storage.dead_letter import DeadLetter, DeadLetterQueue, ReplayResult, replay
from cli.guard import require

__all__ = ["app", "replay_dead_letters"]

app = typer.Typer(help="List and replay records the target did not accept.", no_args_is_help=True)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The sync config (YAML).", show_default=False)
]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar="APILINK_API_KEY", help="Your API key.", show_default=False),
]


def _fail(exc: ApilinkError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2 if isinstance(exc, AccessDenied | ConfigError) else 1)


@app.command("list")
def list_letters(
    config: ConfigOption,
    api_key: ApiKey = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    reveal: Annotated[
        bool,
        typer.Option(
            "--reveal",
            help="Show sealed values in clear (implies --json; needs manage_credentials; audited).",
        ),
    ] = False,
) -> None:
    """Show the dead letters of the sync (records are shown only with --json, sealed values
    masked unless --reveal)."""
    try:
        wanted = Permission.MANAGE_CREDENTIALS if reveal else Permission.VIEW_RESULTS
        caller = require(wanted, config_path=config, api_key=api_key)
        sync = load_config(config)
        queue = DeadLetterQueue.for_sync(sync)
        if reveal:
            letters = queue.read()
            DenialAudit(sync).record(
                "dead_letters.revealed",
                actor=caller.username,
                target=str(queue.path),
                details={"letters": len(letters)},
                always=True,
            )
        else:
            letters = queue.read_masked()
    except ApilinkError as exc:
        raise _fail(exc) from None
    if as_json or reveal:
        for letter in letters:
            sys.stdout.write(json.dumps(letter.__dict__, sort_keys=True, default=str) + "\n")
        return
    typer.echo(f"{len(letters)} dead letter(s) in {queue.path}")
    for letter in letters:
        status = letter.status if letter.status is not None else "-"
        key = (letter.idempotency_key or "-")[:12]
        typer.echo(
            f"  {letter.failed_at}  {letter.mapping}  status {status}  key {key}  "
            f"attempts {letter.attempts}  {letter.reason}"
        )


@app.command()
def retry(config: ConfigOption, api_key: ApiKey = None) -> None:
    """Send the dead letters again; those the target accepts leave the file."""
    try:
        require(Permission.RUN_SYNC, config_path=config, api_key=api_key)
        sync = load_config(config)
        queue = DeadLetterQueue.for_sync(sync)
        letters = queue.read()
        if not letters:
            typer.echo(f"nothing to retry in {queue.path}")
            return
        result = asyncio.run(replay_dead_letters(sync, letters))
        queue.settle(result.delivered, result.failed)
    except ApilinkError as exc:
        raise _fail(exc) from None
    typer.echo(f"delivered {len(result.delivered)}, still failing {len(result.failed)}")
    if result.failed:
        raise typer.Exit(1)


async def replay_dead_letters(config: SyncConfig, letters: list[DeadLetter]) -> ReplayResult:
    """Replay ``letters`` against the config's target, without Prefect.

    Credentials are resolved as a sync resolves them (``secret://`` from the configured store).
    Letters of stage ``process`` are mapped with their mapping's fields first; validation is
    not run again (a record quarantined by validation never reaches the queue).
    """
    from tasks.credentials import open_configured_store  # Prefect only when replaying

    store = open_configured_store(config.credentials, config.security)
    resolved = resolve_references(config, store)
    target_auth = build_auth(resolved.target.auth, token_store=store)
    mappers = {f"{m.source}->{m.target}": RecordMapper(m.fields) for m in resolved.mapping}

    async def prepare(letter: DeadLetter) -> dict[str, Any]:
        mapper = mappers.get(letter.mapping)
        if mapper is None:
            raise ValueError(f"the config has no mapping {letter.mapping}")
        try:
            return mapper.map(letter.record)
        except MappingFailure as exc:
            raise ValueError(str(exc)) from None

    async with SyncSession(resolved, target_auth=target_auth) as session:
        loaders = {name: session.loader(name) for name in resolved.target.endpoints}
        return await replay(letters, loaders, prepare=prepare)
