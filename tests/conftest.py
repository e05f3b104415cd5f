"""Shared fixtures. Each module in tests/fixtures/ is loaded as a pytest plugin."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = sorted(
    f"tests.fixtures.{path.stem}"
    for path in (Path(__file__).parent / "fixtures").glob("*.py")
    if path.stem != "__init__"
)


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Checkpoints, dead letters and quarantine files of a test stay in its own folder, never in
    the home folder of whoever runs the tests (a test may still set its own)."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("APILINK_STATE_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def _worker_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as a worker whose operator chose ``APILINK_ACCESS_CONTROL=off`` (configs on
    disk still decide for themselves), with no users file, worker key or worker API key from
    whoever runs the tests. The access-policy tests set their own."""
    monkeypatch.setenv("APILINK_ACCESS_CONTROL", "off")
    for name in ("APILINK_USERS_FILE", "APILINK_ACCESS_CONTROL_BLOCK", "APILINK_WORKER_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APILINK_WORKER_KEY_FILE", "/nonexistent/apilink-worker.key")
