"""Read records from a source endpoint page by page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from apilink.config.models import EndpointConfig
from apilink.errors import PaginationError
from apilink.http import RetryPolicy, raise_for_status, send_with_retry
from apilink.mapping.paths import MISSING, get_path
from apilink.pagination import PageRequest, Paginator, PaginatorOptions, build_paginator

__all__ = ["PageReader", "records_of"]

_COMMON_RECORD_KEYS = ("data", "items", "results", "records")


def records_of(body: Any, data_path: str | None, *, endpoint: str) -> list[Any]:
    """The records in a page body, at ``data_path`` or where APIs usually put them.

    Raises:
        PaginationError: when no list of records can be found.
    """
    if data_path is not None:
        found = get_path(body, data_path)
        if found is MISSING or found is None:
            return []
        if not isinstance(found, list):
            raise PaginationError(
                f"`{data_path}` in the response of endpoint `{endpoint}` is "
                f"{type(found).__name__}, not a list of records"
            )
        return found
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in _COMMON_RECORD_KEYS:
            if isinstance(body.get(key), list):
                return list(body[key])
    raise PaginationError(
        f"cannot find the records in the response of endpoint `{endpoint}`: set "
        f"`records_path` (or `pagination.data_path`) to where the list sits"
    )


class PageReader:
    """Iterates the pages of one source endpoint.

    Args:
        client: the source API's client.
        name: the endpoint's name in the config (for messages).
        endpoint: its config.
        policy: retry policy for each page request.
        params: extra query parameters (incremental cursor, partition bounds).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        name: str,
        endpoint: EndpointConfig,
        policy: RetryPolicy,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.endpoint = endpoint
        self.policy = policy
        self.paginator: Paginator[PaginatorOptions] = build_paginator(endpoint.pagination)
        self.request = PageRequest(
            url=endpoint.path,
            params={**endpoint.params, **(params or {})},
            headers=dict(endpoint.headers),
        )
        self.paginator.init_request(self.request)
        self._pages: AsyncIterator[list[dict[str, Any]]] | None = None
        self.exhausted = False

    async def next_chunk(self, size: int) -> list[dict[str, Any]]:
        """Whole pages until at least ``size`` records (fewer at the end; ``[]`` when done)."""
        if self._pages is None:
            self._pages = self.pages()
        chunk: list[dict[str, Any]] = []
        while len(chunk) < size and not self.exhausted:
            try:
                chunk.extend(await anext(self._pages))
            except StopAsyncIteration:
                self.exhausted = True
        return chunk

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Each page's records, until the paginator says there are no more."""
        while True:
            response = await send_with_retry(
                self.client,
                self.endpoint.method,
                self.request.url,
                policy=self.policy,
                params=self.request.params,
                headers=self.request.headers,
            )
            raise_for_status(response)
            try:
                body = response.json()
            except ValueError:
                raise PaginationError(
                    f"endpoint `{self.name}` answered {response.status_code} with a body that is "
                    f"not JSON (content-type {response.headers.get('content-type', 'unset')})"
                ) from None
            records = records_of(body, self.endpoint.data_path, endpoint=self.name)
            self.paginator.advance(response, records, body)
            yield [r if isinstance(r, dict) else {"value": r} for r in records]
            if not self.paginator.has_next_page:
                return
            self.paginator.update_request(self.request)
