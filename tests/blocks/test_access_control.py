from __future__ import annotations

import pytest

from apilink.errors import AccessDenied
from blocks.access_control import AccessControl


def test_block_keeps_hashes_only() -> None:
    block = AccessControl()
    key = block.add_user("admin1", "admin")
    block.add_user("viewer1", "viewer")
    dumped = block.model_dump_json()
    assert key not in dumped and "sha256:" in dumped
    assert [u["username"] for u in block.users] == ["admin1", "viewer1"]


def test_block_round_trip_authorizes() -> None:
    block = AccessControl()
    key = block.add_user("ops", "operator")
    again = AccessControl.model_validate(block.model_dump())
    engine = again.access_control()
    assert engine.authorize(key, "run_sync").username == "ops"
    with pytest.raises(AccessDenied):
        engine.authorize(key, "edit_config")


@pytest.mark.usefixtures("prefect_harness")
def test_block_saves_and_loads_on_a_prefect_server() -> None:
    block = AccessControl()
    key = block.add_user("ops", "operator")
    block.save("apilink-test-users", overwrite=True)
    loaded = AccessControl.load("apilink-test-users")
    assert loaded.access_control().authorize(key, "run_sync").username == "ops"
