"""Canary secrets and the one check that none of them leaked."""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

__all__ = ["Canaries", "Source", "assert_no_canary", "find_canaries"]

Source = str | bytes | Path | tuple[str, str | bytes | Path]
"""Where to look: text, bytes, a file or a folder (every file under it), or ``(label, any)``."""

_CONTEXT = 60
_CORE = re.compile(r"canary-[a-z0-9-]+-[0-9a-f]{16}")


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


def _forms(value: str) -> set[str]:
    """The canary as it may travel: as is, URL-encoded, JSON-escaped (once and twice), base64;
    and its ``canary-<purpose>-<hex>`` core when it has more around it (a password with
    quotes), which survives any escaping of the rest."""
    forms = {value, quote(value, safe=""), quote(value)}
    escaped = json.dumps(value)[1:-1]
    forms |= {escaped, json.dumps(escaped)[1:-1]}
    forms.add(base64.b64encode(value.encode()).decode().rstrip("="))
    core = _CORE.search(value)
    if core is not None:
        forms.add(core.group(0))
    return {form for form in forms if form}


def find_canaries(canaries: Canaries, *sources: Source) -> list[str]:
    """One line per canary found: which canary, where, and the text around it."""
    found: list[str] = []
    for where, text in _expand(sources):
        for purpose, value in canaries:
            for needle in _forms(value):
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
