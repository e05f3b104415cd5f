"""Request bodies of records, and what JSON cannot carry.

:func:`encode_records` encodes a batch (or one record) as
:func:`apilink.http.sending.json_body` does.
When that fails it encodes the records one by one and sets aside those that cannot be encoded
(NaN, Infinity, a value JSON has no form for) with a reason naming the field, so one bad record
fails alone and the rest of its batch is still sent. The whole body is encoded at once first:
the record-by-record path costs only when a record is bad.
"""

from __future__ import annotations

import math
from typing import Any

from apilink.http.fast_lane import json_body

__all__ = ["encode_records", "why_unencodable"]

Record = dict[str, Any]


def encode_records(
    records: list[Record], *, batch: bool, split: bool
) -> tuple[list[Record], bytes | None, list[tuple[Record, str]]]:
    """The records that can be sent, their body (``None`` when none can), and the others with
    the reason.

    Args:
        records: a batch, or (``batch=False``) one record in a list.
        batch: encode the list (a batch body) rather than its first record.
        split: set bad records aside; without it one bad record fails them all (a replayed
            request is resent whole under its original key, or not at all).
    """
    try:
        return records, json_body(records if batch else records[0]), []
    except (TypeError, ValueError) as exc:
        if not split or not batch:
            return [], None, [(r, why_unencodable(r, exc)) for r in records]
    kept: list[Record] = []
    parts: list[bytes] = []
    refused: list[tuple[Record, str]] = []
    for record in records:
        try:
            parts.append(json_body(record))
        except (TypeError, ValueError) as exc:
            refused.append((record, why_unencodable(record, exc)))
        else:
            kept.append(record)
    # The bytes json_body(kept) gives: compact separators.
    return kept, (b"[" + b",".join(parts) + b"]") if kept else None, refused


def why_unencodable(record: Any, error: Exception) -> str:
    """Which field holds what JSON cannot say (``price`` is nan), else the encoder's words."""
    found = _unencodable(record, "")
    return found if found is not None else str(error)


def _unencodable(value: Any, path: str) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"`{path or '.'}` is {value} (NaN and Infinity have no JSON form)"
    if isinstance(value, dict):
        for name, item in value.items():
            if not isinstance(name, str | int | float | bool) and name is not None:
                return f"`{path or '.'}` has a key of type {type(name).__name__}"
            found = _unencodable(item, f"{path}.{name}" if path else str(name))
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _unencodable(item, f"{path}[{index}]")
            if found is not None:
                return found
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return None
    return f"`{path or '.'}` is a {type(value).__name__}, which JSON has no form for"
