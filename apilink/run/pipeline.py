"""One run's pipeline: each mapping read chunk by chunk, every chunk validated, mapped and
loaded, then counted and acknowledged in order, with a summary that always adds up.

Three chunks move at once: the next one is read from the source while this one is validated
and mapped and the previous one is still being loaded. Chunks are counted and acknowledged in
order, each after the target acknowledged it; when one stops the mapping, the ones behind it are
abandoned, neither counted nor acknowledged (a rerun reads them again, and their idempotency
keys make anything that already arrived harmless). Where a chunk starts is taken when it has
been read, before the read-ahead moves the reader on.

Every record of a chunk ends up loaded, quarantined or dead-lettered, whatever a stage raises
(:func:`process_chunk`), except in a dry run, which loads nothing.

No Prefect here: the flow passes its :class:`~apilink.run.stages.Stages` (each a task run per
chunk), its logger and its :class:`Progress` (the Prefect UI's bar).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from apilink.config.models import MappingConfig
from apilink.errors import MessageRejected, StateError, ValidationFailed
from apilink.run.loader import STOPS_THE_RUN, RunStopper
from apilink.run.preview import SendPreview
from apilink.run.session import MappingRun, SyncSession
from apilink.run.stages import RUN_LOGGER, DirectStages, Logger, Stages
from apilink.run.summary import SyncSummary
from apilink.storage.dead_letter import (
    DeadLetterQueue,
    letters_for_records,
    letters_from_failures,
)
from apilink.storage.quarantine import QuarantineWriter
from apilink.storage.state import MappingStart, SyncCheckpoint
from apilink.storage.state.acknowledgement import CheckpointWriter, ChunkDeliveries
from apilink.validation.ratio import InvalidRatioGuard

__all__ = ["ChunkOutcome", "Pipeline", "Progress", "Watchers", "process_chunk"]

# What processing a chunk gives: its counts, and an error line, a run stopper or nothing.
ChunkOutcome = tuple[SyncSummary, str | RunStopper | None]


class Progress(Protocol):
    """What watches a run move (the Prefect UI's bar, a terminal's)."""

    def mapping_started(self, mapping: int, work: MappingRun) -> None:
        """The ``mapping``-th mapping (from 0) starts; ``work`` holds its reader and loader,
        whose counts (``work.reader.paginator.records_read``, ``work.loader.delivered``) move
        with every page and request."""

    async def update(
        self, mapping: int, within: float | None, summary: SyncSummary, *, what: str = ""
    ) -> None:
        """After a chunk of the ``mapping``-th mapping (from 0), ``within`` of it read (when
        the source stated a total), ``summary`` the run's counts so far."""

    def checkpoint_failed(self, error: StateError) -> None:
        """A checkpoint could not be saved (the run stops)."""


class _Unwatched:
    def mapping_started(self, mapping: int, work: MappingRun) -> None:
        return None

    async def update(
        self, mapping: int, within: float | None, summary: SyncSummary, *, what: str = ""
    ) -> None:
        return None

    def checkpoint_failed(self, error: StateError) -> None:
        return None


class Watchers:
    """Several :class:`Progress` watchers as one (each told everything, in order)."""

    def __init__(self, *watchers: Progress) -> None:
        self.watchers = watchers

    def mapping_started(self, mapping: int, work: MappingRun) -> None:
        for watcher in self.watchers:
            watcher.mapping_started(mapping, work)

    async def update(
        self, mapping: int, within: float | None, summary: SyncSummary, *, what: str = ""
    ) -> None:
        for watcher in self.watchers:
            await watcher.update(mapping, within, summary, what=what)

    def checkpoint_failed(self, error: StateError) -> None:
        for watcher in self.watchers:
            watcher.checkpoint_failed(error)


