"""Per-field conditions: map a field only when the source record says so.

::

    fields:
      - {source: vip_since, target: tier, value: gold, condition: {path: vip, eq: true}}
      - {source: email, target: contact, condition: {path: email, exists: true}}
      - {source: age, target: adult_age, condition: {path: age, gt: 17}}

A condition reads one source path and holds or not; it never raises. An absent value makes
``eq``, ``gt``, ``lt`` and ``in`` false and ``ne`` true; ``exists`` means present and not null,
``not_exists`` the opposite. ``gt``/``lt`` compare numbers with numbers and strings with
strings; anything else (a string against a number, a boolean) is simply false.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from apilink.mapping.paths import MISSING, get_path, parse_path

__all__ = ["OPERATORS", "FieldCondition"]

OPERATORS = ("eq", "ne", "gt", "lt", "in", "exists", "not_exists")


class FieldCondition(BaseModel):
    """``{path: <source path>, <operator>: <operand>}`` with exactly one operator."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    path: str
    eq: Any = None
    ne: Any = None
    gt: float | str | None = None
    lt: float | str | None = None
    in_: list[Any] | None = Field(None, alias="in")
    exists: bool | None = None
    not_exists: bool | None = None
    _operator: str = PrivateAttr("")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        parse_path(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _one_operator(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = [op for op in OPERATORS if op in data or (op == "in" and "in_" in data)]
            if len(given) != 1:
                raise ValueError(
                    f"a condition takes exactly one of {', '.join(OPERATORS)}; "
                    f"got {', '.join(given) or 'none'}"
                )
        return data

    @model_validator(mode="after")
    def _remember_operator(self) -> FieldCondition:
        for op in OPERATORS:
            if op == "in" and self.in_ is not None:
                self._operator = "in"
            elif op in self.model_fields_set:
                self._operator = op
        if self._operator in ("exists", "not_exists") and getattr(self, self._operator) is False:
            raise ValueError(f"`{self._operator}: false` is unclear; use the other operator")
        return self

    @property
    def operator(self) -> str:
        """The operator given (``eq``, ``in``, ``exists``...)."""
        return self._operator

    def holds(self, record: dict[str, Any]) -> bool:
        """Whether ``record`` meets the condition; never raises."""
        value = get_path(record, self.path)
        op = self._operator
        if op == "exists":
            return value is not MISSING and value is not None
        if op == "not_exists":
            return value is MISSING or value is None
        if value is MISSING:
            return op == "ne"
        if op == "eq":
            return _same(value, self.eq)
        if op == "ne":
            return not _same(value, self.ne)
        if op == "in":
            return any(_same(value, option) for option in self.in_ or [])
        bound = self.gt if op == "gt" else self.lt
        if not _comparable(value, bound):
            return False
        return bool(value > bound) if op == "gt" else bool(value < bound)


def _same(value: Any, operand: Any) -> bool:
    # True == 1 in Python; in a record they are different things.
    if isinstance(value, bool) != isinstance(operand, bool):
        return False
    try:
        return bool(value == operand)
    except Exception:  # a value whose __eq__ raises is simply not equal
        return False


def _comparable(value: Any, bound: Any) -> bool:
    if isinstance(value, bool) or bound is None:
        return False
    numbers = (int, float)
    return (isinstance(value, numbers) and isinstance(bound, numbers)) or (
        isinstance(value, str) and isinstance(bound, str)
    )
