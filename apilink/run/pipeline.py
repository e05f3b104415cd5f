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
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from uuid import uuid4

from apilink.config.models import MappingConfig
from apilink.errors import (
    ApilinkError,
    MassDeleteRefused,
    MessageRejected,
    StateError,
    ValidationFailed,
)
from apilink.run.loader import STOPS_THE_RUN, DeliveryFailure, Loader, LoadResult, RunStopper
from apilink.run.plan import ChunkPlan, Planner
from apilink.run.preview import SendPreview
from apilink.run.session import MappingRun, SyncSession
from apilink.run.stages import RUN_LOGGER, DirectStages, Logger, Stages
from apilink.run.summary import SyncSummary
from apilink.storage.dead_letter import (
    DeadLetterQueue,
    letters_for_records,
    letters_from_failures,
)
from apilink.storage.delivered import DeliveredStore
from apilink.storage.quarantine import QuarantineWriter
from apilink.storage.state import MappingStart, SyncCheckpoint
from apilink.storage.state.acknowledgement import CheckpointWriter, ChunkDeliveries
from apilink.storage.state.checkpoint import mapping_key
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
    planner: Planner | None = None,
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
    dry run, ``preview`` is offered the mapped records instead. With a ``planner`` (``mode:
    upsert`` or ``mirror``) only new and changed records are sent (:func:`apply_plan`).
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
        plan: ChunkPlan | None = None
        if planner is not None:
            plan = await planner.plan(mapped)
            refused += plan.duplicates
            chunk.quarantined += len(plan.duplicates)
            chunk.set_aside(plan.reasons)
            chunk.planned, chunk.unchanged = True, plan.unchanged
            chunk.valid = len(mapped) - len(plan.duplicates)
        else:
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
        if plan is not None:
            chunk.created, chunk.updated = len(plan.creates) + len(plan.in_doubt), len(plan.updates)
            if preview is not None:
                preview.offer(rule.target, [*plan.creates, *plan.in_doubt])
                preview.offer(rule.update or rule.target, plan.updates)
        elif preview is not None:
            preview.offer(rule.target, mapped)
        return chunk, None
    if plan is not None and planner is not None:
        return await apply_plan(run, plan, planner, chunk, index, dead_letters, stages, logger)
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


async def apply_plan(
    run: MappingRun,
    plan: ChunkPlan,
    planner: Planner,
    chunk: SyncSummary,
    index: int,
    dead_letters: DeadLetterQueue,
    stages: Stages,
    logger: Logger = RUN_LOGGER,
) -> ChunkOutcome:
    """Send a chunk's plan: creates to the mapping's target, updates to its ``update``
    endpoint, creates a crash left in doubt as updates first (a 404 sends them as creates).

    The planned keys are marked in doubt before anything is sent, and recorded as delivered
    only for the records the target acknowledged (:meth:`Planner.acknowledge`).
    """
    rule, creator, updater = run.rule, run.loader, run.updater
    if updater is None:
        raise ValueError(f"mapping {rule.source} -> {rule.target} has no update endpoint")
    failures: list[tuple[Loader, DeliveryFailure]] = []
    try:
        await planner.intend(plan)
        created = await _load(stages, creator, plan.creates, index)
        retried = await _load(stages, updater, plan.in_doubt, index)
        absent = [f.record for f in retried.failed if f.status == 404]
        recreated = await _load(stages, creator, absent, index)
        updated = await _load(stages, updater, plan.updates, index)
    except STOPS_THE_RUN as exc:
        # What was sent stays in doubt: the rerun re-plans it.
        logger.error("chunk #%d of %s: %s", index, rule.target, exc)
        return chunk, exc
    except Exception as exc:
        return _set_aside(run, chunk, index, dead_letters, plan.to_send, "load", exc, logger)
    failures += [(creator, f) for f in created.failed + recreated.failed]
    failures += [(updater, f) for f in retried.failed if f.status != 404]
    failures += [(updater, f) for f in updated.failed]
    chunk.created = created.loaded + retried.loaded + recreated.loaded
    chunk.updated = updated.loaded
    chunk.loaded = chunk.created + chunk.updated
    by_endpoint: dict[str, list[DeliveryFailure]] = {}
    for loader, failure in failures:
        by_endpoint.setdefault(loader.name, []).append(failure)
    for name, failed in by_endpoint.items():
        chunk.failed += dead_letters.append(
            letters_from_failures(run.config, rule, failed, target=name)
        )
        chunk.dead_letter_file = str(dead_letters.path)
    try:
        await planner.acknowledge(
            plan,
            refused=[f.record for _, f in failures if f.status is not None],
            unanswered=[f.record for _, f in failures if f.status is None],
        )
    except StateError as exc:
        # Delivered, not recorded: the rerun sends these again (updates, and creates in doubt).
        return chunk, f"chunk #{index} of {rule.source} -> {rule.target}: {exc}"[:300]
    return chunk, None


