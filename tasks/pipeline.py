"""The chunk stages of a sync: extract, validate, map, load.

Each task handles one chunk of thousands of records, never one record. Tasks hold live clients
and credentials, so nothing is cached or persisted.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from apilink.extract import PageReader
from apilink.load import Loader, LoadResult
from apilink.mapping.mapper import MappingFailure, RecordMapper
from apilink.validation import ChunkValidation, Quarantined, Validator

__all__ = ["extract_chunk", "load_records", "map_records", "validate_fields"]

_TASK_OPTIONS: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}


@task(name="extract", task_run_name="extract {reader.name} #{index}", **_TASK_OPTIONS)
async def extract_chunk(reader: PageReader, size: int, index: int) -> list[dict[str, Any]]:
    """Read whole pages from the source until the chunk holds ``size`` records."""
    records = await reader.next_chunk(size)
    get_run_logger().info("extracted %d records from %s", len(records), reader.name)
    return records


@task(name="validate_fields", task_run_name="validate {endpoint} #{index}", **_TASK_OPTIONS)
def validate_fields(
    validator: Validator, records: list[dict[str, Any]], endpoint: str, index: int
) -> ChunkValidation:
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


@task(name="map_records", task_run_name="map {endpoint} #{index}", **_TASK_OPTIONS)
def map_records(
    mapper: RecordMapper, records: list[dict[str, Any]], endpoint: str, index: int
) -> tuple[list[dict[str, Any]], list[Quarantined]]:
    """Reshape records; a record a transformer refuses is set aside with the reason."""
    mapped: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for record in records:
        try:
            mapped.append(mapper.map(record))
        except MappingFailure as exc:
            refused.append(Quarantined(record, (str(exc),)))
    return mapped, refused


@task(name="load", task_run_name="load {loader.name} #{index}", **_TASK_OPTIONS)
async def load_records(loader: Loader, records: list[dict[str, Any]], index: int) -> LoadResult:
    """Deliver mapped records to the target endpoint."""
    result = await loader.load(records)
    logger = get_run_logger()
    logger.info("loaded %d records into %s", result.loaded, loader.name)
    if result.failed:
        logger.error("%d records not accepted by %s", len(result.failed), loader.name)
    return result
