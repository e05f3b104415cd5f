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

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from apilink.mapping.conditions import FieldCondition
from apilink.mapping.paths import MISSING, Setter, path_getter, path_setter
from apilink.mapping.templates import Template
from apilink.mapping.transformers import Transformer, resolve_transformer

if TYPE_CHECKING:
    from apilink.config.models import FieldMapping

__all__ = ["MappingFailure", "RecordMapper"]


class MappingFailure(ValueError):
    """A transformer refused a value; the record is set aside with this reason."""


Origin = Callable[[dict[str, Any]], Any]
"""Where one target field's value comes from, read off a source record."""


@dataclass(frozen=True)
class _CompiledField:
    """One target field, made ready once for every record of a run."""

    origin: Origin
    write: Setter
    target_name: str
    transforms: tuple[tuple[str, Transformer], ...]
    condition: FieldCondition | None


class RecordMapper:
    """Applies a list of field mappings to records; paths, templates and transformers are
    resolved once, and each field's origin is made into one function, so mapping a record is
    a few dict lookups and the transformers' own work.

    With no fields, records pass through unchanged (a copy).
    """

    def __init__(self, fields: list[FieldMapping]) -> None:
        self._fields = [
            _CompiledField(
                origin=_origin(f),
                write=path_setter(f.target),
                target_name=f.target,
                transforms=tuple((name, resolve_transformer(name)) for name in f.transform),
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
            value = spec.origin(record)
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
            spec.write(out, value)
        return out


def _origin(field: FieldMapping) -> Origin:
    """The function giving ``field``'s value for a record (``MISSING``: leave the field out)."""
    if field.value is not None:
        constant = field.value
        return lambda record: constant
    if field.template is not None:
        return Template(field.template).render
    if field.source is None:
        default = field.default
        return lambda record: default
    read = path_getter(field.source)
    default, keep_absent = field.default, bool(field.transform)

    def from_source(record: dict[str, Any]) -> Any:
        value = read(record)
        if value is MISSING or value is None:
            if default is not None:
                return default
            if value is MISSING and not keep_absent:
                return MISSING
            return None
        return value

    return from_source
