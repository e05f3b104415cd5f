"""The config shape of per-field validation rules (``validation.rules``).

::

    validation:
      required_fields: [id, email]
      email_fields: [email]
      max_invalid_ratio: 0.05
      rules:
        - {field: age, type: integer, range: {min: 0, max: 150}}
        - {field: status, in_set: [active, disabled]}
        - {field: sku, regex: "^[A-Z]{3}-[0-9]+$", unique: true, not_null: true}

One entry may hold several checks of one field. Every check but ``not_null`` (and the
``required_fields``) lets an absent or null value pass: whether a value must be there is said
once, by ``required_fields`` (absent or null fails) or ``not_null`` (null fails, absent passes).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from apilink.mapping.paths import parse_path

__all__ = ["FieldRule", "RangeSpec", "ValueType"]

ValueType = Literal["string", "integer", "number", "boolean", "object", "array"]


class RangeSpec(BaseModel):
    """Inclusive bounds of a number; either may be left out, not both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> RangeSpec:
        if self.min is None and self.max is None:
            raise ValueError("give `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("`min` is greater than `max`")
        return self


class FieldRule(BaseModel):
    """The checks of one field (a record path such as ``user.age`` or ``tags[0]``).

    Attributes:
        field: the record path checked.
        regex: the value (a string, or a number as text) must match (``re.search``).
        in_set: the value must be one of these.
        range: the value must be a number within the bounds.
        unique: no two records of a run have the same value.
        not_null: a present value must not be null.
        type: the JSON type of the value (``number`` accepts integers; booleans are never
            numbers).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    regex: str | None = None
    in_set: list[Any] | None = Field(None, min_length=1)
    range: RangeSpec | None = None
    unique: bool = False
    not_null: bool = False
    type: ValueType | None = None

    @field_validator("field")
    @classmethod
    def _path(cls, value: str) -> str:
        parse_path(value)
        return value

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc.msg}") from None
        return value

    @field_validator("in_set")
    @classmethod
    def _scalars(cls, value: list[Any] | None) -> list[Any] | None:
        if value is not None and not all(_is_scalar(v) for v in value):
            raise ValueError("values must be strings, numbers, booleans or null")
        return value

    @model_validator(mode="after")
    def _checks_something(self) -> FieldRule:
        if not (
            self.regex is not None
            or self.in_set is not None
            or self.range is not None
            or self.unique
            or self.not_null
            or self.type is not None
        ):
            raise ValueError(
                f"rule for `{self.field}` checks nothing: give regex, in_set, range, unique, "
                "not_null or type"
            )
        return self


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
