"""max_invalid_ratio."""

from __future__ import annotations

import pytest

from apilink.errors import ValidationFailed
from apilink.validation import InvalidRatioGuard, enforce_invalid_ratio


def test_at_the_limit_passes_and_above_fails() -> None:
    enforce_invalid_ratio(100, 10, 0.1)
    with pytest.raises(ValidationFailed, match=r"11 of 100 users failed validation \(11.0%\)"):
        enforce_invalid_ratio(100, 11, 0.1, scope="users")


def test_no_limit_and_nothing_checked_never_fail() -> None:
    enforce_invalid_ratio(10, 10, None)
    enforce_invalid_ratio(0, 0, 0.0)


def test_the_guard_waits_for_enough_records_before_the_end() -> None:
    guard = InvalidRatioGuard(0.1, scope="users", min_records=1000)
    guard.add(10, 5)
    guard.enforce()  # 50 % of ten records: no verdict yet
    with pytest.raises(ValidationFailed):
        guard.enforce(final=True)


def test_the_guard_fails_early_once_it_has_seen_enough() -> None:
    guard = InvalidRatioGuard(0.1, min_records=1000)
    guard.add(600, 10)
    guard.add(600, 200)
    with pytest.raises(ValidationFailed, match="210 of 1200"):
        guard.enforce()
