"""The key -> digest store of plan and apply (:mod:`apilink.run.plan`).

One row per record a mapping delivered: its key (the canonical JSON of the mapped ``key``
field's value), the digest of its mapped form as the target acknowledged it, and whether a
delivery of it is *in doubt* (sent, or about to be, and not yet acknowledged: a crash there
leaves the target holding the record or not). Rows belong to a *scope* (the sync, its
partition and the mapping), so syncs and partitions never see each other's keys.

A run also marks the keys it *saw* in the source (:meth:`DeliveredStore.see`), under a run
token: that is how duplicate keys across chunks are found and what a mirror deletes is
computed (the held keys a complete read did not see), without any whole-run set in memory.

Who is trusted: the worker's operator chooses the store (a file under the state directory, or
the database named by the worker's environment); config authors and run callers only name
the mapping whose scope is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["DeliveredStore", "Held"]


@dataclass(frozen=True)
class Held:
    """What the store says of one key.

    Attributes:
        digest: the digest the target last acknowledged, ``None`` if it never acknowledged one.
        in_doubt: a delivery was started and not acknowledged (a crash, or a run that stopped).
    """

    digest: bytes | None
    in_doubt: bool = False


class DeliveredStore(Protocol):
    """Keys and digests per scope, plus the keys each run saw. Every method is one transaction.

    ``keys`` are at most a chunk's worth at a time: implementations may hold them in memory,
    never a whole scope.
    """

    async def held(self, scope: str) -> int:
        """How many keys the target holds (acknowledged or in doubt) in ``scope``."""
        ...

    async def lookup(self, scope: str, keys: Sequence[str]) -> dict[str, Held]:
        """What is known of each of ``keys`` (absent keys are not in the result)."""
        ...

    async def intend(self, scope: str, keys: Sequence[str]) -> None:
        """Mark ``keys`` in doubt: they are about to be sent (created, updated or deleted)."""
        ...

    async def record(
        self, scope: str, delivered: Sequence[tuple[str, bytes]], settled: Sequence[str] = ()
    ) -> None:
        """The target acknowledged ``delivered`` (key, digest); ``settled`` keys were answered
        with a refusal, so they are no longer in doubt (their digest stays as it was)."""
        ...

    async def forget(self, scope: str, keys: Sequence[str]) -> None:
        """The target acknowledged deleting ``keys``."""
        ...

    async def clear(self, scope: str) -> None:
        """Forget the whole scope (before a reconcile fills it with what the target holds)."""
        ...

    async def see(self, scope: str, run: str, keys: Sequence[str]) -> set[str]:
        """Mark ``keys`` seen by ``run``; the ones ``run`` had seen already (duplicates)."""
        ...

    async def unseen(self, scope: str, run: str, after: str | None, limit: int) -> list[str]:
        """Held keys ``run`` did not see, in key order, after ``after``, at most ``limit``."""
        ...

    async def end_run(self, scope: str, run: str) -> None:
        """Forget what ``run`` saw (when it ends, whatever happened)."""
        ...

    async def aclose(self) -> None:
        """Close the store's connections."""
        ...
