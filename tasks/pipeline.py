"""The chunk stages of a sync: extract, then validate, map and load.

One Prefect task per chunk of thousands of records, never one per record: :func:`extract_chunk`
reads a chunk (in the flow, while the previous chunk is processed), and the task
:func:`process_chunk` validates, maps and loads it, and accounts for every record whatever
raises: each ends up loaded, quarantined or in the dead-letter queue. A Prefect task run costs
about 20 ms of bookkeeping, so the stages are plain functions that log under the run's name.
Tasks hold live clients and credentials, so nothing is cached or persisted.

The task's parameters go through :func:`as_is` (Prefect's ``quote``): Prefect otherwise walks
every parameter, every record of a chunk and every field of a config, looking for futures, and
remembers an entry per item for the rest of the flow run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, Literal, TypeVar, cast

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from apilink.errors import MappingFailure, ValidationFailed
from apilink.mapping.mapper import RecordMapper
from apilink.run.loader import STOPS_THE_RUN, Loader, LoadResult, RunStopper
from apilink.run.reader import PageReader
from apilink.run.session import MappingRun
from apilink.run.summary import SyncSummary
from apilink.storage.dead_letter import (
    DeadLetterQueue,
    letters_for_records,
    letters_from_failures,
)
from apilink.storage.quarantine import QuarantineWriter
from apilink.storage.state.acknowledgement import ChunkDeliveries
from apilink.validation import ChunkValidation, Quarantined, Validator

__all__ = [
    "as_is",
    "extract_chunk",
    "load_records",
    "map_records",
    "process_chunk",
    "validate_fields",
]

T = TypeVar("T")

_TASK_OPTIONS: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}


async def extract_chunk(reader: PageReader, size: int) -> list[dict[str, Any]]:
    """Read whole pages from the source until the chunk holds ``size`` records."""
    records = await reader.next_chunk(size)
    get_run_logger().info("extracted %d records from %s", len(records), reader.name)
    return records


def validate_fields(validator: Validator, records: list[dict[str, Any]]) -> ChunkValidation:
    """Run the mapping's rules; failing records are set aside with their reasons."""
    outcome = validator.validate(records)
    if outcome.quarantined:
        reasons = Counter(reason for q in outcome.quarantined for reason in q.reasons)
        get_run_logger().warning(
            "%d of %d records quarantined: %s",
            len(outcome.quarantined),
            len(records),
            "; ".join(f"{r} ({n})" for r, n in reasons.most_common()),
        )
    return outcome


def map_records(
    mapper: RecordMapper, records: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[Quarantined]]:
    """Reshape records; a record a transformer refuses is set aside with the reason."""
    mapped: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    reshape, keep = mapper.map, mapped.append
    for record in records:
        try:
            keep(reshape(record))
        except MappingFailure as exc:
            refused.append(Quarantined(record, (str(exc),)))
    return mapped, refused


async def load_records(
    loader: Loader, records: list[dict[str, Any]], deliveries: ChunkDeliveries | None = None
) -> LoadResult:
    """Deliver mapped records to the target endpoint (``deliveries``: see
    :mod:`apilink.storage.state.acknowledgement`)."""
    result = await loader.load(records, deliveries)
    logger = get_run_logger()
    logger.info("loaded %d records into %s", result.loaded, loader.name)
    if result.failed:
        logger.error("%d records not accepted by %s", len(result.failed), loader.name)
    return result