async def process_chunk(
    run: MappingRun,
    records: list[dict[str, Any]],
    index: int,
    dead_letters: DeadLetterQueue,
    *,
    stages: Stages | None = None,
    quarantine: QuarantineWriter | None = None,
    check_ratio: Callable[[int, int], None] | None = None,
    dry_run: bool = False,
    deliveries: ChunkDeliveries | None = None,
    preview: SendPreview | None = None,
    logger: Logger = RUN_LOGGER,
) -> ChunkOutcome:
    """Validate, map and load one extracted chunk; never loses count of a record.

    Records set aside by validation or mapping are written to ``quarantine`` (masked, with
    their reasons). ``check_ratio(checked, invalid)`` runs before anything is loaded; when it
    raises :class:`~apilink.errors.ValidationFailed` the chunk is not loaded and the error
    propagates (the caller does not count or acknowledge the chunk, so a rerun reads it again).
    A :class:`~apilink.errors.CredentialsRefused` (the target refuses the run's credentials)
    or :class:`~apilink.errors.TargetUnavailable` (it failed for a whole retry deadline) is
    returned as the error: every record would fail alike, so none is dead-lettered for it, and
    the caller stops the run without counting or acknowledging the chunk.
    ``deliveries`` acknowledges progress within the chunk as the target accepts requests. In a
    dry run, ``preview`` is offered the mapped records instead.
    Records the target refused are written to ``dead_letters``. When a stage raises, the records
    it held are dead-lettered too (mapped ones with the idempotency keys of the requests they
    were in, so a replay is harmless if some arrived), and the error is returned.

    Returns:
        The chunk's counts (balanced: ``extracted == loaded + quarantined + failed + skipped``,
        except in a dry run, which loads nothing) and an error line, a run stopper, or
        ``None``.
    """
    stages = stages or DirectStages(logger)
    rule, loader = run.rule, run.loader
    chunk = SyncSummary.for_chunk(records)  # a ReadChunk's skipped records are counted
    pending = records
    try:
        checked = await stages.validate(run.validator, records, rule.source, index)
        chunk.quarantined = len(checked.quarantined)
        chunk.set_aside(r for q in checked.quarantined for r in q.reasons)
        pending = checked.valid
        mapped, refused = await stages.map(
            run.mapper, checked.valid, f"{rule.source} -> {rule.target}", index
        )
        chunk.quarantined += len(refused)
        chunk.set_aside(r for q in refused for r in q.reasons)
        chunk.valid = len(mapped)
        if quarantine is not None:
            quarantine.write([*checked.quarantined, *refused], endpoint=rule.source, chunk=index)
        if check_ratio is not None:
            check_ratio(chunk.checked, chunk.quarantined)
    except ValidationFailed:
        raise
    except Exception as exc:
        return _set_aside(run, chunk, index, dead_letters, pending, "process", exc, logger)
    if dry_run:
        if preview is not None:
            preview.offer(rule.target, mapped)
        return chunk, None
    try:
        delivered = await stages.load(loader, mapped, deliveries, index)
    except STOPS_THE_RUN as exc:
        # Systemic: returned rather than raised (one line in the log, not a traceback); the
        # caller neither counts nor acknowledges the chunk, and nothing is dead-lettered.
        logger.error("chunk #%d of %s: %s", index, rule.target, exc)
        return chunk, exc
    except Exception as exc:
        return _set_aside(run, chunk, index, dead_letters, mapped, "load", exc, logger)
    chunk.loaded = delivered.loaded
    if delivered.failed:
        chunk.failed = dead_letters.append(
            letters_from_failures(run.config, rule, delivered.failed)
        )
        chunk.dead_letter_file = str(dead_letters.path)
    return chunk, None


def _set_aside(
    run: MappingRun,
    chunk: SyncSummary,
    index: int,
    dead_letters: DeadLetterQueue,
    pending: list[dict[str, Any]],
    stage: Literal["process", "load"],
    exc: Exception,
    logger: Logger,
) -> tuple[SyncSummary, str]:
    """A stage raised: dead-letter the records it held; the chunk's counts and the error."""
    rule, loader = run.rule, run.loader
    reason = loader.redactor.text(f"{stage} failed: {type(exc).__name__}: {exc}")
    letters = letters_for_records(run.config, rule, pending, reason, stage=stage, loader=loader)
    chunk.failed = dead_letters.append(letters)
    chunk.valid = chunk.checked - chunk.quarantined
    chunk.dead_letter_file = str(dead_letters.path) if letters else None
    logger.error(
        "chunk #%d of %s: %s; %d records dead-lettered", index, rule.target, reason, chunk.failed
    )
    return chunk, f"chunk #{index} of {rule.source} -> {rule.target}: {reason}"[:300]


