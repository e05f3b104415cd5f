"""The ``api_sync`` flow: guard, credentials, tokens, then extract -> validate -> map -> load
chunk by chunk, and a summary that always adds up."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from dataclasses import dataclass, field
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
from apilink.errors import (
    ConfigError,
    MessageRejected,
    StateError,
    SyncIncomplete,
    ValidationFailed,
)
from apilink.redaction import install_redaction, open_log_file, secret_values
from apilink.run.gc_tuning import fewer_collections
from apilink.run.loader import STOPS_THE_RUN, RunStopper
from apilink.run.session import MappingRun, SyncSession
from apilink.run.summary import SyncSummary
from apilink.storage.dead_letter import DeadLetterQueue
from apilink.storage.quarantine import QuarantineWriter
from apilink.storage.state import MappingStart, StateStore, SyncCheckpoint
from apilink.storage.state.acknowledgement import CheckpointWriter, ChunkDeliveries
from apilink.validation.ratio import InvalidRatioGuard
from flows.progress import RunProgress
from flows.reporting import publish_summary
from tasks.audit import audit_hooks
from tasks.auth import acquire_token
from tasks.checkpoint import UNANSWERED, choose_state_store, close_state_store
from tasks.credentials import resolve_credentials
from tasks.pipeline import as_is, extract_chunk, process_chunk
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
            target_auth = (
                None
                if dry_run
                else acquire_token(
                    resolved.target,
                    "target",
                    store,
                    on_token=learn,
                    timeout=resolved.timeout_for(resolved.target),
                )
            )
        checkpoint: SyncCheckpoint | None = None
        if not dry_run:
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
        run = _Run(
            dead_letters=DeadLetterQueue.for_sync(resolved),
            quarantine=QuarantineWriter.for_run(
                resolved, flow_run.get_id() or f"local-{uuid4().hex}", secret_values=run_secrets
            ),
            progress=RunProgress(resolved.name, len(rules)),
            checkpoint=checkpoint,
            writer=writer,
            dry_run=dry_run,
        )
        await run.progress.start()
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
                    for number, rule in enumerate(rules):
                        if run.stopped:
                            break  # the target refuses the credentials or is down
                        await _sync_mapping(session, rule, number, run)
        finally:
            if run.rejected:
                # A body that fails its signature or decryption may be an attack: one audit
                # line each, in the operator's file when the config does not audit.
                sink = audit or denial_audit_log(run_config.config, trusted=run_config.trusted)
                for rejected in run.rejected:
                    sink.record(
                        "message.rejected",
                        actor=resolved.name,
                        target=rejected.where,
                        outcome="failure",
                        details={"check": rejected.check},
                    )
            run.quarantine.close()
            summary = run.summary
            if run.quarantine.count:
                summary.quarantine_file = str(run.quarantine.path)
            complete = not (summary.failed or summary.errors)
            _LAST_SUMMARY[:] = [summary]
            await run.progress.finish(summary, completed=complete)
            if not run.progress.lost:  # a Prefect API outage is not waited out here
                await publish_summary(summary, resolved.name, dry_run, run.quarantine.preview())
            logger.info("sync %s: %s", resolved.name, summary.balance())
    finally:
        if writer is not None:
            await writer.idle()
        if state is not None:
            close_state_store(state)
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


@dataclass
class _Run:
    """What the mappings of one run share."""

    dead_letters: DeadLetterQueue
    quarantine: QuarantineWriter
    progress: RunProgress
    checkpoint: SyncCheckpoint | None
    writer: CheckpointWriter | None
    dry_run: bool
    summary: SyncSummary = field(default_factory=SyncSummary)
    stopped: bool = False
    rejected: list[MessageRejected] = field(default_factory=list)

    def deliveries(self, rule: MappingConfig, index: int) -> ChunkDeliveries | None:
        """What acknowledges progress within chunk ``index`` (none without a checkpoint)."""
        if self.checkpoint is None or self.writer is None:
            return None
        return ChunkDeliveries(self.checkpoint, self.writer, rule, index)

    async def save(self) -> None:
        """Save the checkpoint's changes (off the event loop, coalesced with others)."""
        if self.writer is not None:
            await self.writer.commit()


