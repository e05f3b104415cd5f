"""RFC 8288 ``Link`` header parsing, pure and tolerant.

``<https://api.example.com/items?page=2>; rel="next", </items?page=9>; rel="last"``

The parser keeps commas and semicolons inside ``<...>`` and inside quoted strings, accepts
quoted and bare parameter values, several ``rel`` values in one (``rel="next last"``), any
case, and several ``Link`` headers. A malformed link is skipped, never fatal: the header is
advice from the server, and a paginator that finds no next link simply stops.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Link", "find_link", "parse_link_header"]


@dataclass(frozen=True)
class Link:
    """One link: its target as written (maybe relative) and its parameters (names lowercase)."""

    target: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def rels(self) -> tuple[str, ...]:
        """The relation types, lowercase (``rel="next last"`` gives both)."""
        return tuple(self.params.get("rel", "").lower().split())


def parse_link_header(value: str) -> list[Link]:
    """Every well-formed link in one ``Link`` header value, in order."""
    links: list[Link] = []
    pos, end = 0, len(value)
    while pos < end:
        pos = _skip(value, pos, " \t,")
        if pos >= end:
            break
        if value[pos] != "<":
            pos = _next_link(value, pos)
            continue
        close = value.find(">", pos + 1)
        if close < 0:
            break
        target = value[pos + 1 : close].strip()
        params, pos = _params(value, close + 1)
        if target:
            links.append(Link(target, params))
    return links


def find_link(headers: Iterable[str], rel: str) -> str | None:
    """The target of the first link with relation ``rel`` across ``headers``, or ``None``."""
    wanted = rel.lower()
    for header in headers:
        for link in parse_link_header(header):
            if wanted in link.rels:
                return link.target
    return None


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _next_link(text: str, pos: int) -> int:
    """The position after the next comma that is outside quotes and angle brackets."""
    quoted = False
    angled = False
    while pos < len(text):
        char = text[pos]
        if quoted:
            if char == "\\":
                pos += 1
            elif char == '"':
                quoted = False
        elif angled:
            angled = char != ">"
        elif char == '"':
            quoted = True
        elif char == "<":
            angled = True
        elif char == ",":
            return pos + 1
        pos += 1
    return pos


def _params(text: str, pos: int) -> tuple[dict[str, str], int]:
    """The ``; name=value`` parameters after a target, up to the comma that ends the link."""
    params: dict[str, str] = {}
    end = len(text)
    while True:
        pos = _skip(text, pos, " \t")
        if pos >= end:
            return params, pos
        if text[pos] == ",":
            return params, pos + 1
        if text[pos] != ";":
            return params, _next_link(text, pos)
        pos = _skip(text, pos + 1, " \t")
        start = pos
        while pos < end and text[pos] not in "=;, \t":
            pos += 1
        name = text[start:pos].lower()
        pos = _skip(text, pos, " \t")
        param_value = ""
        if pos < end and text[pos] == "=":
            param_value, pos = _value(text, _skip(text, pos + 1, " \t"))
        # RFC 8288 section 3: occurrences after the first of a parameter are ignored.
        if name and name not in params:
            params[name] = param_value


def _value(text: str, pos: int) -> tuple[str, int]:
    if pos < len(text) and text[pos] == '"':
        chars: list[str] = []
        pos += 1
        while pos < len(text) and text[pos] != '"':
            if text[pos] == "\\" and pos + 1 < len(text):
                pos += 1
            chars.append(text[pos])
            pos += 1
        return "".join(chars), pos + 1
    start = pos
    while pos < len(text) and text[pos] not in ";,":
        pos += 1
    return text[start:pos].strip(), pos
