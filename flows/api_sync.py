"""The ``api_sync`` flow: guard, credentials, tokens, then extract -> validate -> map -> load
chunk by chunk, and a summary that always adds up."""

from __future__ import annotations

import logging
from typing import Any
from uuid import uuid4

from prefect import flow, get_run_logger
from prefect.context import SyncClientContext
from prefect.runtime import flow_run
from pydantic import SecretStr

from apilink.audit.settings import denial_audit_log, plain_log_path, run_audit_log
from apilink.auth.token import OAuthToken
from apilink.config import SyncConfig
from apilink.config.models import MappingConfig
from apilink.errors import ConfigError, SyncIncomplete
from apilink.redaction import install_redaction, open_log_file, secret_values
from apilink.run.gc_tuning import fewer_collections
from apilink.run.pipeline import Pipeline, Watchers
from apilink.run.preview import SendPreview
from apilink.run.session import SyncSession
from apilink.run.summary import PLAN_COUNTS, SyncSummary
from apilink.storage.dead_letter import DeadLetterQueue
from apilink.storage.delivered import DeliveredStore
from apilink.storage.quarantine import QuarantineWriter
from apilink.storage.state import StateStore, SyncCheckpoint
from apilink.storage.state.acknowledgement import CheckpointWriter
from apilink.storage.state.store import default_state_dir
from flows.progress import RunProgress, watched_by
from flows.reporting import publish_summary
from tasks.audit import audit_hooks
from tasks.auth import acquire_token
from tasks.checkpoint import choose_state_store, close_state_store
from tasks.credentials import resolve_credentials
from tasks.pipeline import TaskStages
from tasks.rate_limit import rate_limited_transports
from tasks.rbac_guard import authorize_run
from tasks.run_config import load_run_config

__all__ = ["api_sync", "last_summary", "select_mappings"]


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


_AUDIT_HOOKS = audit_hooks()
_LAST_SUMMARY: list[SyncSummary] = []


def last_summary() -> SyncSummary | None:
    """The counts of the last run this process ended, even one whose end Prefect could not
    record (the CLI prints them when the Prefect server went away during the run)."""
    return _LAST_SUMMARY[-1] if _LAST_SUMMARY else None


