"""Reshape source records into target records by a mapping's ``fields``.

Each field's value comes from one origin, then runs through its transformers:

- ``value``: a constant;
- ``template``: text over source paths (``"{profile.first_name} {profile.last_name}"``);
- ``source``: a source path; an absent or null value takes ``default`` when one is given,
  and an absent value with neither default nor transformer leaves the target field out;
- only ``default``: the default.

A field whose ``condition`` does not hold is left out of the target record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from apilink.mapping.conditions import FieldCondition
from apilink.mapping.paths import MISSING, get_path, parse_path, set_path
from apilink.mapping.templates import Template
from apilink.mapping.transformers import Transformer, resolve_transformer

if TYPE_CHECKING:
    from apilink.config.models import FieldMapping

__all__ = ["MappingFailure", "RecordMapper"]


@dataclass(frozen=True)
class _CompiledField:
    source: tuple[str | int, ...] | None
    target: tuple[str | int, ...]
    target_name: str
    transforms: tuple[tuple[str, Transformer], ...]
    default: Any
    value: Any
    template: Template | None
    condition: FieldCondition | None


class MappingFailure(ValueError):
    """A transformer refused a value; the record is set aside with this reason."""


class RecordMapper:
    """Applies a list of field mappings to records; paths, templates and transformers are
    resolved once.

    With no fields, records pass through unchanged (a copy).
    """

    def __init__(self, fields: list[FieldMapping]) -> None:
        self._fields = [
            _CompiledField(
                source=parse_path(f.source) if f.source is not None else None,
                target=parse_path(f.target),
                target_name=f.target,
                transforms=tuple((name, resolve_transformer(name)) for name in f.transform),
                default=f.default,
                value=f.value,
                template=Template(f.template) if f.template is not None else None,
                condition=f.condition,
            )
            for f in fields
        ]

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        """The target record for ``record``.

        Raises:
            MappingFailure: naming the field and transformer (never the value).
        """
        if not self._fields:
            return dict(record)
        out: dict[str, Any] = {}
        for spec in self._fields:
            if spec.condition is not None and not spec.condition.holds(record):
                continue
            value = self._origin(spec, record)
            if value is MISSING:
                continue
            for name, transform in spec.transforms:
                try:
                    value = transform(value)
                except Exception as exc:
                    # A transformer from a plugin may raise anything; the record is set
                    # aside, the run goes on, and the message names no value.
                    raise MappingFailure(
                        f"transformer `{name}` failed on field `{spec.target_name}` "
                        f"({type(exc).__name__})"
                    ) from None
            set_path(out, spec.target, value)
        return out

    @staticmethod
    def _origin(spec: _CompiledField, record: dict[str, Any]) -> Any:
        if spec.value is not None:
            return spec.value
        if spec.template is not None:
            return spec.template.render(record)
        if spec.source is None:
            return spec.default
        value = get_path(record, spec.source)
        if value is MISSING or value is None:
            if spec.default is not None:
                return spec.default
            if value is MISSING and not spec.transforms:
                return MISSING
            return None
        return value
