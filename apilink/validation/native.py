"""The ``python`` validation engine: each rule made once into a check of one value.

Every check means what the Great Expectations expectation of the rule means on the cell
:func:`apilink.validation.columns.encode_cell` makes of the value:

- a null cell (an absent or null value, or a NaN) passes every rule but the presence checks, as
  GX skips nulls in column map expectations;
- a cell the rule refuses (an object where a string belongs) fails;
- ``email`` and ``regex`` search the text as pandas' ``str.contains`` does (``re.search``);
- ``in_set`` is membership, ``range`` is inclusive bounds, ``type`` the JSON type name;
- ``unique`` is left to :class:`~apilink.validation.validator.Validator`, which also remembers
  the values of earlier chunks.

``tests/apilink/validation`` runs both engines on the same chunks and expects the same outcome.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from apilink.mapping.paths import MISSING, path_getter
from apilink.validation.columns import (
    REFUSED,
    encode_cell,
    encode_set,
    is_null_cell,
    json_type_name,
)
from apilink.validation.rules import Rule

__all__ = ["PythonEngine", "value_check"]

Check = Callable[[Any], bool]
"""True when a value (``MISSING`` when absent) fails the rule."""


def value_check(rule: Rule) -> Check:
    """The check of one value for ``rule`` (any kind but ``unique``, which needs the chunk)."""
    kind = rule.kind
    if kind == "required":
        return lambda value: value is MISSING or value is None
    if kind == "not_null":
        return lambda value: value is None
    if kind in ("email", "regex"):
        return _text_check(re.compile(rule.param("regex")).search)
    if kind == "in_set":
        return _member_check(frozenset(encode_set(rule.param("values"))), rule)
    if kind == "range":
        return _range_check(rule)
    if kind == "type":
        wanted = rule.param("type")
        names = frozenset({"integer", "number"} if wanted == "number" else {wanted})
        return lambda value: (
            value is not MISSING and value is not None and json_type_name(value) not in names
        )
    raise ValueError(f"no check for rule kind {kind!r}")


def _text_check(search: Callable[[str], Any]) -> Check:
    def fails(value: Any) -> bool:
        if value is MISSING or value is None:
            return False
        if isinstance(value, str):
            return search(value) is None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return search(str(value)) is None
        return True

    return fails


def _member_check(allowed: frozenset[Any], rule: Rule) -> Check:
    def fails(value: Any) -> bool:
        cell = encode_cell(rule, value)
        if cell is REFUSED:
            return True
        return not is_null_cell(cell) and cell not in allowed

    return fails


def _range_check(rule: Rule) -> Check:
    low, high = rule.param("min"), rule.param("max")

    def fails(value: Any) -> bool:
        if value is MISSING or value is None:
            return False
        cell = encode_cell(rule, value)
        if cell is REFUSED:
            return True
        return (low is not None and cell < low) or (high is not None and cell > high)

    return fails


class PythonEngine:
    """Runs the rules as plain Python checks, one pass over the chunk per rule."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._readers = [path_getter(rule.field) for rule in rules]
        self._checks = [None if rule.kind == "unique" else value_check(rule) for rule in rules]

    def failing_rows(self, records: list[dict[str, Any]]) -> list[set[int]]:
        """For each rule, the indexes of the records that fail it (none for ``unique``)."""
        return [
            set()
            if check is None
            else {i for i, record in enumerate(records) if check(read(record))}
            for read, check in zip(self._readers, self._checks, strict=True)
        ]
