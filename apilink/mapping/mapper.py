"""Reshape source records into target records by a mapping's ``fields``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from apilink.mapping.paths import MISSING, get_path, parse_path, set_path
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


class MappingFailure(ValueError):
    """A transformer refused a value; the record is set aside with this reason."""


class RecordMapper:
    """Applies a list of field mappings to records; paths and transformers are resolved once.

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
            if spec.source is None:
                value = spec.value if spec.value is not None else spec.default
            else:
                value = get_path(record, spec.source)
                if value is MISSING or value is None:
                    if spec.default is None and value is MISSING and not spec.transforms:
                        continue
                    value = spec.default if spec.default is not None else None
            for name, transform in spec.transforms:
                try:
                    value = transform(value)
                except (TypeError, ValueError, OverflowError) as exc:
                    raise MappingFailure(
                        f"transformer `{name}` failed on field `{spec.target_name}` "
                        f"({type(exc).__name__})"
                    ) from None
            set_path(out, spec.target, value)
        return out
