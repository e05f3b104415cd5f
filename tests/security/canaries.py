"""Canary secrets and the one check that none of them leaked."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

__all__ = ["Canaries", "Source", "assert_no_canary", "find_canaries"]

Source = str | bytes | Path | tuple[str, str | bytes | Path]
"""Where to look: text, bytes, a file or a folder (every file under it), or ``(label, any)``."""

_CONTEXT = 60


@dataclass
class Canaries:
    """Unique ``canary-<purpose>-<hex>`` strings, by purpose."""

    values: dict[str, str] = field(default_factory=dict)

    def new(self, purpose: str) -> str:
        """A fresh canary for ``purpose`` (remembered)."""
        value = f"canary-{purpose}-{secrets.token_hex(8)}"
        self.values[purpose] = value
        return value

    def add(self, purpose: str, value: str) -> str:
        """Treat ``value`` (a secret made elsewhere, e.g. a token a server issued) as a canary."""
        self.values[purpose] = value
        return value

    def without(self, *purposes: str) -> Canaries:
        """These canaries but ``purposes``."""
        return Canaries({k: v for k, v in self.values.items() if k not in purposes})

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.values.items())

    def __len__(self) -> int:
        return len(self.values)


def _expand(sources: Iterable[Source]) -> Iterator[tuple[str, str]]:
    for number, source in enumerate(sources):
        label: str | None = None
        if isinstance(source, tuple):
            label, source = source
        if isinstance(source, Path):
            if source.is_dir():
                for path in sorted(p for p in source.rglob("*") if p.is_file()):
                    yield f"{label or 'file'} {path}", path.read_bytes().decode("utf-8", "replace")
            elif source.is_file():
                yield f"{label or 'file'} {source}", source.read_bytes().decode("utf-8", "replace")
            continue
        text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
        yield label or f"text #{number}", text


def find_canaries(canaries: Canaries, *sources: Source) -> list[str]:
    """One line per canary found: which canary, where, and the text around it."""
    found: list[str] = []
    for where, text in _expand(sources):
        for purpose, value in canaries:
            for needle in {value, quote(value, safe="")}:
                at = text.find(needle)
                if at < 0:
                    continue
                around = text[max(0, at - _CONTEXT) : at + len(needle) + _CONTEXT]
                shown = around.replace(needle, f"<<{purpose}>>").replace("\n", "\\n")
                found.append(f"canary {purpose!r} leaked in {where}: ...{shown}...")
    return found


def assert_no_canary(canaries: Canaries, *sources: Source) -> None:
    """Fail naming each canary that appears in any of ``sources``, where, and in what text."""
    assert len(canaries), "no canaries planted: the sweep would prove nothing"
    leaks = find_canaries(canaries, *sources)
    assert not leaks, f"{len(leaks)} canary leak(s):\n" + "\n".join(leaks)
