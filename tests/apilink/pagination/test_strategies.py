"""Every registered paginator against a loopback API that paginates that way."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apilink.config.models import ConnectionConfig, EndpointConfig, RetryConfig, TimeoutConfig
from apilink.errors import PaginationError
from apilink.http.sending import RetryPolicy, build_client
from apilink.pagination import paginator_types
from apilink.run.reader import PageReader
from tests.fixtures.paginated import PAGINATED_RECORDS, PaginatedApi

ALL_IDS = list(range(1, PAGINATED_RECORDS + 1))

# One well-behaved endpoint per strategy: path, params, pagination.
CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "page_number": (
        "/page",
        {},
        {"type": "page_number", "data_path": "data", "has_more_path": "meta.has_more"},
    ),
    "offset": (
        "/offset",
        {},
        {"type": "offset", "data_path": "items", "limit": 10, "total_path": "total"},
    ),
    "cursor": ("/cursor", {}, {"type": "cursor", "data_path": "data"}),
    "header_cursor": ("/header-cursor", {}, {"type": "header_cursor", "data_path": "data"}),
    "next_url": (
        "/next-url",
        {},
        {"type": "next_url", "data_path": "results", "next_url_path": "links.next"},
    ),
    "link_header": ("/link", {}, {"type": "link_header"}),
    "single": ("/single", {}, {"type": "single"}),
}


def read_all(
    api: PaginatedApi, path: str, params: dict[str, Any], pagination: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every record the real extractor reads from ``path``, pages concatenated."""
    endpoint = EndpointConfig.model_validate(
        {"path": path, "params": params, "pagination": pagination}
    )
    connection = ConnectionConfig(base_url=api.url)

    async def run() -> list[dict[str, Any]]:
        async with build_client(connection, timeout=TimeoutConfig(), auth=None) as client:
            reader = PageReader(client, "items", endpoint, RetryPolicy(RetryConfig()))
            records: list[dict[str, Any]] = []
            async for page in reader.pages():
                records.extend(page)
            return records

    return asyncio.run(run())


def test_every_registered_strategy_has_a_case() -> None:
    assert sorted(CASES) == paginator_types()


