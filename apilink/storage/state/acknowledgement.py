"""Progress within a chunk, and the one writer of a run's checkpoint.

A chunk is acknowledged as a whole
(:meth:`~apilink.storage.state.checkpoint.SyncCheckpoint.acknowledge`)
once the target answered for every record in it; before that, :class:`ChunkDeliveries` keeps
which of its records the target already accepted, as ranges of offsets into the chunk's mapped
records (the order the loader sends them in), in the run's checkpoint::

    "run": {..., "delivered": {"4": {"records": 5000, "ranges": [[0, 2500], [3000, 3500]]}}}

The loader reports each request the target accepted and waits, still holding its concurrency
slot, until a save that includes it has finished; so when the process dies (even ``kill -9``),
the records the target holds past the checkpoint are at most the requests in flight:
``max_concurrency`` requests, ``max_concurrency * batch_size`` records. An endpoint that takes
one record per request goes on sending while up to ``max_concurrency * (batch_size - 1)``
delivered records wait for a save (one save per record would make the run as slow as the
store), which keeps the same bound. A rerun re-reads the
chunk from the checkpointed position and skips the requests whose records lie in a saved range;
it trusts the ranges only when the chunk has as many mapped records as before (a source that
changed under the checkpoint is sent again whole, and idempotency keys absorb the overlap).

Saves are coalesced: :class:`CheckpointWriter` runs one save at a time, in a worker thread (so
neither a slow store nor its retry waits block the event loop), and every change made while a
save runs goes out with the next one: four requests that finish together cost one write.

Trust: the ranges are positions, never records or secrets; whoever can write the checkpoint (the
worker's operator, anyone with Prefect API access to the Variable) can make a rerun skip records,
exactly as they can already move its position.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable
from typing import Any

from apilink.config.models import MappingConfig
from apilink.errors import StateError
from apilink.storage.state.checkpoint import SyncCheckpoint, mapping_key

__all__ = ["CheckpointWriter", "ChunkDeliveries", "add_range", "covers"]

logger = logging.getLogger("apilink.storage.state")

Ranges = list[list[int]]


def add_range(ranges: Ranges, start: int, end: int) -> Ranges:
    """``ranges`` (sorted, disjoint ``[start, end)`` pairs) with ``[start, end)`` added, merged."""
    merged: Ranges = []
    for low, high in sorted([*ranges, [start, end]]):
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return merged


def covers(ranges: Ranges, start: int, end: int) -> bool:
    """Whether one range of ``ranges`` holds all of ``[start, end)``."""
    return any(low <= start and end <= high for low, high in ranges)


def _valid_ranges(saved: Any, records: int) -> Ranges:
    """The well-formed ranges of a saved entry (anything else is dropped: sent again)."""
    ranges: Ranges = []
    if not isinstance(saved, list):
        return ranges
    for pair in saved:
        if (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in pair)
            and 0 <= pair[0] < pair[1] <= records
        ):
            ranges = add_range(ranges, pair[0], pair[1])
    return ranges


class CheckpointWriter:
    """Saves a checkpoint's state off the event loop, one save at a time, coalescing changes.

    The checkpoint is built with a ``save`` that does nothing (:meth:`defer`); callers change
    its state and then ``await writer.commit()``.

    Args:
        checkpoint: whose ``state`` is saved under its ``key``.
        save: the store's ``save`` (blocking; runs in a worker thread).
    """

    def __init__(self, checkpoint: SyncCheckpoint, save: Callable[[str, dict[str, Any]], None]):
        self.checkpoint = checkpoint
        self._save = save
        self._changes = 0  # changes made so far
        self._saved = 0  # changes the last finished save included
        self._noted = 0  # records reported delivered so far
        self._safe = 0  # of those, the ones a finished save included
        self._writing: asyncio.Future[None] | None = None
        self.saves = 0

    @property
    def unsaved(self) -> int:
        """Records reported delivered that no finished save includes yet."""
        return self._noted - self._safe

    def note(self, records: int) -> None:
        """``records`` more were delivered (the state already says so)."""
        self._noted += records
        self._changes += 1

    def soon(self) -> None:
        """Start a save now if none runs, without waiting for it (a failure shows in the next
        :meth:`commit`)."""
        if self._writing is None:
            self._writing = asyncio.ensure_future(self._write())
            self._writing.add_done_callback(_consume)

    @staticmethod
    def defer(key: str, state: dict[str, Any]) -> None:
        """The checkpoint's own ``save``: nothing; :meth:`commit` writes."""

    async def commit(self) -> None:
        """Return once a save that includes every change made before the call has finished.

        Raises:
            StateError: the save failed (the store's message, which names the store).
        """
        self._changes += 1
        wanted = self._changes
        while self._saved < wanted:
            if self._writing is None:
                self._writing = asyncio.ensure_future(self._write())
            await asyncio.shield(self._writing)

    async def idle(self) -> None:
        """Wait for a save still running (the run is ending; its outcome no longer matters)."""
        running = self._writing
        if running is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(running)

    async def _write(self) -> None:
        including, noted = self._changes, self._noted
        snapshot = copy.deepcopy(self.checkpoint.state)
        try:
            await asyncio.to_thread(self._save, self.checkpoint.key, snapshot)
        finally:
            self._writing = None
        self.saves += 1
        self._saved = max(self._saved, including)
        self._safe = max(self._safe, noted)


