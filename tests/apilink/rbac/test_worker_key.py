"""Where the worker key comes from, and a key file others could read."""

from __future__ import annotations

from pathlib import Path

import pytest

from apilink.errors import ProofRejected
from apilink.rbac.worker_key import create_worker_key_file, load_worker_key, require_worker_key


def test_from_the_environment_or_a_0600_file(tmp_path: Path) -> None:
    assert load_worker_key({"APILINK_WORKER_KEY": "w" * 40}) == b"w" * 40
    path = create_worker_key_file(tmp_path / "worker.key")
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(load_worker_key({"APILINK_WORKER_KEY_FILE": str(path)}) or b"") == 64
    with pytest.raises(FileExistsError):
        create_worker_key_file(path)


def test_a_readable_file_or_short_key_is_refused(tmp_path: Path) -> None:
    path = create_worker_key_file(tmp_path / "worker.key")
    path.chmod(0o644)
    with pytest.raises(ProofRejected, match="chmod 600"):
        load_worker_key({"APILINK_WORKER_KEY_FILE": str(path)})
    with pytest.raises(ProofRejected, match="shorter"):
        load_worker_key({"APILINK_WORKER_KEY": "short"})


def test_missing_key_says_how_to_set_one(tmp_path: Path) -> None:
    env = {"APILINK_WORKER_KEY_FILE": str(tmp_path / "none")}
    assert load_worker_key(env) is None
    with pytest.raises(ProofRejected, match="APILINK_WORKER_KEY"):
        require_worker_key("a test", env)
