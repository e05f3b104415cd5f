"""The ``validation`` section of a mapping (see :mod:`apilink.validation` for who checks it).

It imports no config model, so :mod:`apilink.config.models` can compose it without a cycle.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from apilink.validation.spec import FieldRule

__all__ = ["ValidationRules"]


class ValidationRules(BaseModel):
    """Rules every record must meet before it is mapped; failing rows are quarantined."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    required_fields: list[str] = Field(default_factory=list)
    email_fields: list[str] = Field(default_factory=list)
    max_invalid_ratio: float | None = Field(None, ge=0, le=1)
    rules: list[FieldRule] = Field(
        default_factory=list, description="Per-field checks: regex, in_set, range, unique..."
    )
    engine: Literal["python", "great_expectations"] = Field(
        "python",
        description=(
            "Who evaluates the rules: `python` (default; each rule checked as its Great "
            "Expectations expectation defines it) or `great_expectations` (GX runs the suite "
            "on a pandas frame of each chunk). Same records quarantined, same reasons; GX adds "
            "seconds of start-up, ~180 MB and ~40 ms per chunk."
        ),
    )

    @property
    def is_empty(self) -> bool:
        return not (self.required_fields or self.email_fields or self.rules)
