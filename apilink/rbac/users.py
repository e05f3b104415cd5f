"""Users and where they are kept: a local JSON file (0600, locked, replaced atomically) or memory.

The file holds ``{"version": 1, "users": [...]}``; each user has ``username``, ``role``,
``key_hash`` (``sha256:<hex>`` or null), ``created_at``, ``expires_at`` and ``revoked_at``.
No key is ever stored in clear.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from apilink.errors import UserError
from apilink.rbac.roles import Role, parse_role
from apilink.storage.private_files import PrivateLock, write_atomically

__all__ = [
    "FileUserStore",
    "MemoryUserStore",
    "User",
    "UserStore",
    "validate_username",
]

_FILE_VERSION = 1


def validate_username(username: str) -> str:
    """``username`` if it is 1-64 printable characters without spaces.

    Raises:
        UserError: otherwise.
    """
    if (
        not (0 < len(username) <= 64)
        or not username.isprintable()
        or any(ch.isspace() for ch in username)
    ):
        raise UserError(f"invalid username {username!r}: use 1-64 characters without spaces")
    return username


@dataclass(frozen=True)
class User:
    """One principal. ``key_hash`` is the stored hash of its API key, never the key."""

    username: str
    role: Role
    key_hash: str | None = field(default=None, repr=False)
    created_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    anonymous: bool = False

    def public(self) -> dict[str, Any]:
        """What may be shown about the user: no key, no hash."""
        return {
            "username": self.username,
            "role": self.role.value,
            "has_key": self.key_hash is not None,
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "revoked_at": _iso(self.revoked_at),
        }

    def to_record(self) -> dict[str, Any]:
        """The stored form (hash included)."""
        record = self.public()
        del record["has_key"]
        record["key_hash"] = self.key_hash
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> User:
        """Read a stored record (see :meth:`to_record`)."""
        return cls(
            username=validate_username(str(record["username"])),
            role=parse_role(str(record["role"])),
            key_hash=record.get("key_hash"),
            created_at=_parse(record.get("created_at")),
            expires_at=_parse(record.get("expires_at")),
            revoked_at=_parse(record.get("revoked_at")),
        )

    def with_changes(self, **changes: Any) -> User:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


Users = dict[str, User]


class UserStore(Protocol):
    """Where users live. ``transaction`` yields a mutable copy and saves it when the block ends."""

    def load(self) -> Users: ...

    def transaction(self) -> Any: ...


class MemoryUserStore:
    """Users held in memory (config users, tests, the Prefect block)."""

    def __init__(
        self, users: Users | None = None, *, on_save: Callable[[Users], None] | None = None
    ) -> None:
        self._users: Users = dict(users or {})
        self._on_save = on_save

    def load(self) -> Users:
        """A copy of the users."""
        return dict(self._users)

    @contextmanager
    def transaction(self) -> Iterator[Users]:
        """Yield a copy; keep it only if the block ends without an error."""
        users = dict(self._users)
        yield users
        self._users = users
        if self._on_save is not None:
            self._on_save(dict(users))


class FileUserStore:
    """Users in a JSON file next to a ``.lock`` file; every change is read-modify-write under
    the lock and lands by atomic replace, so a crash leaves either the old or the new file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = PrivateLock(str(self.path) + ".lock")

    def load(self) -> Users:
        """The users in the file (none when it does not exist)."""
        with self._lock:
            return self._read()

    @contextmanager
    def transaction(self) -> Iterator[Users]:
        """Yield the users under the lock and write them back when the block ends cleanly."""
        with self._lock:
            users = self._read()
            yield users
            self._write(users)

    def _read(self) -> Users:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != _FILE_VERSION:
            raise UserError(f"{self.path} is not an apilink users file (version {_FILE_VERSION})")
        users = [User.from_record(record) for record in data.get("users", [])]
        return {user.username: user for user in users}

    def _write(self, users: Users) -> None:
        records = [users[name].to_record() for name in sorted(users)]
        payload = json.dumps({"version": _FILE_VERSION, "users": records}, indent=2)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, (payload + "\n").encode("utf-8"))
