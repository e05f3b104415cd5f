"""Prefect ``Secret`` blocks as an apilink credential store (``credentials: {type:
prefect_secret}``), where Prefect users already keep their secrets.

``secret://crm-api#token`` reads field ``token`` of the Secret block ``crm-api`` when its
value is a JSON object (a dict saved as the value, or a string holding one);
``secret://partner-key`` reads a plain value whole. ``put`` saves the entry back as the
block's value (how a rotated OAuth token is kept), ``delete`` deletes the block.

Trusted: the worker's operator and whoever may write Secret blocks on the Prefect server
(anyone with Prefect API access can: keep that access to the people trusted with the secrets).
Values are read into ``SecretStr`` by the references and never logged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client

from apilink.credentials.aws import PLAIN_FIELD
from apilink.credentials.file_store import check_entry
from apilink.errors import CredentialError, CredentialExpired, CredentialNotFound

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
            # ``_sync``: the same from sync and async callers.
            block = cast(
                "Secret[Any]",
                Secret.load(_checked(name), _sync=True),  # type: ignore[call-arg]
            )
        except ValueError:
            raise CredentialNotFound(f"no Prefect Secret block named {name!r}") from None
        entry = _entry(block.get())
        expires_at = entry.get("expires_at")
        if expires_at is not None and self._now() >= float(expires_at):
            raise CredentialExpired(f"credential {name!r} (Prefect Secret block) has expired")
        return entry

    def put(self, name: str, entry: Mapping[str, Any]) -> None:
        """Save ``entry`` as the value of Secret block ``name`` (created or overwritten)."""
        clean = check_entry(_checked(name), entry)
        plain = set(clean) == {PLAIN_FIELD} and isinstance(clean[PLAIN_FIELD], str)
        value: Any = clean[PLAIN_FIELD] if plain else clean
        Secret(value=value).save(name, overwrite=True, _sync=True)  # type: ignore[call-arg]

    def delete(self, name: str) -> None:
        """Delete Secret block ``name``."""
        self.get(name)  # a clear not-found, as the other stores give
        Secret.delete(name, _sync=True)  # type: ignore[call-arg]

    def list(self) -> list[str]:
        """The names of the saved Secret blocks, sorted."""
        with get_client(sync_client=True) as client:
            documents = client.read_block_documents_by_type(
                Secret.get_block_type_slug(), include_secrets=False
            )
        return sorted(d.name for d in documents if d.name)


def _checked(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise CredentialError("a credential name must be a non-empty string")
    return name


def _entry(value: Any) -> dict[str, Any]:
    """A JSON object's fields (a dict, or a string holding one), else the one field ``value``."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {PLAIN_FIELD: value}
        if isinstance(parsed, dict):
            return parsed
        return {PLAIN_FIELD: value}
    return {PLAIN_FIELD: value}
