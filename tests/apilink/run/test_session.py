"""SyncSession: the reader of a mapping skips what the cursor it sends leaves out."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import yaml

from apilink.config.loader import parse_config
from apilink.run.session import SyncSession
from apilink.storage.state.cursor import CursorFilter

BASE: dict[str, Any] = {
    "name": "orders",
    "source": {
        "base_url": "http://127.0.0.1:1",
        "endpoints": {"list": {"path": "/o", "params": {"since": 1}}},
    },
    "target": {"base_url": "http://127.0.0.1:2", "endpoints": {"put": {"path": "/o"}}},
    "mapping": [{"source": "list", "target": "put", "fields": [{"source": "id", "target": "id"}]}],
}
INCREMENTAL = {"cursor_field": "updated", "param": "since", "lag": 60}


@pytest.mark.parametrize(
    ("incremental", "params", "expected"),
    [
        (INCREMENTAL, {"since": "2024-05-01T00:00:00Z"}, "2024-05-01T00:00:00Z"),
        (INCREMENTAL, {}, None),  # a first run without initial_value, or a dry run
        (None, {"since": 5}, None),
    ],
    ids=["cursor-sent", "no-cursor-sent", "not-incremental"],
)
def test_the_reader_filters_on_the_cursor_the_run_sends(
    incremental: dict[str, Any] | None, params: dict[str, Any], expected: Any
) -> None:
    config = parse_config(yaml.safe_dump({**BASE, "incremental": incremental}))

    async def reader_filter() -> CursorFilter | None:
        async with SyncSession(config) as session:
            return session.mapping_run(config.mapping[0], params).reader.cursor_filter

    found = asyncio.run(reader_filter())
    # The endpoint's own `since: 1` is a fixed parameter, not the run's cursor.
    assert found == (None if expected is None else CursorFilter("updated", expected))
