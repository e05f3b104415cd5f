"""The access-control engine: who may do what, and the user-management rules around it.

Every decision goes through :meth:`AccessControl.authorize`; every change to users goes through
the methods below, which refuse unknown roles, an actor without ``manage_users`` and any change
that would leave no admin. An ``actor`` of ``None`` is the trusted in-process owner of the
config (the guide's ``linker.add_user(...)``); the CLI and remote callers always pass the
authenticated actor.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from apilink.audit.log import AuditSink
from apilink.config.models import SecurityConfig
from apilink.errors import AccessDenied, LastAdminError, UserExists, UserNotFound
from apilink.rbac.keys import generate_api_key, hash_api_key, key_matches
from apilink.rbac.roles import ROLE_PERMISSIONS, Permission, Role, parse_permission, parse_role
from apilink.rbac.users import (
    FileUserStore,
    MemoryUserStore,
    User,
    Users,
    UserStore,
    validate_username,
)

__all__ = ["ANONYMOUS", "AccessControl", "Clock", "declared_users"]

Clock = Callable[[], datetime]

ANONYMOUS = User(username="anonymous", role=Role.ADMIN, anonymous=True)
"""The principal of every call while access control is off."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _reveal(api_key: SecretStr | str | None) -> str | None:
    if isinstance(api_key, SecretStr):
        api_key = api_key.get_secret_value()
    return api_key or None


