"""Named value transformers: the ones APILinker users have, plus any registered by name or entry
point (group ``apilink.transformers``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Any

__all__ = [
    "Transformer",
    "register_transformer",
    "resolve_transformer",
    "transformer_names",
]

Transformer = Callable[[Any], Any]

_REGISTRY: dict[str, Transformer] = {}
_entry_points_loaded = False


def register_transformer(name: str) -> Callable[[Transformer], Transformer]:
    """Decorator: make ``func`` usable as ``transform: name`` in a mapping."""

    def decorate(func: Transformer) -> Transformer:
        _REGISTRY[name] = func
        return func

    return decorate


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry in entry_points(group="apilink.transformers"):
        _REGISTRY.setdefault(entry.name, entry.load())


def transformer_names() -> list[str]:
    """Every usable transformer name, sorted."""
    _load_entry_points()
    return sorted(_REGISTRY)


def resolve_transformer(name: str) -> Transformer:
    """The transformer called ``name``; a ``ValueError`` lists the valid names."""
    _load_entry_points()
    try:
        return _REGISTRY[name]
    except KeyError:
        valid = ", ".join(transformer_names())
        raise ValueError(f"unknown transformer {name!r}; valid names are: {valid}") from None


@register_transformer("lowercase")
def lowercase(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


@register_transformer("uppercase")
def uppercase(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


@register_transformer("strip")
def strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


@register_transformer("to_string")
def to_string(value: Any) -> Any:
    return None if value is None else str(value)


@register_transformer("to_int")
def to_int(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return int(float(value)) if "." in value else int(value)
    return int(value)


@register_transformer("to_float")
def to_float(value: Any) -> Any:
    return None if value is None or value == "" else float(value)


_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off", ""}


@register_transformer("to_bool")
def to_bool(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"cannot read {value!r} as a boolean")
    return None if value is None else bool(value)


@register_transformer("default_empty_string")
def default_empty_string(value: Any) -> Any:
    return "" if value is None else value


@register_transformer("default_zero")
def default_zero(value: Any) -> Any:
    return 0 if value is None else value


@register_transformer("none_if_empty")
def none_if_empty(value: Any) -> Any:
    return None if value in ("", [], {}) else value


@register_transformer("iso_to_timestamp")
def iso_to_timestamp(value: Any) -> Any:
    """ISO 8601 to Unix seconds (an int); a naive time is taken as UTC."""
    if value is None or value == "":
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


@register_transformer("timestamp_to_iso")
def timestamp_to_iso(value: Any) -> Any:
    """Unix seconds to ISO 8601 in UTC (``2024-01-01T00:00:00+00:00``)."""
    if value is None or value == "":
        return None
    return datetime.fromtimestamp(float(value), tz=UTC).isoformat()