def _consume(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: the next commit meets the same store and says it


class ChunkDeliveries:
    """The deliveries of one chunk: what the loader may skip, and what it reports.

    Args:
        checkpoint: the run's checkpoint (its ``run`` entry for ``rule`` holds the ranges).
        writer: saves them.
        rule: the mapping.
        index: the chunk's number in the pass (as counted in the checkpoint).
    """

    def __init__(
        self,
        checkpoint: SyncCheckpoint,
        writer: CheckpointWriter,
        rule: MappingConfig,
        index: int,
    ) -> None:
        self.checkpoint = checkpoint
        self.writer = writer
        self.rule = rule
        self.index = index
        self.skipped = 0
        self.failure: StateError | None = None
        self._ranges: Ranges = []
        self._records = 0
        self.allowance = 0

    def start(self, records: int, *, allowance: int = 0) -> None:
        """The chunk has ``records`` mapped records: keep an earlier run's ranges if they fit.

        ``allowance``: how many delivered records may wait for a save while requests go on
        (the loader's ``max_concurrency * (batch_size - 1)`` when it sends one record per
        request, so that in flight plus unsaved stays within ``max_concurrency * batch_size``;
        ``0`` in batch mode, where the requests in flight are the whole window).
        """
        self.allowance = allowance
        entry = self._entries().get(str(self.index))
        ranges: Ranges = []
        if isinstance(entry, dict) and entry.get("records") == records:
            ranges = _valid_ranges(entry.get("ranges"), records)
        self._ranges, self._records = ranges, records
        self._entries()[str(self.index)] = {"records": records, "ranges": ranges}

    def acknowledged(self, start: int, end: int) -> bool:
        """Whether an earlier run already delivered records ``[start, end)`` (then skip them)."""
        if covers(self._ranges, start, end):
            self.skipped += end - start
            return True
        return False

    async def delivered(self, start: int, end: int) -> None:
        """The target accepted records ``[start, end)``: save that (coalesced) before returning.

        A failed save is remembered (:attr:`failure`), not raised: the records were delivered
        and count as loaded; the chunk's own acknowledgement then meets the same store and
        ends the run with its error.
        """
        self._ranges = add_range(self._ranges, start, end)
        self._entries()[str(self.index)] = {"records": self._records, "ranges": self._ranges}
        if self.failure is not None:
            return
        self.writer.note(end - start)
        if self.writer.unsaved <= self.allowance:
            self.writer.soon()
            return
        try:
            await self.writer.commit()
        except (StateError, OSError) as exc:
            if self.failure is not None:
                return  # said once per chunk
            self.failure = exc if isinstance(exc, StateError) else StateError(str(exc))
            logger.warning("progress within chunk #%d not saved: %s", self.index, exc)

    def forget(self) -> None:
        """The chunk is acknowledged whole: its ranges are not needed any more (a chunk that
        is abandoned keeps them, so a rerun skips what it delivered)."""
        self._entries().pop(str(self.index), None)

    def _entries(self) -> dict[str, Any]:
        mappings = self.checkpoint.state.setdefault("mappings", {})
        run = mappings.setdefault(mapping_key(self.rule), {}).setdefault("run", {})
        entries: dict[str, Any] = run.setdefault("delivered", {})
        return entries
