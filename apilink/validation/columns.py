"""Turn record values into the cells Great Expectations checks, one column per rule.

JSON records hold anything anywhere: a string where a number belongs, an object where a string
belongs. GX expectations want a column of one kind, so each rule encodes the value it reads:

- a cell the expectation can judge (a string for a regex, a float for a range, a type name for a
  type check), or ``None`` when the value is absent or null (GX skips nulls, as the rules do);
- or a *refusal*: the value cannot even be judged (an object for a regex, a string for a range),
  which fails the rule without asking GX.

Encoding never looks at more than the one value and never raises.
"""

from __future__ import annotations

import json
import math
from typing import Any

from apilink.mapping.paths import MISSING
from apilink.validation.rules import Rule

__all__ = ["REFUSED", "encode_cell", "encode_set", "is_null_cell", "json_type_name"]


class _Refused:
    def __repr__(self) -> str:
        return "REFUSED"


REFUSED: Any = _Refused()
"""Returned by :func:`encode_cell` for a value that fails its rule before GX is asked."""

_PRESENT = True  # the cell of a presence check: any non-null marker will do


def json_type_name(value: Any) -> str:
    """The JSON type of a decoded value: string, integer, number, boolean, object, array, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def encode_cell(rule: Rule, value: Any) -> Any:
    """The cell for ``value`` (``MISSING`` when absent) under ``rule``, or :data:`REFUSED`."""
    kind = rule.kind
    if kind == "required":
        return None if value is MISSING or value is None else _PRESENT
    if kind == "not_null":
        return _PRESENT if value is MISSING or value is not None else None
    if value is MISSING or value is None:
        return None
    if kind in ("email", "regex"):
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return REFUSED
    if kind == "range":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return REFUSED
        try:
            number = float(value)
        except OverflowError:  # an integer beyond a float's range: out of any range given
            return REFUSED
        return REFUSED if math.isnan(number) else number
    if kind == "in_set":
        if isinstance(value, bool):
            # pandas would find True in {1}: keep booleans apart from numbers.
            return f"bool:{value}"
        return value if isinstance(value, str | int | float) else REFUSED
    if kind == "type":
        return json_type_name(value)
    if kind == "unique":
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return value
        return "json:" + json.dumps(value, sort_keys=True, default=str)
    raise ValueError(f"no encoding for rule kind {kind!r}")


def is_null_cell(cell: Any) -> bool:
    """Whether GX skips ``cell`` as null: ``None``, or a float NaN (pandas' own null)."""
    return cell is None or (isinstance(cell, float) and math.isnan(cell))


def encode_set(values: tuple[Any, ...]) -> list[Any]:
    """An ``in_set`` rule's allowed values, encoded as :func:`encode_cell` encodes cells."""
    return [f"bool:{v}" if isinstance(v, bool) else v for v in values if v is not None]
