"""Read records from a source endpoint page by page, and resume where a checkpoint says.

A reader's :meth:`PageReader.position` is the request of the next page plus the paginator's
state, as JSON-able data. It is taken between chunks, after the target acknowledged the chunk,
and a reader built with ``position=`` goes on from there, so a rerun after a crash reads the
same pages in the same chunks and its requests carry the same idempotency keys.

A paginator's state is its public attributes (``page``, ``cursor``, ``has_next_page`` ...);
attributes whose names start with ``_`` (loop guards, caches) are not saved. A strategy whose
state is not plain data defines ``checkpoint() -> dict`` and ``restore(dict)`` instead.

A reader given a :class:`~apilink.storage.state.cursor.CursorFilter` (the session gives one
when the run sends an incremental cursor) drops the records an earlier run delivered, so a
source that ignores the cursor parameter is not loaded again; each chunk says how many it
dropped (:attr:`ReadChunk.skipped`), and :meth:`~apilink.run.summary.SyncSummary.for_chunk`
counts them as extracted and skipped.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import httpx

from apilink.config.models import EndpointConfig
from apilink.errors import PaginationError, RunDeadlinePassed
from apilink.http.protection import ResponseProtection
from apilink.http.sending import RetryPolicy, raise_for_status, send_with_retry
from apilink.mapping.paths import MISSING, get_path
from apilink.pagination import PageRequest, Paginator, PaginatorOptions, build_paginator
from apilink.pagination.follow import origin_of
from apilink.storage.state.cursor import CursorFilter

__all__ = ["PageReader", "ReadChunk", "paginator_state", "records_of", "restore_paginator"]

_COMMON_RECORD_KEYS = ("data", "items", "results", "records")


def records_of(
    body: Any, data_path: str | None, *, endpoint: str, page: int | None = None
) -> list[dict[str, Any]]:
    """The records in a page body, at ``data_path`` or where APIs usually put them.

    A body whose records are not where ``data_path`` says is an error, not an empty page (a
    JSON ``null`` there is an empty page); so is a list with something else than objects in it.

    Raises:
        PaginationError: naming the endpoint, the page and what was found instead.
    """
    where = (
        f"page {page} of endpoint `{endpoint}`" if page is not None else f"endpoint `{endpoint}`"
    )
    if data_path is not None:
        found = get_path(body, data_path)
        if found is None:
            return []
        if found is MISSING:
            raise PaginationError(
                f"{where} has no `{data_path}` (the body is {_kind(body)}); set `records_path` "
                "(or `pagination.data_path`) to where the list of records sits"
            )
        if not isinstance(found, list):
            raise PaginationError(
                f"`{data_path}` in {where} is {_kind(found)}, not a list of records"
            )
        return _objects(found, where)
    if isinstance(body, list):
        return _objects(body, where)
    if isinstance(body, dict):
        for key in _COMMON_RECORD_KEYS:
            if isinstance(body.get(key), list):
                return _objects(list(body[key]), where)
    raise PaginationError(
        f"cannot find the records in {where} (the body is {_kind(body)}): set "
        f"`records_path` (or `pagination.data_path`) to where the list sits"
    )


def _objects(records: list[Any], where: str) -> list[dict[str, Any]]:
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise PaginationError(
                f"record {index} in {where} is {_kind(record)}; records are JSON objects"
            )
    return records


def _kind(value: Any) -> str:
    """A JSON value's kind, for messages (never the value: it may be anything)."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")


def paginator_state(paginator: Paginator[Any]) -> dict[str, Any] | None:
    """The paginator's state as JSON-able data, or ``None`` when it cannot be saved."""
    custom = getattr(paginator, "checkpoint", None)
    if callable(custom):
        state = custom()
    else:
        state = {
            k: v for k, v in vars(paginator).items() if k != "options" and not k.startswith("_")
        }
    try:
        json.dumps(state)
    except (TypeError, ValueError):
        return None
    return dict(state)


def restore_paginator(paginator: Paginator[Any], state: dict[str, Any]) -> None:
    """Put a paginator back in a saved state.

    Raises:
        ValueError: the state names attributes this paginator does not have.
    """
    custom = getattr(paginator, "restore", None)
    if callable(custom):
        custom(state)
        return
    unknown = set(state) - set(vars(paginator))
    if unknown:
        raise ValueError(f"the saved position has unknown fields: {', '.join(sorted(unknown))}")
    for key, value in state.items():
        setattr(paginator, key, value)


class ReadChunk(list[dict[str, Any]]):
    """The records of one chunk, to validate, map and load, and how many records the reader
    read for it but skipped (:class:`~apilink.storage.state.cursor.CursorFilter`).

    A list, so a caller that knows nothing of skipping reads it as before.
    """

    def __init__(self, records: Iterable[dict[str, Any]] = (), skipped: int = 0) -> None:
        super().__init__(records)
        self.skipped = skipped


