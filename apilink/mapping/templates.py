"""String templates over record paths: ``"{profile.first_name} {profile.last_name}"``.

``{path}`` is replaced by the value at ``path`` (dots and ``[N]`` indexes, as everywhere);
an absent or null value becomes the empty string. ``{{`` and ``}}`` are literal braces.
Nothing else is evaluated: no format specs, no attribute access, no expressions.
"""

from __future__ import annotations

from typing import Any

from apilink.errors import TemplateSyntaxError
from apilink.mapping.paths import MISSING, get_path, parse_path

__all__ = ["Template"]


class Template:
    """A compiled template; compile once, :meth:`render` per record.

    Raises:
        TemplateSyntaxError: at construction, naming the character position.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.paths: list[str] = []
        """The paths the template reads, in order."""
        self._parts = _compile(text, self.paths)

    def render(self, record: dict[str, Any]) -> str:
        """The text with each ``{path}`` replaced by the record's value there."""
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = get_path(record, part)
            out.append("" if value is MISSING or value is None else str(value))
        return "".join(out)


def _compile(text: str, names: list[str]) -> list[str | tuple[str | int, ...]]:
    parts: list[str | tuple[str | int, ...]] = []
    literal: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char in "{}" and text[pos : pos + 2] in ("{{", "}}"):
            literal.append(char)
            pos += 2
            continue
        if char == "}":
            raise TemplateSyntaxError(f"stray `}}` at character {pos + 1} of the template")
        if char == "{":
            close = text.find("}", pos)
            if close < 0:
                raise TemplateSyntaxError(f"`{{` at character {pos + 1} is never closed")
            name = text[pos + 1 : close].strip()
            try:
                path = parse_path(name)
            except ValueError as exc:
                raise TemplateSyntaxError(f"in the template: {exc}") from None
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(path)
            names.append(name)
            pos = close + 1
            continue
        literal.append(char)
        pos += 1
    if literal:
        parts.append("".join(literal))
    return parts
