"""``ApiLinker``: the upstream guide's Python API in one object.

```python
from apilink import ApiLinker

linker = ApiLinker(security_config={
    "master_password": "your-strong-password",
    "credential_storage_path": "./credentials.enc",
})
linker.store_credential("github_api", {"token": "ghp_...", "expires_at": 1735689600})
cred = linker.get_credential("github_api")
```

It gathers the mixins of each concern (credentials, access control) and the OAuth
``auth_manager``; a config file gives it a ``security`` section and a ``credentials:`` store.

A denied call (``authorize``, or ``add_user`` / ``list_users`` with an ``as_key`` that may not
manage users) is one line in the operator's audit file (``APILINK_AUDIT_FILE``, else the config's
audit log, else ``apilink_audit.log`` in the state folder), whether or not the config audits: see
:class:`apilink.audit.settings.DenialAudit`. Trusted: the process owner. Not trusted: the holder
of the key presented.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from apilink.audit.settings import DenialAudit
from apilink.compat.access_control import AccessControlMixin
from apilink.compat.auth_manager import AuthManager
from apilink.compat.credentials import CredentialsMixin
from apilink.config.credentials import CredentialStoreConfig
from apilink.config.loader import describe_errors, expand_env, load_config
from apilink.config.models import SecurityConfig, SyncConfig
from apilink.credentials.base import CredentialStore
from apilink.errors import ConfigError, CredentialError

__all__ = ["ApiLinker"]


class ApiLinker(CredentialsMixin, AccessControlMixin):
    """Credentials, users and OAuth logins of one project.

    Args:
        config: a sync config (a path, or a loaded :class:`SyncConfig`); its ``security`` and
            ``credentials`` sections are used unless ``security_config`` is given.
        security_config: the guide's ``security_config`` mapping (``master_password``,
            ``credential_storage_path``, ``enable_access_control``, ``users``); ``${VAR}``
            references in it read the environment.
    """

    def __init__(
        self,
        config: str | os.PathLike[str] | SyncConfig | None = None,
        *,
        security_config: Mapping[str, Any] | SecurityConfig | None = None,
    ) -> None:
        self.config = (
            config if isinstance(config, SyncConfig) or config is None else load_config(config)
        )
        self.security_config = _security(security_config, self.config)
        # Every denial is one line in the operator's audit file; the config's own audit log,
        # when it keeps one, gets every decision and user change.
        self.audit_log = DenialAudit(self.config)
        self.auth_manager = AuthManager(token_store=_LazyTokenStore(self))

    def _credential_store_config(self) -> CredentialStoreConfig | None:
        return self.config.credentials if self.config is not None else None

    def __repr__(self) -> str:
        name = self.config.name if self.config is not None else None
        return (
            f"ApiLinker(config={name!r}, "
            f"access_control={self.security_config.enable_access_control})"
        )


def _security(
    given: Mapping[str, Any] | SecurityConfig | None, config: SyncConfig | None
) -> SecurityConfig:
    if isinstance(given, SecurityConfig):
        return given
    if given is None:
        return config.security if config is not None else SecurityConfig()
    try:
        return SecurityConfig.model_validate(expand_env(dict(given), path="security_config"))
    except ValidationError as exc:
        problems = describe_errors(exc, SecurityConfig)
        raise ConfigError(
            f"security_config: {'; '.join(problems)}", source="security_config", problems=problems
        ) from None
    except ValueError as exc:  # an undefined ${VAR}
        raise ConfigError(f"security_config: {exc}", source="security_config") from None


class _LazyTokenStore:
    """The linker's credential store, opened only when an OAuth login stores a token."""

    def __init__(self, linker: ApiLinker) -> None:
        self._linker = linker

    @property
    def _store(self) -> CredentialStore:
        try:
            return self._linker.credential_store
        except CredentialError as exc:
            raise CredentialError(
                f"OAuth tokens with a `storage_key` need a credential store: {exc}"
            ) from None

    def get(self, name: str) -> dict[str, Any]:
        return self._store.get(name)

    def put(self, name: str, entry: dict[str, Any]) -> None:
        self._store.put(name, entry)

    def delete(self, name: str) -> None:
        self._store.delete(name)

    def list(self) -> list[str]:
        return self._store.list()
