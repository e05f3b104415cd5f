"""The ``fields`` of a mapping: one target field each (see :mod:`apilink.mapping.mapper`).

It imports no config model, so :mod:`apilink.config.models` can compose it without a cycle.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from apilink.mapping.conditions import FieldCondition
from apilink.mapping.paths import parse_path
from apilink.mapping.templates import Template
from apilink.mapping.transformers import resolve_transformer

__all__ = ["FieldMapping"]


class FieldMapping(BaseModel):
    """One target field: from a source path, a constant ``value``, a ``template`` over source
    paths, or a ``default``; mapped only when its ``condition`` (if any) holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | None = None
    target: str
    transform: list[str] = Field(default_factory=list)
    default: Any = None
    value: Any = None
    template: str | None = Field(None, description='"{profile.first} {profile.last}"')
    condition: FieldCondition | None = None

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            Template(value)
        return value

    @field_validator("transform", mode="before")
    @classmethod
    def _transform_list(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        return value

    @field_validator("transform")
    @classmethod
    def _known_transformers(cls, names: list[str]) -> list[str]:
        for name in names:
            resolve_transformer(name)
        return names

    @field_validator("source", "target")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None:
            parse_path(value)
        return value

    @model_validator(mode="after")
    def _has_origin(self) -> FieldMapping:
        origins = [
            name for name in ("source", "value", "template") if getattr(self, name) is not None
        ]
        if len(origins) > 1:
            raise ValueError(f"a field takes one of `source`, `value`, `template`; got {origins}")
        if not origins and self.default is None:
            raise ValueError("a field needs `source`, `value`, `template` or `default`")
        return self
