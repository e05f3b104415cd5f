"""The permission check every CLI command makes, the same one the flow's guard makes.

Access control is on when the sync config says ``security.enable_access_control: true``, or when
``APILINK_USERS_FILE`` names a users file that exists (commands without a config, such as
``apilink credentials --file`` or ``apilink audit``). The caller's key comes from ``--api-key`` or
``APILINK_API_KEY``.

Every denial is one line in the operator's audit file (``APILINK_AUDIT_FILE``, else the config's
audit log when it keeps one, else ``apilink_audit.log`` in the state folder), with a config or
without one (see :class:`apilink.audit.settings.DenialAudit`); a config that keeps an audit log
also gets every decision. Trusted: the worker's operator. Not trusted: the caller, whose
``--api-key`` or config cannot keep a denial out of the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from apilink.audit.settings import DenialAudit
from apilink.config.loader import load_config
from apilink.config.models import SecurityConfig
from apilink.rbac import ANONYMOUS, AccessControl, Permission, User

__all__ = ["USERS_FILE_ENV", "require"]

USERS_FILE_ENV = "APILINK_USERS_FILE"


def require(
    permission: Permission, *, config_path: Path | None = None, api_key: str | None = None
) -> User:
    """The caller, if allowed ``permission``; raises ``AccessDenied`` (or ``ConfigError``)."""
    config = load_config(config_path) if config_path is not None else None
    security = config.security if config is not None else SecurityConfig()
    users_file = os.environ.get(USERS_FILE_ENV)
    if users_file and Path(users_file).is_file():
        # The operator's users file wins; a config's own `users` are never written into it
        # (seeding them is `apilink users import`).
        security = security.model_copy(
            update={"enable_access_control": True, "users_file": users_file}
        )
    if not security.enable_access_control:
        return ANONYMOUS
    audit = DenialAudit(config)
    engine = AccessControl.from_config(security, audit=audit)
    return engine.authorize(api_key or os.environ.get("APILINK_API_KEY"), permission)
