"""The four stages of a chunk as Prefect tasks: ``extract``, ``validate_fields``,
``map_records`` and ``load``, a task run each per chunk, named after the endpoint and the chunk
(``extract list_users #3``, ``load create_profile #3``), so a run's graph shows which stage a
chunk spends its time in.

One task run per stage of a chunk of thousands of records, never one per record: a Prefect 3.9
task run costs about 5 ms of bookkeeping. The stages themselves live in
:mod:`apilink.run.stages`; these tasks call them with the task run's logger. Tasks hold live
clients and credentials, so nothing is cached or persisted.

Records cross into and out of the tasks in a :class:`Handoff`, never as a parameter or a result
of their own, and the other objects go through :func:`as_is` (Prefect's ``quote``): Prefect
otherwise walks every parameter, every record of a chunk and every field of a config, looking
for futures, and keeps what a task run was given and gave back until a full collection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, cast

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from apilink.mapping.mapper import RecordMapper
from apilink.redaction import Redactor, masking_errors
from apilink.run.loader import Loader, LoadResult
from apilink.run.reader import PageReader
from apilink.run.stages import extract_records, load_records, map_records, validate_fields
from apilink.storage.state.acknowledgement import ChunkDeliveries
from apilink.validation import ChunkValidation, Quarantined, Validator

__all__ = ["Handoff", "TaskStages", "as_is", "extract", "load", "map_chunk", "validate_chunk"]

T = TypeVar("T")
Records = list[dict[str, Any]]

_TASK_OPTIONS: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}


class Handoff(Generic[T]):
    """What crosses into or out of a stage task: a chunk's records, the validation, the mapped
    records. Emptied as soon as the task returned.

    The task engine keeps a task run's parameters and result in objects that only a full
    garbage collection frees (and a run holding chunks collects seldom:
    :mod:`apilink.run.gc_tuning`); Prefect also links the result, and each item one level into
    it, to the task run for the rest of the flow run. So the records never are a parameter or a
    result themselves: a task is handed them in a ``Handoff``, puts what it made in another and
    returns a count.
    """

    __slots__ = ("redactor", "value")

    def __init__(self, value: T | None = None, redactor: Redactor | None = None) -> None:
        self.value = value
        # What masks an error the task raises (its message becomes the task run's state).
        self.redactor = redactor or Redactor()

    def __repr__(self) -> str:
        return "Handoff(...)"

    def take(self) -> T:
        """The value, leaving the handoff empty."""
        value, self.value = self.value, None
        assert value is not None, "the stage task put nothing in its handoff"
        return value


@task(name="extract", task_run_name="extract {endpoint} #{index}", **_TASK_OPTIONS)
async def extract(
    reader: PageReader, size: int, endpoint: str, index: int, out: Handoff[Records]
) -> int:
    """Read chunk ``index`` (``size`` records) from the source endpoint; how many were read."""
    with masking_errors(out.redactor):
        out.value = await extract_records(reader, size, get_run_logger())
    return len(out.value)


@task(name="validate_fields", task_run_name="validate_fields {endpoint} #{index}", **_TASK_OPTIONS)
async def validate_chunk(
    validator: Validator,
    records: Handoff[Records],
    endpoint: str,
    index: int,
    out: Handoff[ChunkValidation],
) -> int:
    """Check chunk ``index`` against the mapping's validation rules; how many passed."""
    with masking_errors(out.redactor):
        out.value = validate_fields(validator, records.take(), get_run_logger())
    return len(out.value.valid)


@task(name="map_records", task_run_name="map_records {label} #{index}", **_TASK_OPTIONS)
async def map_chunk(
    mapper: RecordMapper,
    records: Handoff[Records],
    label: str,
    index: int,
    out: Handoff[tuple[Records, list[Quarantined]]],
) -> int:
    """Reshape the valid records of chunk ``index`` for the target; how many were mapped."""
    with masking_errors(out.redactor):
        out.value = map_records(mapper, records.take())
    return len(out.value[0])


@task(name="load", task_run_name="load {endpoint} #{index}", **_TASK_OPTIONS)
async def load(
    loader: Loader,
    records: Handoff[Records],
    deliveries: ChunkDeliveries | None,
    endpoint: str,
    index: int,
    out: Handoff[LoadResult],
) -> int:
    """Send the mapped records of chunk ``index`` to the target endpoint; how many it took."""
    with masking_errors(out.redactor):
        out.value = await load_records(loader, records.take(), deliveries, get_run_logger())
    return out.value.loaded


class TaskStages:
    """The :class:`~apilink.run.stages.Stages` of a flow run: each stage a task run.

    Args:
        redactor: the run's, which masks the message of an error a stage raises before it
            becomes the task run's state (the API and its events keep it; no logging filter
            sees it).
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        self.redactor = redactor or Redactor()

    async def extract(self, reader: PageReader, size: int, index: int) -> Records:
        out: Handoff[Records] = Handoff(redactor=self.redactor)
        await extract(as_is(reader), size, reader.name, index, out)
        return out.take()

    async def validate(
        self, validator: Validator, records: Records, endpoint: str, index: int
    ) -> ChunkValidation:
        return await _handed(
            records,
            self.redactor,
            lambda given, out: validate_chunk(as_is(validator), given, endpoint, index, out),
        )

    async def map(
        self, mapper: RecordMapper, records: Records, label: str, index: int
    ) -> tuple[Records, list[Quarantined]]:
        return await _handed(
            records,
            self.redactor,
            lambda given, out: map_chunk(as_is(mapper), given, label, index, out),
        )

    async def load(
        self,
        loader: Loader,
        records: Records,
        deliveries: ChunkDeliveries | None,
        index: int,
    ) -> LoadResult:
        return await _handed(
            records,
            self.redactor,
            lambda given, out: load(
                as_is(loader), given, as_is(deliveries), loader.name, index, out
            ),
        )


async def _handed(
    records: Records,
    redactor: Redactor,
    stage: Callable[[Handoff[Records], Handoff[T]], Awaitable[int]],
) -> T:
    """Run a stage task on ``records``; what it put in its handoff (both emptied after)."""
    given, out = Handoff(records), Handoff[T](redactor=redactor)
    try:
        await stage(given, out)
    finally:
        given.value = None
    return out.take()


def as_is(value: T) -> T:
    """``value`` wrapped in Prefect's ``quote`` for a task's parameter: the task gets it as it
    is, and Prefect neither walks it (every record of a chunk, every field of a config) looking
    for futures nor rebuilds the dataclasses and models it finds on the way."""
    return cast(T, quote(value))