async def _sync_mapping(session: SyncSession, rule: MappingConfig, number: int, run: _Run) -> None:
    """One pass over ``rule`` (the ``number``-th mapping), chunk by chunk, from its checkpoint."""
    logger = get_run_logger()
    config, checkpoint, summary = session.config, run.checkpoint, run.summary
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
    work = session.mapping_run(rule, start.params, start.position)
    ratio = InvalidRatioGuard(rule.validation.max_invalid_ratio, scope=f"records of {rule.source}")
    index = start.resumed_chunks
    # Three chunks move at once: the next one is read from the source while this one is
    # validated and mapped and the previous one is still being loaded. Chunks are counted and
    # acknowledged in order, each after the target acknowledged it; when one stops the mapping,
    # the ones behind it are abandoned, neither counted nor acknowledged (a rerun reads them
    # again, and their idempotency keys make anything that already arrived harmless). Where a
    # chunk starts is taken when it has been read, before the read-ahead moves the reader on.
    reading = _read_ahead(work, config.chunk_size)
    loading: _InFlight | None = None
    try:
        while True:
            try:
                records = await reading
            except Exception as exc:
                # Nothing of the unfinished chunk was counted; a rerun reads it again. The
                # chunk still loading is counted first.
                if loading is not None:
                    settled, loading = loading, None
                    await _settle(settled, rule, number, run)
                if isinstance(exc, MessageRejected):
                    run.rejected.append(exc)
                summary.errors.append(_error(session, f"extract {rule.source}", exc))
                return
            if not records:
                break
            # A copy: the read-ahead goes on changing the reader's own state.
            position, last = copy.deepcopy(work.reader.position()), work.reader.exhausted
            within = work.reader.paginator.progress()
            reading = _read_ahead(work, config.chunk_size, done=last)

            def check_ratio(checked: int, invalid: int, last: bool = last) -> None:
                ratio.add(checked, invalid)
                ratio.enforce(final=last)

            deliveries = run.deliveries(rule, index)
            processing = _InFlight(
                asyncio.ensure_future(
                    process_chunk(
                        as_is(work),
                        as_is(records),
                        index,
                        as_is(run.dead_letters),
                        label=f"{rule.source} -> {rule.target}",
                        quarantine=as_is(run.quarantine),
                        check_ratio=as_is(check_ratio),
                        dry_run=run.dry_run,
                        deliveries=as_is(deliveries),
                    )
                ),
                records,
                position,
                within,
                index,
                deliveries,
            )
            previous, loading = loading, processing
            if previous is not None and not await _settle(previous, rule, number, run):
                return
            index += 1
        if loading is not None:
            settled, loading = loading, None
            if not await _settle(settled, rule, number, run):
                return
    finally:
        await _abandon(reading)
        if loading is not None:
            await _abandon(loading.outcome)
            # What of the abandoned chunk arrived is saved, so a rerun does not send it again.
            with contextlib.suppress(StateError):
                await run.save()
    if checkpoint is not None:
        checkpoint.finish(rule)
        try:
            await run.save()
        except StateError as exc:
            summary.errors.append(_error(session, "checkpoint", exc))
            return
    await run.progress.update(number, 1.0, summary, what=f"{rule.source} -> {rule.target} done: ")


@dataclass
class _InFlight:
    """A chunk handed to ``process_chunk``, and what acknowledging it needs."""

    outcome: asyncio.Future[tuple[SyncSummary, str | RunStopper | None]]
    records: list[dict[str, Any]]
    position: dict[str, Any] | None
    within: float | None
    index: int
    deliveries: ChunkDeliveries | None = None


async def _settle(chunk: _InFlight, rule: MappingConfig, number: int, run: _Run) -> bool:
    """Wait for ``chunk``; count and acknowledge it. Whether the mapping goes on."""
    summary = run.summary
    try:
        counts, error = await chunk.outcome
    except ValidationFailed as exc:
        # Neither loaded nor counted nor acknowledged: a rerun reads the chunk again.
        summary.errors.append(
            f"{exc}; chunk #{chunk.index} ({len(chunk.records)} records) not loaded"
        )
        return False
    if isinstance(error, STOPS_THE_RUN):
        # The run stops; what of the chunk arrived is sent again by a rerun, under its key.
        summary.errors.append(f"{error}; chunk #{chunk.index} not acknowledged")
        run.stopped = True
        return False
    summary.add(counts)
    if chunk.deliveries is not None and chunk.deliveries.skipped:
        get_run_logger().info(
            "chunk #%d: %d records an interrupted run delivered were not sent again",
            chunk.index,
            chunk.deliveries.skipped,
        )
    if run.checkpoint is not None:
        if chunk.deliveries is not None:
            chunk.deliveries.forget()
        run.checkpoint.acknowledge(rule, chunk.records, chunk.position)
        try:
            await run.save()
        except StateError as exc:
            # Counted, but not acknowledged: a rerun goes on from the last saved position
            # (and skips what the saved progress within this chunk says was delivered).
            summary.errors.append(f"chunk #{chunk.index}: {exc}"[:300])
            if UNANSWERED in str(exc):
                run.progress.lost = True  # the same server: its progress bar is not waited for
            return False
    await run.progress.update(
        number,
        chunk.within,
        summary,
        what=f"{rule.source} -> {rule.target} chunk #{chunk.index}: ",
    )
    if error is not None:
        summary.errors.append(error)
        return False
    return True


def _read_ahead(
    work: MappingRun, size: int, *, done: bool = False
) -> asyncio.Future[list[dict[str, Any]]]:
    """Start reading the next chunk now (an empty chunk when the reader is ``done``)."""
    if done:
        finished: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        finished.set_result([])
        return finished
    return asyncio.ensure_future(extract_chunk(work.reader, size))


async def _abandon(pending: asyncio.Future[Any]) -> None:
    """Stop a read-ahead or a chunk's processing the run no longer needs (its chunk is
    neither counted nor acknowledged, so a rerun reads it again)."""
    if not pending.done():
        pending.cancel()
    with contextlib.suppress(BaseException):
        await pending


def _error(session: SyncSession, what: str, exc: BaseException) -> str:
    return session.redactor.text(f"{what}: {type(exc).__name__}: {exc}")[:300]
