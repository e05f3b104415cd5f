"""The upstream guide's Python API for stored credentials, as a mixin of ``ApiLinker``.

```python
linker = ApiLinker(security_config={"master_password": "...",
                                    "credential_storage_path": "./credentials.enc"})
linker.store_credential("github_api", {"token": "ghp_...", "expires_at": 1735689600})
cred = linker.get_credential("github_api")
```
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from apilink.config.credentials import CredentialStoreConfig
from apilink.config.models import SecurityConfig
from apilink.credentials.base import CredentialStore
from apilink.credentials.opening import BlockLoader, open_store
from apilink.errors import CredentialError

__all__ = ["CredentialsMixin"]


class CredentialsMixin:
    """``store_credential`` / ``get_credential`` / ``list_credentials`` / ``delete_credential``.

    The class it is mixed into sets ``self.security_config``. To read a ``credentials:``
    section (Vault, a block) instead of ``security.credential_storage_path``, override
    :meth:`_credential_store_config` (and :meth:`_credential_block_loader` for blocks).
    ``credential_clock`` is the clock used for ``expires_at``.
    """

    security_config: SecurityConfig
    credential_clock: Callable[[], float] = staticmethod(time.time)
    _credential_store: CredentialStore | None = None

    def _credential_store_config(self) -> CredentialStoreConfig | None:
        """The ``credentials:`` section to open; ``None`` uses ``security_config``."""
        return None

    def _credential_block_loader(self) -> BlockLoader | None:
        """How to load a Prefect block named by ``credentials: {type: block}``."""
        return None

    @property
    def credential_store(self) -> CredentialStore:
        """The store, opened on first use.

        Raises:
            CredentialError: nothing is configured, or no master password is available.
        """
        if self._credential_store is None:
            store = open_store(
                self._credential_store_config(),
                self.security_config,
                load_block=self._credential_block_loader(),
                now=lambda: self.credential_clock(),
            )
            if store is None:
                raise CredentialError(
                    "no credential store: set `credential_storage_path` (and a master "
                    "password) in security_config, or a `credentials:` section"
                )
            self._credential_store = store
        return self._credential_store

    def store_credential(self, name: str, credential: Mapping[str, Any]) -> None:
        """Store ``credential`` (a dict of fields; optional ``expires_at`` in Unix seconds)."""
        self.credential_store.put(name, dict(credential))

    def get_credential(self, name: str) -> dict[str, Any]:
        """The fields stored under ``name``.

        Raises:
            CredentialNotFound: no such credential.
            CredentialExpired: its ``expires_at`` has passed.
        """
        return self.credential_store.get(name)

    def list_credentials(self) -> list[str]:
        """The names of the stored credentials, sorted."""
        return self.credential_store.list()

    def delete_credential(self, name: str) -> None:
        """Remove ``name``; ``CredentialNotFound`` if it is not there."""
        self.credential_store.delete(name)