class PageReader:
    """Iterates the pages of one source endpoint.

    Args:
        client: the source API's client.
        name: the endpoint's name in the config (for messages).
        endpoint: its config.
        policy: retry policy for each page request.
        params: extra query parameters (incremental cursor, partition bounds).
        position: where to go on from (a :meth:`position` of an earlier reader).
        deadline: a ``clock()`` reading past which no page is asked for (the run's
            ``max_duration``).
        clock: monotonic seconds.
        cursor_filter: skips the records an earlier run delivered (see :class:`ReadChunk`).

    Attributes:
        skipped: records this reader skipped so far, in every chunk it returned.

    Raises:
        ValueError: ``position`` does not fit this endpoint's paginator.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        name: str,
        endpoint: EndpointConfig,
        policy: RetryPolicy,
        params: dict[str, Any] | None = None,
        position: dict[str, Any] | None = None,
        *,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        cursor_filter: CursorFilter | None = None,
    ) -> None:
        self.client = client
        self.cursor_filter = cursor_filter
        self.skipped = 0
        self.deadline = deadline
        self.clock = clock
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
        self._protection = ResponseProtection.of(
            f"source.endpoints.{name}", endpoint.verify, endpoint.decrypt
        )
        self._pages: AsyncIterator[list[dict[str, Any]]] | None = None
        self.exhausted = False
        if position is not None:
            self._resume(position)

    def position(self) -> dict[str, Any] | None:
        """Where the next chunk starts, as JSON-able data; ``None`` if it cannot be saved.

        Headers are not saved (they may hold secrets); they are rebuilt from the config.
        """
        state = paginator_state(self.paginator)
        if state is None:
            return None
        position = {
            "url": self.request.url,
            "params": self.request.params,
            "paginator": state,
            "exhausted": self.exhausted,
        }
        try:
            json.dumps(position)
        except (TypeError, ValueError):
            return None
        return position

    def _resume(self, position: dict[str, Any]) -> None:
        try:
            url, params = position["url"], position["params"]
            state, exhausted = position["paginator"], position["exhausted"]
        except (KeyError, TypeError):
            raise ValueError("the saved position is not a reader position") from None
        if not isinstance(url, str) or not isinstance(params, dict) or not isinstance(state, dict):
            raise ValueError("the saved position is not a reader position")
        saved = httpx.URL(url)
        if saved.is_absolute_url and origin_of(saved) != origin_of(self.client.base_url):
            # Whoever can edit a checkpoint must not choose where the source's credentials go
            # (the client refuses the request anyway; this names the checkpoint as the cause).
            raise PaginationError(
                f"the checkpoint of `{self.name}` points to {origin_of(saved)}, not the "
                f"source's origin {origin_of(self.client.base_url)}; refusing to resume from it "
                "(was the checkpoint edited?). Reset the sync's state to start over.",
                endpoint=self.name,
            )
        restore_paginator(self.paginator, state)
        self.request.url = url
        self.request.params = dict(params)
        self.exhausted = bool(exhausted)

    async def next_chunk(self, size: int) -> ReadChunk:
        """Whole pages until at least ``size`` records were read (fewer at the end; empty when
        done).

        Skipped records count toward ``size``, so a chunk spans the pages it would without a
        filter; but a chunk is never empty before the read ends: pages whose records were all
        skipped are read on until one is kept.
        """
        if self._pages is None:
            self._pages = self.pages()
        chunk = ReadChunk()
        while not self.exhausted and (len(chunk) + chunk.skipped < size or not chunk):
            try:
                records = await anext(self._pages)
            except StopAsyncIteration:
                self.exhausted = True
                break
            if self.cursor_filter is not None:
                records, skipped = self.cursor_filter.split(records)
                chunk.skipped += skipped
                self.skipped += skipped
            chunk.extend(records)
        return chunk

    def _check_deadline(self) -> None:
        if self.deadline is not None and self.clock() >= self.deadline:
            raise RunDeadlinePassed(
                f"the run's max_duration passed before page {self.paginator.pages_read + 1} of "
                f"`{self.name}` was read; what was loaded is checkpointed, a rerun goes on"
            )

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Each page's records, until the paginator says there are no more."""
        while True:
            self._check_deadline()
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
                if self._protection is not None:
                    body = json.loads(self._protection.open(response.content, response.headers))
                else:
                    body = response.json()
            except ValueError:
                raise PaginationError(
                    f"endpoint `{self.name}` answered {response.status_code} with a body that is "
                    f"not JSON (content-type {response.headers.get('content-type', 'unset')})",
                    endpoint=self.name,
                    status=response.status_code,
                ) from None
            records = records_of(
                body,
                self.endpoint.data_path,
                endpoint=self.name,
                page=self.paginator.pages_read + 1,
            )
            self.paginator.advance(response, records, body)
            more = self.paginator.has_next_page
            # The next request is set before the page is handed out, so a position taken
            # between chunks names the next page.
            if more:
                self.paginator.update_request(self.request)
            else:
                self.exhausted = True
            yield records
            if not more:
                return
