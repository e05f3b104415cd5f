"""What one sync run did, in numbers that always add up."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["COUNTS", "SyncSummary"]

COUNTS: tuple[str, ...] = ("extracted", "valid", "quarantined", "loaded", "failed")
"""The five counts of a run, in the order every summary shows them (the CLI, the partitioned
flow's table and totals, ``apilink sync --json``)."""


@dataclass
class SyncSummary:
    """Counts of one run.

    Invariant: ``extracted == loaded + quarantined + failed`` once the run has ended, whatever
    failed; ``failed`` counts the records written to the dead-letter queue. ``valid`` is what
    passed validation and mapping (``extracted - quarantined``).

    Attributes:
        resumed_chunks: chunks an earlier, unfinished run had already delivered.
        dead_letter_file: where this run's failed records went (when any did).
        quarantine_file: where this run's quarantined records went (when any were).
        errors: one line per chunk or mapping that stopped early, secrets masked.
    """

    extracted: int = 0
    valid: int = 0
    quarantined: int = 0
    loaded: int = 0
    failed: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    resumed_chunks: int = 0
    dead_letter_file: str | None = None
    quarantine_file: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def dead_lettered(self) -> int:
        """Records written to the dead-letter queue (the same number as ``failed``)."""
        return self.failed

    def add(self, other: SyncSummary) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, count in other.quarantine_reasons.items():
            self.quarantine_reasons[reason] = self.quarantine_reasons.get(reason, 0) + count
        self.resumed_chunks += other.resumed_chunks
        self.dead_letter_file = other.dead_letter_file or self.dead_letter_file
        self.errors.extend(other.errors)

    def set_aside(self, reasons: Iterable[str]) -> None:
        """Count the reasons records were quarantined for."""
        for reason in reasons:
            self.quarantine_reasons[reason] = self.quarantine_reasons.get(reason, 0) + 1

    @property
    def balanced(self) -> bool:
        """Whether every extracted record is accounted for."""
        return self.extracted == self.loaded + self.quarantined + self.failed

    def balance(self) -> str:
        """The invariant in words, e.g. ``extracted 120 = loaded 100 + quarantined 8 +
        dead-lettered 12``, with ``UNBALANCED`` when it does not hold."""
        line = (
            f"extracted {self.extracted} = loaded {self.loaded} + quarantined "
            f"{self.quarantined} + dead-lettered {self.failed}"
        )
        return line if self.balanced else f"UNBALANCED: {line}"

    def counts(self) -> dict[str, int]:
        """The five counts, as ``apilink sync --json`` prints them."""
        return {name: getattr(self, name) for name in COUNTS}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["balanced"] = self.balanced
        return data
