"""The synthetic users of the benchmark: user ``i`` is computed from ``i``, never stored.

Every 20th user has an address that is not an email, and users with ``i % 50 == 7`` have no
email at all, so both validation rules (``required`` and ``email``) quarantine some records.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "EMAIL_PATTERN",
    "PAGE_SIZE",
    "is_valid_user",
    "map_user",
    "user",
    "user_passes_rules",
    "valid_count",
]

PAGE_SIZE = 500

# The same pattern as apilink's `email` rule (a test keeps them equal), written out here so the
# baselines do not import apilink.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"
_EMAIL = re.compile(EMAIL_PATTERN)


def user(i: int) -> dict[str, Any]:
    """Source user number ``i`` (1-based)."""
    if i % 20 == 0:
        email: str | None = f"user{i}-at-example.com"
    elif i % 50 == 7:
        email = None
    else:
        email = f"User{i}@Example.COM"
    return {
        "id": i,
        "email": email,
        "profile": {"first_name": f" Ada{i} ", "last_name": f"Lovelace{i}"},
        "created_at": f"2024-01-{i % 28 + 1:02d}T12:{i % 60:02d}:00Z",
        "plan": "pro" if i % 3 else "free",
    }


def is_valid_user(i: int) -> bool:
    """Whether user ``i`` passes the rules (decided from ``i``, for the target's check)."""
    return i % 20 != 0 and i % 50 != 7


def valid_count(limit: int) -> int:
    """How many of users ``1..limit`` are valid."""
    return sum(1 for i in range(1, limit + 1) if is_valid_user(i))


def user_passes_rules(record: dict[str, Any]) -> bool:
    """The baselines' validation: ``id`` and ``email`` required, ``email`` looks like one."""
    email = record.get("email")
    return record.get("id") is not None and email is not None and bool(_EMAIL.match(email))


def _timestamp(text: str) -> int:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def map_user(record: dict[str, Any]) -> dict[str, Any]:
    """The baselines' mapping: the five fields and transforms of the apilink config."""
    profile = record["profile"]
    return {
        "external_id": int(record["id"]),
        "contact": {"email": record["email"].strip().lower()},
        "name": {"first": profile["first_name"].strip(), "last": profile["last_name"].upper()},
        "created_ts": _timestamp(record["created_at"]),
    }
