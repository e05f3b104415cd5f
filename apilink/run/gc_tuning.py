"""Garbage collection for a process that holds chunks of records.

Records are trees of dicts and lists without cycles, freed by reference counting; the cyclic
collector only walks them. With CPython's default thresholds it runs every 700 new containers
and, every so often, walks every live object: tens of thousands of records in flight, and the
whole of Prefect. On the bench machine that was a third of a batch sync's time.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["YOUNG_THRESHOLD", "fewer_collections", "freeze_startup_objects"]

YOUNG_THRESHOLD = 7_000
"""New containers between two collections of the youngest generation (CPython: 700)."""


@contextmanager
def fewer_collections(young: int = YOUNG_THRESHOLD) -> Iterator[None]:
    """Collect ten times less often inside the block; the thresholds are restored after it."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], young), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def freeze_startup_objects() -> None:
    """Keep every object alive now out of the collector's walks, for good.

    For a process that runs one sync and exits (``apilink sync``, a worker's flow-run
    process): what start-up made (Prefect, pydantic models, the config) lives as long as the
    process anyway. Not for a long-lived process that runs many syncs.
    """
    gc.freeze()
