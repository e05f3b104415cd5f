"""The built-in pagination strategies."""

from __future__ import annotations

from typing import Any

import httpx

from apilink.errors import PaginationError
from apilink.mapping.paths import get_path
from apilink.pagination.base import PageRequest, Paginator, PaginatorOptions, register_paginator

__all__ = [
    "CursorOptions",
    "CursorPaginator",
    "PageNumberOptions",
    "PageNumberPaginator",
    "SinglePagePaginator",
]


def _truthy_path(body: Any, path: str | None) -> bool | None:
    if path is None:
        return None
    return bool(get_path(body, path))


class PageNumberOptions(PaginatorOptions):
    page_param: str = "page"
    start_page: int = 1
    page_size_param: str | None = None
    page_size: int | None = None
    total_pages_path: str | None = None
    has_more_path: str | None = None


@register_paginator("page_number")
class PageNumberPaginator(Paginator[PageNumberOptions]):
    """``?page=1, 2, ...`` until an empty page, ``has_more`` false, or the total is reached."""

    options_model = PageNumberOptions

    def __init__(self, options: PageNumberOptions) -> None:
        super().__init__(options)
        self.page = options.start_page

    def init_request(self, request: PageRequest) -> None:
        request.params[self.options.page_param] = self.page
        if self.options.page_size_param and self.options.page_size:
            request.params[self.options.page_size_param] = self.options.page_size

    def update_state(self, response: httpx.Response, records: list[Any], body: Any) -> None:
        if not records:
            self.has_next_page = False
            return
        has_more = _truthy_path(body, self.options.has_more_path)
        if has_more is False:
            self.has_next_page = False
            return
        if self.options.total_pages_path is not None:
            total = get_path(body, self.options.total_pages_path)
            if isinstance(total, int) and self.page - self.options.start_page + 1 >= total:
                self.has_next_page = False
                return
        self.page += 1

    def update_request(self, request: PageRequest) -> None:
        request.params[self.options.page_param] = self.page


class CursorOptions(PaginatorOptions):
    cursor_path: str = "next_cursor"
    cursor_param: str = "cursor"


@register_paginator("cursor")
class CursorPaginator(Paginator[CursorOptions]):
    """A token in the response body, sent back as a query parameter; stops when it is absent."""

    options_model = CursorOptions

    def __init__(self, options: CursorOptions) -> None:
        super().__init__(options)
        self.cursor: Any = None
        self._seen: set[str] = set()

    def update_state(self, response: httpx.Response, records: list[Any], body: Any) -> None:
        cursor = get_path(body, self.options.cursor_path)
        if cursor in (None, ""):
            self.has_next_page = False
            return
        key = str(cursor)
        if key in self._seen:
            raise PaginationError(
                f"The source sent the same cursor twice at `{self.options.cursor_path}`; "
                "stopping instead of looping."
            )
        self._seen.add(key)
        self.cursor = cursor

    def update_request(self, request: PageRequest) -> None:
        request.params[self.options.cursor_param] = self.cursor


@register_paginator("single")
class SinglePagePaginator(Paginator[PaginatorOptions]):
    """The endpoint answers everything at once."""

    def update_state(self, response: httpx.Response, records: list[Any], body: Any) -> None:
        self.has_next_page = False

    def update_request(self, request: PageRequest) -> None:
        raise AssertionError("single-page endpoints have no next page")
