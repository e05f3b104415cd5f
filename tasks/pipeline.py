"""The four stages of a chunk as Prefect tasks: ``extract``, ``validate_fields``,
``map_records`` and ``load``, a task run each per chunk, named after the endpoint and the chunk
(``extract list_users #3``, ``load create_profile #3``), so a run's graph shows which stage a
chunk spends its time in.

One task run per stage of a chunk of thousands of records, never one per record: a Prefect 3.9
task run costs about 5 ms of bookkeeping. The stages themselves live in
:mod:`apilink.run.stages`; these tasks call them with the task run's logger. Tasks hold live
clients and credentials, so nothing is cached or persisted.

Every argument that is an object goes through :func:`as_is` (Prefect's ``quote``): Prefect
otherwise walks every parameter, every record of a chunk and every field of a config, looking
for futures, and remembers an entry per item for the rest of the flow run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar, cast

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from apilink.mapping.mapper import RecordMapper
from apilink.run.loader import Loader, LoadResult
from apilink.run.reader import PageReader
from apilink.run.stages import extract_records, load_records, map_records, validate_fields
from apilink.storage.state.acknowledgement import ChunkDeliveries
from apilink.validation import ChunkValidation, Quarantined, Validator

__all__ = ["Extracted", "TaskStages", "as_is", "extract", "load", "map_chunk", "validate_chunk"]

T = TypeVar("T")

_TASK_OPTIONS: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}


@dataclass(frozen=True)
class Extracted:
    """The records of one chunk as the ``extract`` task returns them.

    Prefect links a task's result, and each item one level into it, to the task run (for its
    dependency graph) for the rest of the flow run: a bare list would leave an entry per record,
    a million for a million-record sync. Held here, the link stops at the list.
    """

    records: list[dict[str, Any]]


@task(name="extract", task_run_name="extract {endpoint} #{index}", **_TASK_OPTIONS)
async def extract(reader: PageReader, size: int, endpoint: str, index: int) -> Extracted:
    """Read chunk ``index`` (``size`` records) from the source endpoint."""
    return Extracted(await extract_records(reader, size, get_run_logger()))


@task(name="validate_fields", task_run_name="validate_fields {endpoint} #{index}", **_TASK_OPTIONS)
async def validate_chunk(
    validator: Validator, records: list[dict[str, Any]], endpoint: str, index: int
) -> ChunkValidation:
    """Check chunk ``index`` against the mapping's validation rules."""
    return validate_fields(validator, records, get_run_logger())


@task(name="map_records", task_run_name="map_records {label} #{index}", **_TASK_OPTIONS)
async def map_chunk(
    mapper: RecordMapper, records: list[dict[str, Any]], label: str, index: int
) -> tuple[list[dict[str, Any]], list[Quarantined]]:
    """Reshape the valid records of chunk ``index`` for the target."""
    return map_records(mapper, records)


@task(name="load", task_run_name="load {endpoint} #{index}", **_TASK_OPTIONS)
async def load(
    loader: Loader,
    records: list[dict[str, Any]],
    deliveries: ChunkDeliveries | None,
    endpoint: str,
    index: int,
) -> LoadResult:
    """Send the mapped records of chunk ``index`` to the target endpoint."""
    return await load_records(loader, records, deliveries, get_run_logger())


class TaskStages:
    """The :class:`~apilink.run.stages.Stages` of a flow run: each stage a task run."""

    async def extract(self, reader: PageReader, size: int, index: int) -> list[dict[str, Any]]:
        read = await extract(as_is(reader), size, reader.name, index)
        return read.records

    async def validate(
        self, validator: Validator, records: list[dict[str, Any]], endpoint: str, index: int
    ) -> ChunkValidation:
        return await validate_chunk(as_is(validator), as_is(records), endpoint, index)

    async def map(
        self, mapper: RecordMapper, records: list[dict[str, Any]], label: str, index: int
    ) -> tuple[list[dict[str, Any]], list[Quarantined]]:
        return await map_chunk(as_is(mapper), as_is(records), label, index)

    async def load(
        self,
        loader: Loader,
        records: list[dict[str, Any]],
        deliveries: ChunkDeliveries | None,
        index: int,
    ) -> LoadResult:
        return await load(as_is(loader), as_is(records), as_is(deliveries), loader.name, index)


def as_is(value: T) -> T:
    """``value`` wrapped in Prefect's ``quote`` for a task's parameter: the task gets it as it
    is, and Prefect neither walks it (every record of a chunk, every field of a config) looking
    for futures nor rebuilds the dataclasses and models it finds on the way."""
    return cast(T, quote(value))
