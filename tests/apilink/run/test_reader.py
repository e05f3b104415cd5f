"""PageReader against real loopback sources: chunks of whole pages, positions, resuming."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from apilink.config.models import EndpointConfig, RetryConfig
from apilink.http.sending import RetryPolicy
from apilink.pagination import build_paginator, parse_pagination
from apilink.run.reader import PageReader, ReadChunk, paginator_state, restore_paginator
from apilink.storage.state.cursor import CursorFilter
from tests.fixtures.faulty import FaultyApis
from tests.servers.faulty import FaultPlan, items

PAGE_NUMBER = {"type": "page_number", "data_path": "data", "has_more_path": "meta.more"}


def endpoint(**extra: Any) -> EndpointConfig:
    return EndpointConfig.model_validate(
        {"path": "/items", "params": {"per_page": 10}, "pagination": PAGE_NUMBER, **extra}
    )


async def _read(
    url: str,
    position: dict[str, Any] | None,
    chunks: int | None,
    size: int = 25,
    cursor_filter: CursorFilter | None = None,
) -> tuple[list[ReadChunk], dict[str, Any] | None]:
    async def no_wait(_: float) -> None:
        return None

    policy = RetryPolicy(RetryConfig(max_attempts=6), sleep=no_wait)
    async with httpx.AsyncClient(base_url=url) as client:
        reader = PageReader(
            client, "items", endpoint(), policy, position=position, cursor_filter=cursor_filter
        )
        read: list[ReadChunk] = []
        while chunks is None or len(read) < chunks:
            chunk = await reader.next_chunk(size)
            if not chunk:
                break
            read.append(chunk)
        return read, reader.position()


def test_chunks_are_whole_pages(faulty_apis: Callable[..., FaultyApis]) -> None:
    apis = faulty_apis(items(45))
    chunks, _ = asyncio.run(_read(apis.source_url, None, None, size=25))
    assert [len(c) for c in chunks] == [30, 15]
    assert [r["id"] for c in chunks for r in c] == list(range(1, 46))


def test_a_filtered_reader_skips_what_an_earlier_run_delivered(
    faulty_apis: Callable[..., FaultyApis],
) -> None:
    # The reader sends no `since`: a source that ignores the cursor answers every record.
    apis = faulty_apis(items(45))  # seq = 10 * id
    chunks, _ = asyncio.run(_read(apis.source_url, None, None, 25, CursorFilter("seq", 120)))
    assert [r["id"] for c in chunks for r in c] == list(range(13, 46))
    # Chunks span the pages they would without the filter; each says what it skipped.
    assert [(len(c), c.skipped) for c in chunks] == [(18, 12), (15, 0)]
    assert all(line["since"] is None for line in apis.source_log)


def test_pages_whose_records_are_all_skipped_make_no_empty_chunk(
    faulty_apis: Callable[..., FaultyApis],
) -> None:
    apis = faulty_apis(items(95))
    chunks, position = asyncio.run(_read(apis.source_url, None, None, 20, CursorFilter("seq", 700)))
    # An empty chunk would end the pass: the reader reads on until it keeps a record.
    assert [(len(c), c.skipped) for c in chunks] == [(10, 70), (15, 0)]
    assert position is not None and position["exhausted"] is True


def test_when_every_record_is_skipped_the_last_chunk_is_empty_and_counts_them(
    faulty_apis: Callable[..., FaultyApis],
) -> None:
    async def read_all() -> tuple[ReadChunk, ReadChunk, int]:
        policy = RetryPolicy(RetryConfig())
        async with httpx.AsyncClient(base_url=apis.source_url) as client:
            reader = PageReader(
                client, "items", endpoint(), policy, cursor_filter=CursorFilter("seq", 10_000)
            )
            return await reader.next_chunk(20), await reader.next_chunk(20), reader.skipped

    apis = faulty_apis(items(45))
    last, after, skipped = asyncio.run(read_all())
    assert (list(last), last.skipped) == ([], 45)
    assert (list(after), after.skipped) == ([], 0)
    assert skipped == 45


def test_a_reader_resumes_from_a_saved_position(faulty_apis: Callable[..., FaultyApis]) -> None:
    apis = faulty_apis(items(95))
    first, position = asyncio.run(_read(apis.source_url, None, 2, size=20))
    assert position is not None
    saved = json.loads(json.dumps(position))  # what a store keeps
    pages_before = len(apis.source_log)
    rest, end = asyncio.run(_read(apis.source_url, saved, None, size=20))

    ids = [r["id"] for c in first + rest for r in c]
    assert ids == list(range(1, 96))  # nothing lost, nothing read twice
    assert apis.source_log[pages_before]["page"] == 5  # the resumed reader began at page 5
    assert end is not None and end["exhausted"] is True


def test_a_position_after_the_last_page_reads_nothing(
    faulty_apis: Callable[..., FaultyApis],
) -> None:
    apis = faulty_apis(items(20))
    _, position = asyncio.run(_read(apis.source_url, None, None, size=100))
    assert position is not None
    again, _ = asyncio.run(_read(apis.source_url, position, None))
    assert again == []


def test_pages_survive_source_faults(faulty_apis: Callable[..., FaultyApis]) -> None:
    plan = FaultPlan(seed=4, rate=0.5, kinds=("429", "503", "drop"))
    apis = faulty_apis(items(60), source_plan=plan)
    chunks, _ = asyncio.run(_read(apis.source_url, None, None))
    assert [r["id"] for c in chunks for r in c] == list(range(1, 61))
    assert set(plan.injected) == {"429", "503", "drop"}


def test_paginator_state_skips_private_fields_and_round_trips() -> None:
    options = parse_pagination({"type": "cursor", "cursor_path": "next"})
    paginator = build_paginator(options)
    paginator.cursor = "abc"  # type: ignore[attr-defined]
    paginator._cache = {"not", "json"}  # type: ignore[attr-defined]
    state = paginator_state(paginator)
    assert state is not None
    assert state["cursor"] == "abc"
    assert not any(key.startswith("_") for key in state)

    fresh = build_paginator(options)
    restore_paginator(fresh, json.loads(json.dumps(state)))
    assert fresh.cursor == "abc"  # type: ignore[attr-defined]


def test_restoring_a_foreign_position_is_refused() -> None:
    paginator = build_paginator(parse_pagination(PAGE_NUMBER))
    with pytest.raises(ValueError, match="unknown fields"):
        restore_paginator(paginator, {"cursor": "x", "nonsense": 1})