async def _load(
    stages: Stages, loader: Loader, records: list[dict[str, Any]], index: int
) -> LoadResult:
    """One load stage, skipped when there is nothing to send (no empty task run)."""
    if not records:
        return LoadResult()
    return await stages.load(loader, records, None, index)


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
        delivered: what the target holds (``mode: upsert`` and ``mirror`` mappings plan
            against it); needed by those unless the run is a plain dry run.
        state_key: the sync's name in the store (a partition adds its label); by default
            the config's name.
        allow_mass_delete: let a mirror delete more than its ``max_delete_ratio``.

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
    delivered: DeliveredStore | None = None
    state_key: str | None = None
    allow_mass_delete: bool = False
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
        planner = self._planner(rule)
        if planner is not None and start.position is not None:
            # A planned mapping re-plans from the first page: the store says what arrived.
            self.logger.info(
                "%s -> %s: re-planning the unfinished run from the first page",
                rule.source,
                rule.target,
            )
            start = MappingStart(start.params, None)
        if start.position is not None:
            self.logger.info(
                "%s -> %s: resuming after %d acknowledged chunk(s)",
                rule.source,
                rule.target,
                start.resumed_chunks,
            )
        summary.resumed_chunks += start.resumed_chunks
        work = session.mapping_run(rule, start.params, start.position)
        if planner is None:
            await self._mapping(rule, number, start, work, None)
            return
        try:
            await planner.start()
            if rule.reconcile is not None:
                held = await planner.reconcile(self._holdings(rule))
                self.logger.info(
                    "%s -> %s: the target holds %d records (read through %s)",
                    rule.source,
                    rule.target,
                    held,
                    rule.reconcile,
                )
            if await self._mapping(rule, number, start, work, planner) and rule.mode == "mirror":
                await self._mirror(work, planner)
        except MassDeleteRefused as exc:
            if self.dry_run:  # a plan reports it (delete_refused); a run fails on it
                self.logger.warning("%s", exc)
            else:
                summary.errors.append(str(exc))
        except STOPS_THE_RUN as exc:
            summary.errors.append(self._error(f"mirror {rule.target}", exc))
            self.stopped = True
        except StateError as exc:
            summary.errors.append(self._error(f"{rule.source} -> {rule.target}", exc))
        except Exception as exc:
            if not isinstance(exc, ApilinkError):
                raise
            summary.errors.append(self._error(f"reconcile {rule.reconcile}", exc))
        finally:
            self._report_plan(rule, planner)
            with contextlib.suppress(StateError):
                await planner.end()

    async def _mapping(
        self,
        rule: MappingConfig,
        number: int,
        start: MappingStart,
        work: MappingRun,
        planner: Planner | None,
    ) -> bool:
        """The chunks of one mapping; whether the whole source was read and every chunk
        went through (what a mirror needs before it deletes)."""
        checkpoint, summary = self.checkpoint, self.summary
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
                    return False
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

                # A planned mapping's progress within a chunk is the store's (in doubt).
                deliveries = None if planner is not None else self._deliveries(rule, index)
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
                            planner=planner,
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
                    return False
                index += 1
            if loading is not None:
                settled, loading = loading, None
                if not await self._settle(settled, rule, number):
                    return False
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
                return False
        await self.progress.update(
            number, 1.0, summary, what=f"{rule.source} -> {rule.target} done: "
        )
        return True

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

    def _planner(self, rule: MappingConfig) -> Planner | None:
        """The planner of a ``mode: upsert`` or ``mirror`` mapping (none in a plain dry run,
        which plans nothing)."""
        if not rule.planned or (self.dry_run and self.delivered is None):
            return None
        if self.delivered is None:
            raise StateError(
                f"mapping {rule.source} -> {rule.target}: `mode: {rule.mode}` needs the "
                "delivered-records store, and the run has none"
            )
        scope = f"{self.state_key or self.session.config.name}:{mapping_key(rule)}"
        return Planner(self.delivered, scope, rule, uuid4().hex, applying=not self.dry_run)

    async def _holdings(self, rule: MappingConfig) -> AsyncIterator[list[dict[str, Any]]]:
        """The pages of what the target holds, read through ``rule.reconcile``."""
        reader = self.session.holdings(rule)
        while True:
            records = await reader.next_chunk(self.session.config.chunk_size)
            if not records:
                return
            yield records

    async def _mirror(self, work: MappingRun, planner: Planner) -> None:
        """After a complete read: delete the held keys the source no longer has (a plan
        counts them), unless that is more than ``max_delete_ratio`` of what the target holds.

        Raises:
            MassDeleteRefused: the share is too large and the run does not allow it.
        """
        summary, rule = self.summary, work.rule
        count = await planner.count_deletions()
        if self.dry_run:
            summary.deleted += count  # what the plan would delete, refused or not
        try:
            planner.check_delete_ratio(count, allowed=self.allow_mass_delete)
        except MassDeleteRefused:
            summary.plan["delete_refused"] = summary.plan.get("delete_refused", 0) + count
            raise
        if self.dry_run or not count:
            return
        deleter = work.deleter
        if deleter is None:
            raise ValueError(f"mapping {rule.source} -> {rule.target} has no delete endpoint")
        failed = 0
        async for index, keys in _numbered(planner.deletions(self.session.config.chunk_size)):
            records = [planner.delete_record(key) for key in keys]
            result = await self.stages.load(deleter, records, None, index)
            refused = {id(f.record) for f in result.failed}
            await planner.forget([r for r in records if id(r) not in refused])
            summary.deleted += result.loaded
            if result.failed:
                failed += self.dead_letters.append(
                    letters_from_failures(
                        self.session.config, rule, result.failed, target=deleter.name
                    )
                )
                summary.dead_letter_file = str(self.dead_letters.path)
        if failed:
            summary.errors.append(
                f"mirror {rule.source} -> {rule.target}: {failed} deletes not accepted by "
                f"{deleter.name}; dead-lettered (apilink dlq retry)"
            )

    def _report_plan(self, rule: MappingConfig, planner: Planner) -> None:
        """A mapping's example keys per action, and its duplicate keys as an error."""
        summary = self.summary
        summary.planned = True
        if self.dry_run:
            samples = summary.plan.setdefault("sample", {})
            name = str(rule.key)
            for action, keys in planner.samples.items():
                # Masked as every output is: a secret-named key field shows no values.
                shown = self.session.redactor.data({name: keys})[name]
                samples.setdefault(action, []).extend(shown if isinstance(shown, list) else [])
        if planner.duplicates:
            shown = ", ".join(repr(k) for k in planner.duplicate_keys)
            more = ", ..." if planner.duplicates > len(planner.duplicate_keys) else ""
            summary.errors.append(
                f"{rule.source} -> {rule.target}: {planner.duplicates} records share a "
                f"`{rule.key}` with an earlier record of the run ({shown}{more}); they were "
                "quarantined"
            )

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


async def _numbered(pages: AsyncIterator[list[str]]) -> AsyncIterator[tuple[int, list[str]]]:
    index = 0
    async for page in pages:
        yield index, page
        index += 1


async def _abandon(pending: asyncio.Future[Any]) -> None:
    """Stop a read-ahead or a chunk's processing the run no longer needs (its chunk is
    neither counted nor acknowledged, so a rerun reads it again)."""
    if not pending.done():
        pending.cancel()
    with contextlib.suppress(BaseException):
        await pending
