"""Reader positions without secrets: what a checkpoint keeps of a URL, its query and a
paginator's state, and how a resumed run puts the secrets back from its config.

A source's secret (an API key in a query parameter, a signature in the URL path, a token a
server echoes into its next-page link) may sit in a position. Before a position is saved every
occurrence of one of the source's secrets, as is or URL-encoded, becomes a placeholder
``{apilink-secret:N}`` / ``{apilink-secret:N:url}``; N numbers the source's secrets in a
stable order derived from the config alone. :func:`restore_position` puts the values of the
*source's* secrets back, so a placeholder planted in a checkpoint can only ever carry a source
secret to the source (14a's origin check keeps the resumed URL on that origin); a target's
secret is never among them. A position saved before this existed has no placeholders and is
used as it is.

Trusted: the worker's operator and the config. Not trusted: whoever can read or write the
state file or the Prefect Variable ``apilink-state-<sync>``: they see no secret there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

__all__ = ["restore_position", "strip_position"]

_PLACEHOLDER = re.compile(r"\{apilink-secret:(\d+)(:url)?\}")
_MIN_LEN = 4


def _ordered(secrets: Iterable[str]) -> list[str]:
    return sorted({s for s in secrets if len(s) >= _MIN_LEN})


def strip_position(position: Any, secrets: Iterable[str]) -> Any:
    """A copy of ``position`` (JSON-like) with each of ``secrets`` replaced by a placeholder."""
    ordered = _ordered(secrets)
    needles: list[tuple[str, str]] = []
    for number, secret in enumerate(ordered):
        needles.append((secret, f"{{apilink-secret:{number}}}"))
        encoded = quote(secret, safe="")
        if encoded != secret:
            needles.append((encoded, f"{{apilink-secret:{number}:url}}"))
        plus = quote(secret, safe="").replace("%20", "+")
        if plus != encoded:
            needles.append((plus, f"{{apilink-secret:{number}:url}}"))
    needles.sort(key=lambda pair: len(pair[0]), reverse=True)

    def text(value: str) -> str:
        for needle, placeholder in needles:
            value = value.replace(needle, placeholder)
        return value

    return _walk(position, text)


def restore_position(position: Any, secrets: Iterable[str]) -> Any:
    """``position`` with its placeholders replaced by the values of ``secrets`` again.

    Raises:
        ValueError: a placeholder names a secret the config does not have (the config changed
            or the checkpoint was edited).
    """
    ordered = _ordered(secrets)

    def substitute(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if number >= len(ordered):
            raise ValueError(
                "the saved position refers to a secret this config does not have; "
                "delete the sync's checkpoint (its state file or Prefect Variable) to start again"
            )
        value = ordered[number]
        return quote(value, safe="") if match.group(2) else value

    return _walk(position, lambda value: _PLACEHOLDER.sub(substitute, value))


def _walk(value: Any, text: Any) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {text(k) if isinstance(k, str) else k: _walk(v, text) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, text) for v in value]
    return value