@flow(
    name="api_sync",
    log_prints=False,
    validate_parameters=True,
    on_running=_AUDIT_HOOKS["on_running"],
    on_completion=_AUDIT_HOOKS["on_completion"],
    on_failure=_AUDIT_HOOKS["on_failure"],
    on_crashed=_AUDIT_HOOKS["on_crashed"],
    on_cancellation=_AUDIT_HOOKS["on_cancellation"],
)
async def api_sync(
    config_path: str | None = None,
    config: dict[str, Any] | None = None,
    config_block: str | None = None,
    source_endpoint: str | None = None,
    target_endpoint: str | None = None,
    dry_run: bool = False,
    plan: bool = False,
    allow_mass_delete: bool = False,
    api_key: SecretStr | None = None,
    partition: str | None = None,
    ticket: str | None = None,
    proof: str | None = None,
) -> dict[str, Any]:
    """Move records from the source API to the target API as the sync config says.

    Each chunk is extracted, validated, mapped and loaded; records that fail validation go to
    the run's quarantine file, records the target refuses to the sync's dead-letter file; a
    checkpoint is saved after the target acknowledged the chunk, so a rerun after a crash goes
    on from there and the idempotency keys keep the target free of duplicates.

    Args:
        config_path: a sync config YAML file (on the machine that runs the flow).
        config: the same config as a mapping, instead of a file.
        config_block: the name of a saved ``SyncConfig`` block, instead of a file.
        source_endpoint: run only the mappings that read this source endpoint.
        target_endpoint: run only the mappings that write this target endpoint.
        dry_run: extract, validate and map, but send nothing to the target (and keep no
            checkpoint).
        plan: for ``mode: upsert`` and ``mirror`` mappings, compute what would be created,
            updated, deleted and left unchanged, and send nothing (a dry run that plans; the
            run publishes a plan artifact).
        allow_mass_delete: let a mirror delete more than its ``max_delete_ratio`` of what the
            target holds.
        api_key: the caller's apilink API key, for a call in process. A deployment run refuses
            it (it would sit in clear in the flow run): pass ``ticket`` instead. The worker's
            own ``APILINK_API_KEY`` is never used.
        partition: set by ``partitioned_sync`` for a child run: the partition's label, which
            keeps this child's checkpoint apart from its siblings'.
        ticket: a single-use run ticket from ``apilink ticket --deployment ...``, bound to this
            deployment and these parameters.
        proof: set by ``partitioned_sync`` for a child run: the parent's authorization, bound
            to the parent run, the partition and the config.

    Returns:
        The counts: extracted, valid, quarantined, loaded, failed (dead-lettered), the
        quarantine reasons and file, and whether they balance.

    Raises:
        SyncIncomplete: records were dead-lettered, a mapping stopped early or
            ``max_invalid_ratio`` was exceeded; the summary, which still balances, is attached.
    """
    logger = get_run_logger()
    run_config = await load_run_config(config_path, config, config_block)
    sync_config = run_config.config
    # From here every log line goes to `logging.file` too, masked: the guard's decision and a
    # credential that fails to open are part of the run's story.
    run_secrets = secret_values(sync_config)
    if api_key is not None:
        run_secrets.add(api_key.get_secret_value())
    log_file = _attach_log_file(sync_config)
    redaction = install_redaction(
        run_secrets,
        sync_config.logging.filter_fields,
        extra_handlers=[log_file] if log_file is not None else (),
    )

    def learn(token: OAuthToken) -> None:
        run_secrets.update(token.secrets())
        redaction.add_secrets(token.secrets())

    state: StateStore | None = None
    writer: CheckpointWriter | None = None
    delivered: DeliveredStore | None = None
    previewing = dry_run or plan
    try:
        audit = run_audit_log(run_config.config, trusted=run_config.trusted)
        await authorize_run(
            run_config,
            api_key=api_key,
            ticket=ticket,
            proof=proof,
            partition=partition,
            parameters={
                "config_path": config_path,
                "config": config,
                "config_block": config_block,
                "source_endpoint": source_endpoint,
                "target_endpoint": target_endpoint,
                "dry_run": dry_run,
                "plan": plan,
                "allow_mass_delete": allow_mass_delete,
                "partition": partition,
            },
            audit=audit,
        )
        # The start-up tasks run synchronously; each would open (and TLS-configure) an API
        # client of its own.
        with SyncClientContext.get_or_create():
            credentials = resolve_credentials(sync_config)
            resolved = credentials.config
            run_secrets.update(secret_values(resolved))
            redaction.add_secrets(run_secrets)
            rules = select_mappings(resolved, source_endpoint, target_endpoint)
            store = credentials.store
            source_auth = acquire_token(
                resolved.source,
                "source",
                store,
                on_token=learn,
                timeout=resolved.timeout_for(resolved.source),
            )
            # A plan reads the target only to reconcile.
            reads_target = plan and any(rule.reconcile for rule in rules)
            target_auth = (
                None
                if previewing and not reads_target
                else acquire_token(
                    resolved.target,
                    "target",
                    store,
                    on_token=learn,
                    timeout=resolved.timeout_for(resolved.target),
                )
            )
        checkpoint: SyncCheckpoint | None = None
        if (not previewing or plan) and any(rule.planned for rule in rules):
            # Only a planned mapping needs it (and PostgreSQL's driver with it).
            from apilink.storage.delivered.opening import open_delivered_store

            delivered = await open_delivered_store(default_state_dir(resolved.state_dir))
        if not previewing:
            state = choose_state_store(resolved)
            # Saved by one writer off the event loop, after each request the target accepted
            # (apilink.storage.state.acknowledgement) and each acknowledged chunk: the target never
            # holds more than the requests in flight past the checkpoint. Not a Prefect task:
            # its state writes cost a fifth of a batch sync's time on the bench; the progress
            # artifact already shows each acknowledged chunk.
            checkpoint = SyncCheckpoint(
                state,
                resolved,
                save=CheckpointWriter.defer,
                key=f"{resolved.name}#{partition}" if partition else None,
            )
            writer = CheckpointWriter(checkpoint, state.save)
        progress = RunProgress(resolved.name, len(rules))
        quarantine = QuarantineWriter.for_run(
            resolved, flow_run.get_id() or f"local-{uuid4().hex}", secret_values=run_secrets
        )
        summary = SyncSummary()
        pipeline: Pipeline | None = None
        await progress.start()
        try:
            # The run holds chunks of records: see apilink.run.gc_tuning.
            with fewer_collections():
                async with SyncSession(
                    resolved,
                    source_auth=source_auth,
                    target_auth=target_auth,
                    transports=await rate_limited_transports(resolved),
                    redactor=redaction.filter.redactor,
                ) as session:
                    pipeline = Pipeline(
                        session,
                        DeadLetterQueue.for_sync(resolved),
                        quarantine=quarantine,
                        checkpoint=checkpoint,
                        writer=writer,
                        dry_run=previewing,
                        stages=TaskStages(redaction.filter.redactor),
                        progress=Watchers(progress, *watched_by()),
                        logger=logger,
                        preview=SendPreview(sync_config.logging.filter_fields, run_secrets)
                        if previewing
                        else None,
                        delivered=delivered,
                        state_key=f"{resolved.name}#{partition}" if partition else None,
                        allow_mass_delete=allow_mass_delete,
                        summary=summary,
                    )
                    await pipeline.run(rules)
        finally:
            rejected = pipeline.rejected if pipeline is not None else []
            if rejected:
                # A body that fails its signature or decryption may be an attack: one audit
                # line each, in the operator's file when the config does not audit.
                sink = audit or denial_audit_log(run_config.config, trusted=run_config.trusted)
                for each in rejected:
                    sink.record(
                        "message.rejected",
                        actor=resolved.name,
                        target=each.where,
                        outcome="failure",
                        details={"check": each.check},
                    )
            quarantine.close()
            if quarantine.count:
                summary.quarantine_file = str(quarantine.path)
            complete = not (summary.failed or summary.errors)
            if summary.planned and audit is not None:
                # Every action a plan took (or, with --plan, would take), counted per run.
                audit.record(
                    "sync.plan" if plan else "sync.apply",
                    actor=resolved.name,
                    target=resolved.target.base_url,
                    outcome="ok" if complete else "failure",
                    details={k: getattr(summary, k) for k in PLAN_COUNTS},
                )
            _LAST_SUMMARY[:] = [summary]
            await progress.finish(summary, completed=complete)
            if not progress.lost:  # a Prefect API outage is not waited out here
                await publish_summary(summary, resolved.name, previewing, quarantine.preview())
            logger.info("sync %s: %s", resolved.name, summary.balance())
    finally:
        if writer is not None:
            await writer.idle()
        if state is not None:
            close_state_store(state)
        if delivered is not None:
            await delivered.aclose()
        redaction.remove()
        if log_file is not None:
            _detach_log_file(log_file)
    if not complete:
        raise SyncIncomplete(summary)
    return summary.to_dict()


_LOG_FILE_LOGGERS = ("prefect", "apilink", "httpx")


def _attach_log_file(config: SyncConfig) -> logging.Handler | None:
    """``logging.file`` (mode 0600) for this run's log lines, when the config names one."""
    path = plain_log_path(config.logging)
    if path is None:
        return None
    handler = open_log_file(path, config.logging.level)
    for name in _LOG_FILE_LOGGERS:
        logging.getLogger(name).addHandler(handler)
    return handler


def _detach_log_file(handler: logging.Handler) -> None:
    for name in _LOG_FILE_LOGGERS:
        logging.getLogger(name).removeHandler(handler)
    handler.close()
