"""The four stages one chunk of records goes through: extract, validate, map, load.

Each stage is a plain function that logs to the logger it is given. :class:`Stages` is how the
pipeline (:mod:`apilink.run.pipeline`) calls them: :class:`DirectStages` calls them as they are;
the ``api_sync`` flow passes stages that run each as a Prefect task run per chunk
(``tasks.pipeline``), so the run's graph shows which stage a chunk spends its time in.

A stage raises what it cannot handle; the pipeline accounts for the records the stage held.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Protocol

from apilink.errors import MappingFailure
from apilink.mapping.mapper import RecordMapper
from apilink.run.loader import Loader, LoadResult
from apilink.run.reader import PageReader
from apilink.storage.state.acknowledgement import ChunkDeliveries
from apilink.validation import ChunkValidation, Quarantined, Validator

__all__ = [
    "RUN_LOGGER",
    "DirectStages",
    "Logger",
    "Stages",
    "extract_records",
    "load_records",
    "map_records",
    "validate_fields",
]

# A standard logger, or Prefect's run logger (a ``LoggerAdapter``).
Logger = logging.Logger | logging.LoggerAdapter  # type: ignore[type-arg]

# Where the stages log when no logger is given.
RUN_LOGGER = logging.getLogger("apilink.run")


async def extract_records(
    reader: PageReader, size: int, logger: Logger = RUN_LOGGER
) -> list[dict[str, Any]]:
    """Read whole pages from the source until the chunk holds ``size`` records (fewer at the
    end of the source)."""
    records = await reader.next_chunk(size)
    logger.info("extracted %d records from %s", len(records), reader.name)
    return records


def validate_fields(
    validator: Validator, records: list[dict[str, Any]], logger: Logger = RUN_LOGGER
) -> ChunkValidation:
    """Run the mapping's rules; failing records are set aside with their reasons."""
    outcome = validator.validate(records)
    if outcome.quarantined:
        reasons = Counter(reason for q in outcome.quarantined for reason in q.reasons)
        logger.warning(
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
    loader: Loader,
    records: list[dict[str, Any]],
    deliveries: ChunkDeliveries | None = None,
    logger: Logger = RUN_LOGGER,
) -> LoadResult:
    """Deliver mapped records to the target endpoint (``deliveries``: see
    :mod:`apilink.storage.state.acknowledgement`)."""
    result = await loader.load(records, deliveries)
    logger.info("loaded %d records into %s", result.loaded, loader.name)
    if result.failed:
        logger.error("%d records not accepted by %s", len(result.failed), loader.name)
    return result


class Stages(Protocol):
    """How the pipeline runs each stage of chunk ``index`` (the stage functions above, each
    perhaps wrapped as a task run)."""

    async def extract(self, reader: PageReader, size: int, index: int) -> list[dict[str, Any]]: ...

    async def validate(
        self, validator: Validator, records: list[dict[str, Any]], endpoint: str, index: int
    ) -> ChunkValidation: ...

    async def map(
        self, mapper: RecordMapper, records: list[dict[str, Any]], label: str, index: int
    ) -> tuple[list[dict[str, Any]], list[Quarantined]]: ...

    async def load(
        self,
        loader: Loader,
        records: list[dict[str, Any]],
        deliveries: ChunkDeliveries | None,
        index: int,
    ) -> LoadResult: ...


class DirectStages:
    """The stages as plain calls, logging to ``logger``."""

    def __init__(self, logger: Logger = RUN_LOGGER) -> None:
        self.logger = logger

    async def extract(self, reader: PageReader, size: int, index: int) -> list[dict[str, Any]]:
        return await extract_records(reader, size, self.logger)

    async def validate(
        self, validator: Validator, records: list[dict[str, Any]], endpoint: str, index: int
    ) -> ChunkValidation:
        return validate_fields(validator, records, self.logger)

    async def map(
        self, mapper: RecordMapper, records: list[dict[str, Any]], label: str, index: int
    ) -> tuple[list[dict[str, Any]], list[Quarantined]]:
        return map_records(mapper, records)

    async def load(
        self,
        loader: Loader,
        records: list[dict[str, Any]],
        deliveries: ChunkDeliveries | None,
        index: int,
    ) -> LoadResult:
        return await load_records(loader, records, deliveries, self.logger)
