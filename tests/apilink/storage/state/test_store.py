"""FileStateStore: atomic, private, readable errors; the slug; the default folder."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from apilink.errors import StateError
from apilink.storage.state import (
    FileStateStore,
    MemoryStateStore,
    StateStore,
    default_state_dir,
    state_slug,
)


def test_round_trip_and_mode(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path / "state")
    assert store.load("orders") is None
    store.save("orders", {"version": 1, "mappings": {"a->b": {"cursor": 5}}})
    assert store.load("orders") == {"version": 1, "mappings": {"a->b": {"cursor": 5}}}
    path = store.path("orders")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    store.delete("orders")
    assert store.load("orders") is None
    store.delete("orders")  # absent: no error


def test_a_save_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    store.save("s", {"n": 1})
    inode = store.path("s").stat().st_ino
    store.save("s", {"n": 2})
    assert store.path("s").stat().st_ino != inode  # renamed over, not rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        "s.state.json"
    ]


def test_a_failed_write_keeps_the_old_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileStateStore(tmp_path)
    store.save("s", {"n": 1})

    def broken(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        store.save("s", {"n": 2})
    monkeypatch.undo()
    assert store.load("s") == {"n": 1}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_damaged_file_is_one_clear_error(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    store.path("s").write_text("{not json")
    with pytest.raises(StateError, match="not JSON"):
        store.load("s")
    store.path("s").write_text(json.dumps([1]))
    with pytest.raises(StateError, match="not a JSON object"):
        store.load("s")


def test_slugs_are_safe_and_distinct() -> None:
    assert state_slug("orders") == "orders"
    odd = state_slug("../Orders Sync")
    assert "/" not in odd and " " not in odd and odd.startswith("orders-sync-")
    assert state_slug("A") != state_slug("a")


def test_default_folder_order(tmp_path: Path) -> None:
    assert default_state_dir(str(tmp_path), {}) == tmp_path
    assert default_state_dir(None, {"APILINK_STATE_DIR": "/x"}) == Path("/x")
    assert default_state_dir(None, {}) == Path.home() / ".apilink" / "state"


def test_stores_meet_the_protocol(tmp_path: Path) -> None:
    assert isinstance(FileStateStore(tmp_path), StateStore)
    assert isinstance(MemoryStateStore(), StateStore)
