"""``max_invalid_ratio``: fail the run when too many records are quarantined.

The flow adds each chunk's counts and asks after each chunk and at the end::

    guard = InvalidRatioGuard(rule.validation.max_invalid_ratio, scope=rule.source)
    for chunk in chunks:
        outcome = validator.validate(chunk)
        guard.add(len(chunk), len(outcome.quarantined))
        guard.enforce()             # early: only once min_records have been checked
    guard.enforce(final=True)       # always, on whatever was checked
"""

from __future__ import annotations

from dataclasses import dataclass

from apilink.errors import ValidationFailed

__all__ = ["InvalidRatioGuard", "enforce_invalid_ratio"]


def enforce_invalid_ratio(
    checked: int, invalid: int, max_ratio: float | None, *, scope: str = "records"
) -> None:
    """Raise when ``invalid / checked`` exceeds ``max_ratio`` (``None`` allows any ratio).

    Raises:
        ValidationFailed: naming the counts, the ratio allowed and ``scope``.
    """
    if max_ratio is None or checked <= 0:
        return
    ratio = invalid / checked
    if ratio > max_ratio:
        raise ValidationFailed(
            f"{invalid} of {checked} {scope} failed validation ({ratio:.1%}); "
            f"`max_invalid_ratio` allows {max_ratio:.1%}"
        )


@dataclass
class InvalidRatioGuard:
    """Running counts of one mapping's validation, checked against ``max_ratio``.

    Attributes:
        max_ratio: the ``max_invalid_ratio`` of the mapping (``None``: never fails).
        scope: how the records are named in the error (the source endpoint).
        min_records: before the end, no verdict on fewer records than this (a first chunk of
            ten with two bad rows says little about a million).
    """

    max_ratio: float | None
    scope: str = "records"
    min_records: int = 1000
    checked: int = 0
    invalid: int = 0

    def add(self, checked: int, invalid: int) -> None:
        """Count one chunk."""
        self.checked += checked
        self.invalid += invalid

    def enforce(self, *, final: bool = False) -> None:
        """Raise :class:`~apilink.errors.ValidationFailed` if the ratio so far is exceeded."""
        if not final and self.checked < self.min_records:
            return
        enforce_invalid_ratio(self.checked, self.invalid, self.max_ratio, scope=self.scope)
