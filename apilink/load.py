"""Write mapped records to a target endpoint, one request per record or per batch."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from apilink.config.models import EndpointConfig
from apilink.errors import TransportError
from apilink.http import RetryPolicy, send_with_retry
from apilink.mapping.paths import get_path

__all__ = ["DeliveryFailure", "LoadResult", "Loader", "idempotency_key"]

_REASON_LIMIT = 200


@dataclass(frozen=True)
class DeliveryFailure:
    """A record the target did not accept, with the last status and a trimmed reason."""

    record: dict[str, Any]
    status: int | None
    reason: str


@dataclass
class LoadResult:
    loaded: int = 0
    failed: list[DeliveryFailure] = field(default_factory=list)


def idempotency_key(scope: str, record: dict[str, Any], natural_key: str | None = None) -> str:
    """A stable key for ``record``: its natural key if configured, else a hash of its content.

    The scope (sync name and target endpoint) keeps keys of different syncs apart.
    """
    if natural_key is not None:
        value = get_path(record, natural_key)
        basis = json.dumps([scope, natural_key, value], sort_keys=True, default=str)
    else:
        basis = json.dumps([scope, record], sort_keys=True, default=str)
    return hashlib.sha256(basis.encode()).hexdigest()[:40]


class Loader:
    """Delivers chunks of records to one target endpoint with bounded concurrency.

    Args:
        client: the target API's client.
        name: the endpoint's name in the config.
        endpoint: its config (method, path, batch, batch_size, idempotency_key).
        policy: retry policy.
        scope: prefix of idempotency keys (the sync's name).
        concurrency: requests in flight at once.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        name: str,
        endpoint: EndpointConfig,
        policy: RetryPolicy,
        *,
        scope: str,
        concurrency: int,
    ) -> None:
        self.client = client
        self.name = name
        self.endpoint = endpoint
        self.policy = policy
        self.scope = f"{scope}:{name}"
        self._semaphore = asyncio.Semaphore(concurrency)

    async def load(self, records: list[dict[str, Any]]) -> LoadResult:
        """Send ``records``; every record ends up loaded or in ``failed``."""
        if not records:
            return LoadResult()
        if self.endpoint.batch:
            size = self.endpoint.batch_size
            groups = [records[i : i + size] for i in range(0, len(records), size)]
            outcomes = await asyncio.gather(*(self._send(group, group) for group in groups))
        else:
            outcomes = await asyncio.gather(*(self._send(r, [r]) for r in records))
        result = LoadResult()
        for loaded, failures in outcomes:
            result.loaded += loaded
            result.failed.extend(failures)
        return result

    async def _send(
        self, body: Any, records: list[dict[str, Any]]
    ) -> tuple[int, list[DeliveryFailure]]:
        keys = [idempotency_key(self.scope, r, self.endpoint.idempotency_key) for r in records]
        key = keys[0] if len(keys) == 1 else hashlib.sha256("".join(keys).encode()).hexdigest()[:40]
        headers = {**self.endpoint.headers, "Idempotency-Key": key}
        async with self._semaphore:
            try:
                response = await send_with_retry(
                    self.client,
                    self.endpoint.method,
                    self.endpoint.path,
                    policy=self.policy,
                    idempotent=True,
                    json=body,
                    headers=headers,
                    params=self.endpoint.params or None,
                )
            except TransportError as exc:
                return 0, [DeliveryFailure(r, None, str(exc)[:_REASON_LIMIT]) for r in records]
        if response.is_success:
            return len(records), []
        reason = f"{response.status_code} {response.reason_phrase}: {_trim(response.text)}"
        return 0, [DeliveryFailure(r, response.status_code, reason) for r in records]


def _trim(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _REASON_LIMIT else text[: _REASON_LIMIT - 1] + "…"
