"""The built-in strategies that send the next page's position as a parameter.

``page_number`` (``?page=2``), ``offset`` (``?offset=20&limit=10``), ``cursor`` (a token from
the body), ``header_cursor`` (a token from a response header) and ``single``. The strategies
that follow a URL the server gives (``next_url``, ``link_header``) are in
:mod:`apilink.pagination.follow`.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import Field

from apilink.errors import PaginationError
from apilink.mapping.paths import MISSING, get_path
from apilink.pagination.base import (
    LoopGuard,
    PageRequest,
    Paginator,
    PaginatorOptions,
    register_paginator,
)
from apilink.pagination.rfc8288 import find_link

__all__ = [
    "CursorOptions",
    "CursorPaginator",
    "HeaderCursorOptions",
    "HeaderCursorPaginator",
    "OffsetOptions",
    "OffsetPaginator",
    "PageNumberOptions",
    "PageNumberPaginator",
    "SinglePagePaginator",
]


class PageNumberOptions(PaginatorOptions):
    """``type: page_number``.

    Attributes:
        page_param: the query parameter that carries the page number.
        start_page: the first page's number (0 or 1, usually).
        page_size_param: the query parameter that carries the page size, if any.
        page_size: the page size to ask for.
    """

    page_param: str = "page"
    start_page: int = 1
    page_size_param: str | None = None
    page_size: int | None = Field(None, ge=1)


@register_paginator("page_number")
class PageNumberPaginator(Paginator[PageNumberOptions]):
    """``?page=1, 2, ...`` until a shared stop condition says the last page was read.

    A ``Link: <...?page=N>; rel="last"`` header (RFC 8288, as json-server and GitHub send it)
    gives the number of pages, so the progress has a total and the read ends on the last page
    without asking for an empty one.
    """

    options_model = PageNumberOptions

    def __init__(self, options: PageNumberOptions) -> None:
        super().__init__(options)
        self.page = options.start_page

    def init_request(self, request: PageRequest) -> None:
        request.params[self.options.page_param] = self.page
        if self.options.page_size_param and self.options.page_size:
            request.params[self.options.page_size_param] = self.options.page_size

    def update_state(self, response: httpx.Response, records: list[Any], body: Any) -> None:
        self.page += 1
        last = find_link(response.headers.get_list("link"), "last")
        pages = self._pages_up_to(last) if last is not None else None
        if pages is not None:
            self.total_pages = pages

    def update_request(self, request: PageRequest) -> None:
        request.params[self.options.page_param] = self.page

    def _pages_up_to(self, last: str) -> int | None:
        try:
            number = httpx.URL(last).params.get(self.options.page_param)
            return int(number) - self.options.start_page + 1 if number is not None else None
        except (ValueError, httpx.InvalidURL):
            raise PaginationError(
                f"the `last` link does not carry a page number in `{self.options.page_param}`"
            ) from None


class OffsetOptions(PaginatorOptions):
    """``type: offset``.

    Attributes:
        offset_param: the query parameter that carries the offset.
        limit_param: the query parameter that carries the page size.
        limit: the page size to ask for.
        start_offset: the first page's offset.
    """

    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = Field(100, ge=1)
    start_offset: int = Field(0, ge=0)


@register_paginator("offset")
class OffsetPaginator(Paginator[OffsetOptions]):
    """``?offset=0&limit=N``, then the offset moves by the records actually received.

    Moving by what was received, not by ``limit``, skips nothing when a server caps the limit
    below what was asked.
    """

    options_model = OffsetOptions

    def __init__(self, options: OffsetOptions) -> None:
        super().__init__(options)
        self.offset = options.start_offset

    def init_request(self, request: PageRequest) -> None:
        request.params[self.options.offset_param] = self.offset
        request.params[self.options.limit_param] = self.options.limit

    def update_state(self, response: httpx.Response, records: list[Any], body: Any) -> None:
        self.offset += len(records)

    def update_request(self, request: PageRequest) -> None:
        request.params[self.options.offset_param] = self.offset


class CursorOptions(PaginatorOptions):
    """``type: cursor``.

    Attributes:
        cursor_path: where the next cursor sits in the body; absent, null or ``""`` ends.
        cursor_param: the query parameter that sends it back.
    """

    cursor_path: str = "next_cursor"
    cursor_param: str = "cursor"


@register_paginator("cursor")
class CursorPaginator(Paginator[CursorOptions]):
    """A token in the response body, sent back as a query parameter; stops when it is absent."""

    options_model = CursorOptions

    def __init__(self, options: CursorOptions) -> None:
        super().__init__(options)
        self.cursor: Any = None
        self._guard = LoopGuard(f"cursor at `{options.cursor_path}`")

    def update_state(self, response: httpx.Response, records: list[Any], body: Any) -> None:
        cursor = get_path(body, self.options.cursor_path)
        if cursor is MISSING or cursor in (None, ""):
            self.has_next_page = False
            return
        self._guard.check(cursor)
        self.cursor = cursor

    def update_request(self, request: PageRequest) -> None:
        request.params[self.options.cursor_param] = self.cursor


class HeaderCursorOptions(PaginatorOptions):
    """``type: header_cursor``.

    Attributes:
        cursor_header: the response header that carries the next cursor; absent or empty ends.
        cursor_param: the name the cursor is sent back under.
        send_in: ``query`` (a query parameter) or ``header`` (a request header).
    """

    cursor_header: str = "X-Next-Cursor"
    cursor_param: str = "cursor"
    send_in: Literal["query", "header"] = "query"


@register_paginator("header_cursor")
class HeaderCursorPaginator(Paginator[HeaderCursorOptions]):
    """A token in a response header, sent back as a query parameter or a request header."""

    options_model = HeaderCursorOptions

    def __init__(self, options: HeaderCursorOptions) -> None:
        super().__init__(options)
        self.cursor: str | None = None
        self._guard = LoopGuard(f"cursor in header `{options.cursor_header}`")

    def update_state(self, response: httpx.Response, records: list[Any], body: Any) -> None:
        cursor = response.headers.get(self.options.cursor_header, "").strip()
        if not cursor:
            self.has_next_page = False
            return
        self._guard.check(cursor)
        self.cursor = cursor

    def update_request(self, request: PageRequest) -> None:
        assert self.cursor is not None
        if self.options.send_in == "header":
            request.headers[self.options.cursor_param] = self.cursor
        else:
            request.params[self.options.cursor_param] = self.cursor


@register_paginator("single")
class SinglePagePaginator(Paginator[PaginatorOptions]):
    """The endpoint answers everything at once."""

    def update_state(self, response: httpx.Response, records: list[Any], body: Any) -> None:
        self.has_next_page = False

    def update_request(self, request: PageRequest) -> None:
        raise AssertionError("single-page endpoints have no next page")
