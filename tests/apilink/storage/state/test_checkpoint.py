"""SyncCheckpoint: resume positions, incremental cursors, lag, changed configs."""

from __future__ import annotations

from typing import Any

import pytest

from apilink.config.loader import parse_config
from apilink.config.models import SyncConfig
from apilink.errors import StateError
from apilink.storage.state import (
    MappingStart,
    MemoryStateStore,
    SyncCheckpoint,
    later,
    with_lag,
)
from apilink.storage.state.cursor import CursorFilter

BASE: dict[str, Any] = {
    "name": "orders",
    "source": {
        "base_url": "http://127.0.0.1:1",
        "endpoints": {"list": {"path": "/o", "pagination": {"type": "page_number"}}},
    },
    "target": {"base_url": "http://127.0.0.1:2", "endpoints": {"put": {"path": "/o"}}},
    "mapping": [{"source": "list", "target": "put", "fields": [{"source": "id", "target": "id"}]}],
}


def config(**extra: Any) -> SyncConfig:
    import yaml

    return parse_config(yaml.safe_dump({**BASE, **extra}))


INCREMENTAL = {"cursor_field": "updated", "param": "since", "initial_value": 100}


def test_a_fresh_sync_starts_from_the_initial_value() -> None:
    cfg = config(incremental=INCREMENTAL)
    start = SyncCheckpoint(MemoryStateStore(), cfg).begin(cfg.mapping[0])
    assert start.params == {"since": 100} and start.position is None


def test_nothing_is_saved_before_a_chunk_is_acknowledged() -> None:
    store = MemoryStateStore()
    cfg = config(incremental=INCREMENTAL)
    SyncCheckpoint(store, cfg).begin(cfg.mapping[0])
    assert store.saves == 0


def test_an_unfinished_run_resumes_at_its_last_acknowledged_position() -> None:
    store = MemoryStateStore()
    cfg = config(incremental=INCREMENTAL)
    rule = cfg.mapping[0]
    first = SyncCheckpoint(store, cfg)
    first.begin(rule)
    first.acknowledge(rule, [{"updated": 150}, {"updated": 120}], {"page": 3})
    first.acknowledge(rule, [{"updated": 140}], {"page": 5})
    # the process dies here: finish() never runs

    second = SyncCheckpoint(store, cfg)
    start = second.begin(rule)
    assert start.position == {"page": 5}
    assert start.params == {"since": 100}  # the filter of the run it continues
    assert start.resumed_chunks == 2
    assert second.cursor(rule) is None  # the cursor moves only when a pass finishes
    second.acknowledge(rule, [{"updated": 170}], {"page": 7})
    second.finish(rule)

    third = SyncCheckpoint(store, cfg)
    assert third.cursor(rule) == 170
    start = third.begin(rule)
    assert start.position is None and start.params == {"since": 170}


def test_lag_moves_the_filter_back() -> None:
    store = MemoryStateStore()
    cfg = config(incremental={**INCREMENTAL, "lag": 30})
    rule = cfg.mapping[0]
    cp = SyncCheckpoint(store, cfg)
    cp.begin(rule)
    cp.acknowledge(rule, [{"updated": 500}], None)
    cp.finish(rule)
    assert SyncCheckpoint(store, cfg).begin(rule).params == {"since": 470}


def test_a_changed_config_is_not_resumed() -> None:
    store = MemoryStateStore()
    cfg = config(chunk_size=100)
    rule = cfg.mapping[0]
    cp = SyncCheckpoint(store, cfg)
    cp.begin(rule)
    cp.acknowledge(rule, [], {"page": 9})
    start = SyncCheckpoint(store, config(chunk_size=200)).begin(rule)
    assert start.position is None and start.discarded


def test_a_position_that_cannot_be_saved_restarts_from_the_cursor() -> None:
    store = MemoryStateStore()
    cfg = config(incremental=INCREMENTAL)
    rule = cfg.mapping[0]
    cp = SyncCheckpoint(store, cfg)
    cp.begin(rule)
    cp.acknowledge(rule, [{"updated": 150}], None)
    start = SyncCheckpoint(store, cfg).begin(rule)
    assert start.position is None and start.params == {"since": 100}


def test_a_state_of_another_version_is_refused() -> None:
    store = MemoryStateStore()
    store.save("orders", {"version": 99})
    with pytest.raises(StateError, match="version"):
        SyncCheckpoint(store, config())


def test_saves_can_be_routed_elsewhere() -> None:
    saved: list[str] = []
    cfg = config()
    cp = SyncCheckpoint(MemoryStateStore(), cfg, save=lambda key, state: saved.append(key))
    cp.begin(cfg.mapping[0])
    cp.acknowledge(cfg.mapping[0], [], {"page": 2})
    assert saved == ["orders"]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (None, 3, 3),
        (5, None, 5),
        (9, 10, 10),
        (2.5, 2, 2.5),
        ("2024-01-02T00:00:00Z", "2024-01-01T23:00:00+00:00", "2024-01-02T00:00:00Z"),
        ("2024-01-01T10:00:00+02:00", "2024-01-01T09:00:00Z", "2024-01-01T09:00:00Z"),
        ("b", "a", "b"),
    ],
)
def test_later(a: Any, b: Any, expected: Any) -> None:
    assert later(a, b) == expected


def test_with_lag() -> None:
    assert with_lag(100, 10) == 90
    assert with_lag("2024-01-01T00:01:00Z", 90) == "2023-12-31T23:59:30Z"
    assert with_lag("opaque-token", 5) == "opaque-token"
    assert with_lag(7, 0) == 7


def test_the_client_side_filter_skips_what_the_cursor_parameter_leaves_out() -> None:
    """The records kept are the ones the source is asked for: the saved cursor moved back by
    the lag, on a fresh run, a resumed one and the next one alike."""
    store = MemoryStateStore()
    cfg = config(incremental={**INCREMENTAL, "lag": 30})
    rule = cfg.mapping[0]

    def kept(start: MappingStart) -> list[int]:
        skip = CursorFilter.for_params(cfg.incremental, start.params)
        assert skip is not None
        records, _ = skip.split([{"updated": n} for n in (60, 70, 71, 470, 471, 500, 501)])
        return [r["updated"] for r in records]

    first = SyncCheckpoint(store, cfg)
    start = first.begin(rule)
    assert start.params == {"since": 70} and kept(start) == [71, 470, 471, 500, 501]
    first.acknowledge(rule, [{"updated": 500}], {"page": 2})
    # the process dies; the rerun goes on with the filter of the run it continues
    assert kept(SyncCheckpoint(store, cfg).begin(rule)) == [71, 470, 471, 500, 501]
    second = SyncCheckpoint(store, cfg)
    second.begin(rule)
    second.finish(rule)
    assert kept(SyncCheckpoint(store, cfg).begin(rule)) == [471, 500, 501]
