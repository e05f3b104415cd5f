"""What one sync run did, in numbers that always add up."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["SyncSummary"]


@dataclass
class SyncSummary:
    """Counts of one run.

    Invariant: ``extracted == loaded + quarantined + failed`` once the run has ended, whatever
    failed; ``valid == extracted - quarantined``.
    """

    extracted: int = 0
    valid: int = 0
    quarantined: int = 0
    loaded: int = 0
    failed: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: SyncSummary) -> None:
        self.extracted += other.extracted
        self.valid += other.valid
        self.quarantined += other.quarantined
        self.loaded += other.loaded
        self.failed += other.failed
        for reason, count in other.quarantine_reasons.items():
            self.quarantine_reasons[reason] = self.quarantine_reasons.get(reason, 0) + count

    def set_aside(self, reasons: Iterable[str]) -> None:
        """Count the reasons records were quarantined for."""
        for reason in reasons:
            self.quarantine_reasons[reason] = self.quarantine_reasons.get(reason, 0) + 1

    @property
    def balanced(self) -> bool:
        """Whether every extracted record is accounted for."""
        return self.extracted == self.loaded + self.quarantined + self.failed

    def counts(self) -> dict[str, int]:
        """The five counts, as ``apilink sync --json`` prints them."""
        data = asdict(self)
        data.pop("quarantine_reasons")
        return data

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
