"""Prefect ``Secret`` blocks as an apilink credential store (``credentials: {type:
prefect_secret}``), where Prefect users already keep their secrets.

``secret://crm-api#token`` reads field ``token`` of the Secret block ``crm-api`` when its
value is a JSON object (a dict saved as the value, or a string holding one);
``secret://partner-key`` reads a plain value whole. ``put`` saves the entry back as the
block's value (how a rotated OAuth token is kept), ``delete`` deletes the block.

Trusted: the worker's operator and whoever may write Secret blocks on the Prefect server
(anyone with Prefect API access can: keep that access to the people trusted with the secrets).
Values are read into ``SecretStr`` by the references and never logged.

Limit: Prefect's block API has no conditional write (no version to compare, no ``If-Match``),
so this store does not implement ``compare_and_set``; a rotated OAuth token is written back
through :func:`~apilink.credentials.base.check_then_put`, which compares just before it writes
and cannot close that window. A worker that loses a refresh race still recovers: its refused
refresh token makes it read the block again and use the token the winner saved
(:mod:`apilink.auth.rotation`). For tokens that rotate under many workers, prefer Vault/OpenBao
KV v2, AWS Secrets Manager or the encrypted file, whose writes are compare-and-set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.utilities.asyncutils import run_coro_as_sync

from apilink.credentials.base import check_name, check_unexpired, entry_of, plain_value
from apilink.credentials.file_store import check_entry
from apilink.errors import CredentialNotFound

__all__ = ["PrefectSecretStore"]


class PrefectSecretStore:
    """Entries in Prefect ``Secret`` blocks, one block per entry.

    Args:
        now: clock for ``expires_at``, Unix seconds.
    """

    def __init__(self, *, now: Callable[[], float] = time.time) -> None:
        self._now = now

    def __repr__(self) -> str:
        return "PrefectSecretStore()"

    def get(self, name: str) -> dict[str, Any]:
        """The fields of Secret block ``name``.

        Raises:
            CredentialNotFound: no Secret block of that name.
            CredentialExpired: the entry's ``expires_at`` is not in the future.
        """
        try:
            # Prefect's async API, run to completion: the same from sync and async callers.
            block = cast(
                "Secret[Any]",
                run_coro_as_sync(Secret.aload(check_name(name))),
            )
        except ValueError:
            raise CredentialNotFound(f"no Prefect Secret block named {name!r}") from None
        entry = entry_of(block.get())
        check_unexpired(name, entry, self._now(), "Prefect Secret blocks")
        return entry

    def put(self, name: str, entry: Mapping[str, Any]) -> None:
        """Save ``entry`` as the value of Secret block ``name`` (created or overwritten)."""
        clean = check_entry(name, entry)
        value: Any = plain_value(clean) or clean
        run_coro_as_sync(Secret(value=value).asave(name, overwrite=True))

    def delete(self, name: str) -> None:
        """Delete Secret block ``name``."""
        self.get(name)  # a clear not-found, as the other stores give
        run_coro_as_sync(Secret.adelete(name))

    def list(self) -> list[str]:
        """The names of the saved Secret blocks, sorted."""
        with get_client(sync_client=True) as client:
            documents = client.read_block_documents_by_type(
                Secret.get_block_type_slug(), include_secrets=False
            )
        return sorted(d.name for d in documents if d.name)
