"""Checkpoints of a sync: the incremental cursor per mapping, and where an unfinished run
stands.

The state of one sync is one JSON object in a :class:`~apilink.storage.state.store.StateStore`::

    {"version": 1, "mappings": {"list_users->create_profile": {
        "cursor": "2024-05-01T00:00:00Z",          # the last finished run's high-water mark
        "run": {                                    # only while a run is unfinished
            "fingerprint": "...",                   # the config the position belongs to
            "params": {"updated_since": "..."},     # the incremental filter that run used
            "position": {...},                      # PageReader.position() after the last
            "high_water": "...",                    #   chunk the target acknowledged
            "chunks": 3}}}}

:meth:`SyncCheckpoint.acknowledge` is called only after the target acknowledged a chunk (every
record loaded or dead-lettered), so a rerun after a crash, even a ``kill -9``, goes on with the
first chunk that was not acknowledged, re-reading the same pages. Records of that chunk that
did reach the target are sent again with the same idempotency keys, so the target keeps one
copy. The cursor moves only when a mapping finishes: records need not arrive sorted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from apilink.config.masking import revealed_dump
from apilink.config.models import MappingConfig, SyncConfig
from apilink.errors import StateError
from apilink.mapping.paths import MISSING, get_path
from apilink.redaction import secret_values
from apilink.storage.state.cursor import later, with_lag
from apilink.storage.state.positions import restore_position, strip_position
from apilink.storage.state.store import StateStore

__all__ = ["MappingStart", "SyncCheckpoint", "mapping_key"]

_VERSION = 1


def mapping_key(rule: MappingConfig) -> str:
    """How a mapping is named in the state: ``source->target``."""
    return f"{rule.source}->{rule.target}"


@dataclass(frozen=True)
class MappingStart:
    """How one mapping's pass begins.

    Attributes:
        params: extra query parameters for the reader (the incremental filter).
        position: the reader position to go on from, or ``None`` to start at the first page.
        resumed_chunks: chunks an earlier, unfinished run already delivered.
        discarded: an unfinished run was found but its config changed, so it was not resumed.
    """

    params: dict[str, Any]
    position: dict[str, Any] | None
    resumed_chunks: int = 0
    discarded: bool = False


class SyncCheckpoint:
    """Reads and advances the checkpoints of one sync.

    Args:
        store: where the state lives.
        config: the sync (its name is the key; its source endpoints and incremental section
            make the fingerprint of a position).
        save: how to write the state; a run passes its
            :meth:`~apilink.storage.state.acknowledgement.CheckpointWriter.defer`, which
            coalesces saves and writes them off the event loop. By default ``store.save``.
        key: the state's name; by default the sync's name (a partition of a fanned-out sync
            adds its label, so children never share a checkpoint).
    """

    def __init__(
        self,
        store: StateStore,
        config: SyncConfig,
        *,
        save: Callable[[str, dict[str, Any]], None] | None = None,
        key: str | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.key = key or config.name
        self._save = save or store.save
        loaded = store.load(self.key)
        if loaded is not None and loaded.get("version") != _VERSION:
            raise StateError(
                f"the state of sync {self.key!r} has version {loaded.get('version')!r}; "
                f"this apilink reads version {_VERSION}"
            )
        self.state: dict[str, Any] = loaded or {"version": _VERSION, "mappings": {}}
        self._source_secrets = sorted(secret_values(config.source))

    def cursor(self, rule: MappingConfig) -> Any:
        """The incremental cursor a finished run left for ``rule`` (``None`` if none)."""
        return self._entry(rule).get("cursor")

    def begin(self, rule: MappingConfig) -> MappingStart:
        """Where the pass over ``rule`` starts: an unfinished run's position, or the cursor."""
        entry = self._entry(rule)
        run = entry.get("run")
        fingerprint = self._fingerprint(rule)
        fingerprints = {fingerprint, self._fingerprint(rule, legacy=True)}
        if isinstance(run, dict) and run.get("fingerprint") in fingerprints:
            position = run.get("position")
            if isinstance(position, dict):
                try:
                    restored = restore_position(position, self._source_secrets)
                except ValueError as exc:
                    raise StateError(
                        f"sync {self.key!r}, mapping {mapping_key(rule)}: {exc}"
                    ) from None
                return MappingStart(
                    params=dict(run.get("params") or {}),
                    position=restored,
                    resumed_chunks=int(run.get("chunks", 0)),
                )
        discarded = isinstance(run, dict) and run.get("fingerprint") not in fingerprints
        # Progress within the first chunks of a run that acknowledged none whole yet
        # (apilink.storage.state.acknowledgement) still holds for a rerun of the same config.
        delivered = run.get("delivered") if isinstance(run, dict) and not discarded else None
        params: dict[str, Any] = {}
        incremental = self.config.incremental
        if incremental is not None:
            start = entry.get("cursor", incremental.initial_value)
            if start is not None:
                params[incremental.param] = with_lag(start, incremental.lag)
        entry["run"] = {
            "fingerprint": fingerprint,
            "params": params,
            "position": None,
            "high_water": entry.get("cursor"),
            "chunks": 0,
        }
        if isinstance(delivered, dict) and delivered:
            entry["run"]["delivered"] = delivered
        return MappingStart(params=params, position=None, discarded=discarded)

    def acknowledge(
        self,
        rule: MappingConfig,
        records: Iterable[dict[str, Any]],
        position: dict[str, Any] | None,
    ) -> None:
        """The target acknowledged a chunk: remember where the next one starts.

        Args:
            rule: the mapping.
            records: the chunk's source records (for the incremental high-water mark).
            position: the reader's position after the chunk (``None``: cannot be saved; a rerun
                then starts again from the cursor, and idempotency keys absorb the overlap).
        """
        run = self._run(rule)
        incremental = self.config.incremental
        if incremental is not None:
            high = run.get("high_water")
            for record in records:
                value = get_path(record, incremental.cursor_field)
                if value is not MISSING and value is not None:
                    high = later(high, value)
            run["high_water"] = high
        # Secrets of the source never reach the state: see apilink.storage.state.positions.
        run["position"] = (
            strip_position(position, self._source_secrets) if position is not None else None
        )
        run["chunks"] = int(run.get("chunks", 0)) + 1
        self._flush()

    def finish(self, rule: MappingConfig) -> None:
        """The pass over ``rule`` read its last page: move the cursor, forget the position."""
        entry = self._entry(rule)
        run = entry.pop("run", None)
        if self.config.incremental is not None and isinstance(run, dict):
            cursor = later(entry.get("cursor"), run.get("high_water"))
            if cursor is not None:
                entry["cursor"] = cursor
        self._flush()

    def reset(self) -> None:
        """Forget every cursor and position of this sync."""
        self.state = {"version": _VERSION, "mappings": {}}
        self.store.delete(self.key)

    def _entry(self, rule: MappingConfig) -> dict[str, Any]:
        mappings: dict[str, Any] = self.state.setdefault("mappings", {})
        entry: dict[str, Any] = mappings.setdefault(mapping_key(rule), {})
        return entry

    def _run(self, rule: MappingConfig) -> dict[str, Any]:
        run = self._entry(rule).get("run")
        if not isinstance(run, dict):
            raise StateError(f"acknowledge() before begin() for mapping {mapping_key(rule)}")
        return run

    def _flush(self) -> None:
        self._save(self.key, self.state)

    def _fingerprint(self, rule: MappingConfig, *, legacy: bool = False) -> str:
        """What a position belongs to; secrets masked (a rotated key keeps the position).

        ``legacy``: as computed before secrets were masked in dumps, so a checkpoint saved
        then still resumes.
        """
        endpoint = self.config.source.endpoints[rule.source]
        dump = revealed_dump if legacy else type(endpoint).model_dump
        base_url = self.config.source.base_url
        if not legacy:
            base_url = self.config.source.model_dump(mode="json", include={"base_url"})["base_url"]
        basis = {
            "base_url": base_url,
            "endpoint": dump(endpoint, mode="json", exclude={"headers"}),
            "chunk_size": self.config.chunk_size,
            "incremental": (
                self.config.incremental.model_dump(mode="json")
                if self.config.incremental is not None
                else None
            ),
        }
        text = json.dumps(basis, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
