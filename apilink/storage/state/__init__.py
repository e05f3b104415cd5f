"""What a sync keeps between runs: incremental cursors and the checkpoints of unfinished runs."""

from __future__ import annotations

from apilink.errors import StateError
from apilink.storage.state.checkpoint import MappingStart, SyncCheckpoint, mapping_key
from apilink.storage.state.cursor import later, with_lag
from apilink.storage.state.store import (
    STATE_DIR_ENV,
    FileStateStore,
    MemoryStateStore,
    StateStore,
    default_state_dir,
    state_slug,
)

__all__ = [
    "STATE_DIR_ENV",
    "FileStateStore",
    "MappingStart",
    "MemoryStateStore",
    "StateError",
    "StateStore",
    "SyncCheckpoint",
    "default_state_dir",
    "later",
    "mapping_key",
    "state_slug",
    "with_lag",
]
