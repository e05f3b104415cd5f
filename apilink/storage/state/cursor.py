"""Incremental cursors: which of two values is later, and a cursor moved back by ``lag``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

__all__ = ["later", "with_lag"]


def _as_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def later(a: Any, b: Any) -> Any:
    """The later of two cursor values (``None`` is earliest).

    Numbers compare as numbers, ISO timestamps as instants, anything else as text.
    """
    if a is None:
        return b
    if b is None:
        return a
    if _number(a) and _number(b):
        return a if a >= b else b
    da, db = _as_datetime(a), _as_datetime(b)
    if da is not None and db is not None:
        try:
            return a if da >= db else b
        except TypeError:  # naive against aware: compare as text
            pass
    return a if str(a) >= str(b) else b


def with_lag(value: Any, lag: float) -> Any:
    """``value`` moved back by ``lag`` (seconds for timestamps, units for numbers).

    A lag re-reads records that were written late with an older cursor; their idempotency keys
    make the overlap harmless.
    """
    if not lag or value is None:
        return value
    if _number(value):
        return value - lag
    moment = _as_datetime(value)
    if moment is None:
        return value
    shifted = (moment - timedelta(seconds=lag)).isoformat()
    if isinstance(value, str) and value.endswith("Z") and shifted.endswith("+00:00"):
        shifted = shifted.removesuffix("+00:00") + "Z"
    return shifted
