"""Named value transformers: the ones APILinker users have, plus any registered by name or entry
point (group ``apilink.transformers``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Any

__all__ = [
    "ENTRY_POINT_GROUP",
    "Transformer",
    "load_entry_point_transformers",
    "register_transformer",
    "resolve_transformer",
    "transformer_names",
]

Transformer = Callable[[Any], Any]

_REGISTRY: dict[str, Transformer] = {}
_BROKEN: dict[str, str] = {}
_entry_points_loaded = False

ENTRY_POINT_GROUP = "apilink.transformers"


def register_transformer(name: str) -> Callable[[Transformer], Transformer]:
    """Decorator: make ``func`` usable as ``transform: name`` in a mapping.

    A transformer takes one value and returns the new one; it may raise to refuse a value (the
    record is then quarantined with the transformer's name, never the value)::

        @register_transformer("cents")
        def cents(value):
            return None if value is None else round(float(value) * 100)

    Packages can offer transformers without being imported by the config: declare them as entry
    points of group ``apilink.transformers`` (``cents = mypkg.money:cents``). A name registered
    from Python wins over an entry point of the same name.
    """

    def decorate(func: Transformer) -> Transformer:
        _REGISTRY[name] = func
        _BROKEN.pop(name, None)
        return func

    return decorate


def load_entry_point_transformers(*, reload: bool = False) -> None:
    """Register the transformers of installed packages (entry point group
    ``apilink.transformers``); done once per process unless ``reload``.

    An entry point that fails to load does not break the others: naming it in a mapping gives
    an error that says which package and why.
    """
    global _entry_points_loaded
    if _entry_points_loaded and not reload:
        return
    _entry_points_loaded = True
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in _REGISTRY:
            continue
        try:
            loaded = entry.load()
        except Exception as exc:
            _BROKEN[entry.name] = f"{entry.value} ({type(exc).__name__})"
            continue
        if not callable(loaded):
            _BROKEN[entry.name] = f"{entry.value} (not callable)"
            continue
        _REGISTRY[entry.name] = loaded
        _BROKEN.pop(entry.name, None)


def transformer_names() -> list[str]:
    """Every usable transformer name, sorted."""
    load_entry_point_transformers()
    return sorted(_REGISTRY)


def resolve_transformer(name: str) -> Transformer:
    """The transformer called ``name``; a ``ValueError`` lists the valid names."""
    load_entry_point_transformers()
    try:
        return _REGISTRY[name]
    except KeyError:
        if name in _BROKEN:
            raise ValueError(
                f"transformer {name!r} is declared by entry point {_BROKEN[name]} "
                f"(group {ENTRY_POINT_GROUP}) but could not be loaded"
            ) from None
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
