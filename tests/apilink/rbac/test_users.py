from __future__ import annotations

import threading
from pathlib import Path

import pytest

from apilink.errors import UserError
from apilink.rbac import AccessControl, FileUserStore, Role


def test_file_store_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "users.json"
    engine = AccessControl(FileUserStore(path))
    _, key = engine.add_user("alice", "developer")
    again = AccessControl(FileUserStore(path))
    assert again.get_user("alice").role is Role.DEVELOPER
    assert again.authorize(key, "edit_config").username == "alice"
    assert not list(path.parent.glob("*.tmp"))


def test_concurrent_adds_keep_every_user(tmp_path: Path) -> None:
    path = tmp_path / "users.json"

    def add(index: int) -> None:
        AccessControl(FileUserStore(path)).add_user(f"user{index}", "viewer")

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(FileUserStore(path).load()) == 8


def test_failed_change_leaves_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    engine = AccessControl(FileUserStore(path))
    engine.add_user("root", "admin")
    before = path.read_bytes()
    with pytest.raises(UserError):
        engine.remove_user("root")
    assert path.read_bytes() == before


def test_foreign_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text('{"something": "else"}')
    with pytest.raises(UserError, match="not an apilink users file"):
        FileUserStore(path).load()


@pytest.mark.parametrize("name", ["", "has space", "x" * 65])
def test_bad_usernames_are_refused(name: str) -> None:
    with pytest.raises(UserError):
        AccessControl().add_user(name, "viewer")
