"""The ``api_sync`` flow: guard, credentials, tokens, then extract -> validate -> map -> load
chunk by chunk, and a summary that always adds up."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from pydantic import SecretStr

from apilink.audit.settings import open_audit_log
from apilink.config import SyncConfig, load_config
from apilink.config.models import MappingConfig
from apilink.dead_letter import DeadLetterQueue
from apilink.errors import ApilinkError, ConfigError
from apilink.redaction import install_redaction, secret_values
from apilink.session import SyncSession
from apilink.state import MappingStart, SyncCheckpoint
from apilink.summary import SyncSummary
from tasks.audit import audit_hooks
from tasks.auth import acquire_token
from tasks.checkpoint import choose_state_store, save_checkpoint
from tasks.credentials import resolve_credentials
from tasks.pipeline import extract_chunk, process_chunk
from tasks.rbac_guard import rbac_guard

__all__ = ["SyncIncomplete", "api_sync", "select_mappings"]


class SyncIncomplete(ApilinkError):
    """Some records were not accepted by the target; the summary says how many."""

    def __init__(self, summary: SyncSummary) -> None:
        self.summary = summary
        parts = [f"{summary.failed} of {summary.extracted} records were dead-lettered"]
        if summary.dead_letter_file and summary.failed:
            parts[0] += f" (see `apilink dlq list`; file {summary.dead_letter_file})"
        parts += summary.errors
        super().__init__("; ".join(parts) + f" [{summary.balance()}]")


def select_mappings(
    config: SyncConfig, source_endpoint: str | None, target_endpoint: str | None
) -> list[MappingConfig]:
    """The mappings to run, narrowed by endpoint names when given."""
    chosen = [
        rule
        for rule in config.mapping
        if (source_endpoint is None or rule.source == source_endpoint)
        and (target_endpoint is None or rule.target == target_endpoint)
    ]
    if not chosen:
        pairs = ", ".join(f"{r.source} -> {r.target}" for r in config.mapping)
        raise ConfigError(
            f"no mapping goes from {source_endpoint or 'any'} to {target_endpoint or 'any'}; "
            f"the config maps: {pairs}"
        )
    return chosen


def _load(config_path: str | None, config: dict[str, Any] | None) -> SyncConfig:
    if (config_path is None) == (config is None):
        raise ConfigError("give exactly one of `config_path` and `config`")
    if config_path is not None:
        return load_config(config_path)
    import yaml

    from apilink.config.loader import parse_config

    return parse_config(yaml.safe_dump(config), source="<flow parameter `config`>")


@flow(name="api_sync", log_prints=False, validate_parameters=True, **audit_hooks())
async def api_sync(
    config_path: str | None = None,
    config: dict[str, Any] | None = None,
    source_endpoint: str | None = None,
    target_endpoint: str | None = None,
    dry_run: bool = False,
    api_key: SecretStr | None = None,
) -> dict[str, Any]:
    """Move records from the source API to the target API as the sync config says.

    Each chunk is extracted, validated, mapped and loaded; records the target refuses go to the
    sync's dead-letter file; a checkpoint is saved after the target acknowledged the chunk, so a
    rerun after a crash goes on from there and the idempotency keys keep the target free of
    duplicates.

    Args:
        config_path: a sync config YAML file (on the machine that runs the flow).
        config: the same config as a mapping, instead of a file.
        source_endpoint: run only the mappings that read this source endpoint.
        target_endpoint: run only the mappings that write this target endpoint.
        dry_run: extract, validate and map, but send nothing to the target (and keep no
            checkpoint).
        api_key: the caller's apilink API key when access control is on
            (else ``APILINK_API_KEY``).

    Returns:
        The counts: extracted, valid, quarantined, loaded, failed (dead-lettered), the
        quarantine reasons, and whether they balance.

    Raises:
        SyncIncomplete: records were dead-lettered or a mapping stopped early; the summary,
            which still balances, is attached.
    """
    logger = get_run_logger()
    sync_config = _load(config_path, config)
    audit = open_audit_log(sync_config) if sync_config.logging.security_audit else None
    rbac_guard(sync_config.security, api_key, audit=audit)
    credentials = resolve_credentials(sync_config)
    resolved = credentials.config
    redaction = install_redaction(secret_values(resolved), resolved.logging.filter_fields)
    rules = select_mappings(resolved, source_endpoint, target_endpoint)
    source_auth = acquire_token(resolved.source, "source", credentials.store)
    target_auth = None if dry_run else acquire_token(resolved.target, "target", credentials.store)

    checkpoint: SyncCheckpoint | None = None
    if not dry_run:
        store = choose_state_store(resolved)
        checkpoint = SyncCheckpoint(
            store, resolved, save=lambda key, state: save_checkpoint(store, key, state)
        )
    queue = DeadLetterQueue.for_sync(resolved)
    summary = SyncSummary()
    try:
        async with SyncSession(
            resolved, source_auth=source_auth, target_auth=target_auth
        ) as session:
            for rule in rules:
                await _sync_mapping(session, rule, checkpoint, queue, summary, dry_run=dry_run)
    finally:
        await _publish(summary, resolved.name, dry_run)
        logger.info("sync %s: %s", resolved.name, summary.balance())
        redaction.remove()
    if summary.failed or summary.errors:
        raise SyncIncomplete(summary)
    return summary.to_dict()


async def _sync_mapping(
    session: SyncSession,
    rule: MappingConfig,
    checkpoint: SyncCheckpoint | None,
    queue: DeadLetterQueue,
    summary: SyncSummary,
    *,
    dry_run: bool,
) -> None:
    """One pass over ``rule``, chunk by chunk, from its checkpoint."""
    logger = get_run_logger()
    config = session.config
    start = checkpoint.begin(rule) if checkpoint is not None else MappingStart({}, None)
    if start.discarded:
        logger.warning(
            "%s -> %s: the config changed since the unfinished run; starting over",
            rule.source,
            rule.target,
        )
    if start.position is not None:
        logger.info(
            "%s -> %s: resuming after %d acknowledged chunk(s)",
            rule.source,
            rule.target,
            start.resumed_chunks,
        )
    summary.resumed_chunks += start.resumed_chunks
    run = session.mapping_run(rule, start.params, start.position)
    index = start.resumed_chunks
    while True:
        try:
            records = await extract_chunk(run.reader, config.chunk_size, index)
        except Exception as exc:
            # Nothing of the unfinished chunk was counted; a rerun reads it again.
            summary.errors.append(_error(session, f"extract {rule.source}", exc))
            return
        if not records:
            break
        chunk, error = await process_chunk(run, records, index, queue, dry_run=dry_run)
        summary.add(chunk)
        if checkpoint is not None:
            checkpoint.acknowledge(rule, records, run.reader.position())
        if error is not None:
            summary.errors.append(error)
            return
        index += 1
    if checkpoint is not None:
        checkpoint.finish(rule)


def _error(session: SyncSession, what: str, exc: BaseException) -> str:
    return session.redactor.text(f"{what}: {type(exc).__name__}: {exc}")[:300]


async def _publish(summary: SyncSummary, name: str, dry_run: bool) -> None:
    key = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "sync"
    counts = summary.counts()
    await acreate_table_artifact(
        key=f"{key}-counts",
        table=[{"stage": stage, "records": value} for stage, value in counts.items()],
        description=f"apilink sync `{name}`: {summary.balance()}"
        + (" (dry run)" if dry_run else ""),
    )
    if summary.quarantine_reasons:
        lines = "\n".join(
            f"| {reason} | {count} |"
            for reason, count in sorted(summary.quarantine_reasons.items(), key=lambda i: -i[1])
        )
        await acreate_markdown_artifact(
            key=f"{key}-quarantine",
            markdown=f"# Quarantined records\n\n| reason | records |\n|---|---|\n{lines}\n",
            description="Why records were set aside (values are never shown)",
        )
