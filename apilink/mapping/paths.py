"""Dotted and indexed field paths: ``user.address.city``, ``items[0].id``, ``ids[0]``.

Paths are parsed once into tuples of keys (``str``) and indexes (``int``) so that mapping a
million records does not parse a million strings.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise
from typing import Any

__all__ = ["MISSING", "PathSyntaxError", "get_path", "parse_path", "set_path"]

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


class PathSyntaxError(ValueError):
    """A path that is not ``name(.name|[index])*``."""


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