@pytest.mark.parametrize("strategy", sorted(CASES))
def test_reads_every_record_exactly_once_in_order(
    paginated_api: PaginatedApi, strategy: str
) -> None:
    path, params, pagination = CASES[strategy]
    records = read_all(paginated_api, path, params, pagination)
    assert [r["id"] for r in records] == ALL_IDS
    pages = 1 if strategy == "single" else -(-PAGINATED_RECORDS // 10)
    # The stop condition ends on the last page: no request for a page past the end.
    assert len(paginated_api.state.requests) == pages


@pytest.mark.parametrize("strategy", sorted(set(CASES) - {"single"}))
def test_max_pages_stops_every_strategy(paginated_api: PaginatedApi, strategy: str) -> None:
    path, params, pagination = CASES[strategy]
    records = read_all(paginated_api, path, params, {**pagination, "max_pages": 3})
    assert [r["id"] for r in records] == ALL_IDS[:30]
    assert len(paginated_api.state.requests) == 3


@pytest.mark.parametrize(
    ("path", "params", "pagination"),
    [
        ("/cursor", {"mode": "repeat"}, CASES["cursor"][2]),
        ("/header-cursor", {"mode": "repeat"}, CASES["header_cursor"][2]),
        ("/next-url", {"mode": "repeat"}, CASES["next_url"][2]),
        ("/link", {"mode": "repeat"}, CASES["link_header"][2]),
        ("/page", {"mode": "ignore"}, {"type": "page_number", "data_path": "data"}),
        ("/offset", {"mode": "ignore"}, {"type": "offset", "data_path": "items", "limit": 10}),
    ],
    ids=["cursor", "header_cursor", "next_url", "link_header", "page_number", "offset"],
)
def test_a_source_that_would_loop_is_stopped(
    paginated_api: PaginatedApi, path: str, params: dict[str, Any], pagination: dict[str, Any]
) -> None:
    with pytest.raises(PaginationError, match=r"twice|same records"):
        read_all(paginated_api, path, params, pagination)
    assert len(paginated_api.state.requests) <= 3


def test_stops_on_an_empty_page_when_nothing_else_says_so(paginated_api: PaginatedApi) -> None:
    records = read_all(
        paginated_api, "/page", {"mode": "endless"}, {"type": "page_number", "data_path": "data"}
    )
    assert [r["id"] for r in records] == ALL_IDS
    assert len(paginated_api.state.requests) == 11  # ten pages, then the empty one


@pytest.mark.parametrize(
    "stop",
    [{"total_path": "meta.total"}, {"total_pages_path": "meta.total_pages"}],
    ids=["total_records", "total_pages"],
)
def test_stops_at_the_total(paginated_api: PaginatedApi, stop: dict[str, str]) -> None:
    pagination = {"type": "page_number", "data_path": "data", **stop}
    records = read_all(paginated_api, "/page", {}, pagination)
    assert [r["id"] for r in records] == ALL_IDS
    assert len(paginated_api.state.requests) == 10


def test_page_size_is_sent(paginated_api: PaginatedApi) -> None:
    pagination = {
        "type": "page_number",
        "data_path": "data",
        "page_size_param": "size",
        "page_size": 25,
        "total_pages_path": "meta.total_pages",
    }
    records = read_all(paginated_api, "/page", {}, pagination)
    assert [r["id"] for r in records] == ALL_IDS
    assert [r.query["size"] for r in paginated_api.state.requests] == ["25"] * 4


def test_offset_moves_by_what_was_received(paginated_api: PaginatedApi) -> None:
    # The server caps pages at 7 although 10 were asked: nothing may be skipped.
    pagination = {"type": "offset", "data_path": "items", "limit": 10, "total_path": "total"}
    records = read_all(paginated_api, "/offset", {"cap": 7}, pagination)
    assert [r["id"] for r in records] == ALL_IDS
    offsets = [int(r.query["offset"]) for r in paginated_api.state.requests]
    assert offsets == list(range(0, PAGINATED_RECORDS, 7))


def test_header_cursor_can_be_sent_as_a_request_header(paginated_api: PaginatedApi) -> None:
    pagination = {
        "type": "header_cursor",
        "data_path": "data",
        "cursor_param": "X-Cursor",
        "send_in": "header",
    }
    records = read_all(paginated_api, "/header-cursor", {}, pagination)
    assert [r["id"] for r in records] == ALL_IDS
    sent = [r.cursor_header for r in paginated_api.state.requests]
    assert sent[0] is None and all(sent[1:])
    assert all("cursor" not in r.query for r in paginated_api.state.requests)


@pytest.mark.parametrize("strategy", ["next_url", "link_header"])
def test_absolute_next_urls_on_the_same_origin_are_followed(
    paginated_api: PaginatedApi, strategy: str
) -> None:
    path, _, pagination = CASES[strategy]
    records = read_all(paginated_api, path, {"mode": "absolute"}, pagination)
    assert [r["id"] for r in records] == ALL_IDS


@pytest.mark.parametrize("strategy", ["next_url", "link_header"])
def test_next_urls_carry_the_query_and_params_are_not_duplicated(
    paginated_api: PaginatedApi, strategy: str
) -> None:
    path, _, pagination = CASES[strategy]
    read_all(paginated_api, path, {"size": 10, "filter": "a b"}, pagination)
    queries = [r.query for r in paginated_api.state.requests]
    assert queries[0] == {"size": "10", "filter": "a b"}
    assert queries[1] == {"size": "10", "filter": "a b", "page": "2"}


@pytest.mark.parametrize("strategy", ["next_url", "link_header"])
def test_a_cross_origin_next_url_is_refused_before_any_request(
    paginated_api: PaginatedApi, strategy: str
) -> None:
    path, _, pagination = CASES[strategy]
    with pytest.raises(PaginationError, match="leaves the source's origin") as caught:
        read_all(paginated_api, path, {"mode": "cross"}, pagination)
    assert "page=" not in str(caught.value)  # the URL itself is never quoted
    hosts = {r.host.split(":")[0] for r in paginated_api.state.requests}
    assert hosts == {"127.0.0.1"}
    assert len(paginated_api.state.requests) == 1


def test_the_apilinker_form_reads_a_next_page_number(paginated_api: PaginatedApi) -> None:
    # APILinker: `next_page_path` holds the next page's number, sent back as `page_param`.
    pagination = {"data_path": "data", "next_page_path": "meta.next", "page_param": "page"}
    records = read_all(paginated_api, "/page", {"mode": "endless"}, pagination)
    # /page?mode=endless has no meta.next: the first page is the only one.
    assert [r["id"] for r in records] == ALL_IDS[:10]


@pytest.mark.parametrize("strategy", sorted(set(CASES) - {"single"}))
def test_a_reader_resumed_from_a_position_reads_the_rest_exactly_once(
    paginated_api: PaginatedApi, strategy: str
) -> None:
    path, params, pagination = CASES[strategy]
    endpoint = EndpointConfig.model_validate(
        {"path": path, "params": params, "pagination": pagination}
    )
    connection = ConnectionConfig(base_url=paginated_api.url)
    policy = RetryPolicy(RetryConfig())

    async def run() -> tuple[list[int], list[int]]:
        async with build_client(connection, timeout=TimeoutConfig(), auth=None) as client:
            first = PageReader(client, "items", endpoint, policy)
            head = await first.next_chunk(25)  # three whole pages
            position = first.position()
            assert position is not None
            second = PageReader(client, "items", endpoint, policy, position=position)
            rest: list[dict[str, Any]] = []
            while chunk := await second.next_chunk(25):
                rest.extend(chunk)
            return [r["id"] for r in head], [r["id"] for r in rest]

    head, rest = asyncio.run(run())
    assert head == ALL_IDS[:30]
    assert rest == ALL_IDS[30:]