@task(
    name="process_chunk",
    task_run_name="validate, map, load {label} #{index}",
    **_TASK_OPTIONS,
)
async def process_chunk(
    run: MappingRun,
    records: list[dict[str, Any]],
    index: int,
    dead_letters: DeadLetterQueue,
    *,
    label: str = "",
    quarantine: QuarantineWriter | None = None,
    check_ratio: Callable[[int, int], None] | None = None,
    dry_run: bool = False,
    deliveries: ChunkDeliveries | None = None,
) -> tuple[SyncSummary, str | RunStopper | None]:
    """Validate, map and load one extracted chunk; never loses count of a record.

    Records set aside by validation or mapping are written to ``quarantine`` (masked, with
    their reasons). ``check_ratio(checked, invalid)`` runs before anything is loaded; when it
    raises :class:`~apilink.errors.ValidationFailed` the chunk is not loaded and the error
    propagates (the caller does not count or acknowledge the chunk, so a rerun reads it again);
    A :class:`~apilink.errors.CredentialsRefused` (the target refuses the run's credentials)
    or :class:`~apilink.errors.TargetUnavailable` (it failed for a whole retry deadline) is
    returned as the error: every record would fail alike, so none is dead-lettered for it, and
    the caller stops the run without counting or acknowledging the chunk.
    ``deliveries`` acknowledges progress within the chunk as the target accepts requests.
    Records the target refused are written to ``dead_letters``. When a stage raises, the records
    it held are dead-lettered too (mapped ones with the idempotency keys of the requests they
    were in, so a replay is harmless if some arrived), and the error is returned.

    The flow passes the objects through :func:`as_is`; ``label`` (``source -> target``) names
    the task run.

    Returns:
        The chunk's counts (balanced: ``extracted == loaded + quarantined + failed``, except in
        a dry run, which loads nothing) and an error line, a run stopper, or ``None``.
    """
    rule, loader = run.rule, run.loader
    chunk = SyncSummary(extracted=len(records))
    pending = records
    try:
        checked = validate_fields(run.validator, records)
        chunk.quarantined = len(checked.quarantined)
        chunk.set_aside(r for q in checked.quarantined for r in q.reasons)
        pending = checked.valid
        mapped, refused = map_records(run.mapper, checked.valid)
        chunk.quarantined += len(refused)
        chunk.set_aside(r for q in refused for r in q.reasons)
        chunk.valid = len(mapped)
        if quarantine is not None:
            quarantine.write([*checked.quarantined, *refused], endpoint=rule.source, chunk=index)
        if check_ratio is not None:
            check_ratio(chunk.extracted, chunk.quarantined)
    except ValidationFailed:
        raise
    except Exception as exc:
        return _set_aside(run, chunk, index, dead_letters, pending, "process", exc)
    if dry_run:
        return chunk, None
    try:
        delivered = await load_records(loader, mapped, deliveries)
    except STOPS_THE_RUN as exc:
        # Systemic: returned rather than raised (one line in the log, not a traceback); the
        # caller neither counts nor acknowledges the chunk, and nothing is dead-lettered.
        get_run_logger().error("chunk #%d of %s: %s", index, rule.target, exc)
        return chunk, exc
    except Exception as exc:
        return _set_aside(run, chunk, index, dead_letters, mapped, "load", exc)
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
) -> tuple[SyncSummary, str]:
    """A stage raised: dead-letter the records it held; the chunk's counts and the error."""
    rule, loader = run.rule, run.loader
    reason = loader.redactor.text(f"{stage} failed: {type(exc).__name__}: {exc}")
    letters = letters_for_records(run.config, rule, pending, reason, stage=stage, loader=loader)
    chunk.failed = dead_letters.append(letters)
    chunk.valid = chunk.extracted - chunk.quarantined
    chunk.dead_letter_file = str(dead_letters.path) if letters else None
    get_run_logger().error(
        "chunk #%d of %s: %s; %d records dead-lettered", index, rule.target, reason, chunk.failed
    )
    return chunk, f"chunk #{index} of {rule.source} -> {rule.target}: {reason}"[:300]


def as_is(value: T) -> T:
    """``value`` wrapped in Prefect's ``quote`` for a task's parameter: the task gets it as it
    is, and Prefect neither walks it (every record of a chunk, every field of a config) looking
    for futures nor rebuilds the dataclasses and models it finds on the way."""
    return cast(T, quote(value))
