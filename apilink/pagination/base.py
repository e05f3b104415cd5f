"""The paginator contract and the registry that picks one by ``pagination.type``.

A paginator is a small state machine, in the shape dlt's REST client made familiar:

- ``init_request(request)`` sets the first page's parameters;
- ``update_state(response, records, body)`` reads what the page says about the next one;
- ``has_next_page`` tells the extractor whether to go on;
- ``update_request(request)`` sets the next page's parameters, or moves the request to the next
  page's URL with :meth:`PageRequest.follow`.

The extractor calls :meth:`Paginator.advance`, which counts the page, runs the strategy, then
the stop conditions every strategy shares (``stop_on_empty_page``, ``has_more_path``,
``total_path``, ``total_header``, ``total_pages_path``, ``max_pages``, ``max_records``) and the
repeated-page guard. A paginator
never sends a request itself, so every strategy is tested by feeding it responses.

Register a new strategy with :func:`register_paginator`; its options model (a subclass of
:class:`PaginatorOptions`) is validated from the config::

    class SinceOptions(PaginatorOptions):
        since_param: str = "since"

    @register_paginator("since")
    class SincePaginator(Paginator[SinceOptions]):
        options_model = SinceOptions
        ...
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from apilink.errors import PaginationError
from apilink.mapping.paths import MISSING, get_path, parse_path

__all__ = [
    "LoopGuard",
    "PageRequest",
    "Paginator",
    "PaginatorOptions",
    "paginator_types",
    "register_paginator",
    "resolve_paginator",
]


class PaginatorOptions(BaseModel):
    """Options shared by every strategy; subclasses add their own.

    Attributes:
        type: the strategy's registered name.
        max_pages: stop after this many pages.
        max_records: stop once this many records were read (the page that passes it is cut).
        data_path: where the records sit in a page body.
        stop_on_empty_page: a page without records is the last one.
        has_more_path: a body path whose falsy (or absent) value means "last page".
        total_path: a body path holding the total number of records.
        total_header: a response header holding the total number of records
            (``X-Total-Count`` for json-server and many Rails and Express APIs).
        total_pages_path: a body path holding the total number of pages.
        guard_repeated_pages: a page with the same records as the one before is an error
            (a server that ignores the page parameter would otherwise be read forever).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    max_pages: int | None = Field(None, ge=1)
    max_records: int | None = Field(None, ge=1)
    data_path: str | None = None
    stop_on_empty_page: bool = True
    has_more_path: str | None = None
    total_path: str | None = None
    total_header: str | None = None
    total_pages_path: str | None = None

    guard_repeated_pages: bool = True

    @field_validator("data_path", "has_more_path", "total_path", "total_pages_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None:
            parse_path(value)
        return value


@dataclass
class PageRequest:
    """The mutable parts of the next page's request.

    The extractor sends ``url`` (relative to the client's base URL, or absolute) with
    ``params`` and ``headers`` exactly as they are after ``update_request``.
    """

    url: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def follow(self, url: str) -> None:
        """Go to an absolute next-page URL: its query string replaces every parameter.

        The query moves into ``params`` (a repeated name becomes a list) because httpx replaces
        a URL's query with ``params`` whenever ``params`` is given, even empty.
        """
        parsed = httpx.URL(url)
        query = parsed.params
        self.params = {
            key: values[0] if len(values) == 1 else values
            for key in query
            if (values := query.get_list(key))
        }
        self.url = str(parsed.copy_with(query=None))


class LoopGuard:
    """Remembers the tokens (cursors, URLs) a paginator followed; a repeat is an error.

    Args:
        what: how the token is named in the error (``cursor at `meta.next```).
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self._seen: set[str] = set()

    def check(self, token: Any) -> None:
        """Remember ``token``.

        Raises:
            PaginationError: when it was seen before (the value is not named: it may be a
                signed URL).
        """
        key = token if isinstance(token, str) else json.dumps(token, sort_keys=True, default=str)
        if key in self._seen:
            raise PaginationError(
                f"the source sent the same {self.what} twice; stopping instead of looping"
            )
        self._seen.add(key)


OptionsT = TypeVar("OptionsT", bound=PaginatorOptions)


class Paginator(ABC, Generic[OptionsT]):
    """Base class of pagination strategies.

    Attributes:
        has_next_page: whether the extractor should ask for another page.
        pages_read: pages seen so far.
        records_read: records seen so far.
        total_records: the record total the last page stated (``total_path``), if any.
        total_pages: the page total the last page stated (``total_pages_path``), if any.
    """

    options_model: ClassVar[type[PaginatorOptions]] = PaginatorOptions

    def __init__(self, options: OptionsT) -> None:
        self.options = options
        self.has_next_page = True
        self.pages_read = 0
        self.records_read = 0
        self.total_records: int | None = None
        self.total_pages: int | None = None
        # The previous page's records, to tell a source that ignores the page parameters. Compared
        # as lists, which stops at the first record that differs (encoding every page to hash it
        # cost a tenth of a batch sync).
        self._last_page: list[Any] | None = None

    def init_request(self, request: PageRequest) -> None:
        """Set the first page's parameters; most strategies need nothing."""

    @abstractmethod
    def update_state(self, response: httpx.Response, records: list[Any], body: Any) -> None:
        """Read the page just received and decide whether there is another."""

    @abstractmethod
    def update_request(self, request: PageRequest) -> None:
        """Set the next page's parameters."""

    def advance(self, response: httpx.Response, records: list[Any], body: Any) -> None:
        """Count the page, apply the strategy, then the stop conditions all strategies share.

        ``records`` is cut in place when ``max_records`` ends the read within this page.

        Raises:
            PaginationError: a repeated cursor or URL, or a page identical to the one before
                (a server that ignores the page parameter).
        """
        self.pages_read += 1
        limit = self.options.max_records
        if limit is not None and self.records_read + len(records) >= limit:
            del records[limit - self.records_read :]
            self.records_read = limit
            self.has_next_page = False
            return
        self.records_read += len(records)
        if not records and self.options.stop_on_empty_page:
            self.has_next_page = False
            return
        self._guard_repeated_page(records)
        self.update_state(response, records, body)
        if self.has_next_page and self._shared_stop(response, body):
            self.has_next_page = False

    def progress(self) -> float | None:
        """How far through the endpoint the reads are (0 to 1), when a page said its total
        (``total_path``, ``total_header``, ``total_pages_path``, a ``rel="last"`` link) or
        ``max_pages`` / ``max_records`` bounds it; else ``None``."""
        if not self.has_next_page:
            return 1.0
        total = self.total_records
        if self.options.max_records is not None:
            total = min(total or self.options.max_records, self.options.max_records)
        if total:
            return min(1.0, self.records_read / total)
        bound = self.total_pages or self.options.max_pages
        return min(1.0, self.pages_read / bound) if bound else None

    def _shared_stop(self, response: httpx.Response, body: Any) -> bool:
        options = self.options
        if options.has_more_path is not None and not get_path(body, options.has_more_path):
            return True
        if options.total_path is not None:
            self.total_records = _count_at(body, options.total_path)
        if options.total_header is not None:
            self.total_records = _count_in_header(response, options.total_header)
        if self.total_records is not None and self.records_read >= self.total_records:
            return True
        if options.total_pages_path is not None:
            self.total_pages = _count_at(body, options.total_pages_path)
        if self.total_pages is not None and self.pages_read >= self.total_pages:
            return True
        return options.max_pages is not None and self.pages_read >= options.max_pages

    def _guard_repeated_page(self, records: list[Any]) -> None:
        if not records or not self.options.guard_repeated_pages:
            return
        if records == self._last_page:
            raise PaginationError(
                f"page {self.pages_read} has the same records as page {self.pages_read - 1}: "
                "the source ignores the pagination parameters; stopping instead of looping"
            )
        self._last_page = records


def _count_in_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None or not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise PaginationError(f"the response header `{name}` is not a number") from None


def _count_at(body: Any, path: str) -> int | None:
    value = get_path(body, path)
    if value is MISSING or value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise PaginationError(f"`{path}` in the page body is not a number") from None


_REGISTRY: dict[str, type[Paginator[Any]]] = {}


def register_paginator(name: str) -> Callable[[type[Paginator[Any]]], type[Paginator[Any]]]:
    """Class decorator: make a strategy available as ``pagination: {type: name}``."""

    def decorate(cls: type[Paginator[Any]]) -> type[Paginator[Any]]:
        _REGISTRY[name] = cls
        return cls

    return decorate


def paginator_types() -> list[str]:
    """The registered strategy names, sorted."""
    return sorted(_REGISTRY)


def resolve_paginator(name: str) -> type[Paginator[Any]]:
    """The strategy registered as ``name``; a ``ValueError`` lists the valid names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        valid = ", ".join(paginator_types())
        raise ValueError(f"Received `type={name}`. Valid values are: {valid}") from None
