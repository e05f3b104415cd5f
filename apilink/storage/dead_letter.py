"""The dead-letter queue: records the target did not take, kept to be replayed.

One JSON line per record in ``<state dir>/<sync>.dead-letter.jsonl`` (mode 0600). A line holds
the record, the idempotency key its request carried, the last status and a trimmed reason with
secrets masked; never a header, a token or a credential. The values of the record's
secret-named fields are sealed (AES-GCM, key in ``<file>.key``, see
:mod:`apilink.storage.sealing`), so
the file alone shows none; a replay unseals them. ``apilink dlq list`` shows the
lines with sealed values masked (:meth:`DeadLetterQueue.read_masked`), unsealed only to
``manage_credentials`` with ``--reveal``, which is audited; ``apilink dlq retry`` sends them
again with their original keys (so a record that did reach the target is not stored twice) and
removes those the target accepted.

Letters of stage ``load`` hold mapped records, ready to send. Letters of stage ``process`` hold
source records whose chunk failed before delivery (a validator or mapper that raised); a
replay maps them first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from apilink.config.models import MappingConfig, SyncConfig
from apilink.errors import StateError
from apilink.redaction import MASK
from apilink.run.loader import DeliveryFailure, Loader
from apilink.storage.private_files import PrivateLock, open_private_fd, write_atomically
from apilink.storage.sealing import SEALED, FieldSealer
from apilink.storage.state.store import default_state_dir, state_slug

__all__ = [
    "DeadLetter",
    "DeadLetterQueue",
    "ReplayResult",
    "letters_for_records",
    "letters_from_failures",
    "replay",
]

Stage = Literal["load", "process"]


@dataclass(frozen=True)
class DeadLetter:
    """One record the target did not take.

    Attributes:
        sync: the sync's name.
        mapping: ``source->target`` of the mapping.
        target: the target endpoint's name.
        stage: ``load`` (``record`` is mapped) or ``process`` (``record`` is the source record).
        record: the record.
        idempotency_key: the key its request carried (shared by a batch); ``None`` if never sent.
        status: the last HTTP status, ``None`` when no answer came.
        reason: why, trimmed, secrets masked.
        failed_at: when (ISO 8601, UTC).
        attempts: deliveries tried so far (the run's, then one per replay).
    """

    sync: str
    mapping: str
    target: str
    stage: Stage
    record: dict[str, Any]
    idempotency_key: str | None
    status: int | None
    reason: str
    failed_at: str
    attempts: int = 1

    def identity(self) -> str:
        """What tells two letters apart: mapping, key and record."""
        return json.dumps([self.mapping, self.idempotency_key, self.record], sort_keys=True)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeadLetter:
        """A letter from one parsed line.

        Raises:
            ValueError: the line is not a dead letter.
        """
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from None


def letters_from_failures(
    config: SyncConfig,
    rule: MappingConfig,
    failures: Iterable[DeliveryFailure],
    *,
    target: str | None = None,
    now: datetime | None = None,
) -> list[DeadLetter]:
    """Dead letters for the failures of one chunk's delivery to ``target`` (the endpoint the
    requests went to: the mapping's, or its ``update`` or ``delete`` endpoint)."""
    at = (now or datetime.now(UTC)).isoformat()
    return [
        DeadLetter(
            sync=config.name,
            mapping=f"{rule.source}->{rule.target}",
            target=target or rule.target,
            stage="load",
            record=f.record,
            idempotency_key=f.idempotency_key,
            status=f.status,
            reason=f.reason,
            failed_at=at,
        )
        for f in failures
    ]


class DeadLetterQueue:
    """The dead-letter file of one sync.

    Args:
        path: the JSONL file (created 0600 on the first append).
        filter_fields: field names whose values are sealed in the file, on top of
            :data:`apilink.redaction.SECRET_KEY_WORDS` (see :mod:`apilink.storage.sealing`); letters
            read back hold them in clear, ready to replay.
    """

    def __init__(self, path: str | os.PathLike[str], filter_fields: Iterable[str] = ()) -> None:
        self.path = Path(path)
        self._lock = PrivateLock(str(self.path) + ".lock")
        self._sealer = FieldSealer(self.path.with_name(self.path.name + ".key"), filter_fields)

    def __repr__(self) -> str:
        return f"DeadLetterQueue({str(self.path)!r})"

    @classmethod
    def for_sync(
        cls, config: SyncConfig, environ: Mapping[str, str] | None = None
    ) -> DeadLetterQueue:
        """The queue of ``config``'s sync, in its state folder."""
        folder = default_state_dir(config.state_dir, environ)
        path = folder / f"{state_slug(config.name)}.dead-letter.jsonl"
        return cls(path, config.logging.filter_fields)

    def append(self, letters: Iterable[DeadLetter]) -> int:
        """Add ``letters`` durably; returns how many."""
        lines = [self._line(letter) for letter in letters]
        if not lines:
            return 0
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = ("\n".join(lines) + "\n").encode()
        with self._lock:
            fd = open_private_fd(self.path, "a")
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        return len(lines)

    def read(self) -> list[DeadLetter]:
        """Every letter, oldest first, sealed values opened (for a replay).

        Raises:
            StateError: a line that is not a dead letter (its number is named).
        """
        return self._read(self._unseal)

    def read_masked(self) -> list[DeadLetter]:
        """Every letter, oldest first, each sealed value shown as the mask: what may be shown
        to anyone allowed to see results. The key file is not read.

        Raises:
            StateError: a line that is not a dead letter (its number is named).
        """
        return self._read(lambda data: _masked(data.get("record")))

    def _read(self, opened: Callable[[dict[str, Any]], Any]) -> list[DeadLetter]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        letters = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("not an object")
                letters.append(DeadLetter.from_json(data | {"record": opened(data)}))
            except ValueError:
                raise StateError(f"{self.path}: line {number} is not a dead letter") from None
        return letters

    def settle(self, delivered: Iterable[DeadLetter], failed: Iterable[DeadLetter]) -> None:
        """Remove ``delivered`` letters and replace ``failed`` ones by their updated copies.

        Letters appended meanwhile (a sync running at the same time) are kept.
        """
        gone = _counts(delivered)
        updated: dict[str, list[DeadLetter]] = {}
        for letter in failed:
            updated.setdefault(letter.identity(), []).append(letter)
        with self._lock:
            kept: list[DeadLetter] = []
            for letter in self.read():
                ident = letter.identity()
                if gone.get(ident, 0) > 0:
                    gone[ident] -= 1
                elif updated.get(ident):
                    kept.append(updated[ident].pop(0))
                else:
                    kept.append(letter)
            lines = "".join(self._line(letter) + "\n" for letter in kept)
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_atomically(self.path, lines.encode())

    def _line(self, letter: DeadLetter) -> str:
        data = asdict(letter)
        data["record"] = self._sealer.seal(letter.record)
        return json.dumps(data, sort_keys=True, default=str)

    def _unseal(self, data: dict[str, Any]) -> Any:
        return self._sealer.unseal(data.get("record"))


def _masked(value: Any) -> Any:
    """``value`` with every sealed field replaced by the mask."""
    if isinstance(value, dict):
        if set(value) == {SEALED}:
            return MASK
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _counts(letters: Iterable[DeadLetter]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for letter in letters:
        counts[letter.identity()] = counts.get(letter.identity(), 0) + 1
    return counts


@dataclass
class ReplayResult:
    """What a replay did."""

    delivered: list[DeadLetter] = field(default_factory=list)
    failed: list[DeadLetter] = field(default_factory=list)


Prepare = Callable[[DeadLetter], Awaitable[dict[str, Any]]]
"""Turns a ``process`` letter's source record into a mapped record (raises ValueError if not)."""


async def replay(
    letters: list[DeadLetter],
    loaders: Mapping[str, Loader],
    *,
    prepare: Prepare | None = None,
    now: datetime | None = None,
) -> ReplayResult:
    """Send ``letters`` again; each letter ends up in ``delivered`` or (updated) in ``failed``.

    Letters that shared a request (a batch) are sent together again, with their original key.

    Args:
        letters: what to replay (usually ``queue.read()``).
        loaders: a loader per target endpoint name.
        prepare: maps ``process`` letters; without it they stay failed.
        now: the time stamped on letters that failed again.
    """
    at = (now or datetime.now(UTC)).isoformat()
    result = ReplayResult()
    groups: dict[tuple[str, str | None, int], list[DeadLetter]] = {}
    for position, letter in enumerate(letters):
        # letters without a key were never sent: each goes alone
        slot = 0 if letter.idempotency_key is not None and letter.stage == "load" else position
        groups.setdefault((letter.mapping, letter.idempotency_key, slot), []).append(letter)
    for (_, key, _), group in groups.items():
        loader = loaders.get(group[0].target)
        if loader is None:
            reason = f"no target endpoint `{group[0].target}` in the config"
            result.failed += [_again(g, None, reason, at) for g in group]
            continue
        records, send_key = [g.record for g in group], key
        if group[0].stage == "process":
            try:
                if prepare is None:
                    raise ValueError("a source record needs the mapping to be replayed")
                records = [await prepare(g) for g in group]
            except ValueError as exc:
                result.failed += [_again(g, None, str(exc), at) for g in group]
                continue
            send_key = None
        loaded, failures = await loader.send(records, send_key)
        if loaded:
            result.delivered += group
        else:
            failure = failures[0] if failures else None
            status = failure.status if failure else None
            reason = failure.reason if failure else "not delivered"
            result.failed += [_again(g, status, reason, at) for g in group]
    return result


def _again(letter: DeadLetter, status: int | None, reason: str, at: str) -> DeadLetter:
    return replace(letter, status=status, reason=reason, failed_at=at, attempts=letter.attempts + 1)


def letters_for_records(
    config: SyncConfig,
    rule: MappingConfig,
    records: list[dict[str, Any]],
    reason: str,
    *,
    stage: Stage,
    loader: Loader | None = None,
    now: datetime | None = None,
) -> list[DeadLetter]:
    """Dead letters for records whose chunk failed as a whole (a task that raised).

    For stage ``load`` the records are mapped and ``loader`` gives each the key of the request
    it was (or would have been) sent in, so a replay is harmless if it did arrive.
    """
    keys: list[str | None] = [None] * len(records)
    if stage == "load" and loader is not None:
        keys = []
        for group in loader.groups(records):
            key = loader.request_key(group)
            keys += [key] * len(group)
    at = (now or datetime.now(UTC)).isoformat()
    return [
        DeadLetter(
            sync=config.name,
            mapping=f"{rule.source}->{rule.target}",
            target=loader.name if loader is not None else rule.target,
            stage=stage,
            record=record,
            idempotency_key=key,
            status=None,
            reason=reason[:200],
            failed_at=at,
        )
        for record, key in zip(records, keys, strict=True)
    ]
