"""Roles and permissions of the upstream guide, as data.

| Permission         | admin | operator | developer | viewer |
|--------------------|-------|----------|-----------|--------|
| view_config        |   x   |    x     |     x     |   x    |
| edit_config        |   x   |          |     x     |        |
| run_sync           |   x   |    x     |           |        |
| view_results       |   x   |    x     |     x     |   x    |
| manage_users       |   x   |          |           |        |
| manage_credentials |   x   |          |           |        |
| view_logs          |   x   |    x     |     x     |        |
| access_analytics   |   x   |    x     |           |        |

Role and permission names are exact: ``"Admin"`` or ``" admin"`` are refused, never folded,
so a typo in a config cannot silently grant or withhold a permission.
"""

from __future__ import annotations

from enum import StrEnum

from apilink.errors import RoleError

__all__ = [
    "ROLE_PERMISSIONS",
    "Permission",
    "Role",
    "parse_permission",
    "parse_role",
]


class Role(StrEnum):
    """The four roles of the guide."""

    ADMIN = "admin"
    OPERATOR = "operator"
    DEVELOPER = "developer"
    VIEWER = "viewer"


class Permission(StrEnum):
    """Every permission a role can hold."""

    VIEW_CONFIG = "view_config"
    EDIT_CONFIG = "edit_config"
    RUN_SYNC = "run_sync"
    VIEW_RESULTS = "view_results"
    MANAGE_USERS = "manage_users"
    MANAGE_CREDENTIALS = "manage_credentials"
    VIEW_LOGS = "view_logs"
    ACCESS_ANALYTICS = "access_analytics"


_P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset(
        {_P.VIEW_CONFIG, _P.RUN_SYNC, _P.VIEW_RESULTS, _P.VIEW_LOGS, _P.ACCESS_ANALYTICS}
    ),
    Role.DEVELOPER: frozenset({_P.VIEW_CONFIG, _P.EDIT_CONFIG, _P.VIEW_RESULTS, _P.VIEW_LOGS}),
    Role.VIEWER: frozenset({_P.VIEW_CONFIG, _P.VIEW_RESULTS}),
}
"""What each role may do; the single source of truth for every check."""


def parse_role(name: str | Role) -> Role:
    """The role called exactly ``name``.

    Raises:
        RoleError: for any other name, listing the valid roles.
    """
    if isinstance(name, Role):
        return name
    try:
        return Role(name)
    except ValueError:
        valid = ", ".join(role.value for role in Role)
        raise RoleError(f"unknown role {name!r}; valid roles are: {valid}") from None


def parse_permission(name: str | Permission) -> Permission:
    """The permission called exactly ``name``.

    Raises:
        RoleError: for any other name, listing the valid permissions.
    """
    if isinstance(name, Permission):
        return name
    try:
        return Permission(name)
    except ValueError:
        valid = ", ".join(permission.value for permission in Permission)
        raise RoleError(f"unknown permission {name!r}; valid permissions are: {valid}") from None
