"""What one sync run did, in numbers that always add up."""

from __future__ import annotations

from collections.abc import Iterable, Sized
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["COUNTS", "PLAN_COUNTS", "SyncSummary"]

COUNTS: tuple[str, ...] = ("extracted", "skipped", "valid", "quarantined", "loaded", "failed")
"""The six counts of a run, in the order every summary shows them (the CLI, the Prefect
artifacts, the partitioned flow's table and totals, ``apilink sync --json``)."""

PLAN_COUNTS: tuple[str, ...] = ("created", "updated", "unchanged", "deleted")
"""What a run of a ``mode: upsert`` or ``mirror`` mapping adds (:mod:`apilink.run.plan`):
``loaded`` is then ``created + updated``; deletes are counted apart (they are not source
records)."""


@dataclass
class SyncSummary:
    """Counts of one run.

    Invariant: ``extracted == loaded + quarantined + failed + skipped`` once the run has ended,
    whatever failed; ``failed`` counts the records written to the dead-letter queue,
    ``skipped`` the records the incremental filter dropped because an earlier run delivered
    them (:class:`~apilink.storage.state.cursor.CursorFilter`). ``valid`` is what passed
    validation and mapping (``extracted - skipped - quarantined``).

    Attributes:
        resumed_chunks: chunks an earlier, unfinished run had already delivered.
        dead_letter_file: where this run's failed records went (when any did).
        quarantine_file: where this run's quarantined records went (when any were).
        errors: one line per chunk or mapping that stopped early, secrets masked.
        dry_run: a dry run: nothing was sent, and the ``valid`` records are the ones that
            would have been (``would_send``); the invariant reads ``would_send`` for
            ``loaded``.
        preview: in a dry run, the first mapped records each target endpoint would have
            been sent, masked as the quarantine masks them (``endpoint`` plus the record's
            fields).
        planned: a mapping ran in ``mode: upsert`` or ``mirror``: the :data:`PLAN_COUNTS`
            are part of the counts, and ``unchanged`` records balance like loaded ones.
        plan: with ``--plan``, example keys per action (``create``, ``update``, ``delete``)
            and the deletes ``max_delete_ratio`` would refuse (``delete_refused``).
    """

    extracted: int = 0
    skipped: int = 0
    valid: int = 0
    quarantined: int = 0
    loaded: int = 0
    failed: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    resumed_chunks: int = 0
    dead_letter_file: str | None = None
    quarantine_file: str | None = None
    errors: list[str] = field(default_factory=list)
    dry_run: bool = False
    preview: list[dict[str, Any]] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    planned: bool = False
    plan: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_chunk(cls, records: Sized) -> SyncSummary:
        """The counts a chunk starts with: every record read for it is extracted, and those
        the reader skipped (a :class:`~apilink.run.reader.ReadChunk`'s ``skipped``) are
        accounted for already; ``records`` are the rest, to validate, map and load."""
        skipped = getattr(records, "skipped", 0)
        return cls(extracted=len(records) + skipped, skipped=skipped)

    @property
    def checked(self) -> int:
        """Records that went on to validation (``extracted - skipped``): what
        ``max_invalid_ratio`` is judged on."""
        return self.extracted - self.skipped

    @property
    def dead_lettered(self) -> int:
        """Records written to the dead-letter queue (the same number as ``failed``)."""
        return self.failed

    def add(self, other: SyncSummary) -> None:
        for name in (*COUNTS, *PLAN_COUNTS):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.planned = self.planned or other.planned
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
    def would_send(self) -> int:
        """In a dry run, the records that would have been sent (mapped, not set aside, and
        not unchanged at the target)."""
        return self.valid - self.unchanged if self.dry_run else 0

    @property
    def balanced(self) -> bool:
        """Whether every extracted record is accounted for."""
        delivered = self.would_send if self.dry_run else self.loaded
        return (
            self.extracted
            == delivered + self.unchanged + self.quarantined + self.failed + self.skipped
        )

    def balance(self) -> str:
        """The invariant in words, e.g. ``extracted 120 = loaded 100 + quarantined 8 +
        dead-lettered 12 + skipped 0`` (``would send`` in a dry run), with ``UNBALANCED`` when
        it does not hold."""
        delivered = f"would send {self.would_send}" if self.dry_run else f"loaded {self.loaded}"
        if self.planned:
            would = "would " if self.dry_run else ""
            delivered = (
                f"{would}create {self.created} + {would}update {self.updated} + "
                f"unchanged {self.unchanged}"
            )
        line = (
            f"extracted {self.extracted} = {delivered} + quarantined "
            f"{self.quarantined} + dead-lettered {self.failed} + skipped {self.skipped}"
        )
        if self.planned:
            line += f"; {'would delete' if self.dry_run else 'deleted'} {self.deleted}"
        return line if self.balanced else f"UNBALANCED: {line}"

    def counts(self) -> dict[str, int]:
        """The six counts (and the :data:`PLAN_COUNTS` of a planned run), as ``apilink sync
        --json`` prints them."""
        names = (*COUNTS, *PLAN_COUNTS) if self.planned else COUNTS
        return {name: getattr(self, name) for name in names}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["balanced"] = self.balanced
        if self.dry_run:
            data["would_send"] = self.would_send
        else:  # what a run that sent its records reports, unchanged
            del data["dry_run"], data["preview"]
        if not self.planned:
            for name in (*PLAN_COUNTS, "planned", "plan"):
                del data[name]
        elif not self.dry_run:
            del data["plan"]
        return data
