"""Role-based access control: the guide's roles and permissions, hashed API keys, users."""

from __future__ import annotations

from apilink.errors import LastAdminError, RoleError, UserError, UserExists, UserNotFound
from apilink.rbac.engine import ANONYMOUS, AccessControl, Clock
from apilink.rbac.keys import KEY_PREFIX, generate_api_key, hash_api_key, key_matches
from apilink.rbac.roles import ROLE_PERMISSIONS, Permission, Role, parse_permission, parse_role
from apilink.rbac.users import FileUserStore, MemoryUserStore, User, UserStore, validate_username

__all__ = [
    "ANONYMOUS",
    "KEY_PREFIX",
    "ROLE_PERMISSIONS",
    "AccessControl",
    "Clock",
    "FileUserStore",
    "LastAdminError",
    "MemoryUserStore",
    "Permission",
    "Role",
    "RoleError",
    "User",
    "UserError",
    "UserExists",
    "UserNotFound",
    "UserStore",
    "generate_api_key",
    "hash_api_key",
    "key_matches",
    "parse_permission",
    "parse_role",
    "validate_username",
]
