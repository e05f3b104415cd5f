"""Choosing a strategy from config: the types, the APILinker form, and the errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from apilink.errors import PaginationError
from apilink.pagination import (
    CursorOptions,
    LoopGuard,
    PageNumberOptions,
    PageRequest,
    Paginator,
    PaginatorOptions,
    build_paginator,
    origin_of,
    parse_pagination,
    register_paginator,
)


def test_apilinker_form_with_next_page_path_is_a_cursor() -> None:
    options = parse_pagination(
        {"data_path": "data", "next_page_path": "meta.next", "page_param": "page"}
    )
    assert isinstance(options, CursorOptions)
    assert (options.cursor_path, options.cursor_param, options.data_path) == (
        "meta.next",
        "page",
        "data",
    )


def test_apilinker_form_with_page_param_only_is_page_numbers() -> None:
    options = parse_pagination({"page_param": "p"})
    assert isinstance(options, PageNumberOptions) and options.page_param == "p"


def test_no_keys_is_a_single_page() -> None:
    assert parse_pagination({}).type == "single"


def test_unknown_type_lists_every_valid_one() -> None:
    with pytest.raises(ValueError, match="type=pagee") as caught:
        parse_pagination({"type": "pagee"})
    for name in ("next_url", "link_header", "header_cursor", "offset"):
        assert name in str(caught.value)


def test_an_unknown_key_is_named_with_the_valid_keys() -> None:
    with pytest.raises(ValueError, match="`cursor_pth`") as caught:
        parse_pagination({"type": "cursor", "cursor_pth": "x"})
    assert "cursor_path" in str(caught.value)


def test_a_bad_path_is_refused() -> None:
    with pytest.raises(ValueError, match="has_more_path"):
        parse_pagination({"type": "offset", "has_more_path": "a..b"})


def test_users_can_register_a_strategy() -> None:
    class SinceOptions(PaginatorOptions):
        since_param: str = "since"

    @register_paginator("test_since")
    class SincePaginator(Paginator[SinceOptions]):
        options_model = SinceOptions

        def update_state(self, response: httpx.Response, records: list[Any], body: Any) -> None:
            self.since = records[-1]["id"]

        def update_request(self, request: PageRequest) -> None:
            request.params[self.options.since_param] = self.since

    try:
        options = parse_pagination({"type": "test_since", "since_param": "after", "max_pages": 2})
        paginator = build_paginator(options)
        assert isinstance(paginator, SincePaginator)
        request = PageRequest(url="/x")
        response = httpx.Response(200, request=httpx.Request("GET", "https://a.example/x"))
        paginator.advance(response, [{"id": 7}], {})
        paginator.update_request(request)
        assert request.params == {"after": 7} and paginator.has_next_page
        paginator.advance(response, [{"id": 9}], {})
        assert not paginator.has_next_page  # max_pages applies to user strategies too
    finally:
        from apilink.pagination import base

        base._REGISTRY.pop("test_since")


def test_follow_moves_the_query_into_params() -> None:
    request = PageRequest(url="/items", params={"stale": 1})
    request.follow("https://a.example/items?page=2&tag=a&tag=b&q=a%20b")
    assert request.url == "https://a.example/items"
    assert request.params == {"page": "2", "tag": ["a", "b"], "q": "a b"}


def test_loop_guard_names_no_value() -> None:
    guard = LoopGuard("cursor at `next`")
    guard.check("s3cr3t-signed")
    with pytest.raises(PaginationError) as caught:
        guard.check("s3cr3t-signed")
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://a.example/x", "https://a.example:443"),
        ("https://a.example:443/x", "https://a.example:443"),
        ("http://a.example/x", "http://a.example:80"),
        ("http://127.0.0.1:8080/x", "http://127.0.0.1:8080"),
    ],
)
def test_origin_makes_default_ports_explicit(url: str, origin: str) -> None:
    assert origin_of(httpx.URL(url)) == origin


@pytest.mark.parametrize(
    "next_url",
    [
        "http://api.example.com/items?page=2",  # downgrade to http
        "https://api.example.com:8443/items?page=2",  # another port
        "https://evil.example/items?page=2",
        "//evil.example/items?page=2",  # scheme-relative
        "ftp://api.example.com/items",
    ],
)
def test_next_url_leaving_the_origin_is_refused(next_url: str) -> None:
    paginator = build_paginator(parse_pagination({"type": "next_url"}))
    response = httpx.Response(
        200, request=httpx.Request("GET", "https://api.example.com/items?page=1")
    )
    with pytest.raises(PaginationError, match="leaves the source's origin"):
        paginator.advance(response, [{"id": 1}], {"next": next_url})


def test_next_url_that_is_not_a_string_is_an_error() -> None:
    paginator = build_paginator(parse_pagination({"type": "next_url"}))
    response = httpx.Response(200, request=httpx.Request("GET", "https://a.example/items"))
    with pytest.raises(PaginationError, match="not a string"):
        paginator.advance(response, [{"id": 1}], {"next": {"href": "/items?page=2"}})