@dataclass
class _InFlight:
    """A chunk being processed, and what acknowledging it needs."""

    outcome: asyncio.Future[ChunkOutcome]
    records: list[dict[str, Any]]
    position: dict[str, Any] | None
    within: float | None
    index: int
    deliveries: ChunkDeliveries | None = None


@dataclass
class Pipeline:
    """The mappings of one run, in order, over one open :class:`SyncSession`.

    Args:
        session: the run's clients and workers.
        dead_letters: where records the target refused go.
        quarantine: where records that failed validation or mapping go (masked).
        checkpoint: the run's checkpoint, or ``None`` (a dry run keeps none).
        writer: what saves the checkpoint off the event loop (with ``checkpoint``).
        dry_run: validate and map, send nothing.
        stages: how each stage runs (plain calls, or a Prefect task run each).
        progress: what watches the run.
        logger: where the pipeline's own lines go.
        preview: in a dry run, what keeps the first records that would be sent.

    Attributes:
        summary: the run's counts so far.
        stopped: a mapping stopped the run (the target refuses the credentials or is down).
        rejected: source pages that failed their ``verify`` or ``decrypt`` (the flow audits
            each).
    """

    session: SyncSession
    dead_letters: DeadLetterQueue
    quarantine: QuarantineWriter | None = None
    checkpoint: SyncCheckpoint | None = None
    writer: CheckpointWriter | None = None
    dry_run: bool = False
    stages: Stages = field(default_factory=DirectStages)
    progress: Progress = field(default_factory=_Unwatched)
    logger: Logger = RUN_LOGGER
    preview: SendPreview | None = None
    summary: SyncSummary = field(default_factory=SyncSummary)
    stopped: bool = False
    rejected: list[MessageRejected] = field(default_factory=list)

    async def run(self, rules: Iterable[MappingConfig]) -> SyncSummary:
        """Run each mapping in turn; the run's counts (which balance whatever happened)."""
        self.summary.dry_run = self.dry_run
        try:
            for number, rule in enumerate(rules):
                if self.stopped:
                    break  # the target refuses the credentials or is down
                await self.sync_mapping(rule, number)
        finally:
            if self.preview is not None:
                self.summary.preview = self.preview.rows
        return self.summary

    async def sync_mapping(self, rule: MappingConfig, number: int) -> None:
        """One pass over ``rule`` (the ``number``-th mapping), chunk by chunk, from its
        checkpoint."""
        session, checkpoint, summary = self.session, self.checkpoint, self.summary
        start = checkpoint.begin(rule) if checkpoint is not None else MappingStart({}, None)
        if start.discarded:
            self.logger.warning(
                "%s -> %s: the config changed since the unfinished run; starting over",
                rule.source,
                rule.target,
            )
        if start.position is not None:
            self.logger.info(
                "%s -> %s: resuming after %d acknowledged chunk(s)",
                rule.source,
                rule.target,
                start.resumed_chunks,
            )
        summary.resumed_chunks += start.resumed_chunks
        work = session.mapping_run(rule, start.params, start.position)
        self.progress.mapping_started(number, work)
        ratio = InvalidRatioGuard(
            rule.validation.max_invalid_ratio, scope=f"records of {rule.source}"
        )
        index = start.resumed_chunks
        reading = self._read_ahead(work, index)
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
                        await self._settle(settled, rule, number)
                    summary.errors.append(self._error(f"extract {rule.source}", exc))
                    if isinstance(exc, MessageRejected):
                        self.rejected.append(exc)
                    return
                if not records:
                    # The end of the read; what it skipped since the last chunk still counts.
                    summary.add(SyncSummary.for_chunk(records))
                    break
                # A copy: the read-ahead goes on changing the reader's own state.
                position, last = copy.deepcopy(work.reader.position()), work.reader.exhausted
                within = work.reader.paginator.progress()
                reading = self._read_ahead(work, index + 1, done=last)

                def check_ratio(checked: int, invalid: int, last: bool = last) -> None:
                    ratio.add(checked, invalid)
                    ratio.enforce(final=last)

                deliveries = self._deliveries(rule, index)
                processing = _InFlight(
                    asyncio.ensure_future(
                        process_chunk(
                            work,
                            records,
                            index,
                            self.dead_letters,
                            stages=self.stages,
                            quarantine=self.quarantine,
                            check_ratio=check_ratio,
                            dry_run=self.dry_run,
                            deliveries=deliveries,
                            preview=self.preview,
                            logger=self.logger,
                        )
                    ),
                    records,
                    position,
                    within,
                    index,
                    deliveries,
                )
                previous, loading = loading, processing
                if previous is not None and not await self._settle(previous, rule, number):
                    return
                index += 1
            if loading is not None:
                settled, loading = loading, None
                if not await self._settle(settled, rule, number):
                    return
        finally:
            await _abandon(reading)
            if loading is not None:
                await _abandon(loading.outcome)
                # What of the abandoned chunk arrived is saved, so a rerun does not send it again.
                with contextlib.suppress(StateError):
                    await self._save()
        if checkpoint is not None:
            checkpoint.finish(rule)
            try:
                await self._save()
            except StateError as exc:
                summary.errors.append(self._error("checkpoint", exc))
                self.progress.checkpoint_failed(exc)
                return
        await self.progress.update(
            number, 1.0, summary, what=f"{rule.source} -> {rule.target} done: "
        )

    async def _settle(self, chunk: _InFlight, rule: MappingConfig, number: int) -> bool:
        """Wait for ``chunk``; count and acknowledge it. Whether the mapping goes on."""
        summary = self.summary
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
            self.stopped = True
            return False
        summary.add(counts)
        if chunk.deliveries is not None and chunk.deliveries.skipped:
            self.logger.info(
                "chunk #%d: %d records an interrupted run delivered were not sent again",
                chunk.index,
                chunk.deliveries.skipped,
            )
        if self.checkpoint is not None:
            if chunk.deliveries is not None:
                chunk.deliveries.forget()
            self.checkpoint.acknowledge(rule, chunk.records, chunk.position)
            try:
                await self._save()
            except StateError as exc:
                # Counted, but not acknowledged: a rerun goes on from the last saved position
                # (and skips what the saved progress within this chunk says was delivered).
                summary.errors.append(f"chunk #{chunk.index}: {exc}"[:300])
                self.progress.checkpoint_failed(exc)
                return False
        await self.progress.update(
            number,
            chunk.within,
            summary,
            what=f"{rule.source} -> {rule.target} chunk #{chunk.index}: ",
        )
        if error is not None:
            summary.errors.append(error)
            return False
        return True

    def _deliveries(self, rule: MappingConfig, index: int) -> ChunkDeliveries | None:
        """What acknowledges progress within chunk ``index`` (none without a checkpoint)."""
        if self.checkpoint is None or self.writer is None:
            return None
        return ChunkDeliveries(self.checkpoint, self.writer, rule, index)

    async def _save(self) -> None:
        """Save the checkpoint's changes (off the event loop, coalesced with others)."""
        if self.writer is not None:
            await self.writer.commit()

    def _read_ahead(
        self, work: MappingRun, index: int, *, done: bool = False
    ) -> asyncio.Future[list[dict[str, Any]]]:
        """Start reading chunk ``index`` now (an empty chunk when the reader is ``done``)."""
        if done:
            finished: asyncio.Future[list[dict[str, Any]]] = (
                asyncio.get_running_loop().create_future()
            )
            finished.set_result([])
            return finished
        size = self.session.config.chunk_size
        return asyncio.ensure_future(self.stages.extract(work.reader, size, index))

    def _error(self, what: str, exc: BaseException) -> str:
        return self.session.redactor.text(f"{what}: {type(exc).__name__}: {exc}")[:300]


async def _abandon(pending: asyncio.Future[Any]) -> None:
    """Stop a read-ahead or a chunk's processing the run no longer needs (its chunk is
    neither counted nor acknowledged, so a rerun reads it again)."""
    if not pending.done():
        pending.cancel()
    with contextlib.suppress(BaseException):
        await pending
