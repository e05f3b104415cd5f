"""Incremental cursors: how two values order, which is later, a cursor moved back by ``lag``,
and the client-side filter that skips what an earlier run already delivered.

How cursor values order (:func:`compare`):

- numbers as numbers; a string of decimal digits (``"300"``, ``"-1.5"``) counts as a number,
  so ``"9" < "10"`` and a YAML ``initial_value: "300"`` meets records whose ``seq`` is ``300``;
- ISO-8601 timestamps (``2024-05-01T10:00:00Z``, ``...+02:00``, ``2024-05-01``) as instants,
  whatever their offsets; one without an offset is read as UTC;
- other strings as text (ULIDs, zero-padded ids);
- values of different kinds (a number and a timestamp, a boolean, an object) do not order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from apilink.config.models import IncrementalConfig
from apilink.mapping.paths import MISSING, get_path

__all__ = ["CursorFilter", "compare", "later", "with_lag"]

_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")


def _as_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ordinal(value: Any) -> tuple[str, Any] | None:
    """The kind of a cursor value and what it compares as, or ``None``: it does not order."""
    if _number(value):
        return None if isinstance(value, float) and math.isnan(value) else ("number", value)
    if not isinstance(value, str):
        return None
    if _DECIMAL.fullmatch(value):
        return "number", Decimal(value)
    moment = _as_datetime(value)
    if moment is not None:
        return "instant", moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return "text", value


def compare(a: Any, b: Any) -> int | None:
    """``-1``, ``0`` or ``1`` as cursor value ``a`` is before, at or after ``b``; ``None`` when
    they do not order (see the module's rules)."""
    first, second = _ordinal(a), _ordinal(b)
    if first is None or second is None or first[0] != second[0]:
        return None
    x, y = first[1], second[1]
    return -1 if x < y else int(x > y)


def later(a: Any, b: Any) -> Any:
    """The later of two cursor values (``None`` is earliest).

    Values that order (:func:`compare`) are compared so; others as text, so that one wins.
    """
    if a is None:
        return b
    if b is None:
        return a
    order = compare(a, b)
    if order is None:
        return a if str(a) >= str(b) else b
    return a if order >= 0 else b


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


@dataclass(frozen=True)
class CursorFilter:
    """Skips the records an earlier run already delivered, for sources that ignore the cursor
    parameter (and answers a source sent that are older than asked for).

    The rule: a record is skipped when its ``cursor_field`` is at or below ``since``, the value
    the run sends in ``incremental.param`` (the saved cursor, or ``initial_value``, moved back
    by ``lag``). What the source is asked for and what is kept are the same set: with a lag,
    records within it are read and delivered again (their idempotency keys make that
    harmless), so a record written late with an older cursor is not lost. A record without the
    field (or with ``null``), or whose value does not order against ``since`` (a number
    against a timestamp), is kept.

    Attributes:
        cursor_field: the record path of the cursor (``updated_at``, ``meta.seq``).
        since: the value sent in the cursor parameter.
    """

    cursor_field: str
    since: Any

    @classmethod
    def for_params(
        cls, incremental: IncrementalConfig | None, params: Mapping[str, Any] | None
    ) -> CursorFilter | None:
        """The filter that matches a reader's query parameters: none when no cursor is sent
        (no ``incremental:`` section, a first run without ``initial_value``, a dry run)."""
        if incremental is None or not params or params.get(incremental.param) is None:
            return None
        return cls(incremental.cursor_field, params[incremental.param])

    def delivered_before(self, record: dict[str, Any]) -> bool:
        """Whether ``record`` is at or below ``since`` (so an earlier run delivered it)."""
        value = get_path(record, self.cursor_field)
        if value is MISSING or value is None:
            return False
        order = compare(value, self.since)
        return order is not None and order <= 0

    def split(self, records: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
        """The records to keep, in their order, and how many were skipped."""
        kept: list[dict[str, Any]] = []
        skipped = 0
        for record in records:
            if self.delivered_before(record):
                skipped += 1
            else:
                kept.append(record)
        return kept, skipped
