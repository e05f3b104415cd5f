"""Dotted and indexed field paths: ``user.address.city``, ``items[0].id``, ``ids[0]``.

Paths are parsed once into tuples of keys (``str``) and indexes (``int``) so that mapping a
million records does not parse a million strings. :func:`path_getter` and :func:`path_setter`
go one step further for the hot loops (mapping, validation): a function made once per path that
reads or writes it, with plain dict lookups for the common paths of one or two names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from itertools import pairwise
from typing import Any

from apilink.errors import PathSyntaxError

__all__ = [
    "MISSING",
    "Getter",
    "Setter",
    "get_path",
    "parse_path",
    "path_getter",
    "path_setter",
    "set_path",
]

Getter = Callable[[Any], Any]
"""Reads one path of a record: the value, or ``MISSING``."""
Setter = Callable[[dict[str, Any], Any], None]
"""Writes one path of a record."""

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class _Missing:
    """Marks a path that leads nowhere (distinct from a present ``None``)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


@lru_cache(maxsize=4096)
def parse_path(path: str) -> tuple[str | int, ...]:
    """Split ``a.b[0].c`` into ``("a", "b", 0, "c")``."""
    parts: list[str | int] = []
    pos = 0
    expect_name = True
    while pos < len(path):
        if path[pos] == "." and not expect_name:
            pos += 1
            expect_name = True
            continue
        match = _TOKEN.match(path, pos)
        if match is None or (match.group(1) is not None and not expect_name):
            raise PathSyntaxError(
                f"bad field path {path!r} at character {pos + 1}: "
                "use names joined by dots and [N] indexes, like items[0].id"
            )
        name, index = match.groups()
        parts.append(name if name is not None else int(index))
        pos = match.end()
        expect_name = False
    if not parts or expect_name:
        raise PathSyntaxError(f"bad field path {path!r}: it is empty or ends with a dot")
    return tuple(parts)


def get_path(data: Any, path: str | tuple[str | int, ...]) -> Any:
    """The value at ``path``, or ``MISSING`` when any step is absent or of the wrong kind."""
    parts = parse_path(path) if isinstance(path, str) else path
    current = data
    for part in parts:
        if isinstance(part, int):
            if not isinstance(current, list) or part >= len(current):
                return MISSING
            current = current[part]
        else:
            if not isinstance(current, dict) or part not in current:
                return MISSING
            current = current[part]
    return current


def path_getter(path: str | tuple[str | int, ...]) -> Getter:
    """A function reading ``path`` as :func:`get_path` does, made once for many records."""
    parts = parse_path(path) if isinstance(path, str) else path
    if len(parts) == 1 and isinstance(parts[0], str):
        key = parts[0]

        def get_one(data: Any) -> Any:
            return data.get(key, MISSING) if isinstance(data, dict) else MISSING

        return get_one
    outer, inner = parts if len(parts) == 2 else (None, None)
    if isinstance(outer, str) and isinstance(inner, str):

        def get_two(data: Any) -> Any:
            if not isinstance(data, dict):
                return MISSING
            middle = data.get(outer, MISSING)
            return middle.get(inner, MISSING) if isinstance(middle, dict) else MISSING

        return get_two

    def get_any(data: Any) -> Any:
        return get_path(data, parts)

    return get_any


def path_setter(path: str | tuple[str | int, ...]) -> Setter:
    """A function writing ``path`` as :func:`set_path` does, made once for many records."""
    parts = parse_path(path) if isinstance(path, str) else path
    if len(parts) == 1 and isinstance(parts[0], str):
        key = parts[0]

        def set_one(data: dict[str, Any], value: Any) -> None:
            data[key] = value

        return set_one
    outer, inner = parts if len(parts) == 2 else (None, None)
    if isinstance(outer, str) and isinstance(inner, str):

        def set_two(data: dict[str, Any], value: Any) -> None:
            child = data.get(outer)
            if child is None:
                child = data[outer] = {}
            child[inner] = value

        return set_two

    def set_any(data: dict[str, Any], value: Any) -> None:
        set_path(data, parts, value)

    return set_any


def set_path(data: dict[str, Any], path: str | tuple[str | int, ...], value: Any) -> None:
    """Write ``value`` at ``path``, creating dicts and lists (padded with ``None``) on the way."""
    parts = parse_path(path) if isinstance(path, str) else path
    current: Any = data
    for part, following in pairwise(parts):
        child_default: Any = [] if isinstance(following, int) else {}
        current = _step(current, part, child_default)
    _assign(current, parts[-1], value)


def _step(container: Any, part: str | int, default: Any) -> Any:
    if isinstance(part, int):
        _pad(container, part)
        if container[part] is None:
            container[part] = default
        return container[part]
    if container.get(part) is None:
        container[part] = default
    return container[part]


def _assign(container: Any, part: str | int, value: Any) -> None:
    if isinstance(part, int):
        _pad(container, part)
    container[part] = value


def _pad(container: list[Any], index: int) -> None:
    if len(container) <= index:
        container.extend([None] * (index + 1 - len(container)))
