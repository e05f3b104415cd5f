"""private_files: 0600, tightened when wider, never through a symlink, locks likewise; one
atomic replace that every whole-file writer uses."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from apilink.errors import PrivateFileError
from apilink.storage.private_files import (
    PrivateLock,
    check_replaceable,
    open_private,
    open_private_fd,
    write_atomically,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mode", ["a", "w", "x"])
def test_a_new_file_is_0600_whatever_the_umask(tmp_path: Path, mode: str) -> None:
    old = os.umask(0)
    try:
        os.close(open_private_fd(tmp_path / "f", mode))  # type: ignore[arg-type]
    finally:
        os.umask(old)
    assert _mode(tmp_path / "f") == 0o600


def test_an_existing_wider_file_is_tightened_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("earlier line\n")
    path.chmod(0o644)

    with open_private(path, "a") as handle:
        handle.write("new line\n")

    assert _mode(path) == 0o600
    assert path.read_text() == "earlier line\nnew line\n"


@pytest.mark.parametrize("mode", ["a", "w", "x", "lock"])
def test_a_symlink_is_refused_naming_the_path_and_its_target_is_untouched(
    tmp_path: Path, mode: str
) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me")
    target.chmod(0o644)
    link = tmp_path / "dead-letter.jsonl"
    link.symlink_to(target)

    with pytest.raises(PrivateFileError) as caught:
        open_private_fd(link, mode)  # type: ignore[arg-type]

    assert str(link) in str(caught.value) and "symbolic link" in str(caught.value)
    assert target.read_text() == "keep me" and _mode(target) == 0o644


def test_a_dangling_symlink_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    link = tmp_path / "state.json"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(PrivateFileError, match="symbolic link"):
        open_private_fd(link, "a")
    assert not (tmp_path / "nowhere").exists()


def test_a_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(PrivateFileError, match=r"not a regular file|cannot open for writing"):
        open_private_fd(fifo, "a")


def test_an_atomic_replace_refuses_a_symlinked_name(tmp_path: Path) -> None:
    link = tmp_path / "users.json"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PrivateFileError, match=r"users\.json: is a symbolic link"):
        check_replaceable(link)
    check_replaceable(tmp_path / "plain.json")


def test_an_atomic_write_syncs_the_file_renames_then_syncs_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    target.chmod(0o644)
    steps: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        steps.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        steps.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_atomically(target, b"new")
    assert steps == ["fsync file", "rename", "fsync folder"]
    assert target.read_bytes() == b"new"
    assert _mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_an_atomic_write_over_a_symlink_writes_nothing_and_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"kept")
    (tmp_path / "users.json").symlink_to(elsewhere)
    with pytest.raises(PrivateFileError, match="symbolic link"):
        write_atomically(tmp_path / "users.json", b"new")
    assert elsewhere.read_bytes() == b"kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "users.json"]


def test_every_whole_file_writer_goes_through_write_atomically() -> None:
    # One chokepoint: a second copy of the temporary-file-and-rename dance would be a second
    # policy (two of the four copies this replaced skipped the folder fsync).
    root = Path(__file__).resolve().parents[3]
    found = sorted(
        str(path.relative_to(root))
        for layer in ("apilink", "tasks", "flows", "blocks", "cli")
        for path in (root / layer).rglob("*.py")
        if "os.replace(" in path.read_text(encoding="utf-8")
        or "os.rename(" in path.read_text(encoding="utf-8")
    )
    assert found == ["apilink/storage/private_files.py"]


def test_the_lock_excludes_other_threads_is_reentrant_and_0600(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "x.lock"
    lock = PrivateLock(path)
    order: list[str] = []
    with lock, lock:  # re-entrant
        other = threading.Thread(target=lambda: (PrivateLock(path).acquire(), order.append("b")))
        other.start()
        other.join(0.2)
        order.append("a")
    other.join()
    assert order == ["a", "b"]
    assert _mode(path) == 0o600


def test_a_lock_not_had_in_time_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.enc.lock"
    with PrivateLock(path):
        failed: list[BaseException] = []

        def wait() -> None:
            try:
                PrivateLock(path, timeout=0.05).acquire()
            except PrivateFileError as exc:
                failed.append(exc)

        waiter = threading.Thread(target=wait)
        waiter.start()
        waiter.join()
    assert failed and str(path) in str(failed[0])
