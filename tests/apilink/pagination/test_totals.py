"""Totals a source states (a header, a ``rel="last"`` link) and bounds a config sets."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from apilink.errors import PaginationError
from apilink.pagination import PageRequest, build_paginator, parse_pagination


def _page(headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, headers=headers or {})


def _records(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": i} for i in range(start, start + n)]


@pytest.mark.parametrize("kind", ["page_number", "offset"])
def test_a_total_header_ends_the_read_and_gives_progress(kind: str) -> None:
    paginator = build_paginator(parse_pagination({"type": kind, "total_header": "X-Total-Count"}))
    paginator.advance(_page({"x-total-count": "25"}), _records(10), [])
    assert paginator.has_next_page
    assert paginator.progress() == pytest.approx(0.4)
    paginator.advance(_page({"x-total-count": "25"}), _records(10, 10), [])
    paginator.advance(_page({"x-total-count": "25"}), _records(5, 20), [])
    assert not paginator.has_next_page


def test_a_total_header_that_is_not_a_number_is_an_error() -> None:
    paginator = build_paginator(parse_pagination({"type": "offset", "total_header": "X-Total"}))
    with pytest.raises(PaginationError, match="header `X-Total` is not a number"):
        paginator.advance(_page({"x-total": "many"}), _records(3), [])


@pytest.mark.parametrize(("start", "pages"), [(1, 3), (0, 4)])
def test_a_last_link_gives_the_number_of_pages(start: int, pages: int) -> None:
    options = parse_pagination({"type": "page_number", "start_page": start})
    paginator = build_paginator(options)
    last = {
        "link": '<https://api.example/u?page=1>; rel="next", '
        '<https://api.example/u?page=3>; rel="last"'
    }
    paginator.advance(_page(last), _records(10), [])
    assert paginator.total_pages == pages
    assert paginator.progress() == pytest.approx(1 / pages)
    for n in range(1, pages):
        assert paginator.has_next_page
        paginator.advance(_page(last), _records(10, 10 * n), [])
    assert not paginator.has_next_page


def test_a_last_link_without_the_page_parameter_is_ignored() -> None:
    paginator = build_paginator(parse_pagination({"type": "page_number"}))
    paginator.advance(
        _page({"link": '<https://api.example/u?cursor=x>; rel="last"'}), _records(2), []
    )
    assert paginator.total_pages is None
    assert paginator.has_next_page


def test_max_records_cuts_the_page_that_passes_it() -> None:
    paginator = build_paginator(parse_pagination({"type": "page_number", "max_records": 15}))
    request = PageRequest(url="/u")
    paginator.init_request(request)
    first = _records(10)
    paginator.advance(_page(), first, [])
    assert paginator.progress() == pytest.approx(10 / 15)
    second = _records(10, 10)
    paginator.advance(_page(), second, [])
    assert [r["id"] for r in second] == [10, 11, 12, 13, 14]
    assert not paginator.has_next_page
    assert paginator.records_read == 15
