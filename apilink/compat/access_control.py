"""The guide's Python API for access control, as a mixin for ``ApiLinker``.

::

    linker = ApiLinker(security_config={"enable_access_control": True, "users": [...]})
    user = linker.add_user("developer1", "developer")
    print(f"API Key: {user['api_key']}")   # shown this once, stored only as a hash
    users = linker.list_users()            # no keys, no hashes

The class using the mixin sets ``self.security_config`` (a :class:`SecurityConfig`). Calls
without ``as_key`` act as the owner of that config (trusted, in process); pass ``as_key`` to act
as a user, whose role is then checked like on the CLI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import SecretStr

from apilink.audit.log import AuditSink
from apilink.config.models import SecurityConfig
from apilink.rbac.engine import AccessControl
from apilink.rbac.roles import Permission, Role
from apilink.rbac.users import User

__all__ = ["AccessControlMixin"]


class AccessControlMixin:
    """``add_user``, ``list_users``, ``authenticate`` and ``authorize`` over
    :class:`AccessControl`, built lazily from ``self.security_config``."""

    security_config: SecurityConfig
    audit_log: AuditSink | None = None
    _access_control: AccessControl | None = None

    @property
    def access_control(self) -> AccessControl:
        """The engine for ``self.security_config`` (built on first use, then kept)."""
        if self._access_control is None:
            self._access_control = AccessControl.from_config(
                self.security_config, audit=self.audit_log
            )
        return self._access_control

    def add_user(
        self,
        username: str,
        role: str | Role,
        *,
        as_key: SecretStr | str | None = None,
        expires_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Create a user; the returned dict holds its ``api_key``, shown this once."""
        actor = self._actor(as_key, Permission.MANAGE_USERS)
        user, api_key = self.access_control.add_user(
            username, role, actor=actor, expires_at=expires_at
        )
        return {**user.public(), "api_key": api_key}

    def list_users(self, *, as_key: SecretStr | str | None = None) -> list[dict[str, Any]]:
        """Every user as a dict, without key or hash (a fresh copy each call)."""
        self._actor(as_key, Permission.MANAGE_USERS)
        return [user.public() for user in self.access_control.list_users()]

    def authenticate(self, api_key: SecretStr | str | None) -> dict[str, Any] | None:
        """The user holding ``api_key`` (no key in the result), or ``None``."""
        user = self.access_control.authenticate(api_key)
        return user.public() if user is not None else None

    def authorize(
        self, api_key: SecretStr | str | None, permission: str | Permission
    ) -> dict[str, Any]:
        """The user holding ``api_key`` if allowed ``permission``; raises ``AccessDenied``."""
        return self.access_control.authorize(api_key, permission).public()

    def _actor(self, as_key: SecretStr | str | None, permission: Permission) -> User | None:
        if as_key is None:
            return None
        return self.access_control.authorize(as_key, permission)