class AccessControl:
    """Role-based access control over a :class:`UserStore`.

    Args:
        store: where users are kept.
        enabled: when false, :meth:`authorize` lets everyone in as :data:`ANONYMOUS`.
        audit: where decisions and user changes are recorded, if anywhere.
        clock: the current time (for key expiry); tests pin it.
    """

    def __init__(
        self,
        store: UserStore | None = None,
        *,
        enabled: bool = True,
        audit: AuditSink | None = None,
        clock: Clock = _utcnow,
    ) -> None:
        self.store: UserStore = store if store is not None else MemoryUserStore()
        self.enabled = enabled
        self.audit = audit
        self._clock = clock

    @classmethod
    def from_config(
        cls,
        security: SecurityConfig,
        *,
        store: UserStore | None = None,
        audit: AuditSink | None = None,
        clock: Clock = _utcnow,
    ) -> AccessControl:
        """The engine for a ``security`` section. Building it never writes a user.

        Users live in ``security.users_file`` when set; ``security.users`` then stay out (seed
        them with :meth:`import_users`, the explicit ``manage_users`` action behind
        ``apilink users import``). Without a users file, ``security.users`` are the users, in
        memory, each predefined ``api_key`` hashed at once (the guide's in-process
        ``ApiLinker(security_config=...)``).
        """
        if store is None:
            if security.users_file:
                store = FileUserStore(security.users_file)
            else:
                declared = declared_users(security, clock)
                store = MemoryUserStore({user.username: user for user in declared})
        return cls(store, enabled=security.enable_access_control, audit=audit, clock=clock)

    # -- decisions -------------------------------------------------------------------------

    def authenticate(self, api_key: SecretStr | str | None) -> User | None:
        """The user holding ``api_key``, or ``None`` (unknown, revoked or expired key).

        Every stored hash is compared, in constant time, so the time taken does not say which
        user (if any) came close.
        """
        key = _reveal(api_key)
        if key is None:
            return None
        found: User | None = None
        for user in self.store.load().values():
            if user.key_hash is not None and key_matches(key, user.key_hash):
                found = user
        if found is None or self._expired(found):
            return None
        return found

    def authorize(
        self,
        api_key: SecretStr | str | None,
        permission: str | Permission,
        *,
        run_id: str | None = None,
    ) -> User:
        """The user holding ``api_key`` if its role grants ``permission``.

        Raises:
            AccessDenied: naming the permission and the role (never the key).
            RoleError: for a permission name that does not exist.
        """
        wanted = parse_permission(permission)
        if not self.enabled:
            self._record("access.granted", ANONYMOUS.username, wanted, "allowed", run_id)
            return ANONYMOUS
        user = self.authenticate(api_key)
        if user is None:
            reason = "no API key presented" if _reveal(api_key) is None else "API key not valid"
            self._record("access.denied", "unknown", wanted, "denied", run_id, reason=reason)
            raise AccessDenied(f"permission {wanted.value!r} denied: {reason}", permission=wanted)
        self.check(user, wanted, run_id=run_id)
        return user

    def check(self, user: User, permission: str | Permission, *, run_id: str | None = None) -> None:
        """Raise :class:`AccessDenied` unless ``user``'s role grants ``permission``."""
        wanted = parse_permission(permission)
        if user.anonymous or wanted in ROLE_PERMISSIONS[user.role]:
            self._record("access.granted", user.username, wanted, "allowed", run_id)
            return
        self._record("access.denied", user.username, wanted, "denied", run_id, role=user.role)
        raise AccessDenied(
            f"permission {wanted.value!r} denied to user {user.username!r} "
            f"(role {user.role.value!r})",
            principal=user.username,
            permission=wanted,
        )

    # -- user management -------------------------------------------------------------------

    def list_users(self) -> list[User]:
        """Every user, by name."""
        users = self.store.load()
        return [users[name] for name in sorted(users)]

    def get_user(self, username: str) -> User:
        """The user called ``username``; :class:`UserNotFound` otherwise."""
        try:
            return self.store.load()[username]
        except KeyError:
            raise UserNotFound(f"no user {username!r}") from None

    def add_user(
        self,
        username: str,
        role: str | Role,
        *,
        actor: User | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[User, str]:
        """Create a user with a fresh API key; returns the user and the key (shown once)."""
        validate_username(username)
        new_role = parse_role(role)
        self._may_manage(actor, "user.added", username)
        api_key = generate_api_key()
        with self.store.transaction() as users:
            if username in users:
                raise UserExists(f"user {username!r} already exists")
            user = User(
                username=username,
                role=new_role,
                key_hash=hash_api_key(api_key),
                created_at=self._clock(),
                expires_at=expires_at,
            )
            users[username] = user
        self._changed("user.added", actor, username, role=new_role.value)
        return user, api_key

    def import_users(self, security: SecurityConfig, *, actor: User | None = None) -> list[str]:
        """Add each of ``security.users`` missing from the store; returns the names added.

        A user already in the store keeps its record. Needs ``manage_users`` (audited).
        """
        declared = declared_users(security, self._clock)
        self._may_manage(actor, "users.imported", ",".join(u.username for u in declared))
        added: list[str] = []
        with self.store.transaction() as users:
            for user in declared:
                if user.username not in users:
                    users[user.username] = user
                    added.append(user.username)
        roles = {user.username: user.role.value for user in declared}
        for name in added:
            self._changed("user.added", actor, name, role=roles[name], imported=True)
        return added

    def set_role(self, username: str, role: str | Role, *, actor: User | None = None) -> User:
        """Give ``username`` another role; refuses to demote the last admin."""
        new_role = parse_role(role)
        self._may_manage(actor, "user.role_changed", username)
        with self.store.transaction() as users:
            user = _existing(users, username)
            if user.role is Role.ADMIN and new_role is not Role.ADMIN:
                _keep_an_admin(users, username, "demote")
            users[username] = user = user.with_changes(role=new_role)
        self._changed("user.role_changed", actor, username, role=new_role.value)
        return user

    def remove_user(self, username: str, *, actor: User | None = None) -> None:
        """Delete ``username``; refuses to remove the last admin."""
        self._may_manage(actor, "user.removed", username)
        with self.store.transaction() as users:
            user = _existing(users, username)
            if user.role is Role.ADMIN:
                _keep_an_admin(users, username, "remove")
            del users[username]
        self._changed("user.removed", actor, username)

    def revoke_key(self, username: str, *, actor: User | None = None) -> User:
        """Withdraw ``username``'s API key at once; the user stays, without a key."""
        self._may_manage(actor, "key.revoked", username)
        with self.store.transaction() as users:
            user = _existing(users, username)
            users[username] = user = user.with_changes(key_hash=None, revoked_at=self._clock())
        self._changed("key.revoked", actor, username)
        return user

    def issue_key(
        self, username: str, *, actor: User | None = None, expires_at: datetime | None = None
    ) -> str:
        """Replace ``username``'s API key with a fresh one and return it (shown once)."""
        self._may_manage(actor, "key.issued", username)
        api_key = generate_api_key()
        with self.store.transaction() as users:
            user = _existing(users, username)
            users[username] = user.with_changes(
                key_hash=hash_api_key(api_key), expires_at=expires_at, revoked_at=None
            )
        self._changed("key.issued", actor, username)
        return api_key

    # -- internals -------------------------------------------------------------------------

    def _expired(self, user: User) -> bool:
        return user.expires_at is not None and self._clock() >= user.expires_at

    def _may_manage(self, actor: User | None, action: str, target: str) -> None:
        if actor is None or actor.anonymous:
            return
        if Permission.MANAGE_USERS in ROLE_PERMISSIONS[actor.role]:
            return
        self._record(
            "access.denied", actor.username, Permission.MANAGE_USERS, "denied", None,
            role=actor.role, request=action, target_user=target,
        )  # fmt: skip
        raise AccessDenied(
            f"permission 'manage_users' denied to user {actor.username!r} "
            f"(role {actor.role.value!r})",
            principal=actor.username,
            permission=Permission.MANAGE_USERS,
        )

    def _changed(self, action: str, actor: User | None, username: str, **details: Any) -> None:
        if self.audit is not None:
            who = actor.username if actor is not None else "local"
            self.audit.record(action, actor=who, target=username, outcome="ok", details=details)

    def _record(
        self,
        action: str,
        actor: str,
        permission: Permission,
        outcome: str,
        run_id: str | None,
        **details: Any,
    ) -> None:
        if self.audit is None:
            return
        shown = {key: str(value) for key, value in details.items()}
        self.audit.record(
            action,
            actor=actor,
            target=permission.value,
            outcome=outcome,
            run_id=run_id,
            details=shown,
        )


def declared_users(security: SecurityConfig, clock: Clock = _utcnow) -> list[User]:
    """``security.users`` as users, predefined keys hashed (roles and names checked)."""
    return [
        User(
            username=validate_username(entry.username),
            role=parse_role(entry.role),
            key_hash=hash_api_key(entry.api_key.get_secret_value()) if entry.api_key else None,
            created_at=clock(),
        )
        for entry in security.users
    ]


def _existing(users: Users, username: str) -> User:
    try:
        return users[username]
    except KeyError:
        raise UserNotFound(f"no user {username!r}") from None


def _keep_an_admin(users: Users, username: str, verb: str) -> None:
    others = [u for u in users.values() if u.role is Role.ADMIN and u.username != username]
    if not others:
        raise LastAdminError(f"cannot {verb} {username!r}: it is the last admin")
