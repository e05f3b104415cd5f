"""``AccessControl``: apilink users kept on a Prefect server (hashed keys only)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prefect.blocks.core import Block
from pydantic import Field

from apilink.audit import AuditSink
from apilink.rbac import AccessControl as AccessControlEngine
from apilink.rbac import MemoryUserStore, User

__all__ = ["AccessControl"]

_DOCS = "https://github.com/apilink/apilink/blob/main/README.md#3-start-workers"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AccessControl(Block):
    """apilink users and roles, stored in Prefect so every worker checks the same list.

    Only hashes of API keys are kept. Add a user with :meth:`add_user` (the key is returned
    once), then ``save(name, overwrite=True)``; the guard task accepts the loaded block in place
    of a ``security`` section.
    """

    _block_type_name = "apilink Access Control"
    _documentation_url = _DOCS  # type: ignore[assignment]
    _description = "apilink users and roles (API keys stored as hashes only)."

    enable_access_control: bool = Field(True, description="When off, everyone may do anything.")
    users: list[dict[str, Any]] = Field(
        default_factory=list,
        description="username, role, key_hash (sha256), created_at, expires_at, revoked_at.",
    )

    def access_control(
        self, *, audit: AuditSink | None = None, clock: Callable[[], datetime] = _utcnow
    ) -> AccessControlEngine:
        """The engine over these users; changes made through it update ``self.users``."""
        records = [User.from_record(record) for record in self.users]
        store = MemoryUserStore({user.username: user for user in records}, on_save=self._keep)
        return AccessControlEngine(
            store, enabled=self.enable_access_control, audit=audit, clock=clock
        )

    def add_user(self, username: str, role: str) -> str:
        """Add a user and return its API key (shown once; only the hash is kept)."""
        _, api_key = self.access_control().add_user(username, role)
        return api_key

    def _keep(self, users: dict[str, User]) -> None:
        self.users = [users[name].to_record() for name in sorted(users)]
