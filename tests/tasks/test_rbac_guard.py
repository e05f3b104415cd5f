from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from apilink.audit import AuditLog, read_events, verify
from apilink.config.models import SecurityConfig
from apilink.errors import AccessDenied
from apilink.rbac import AccessControl
from blocks.access_control import AccessControl as AccessControlBlock
from tasks.audit import PrefectAuditSink
from tasks.rbac_guard import rbac_guard
from tests.guide_table import GUIDE_TABLE

pytestmark = pytest.mark.usefixtures("prefect_harness")  # events need an API to go to

KEYS = {
    role: f"CANARY-{role}-key-000{i}"
    for i, role in enumerate(["admin", "operator", "developer", "viewer"])
}
SECURITY = SecurityConfig(
    enable_access_control=True,
    users=[{"username": f"{role}1", "role": role, "api_key": key} for role, key in KEYS.items()],
)


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit.log", b"g" * 32)


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APILINK_API_KEY", raising=False)


@pytest.mark.parametrize("role", sorted(KEYS))
@pytest.mark.parametrize("permission", sorted(GUIDE_TABLE))
def test_permission_matrix_through_the_guard(audit: AuditLog, role: str, permission: str) -> None:
    key = SecretStr(KEYS[role])
    if role in GUIDE_TABLE[permission]:
        assert rbac_guard.fn(SECURITY, key, permission, audit=audit) == f"{role}1"
    else:
        with pytest.raises(AccessDenied) as info:
            rbac_guard.fn(SECURITY, key, permission, audit=audit)
        assert KEYS[role] not in str(info.value)
        event = read_events(audit.path)[-1]
        assert (event["action"], event["actor"], event["target"]) == (
            "access.denied",
            f"{role}1",
            permission,
        )
    assert KEYS[role] not in audit.path.read_text()
    assert verify(audit.path, b"g" * 32) == 1


def test_the_workers_own_key_is_never_a_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard used to fall back to the worker's APILINK_API_KEY (issue 13, item 3)."""
    monkeypatch.setenv("APILINK_API_KEY", KEYS["admin"])
    with pytest.raises(AccessDenied, match="no API key"):
        rbac_guard.fn(SECURITY)


def test_no_key_is_denied_and_audited(audit: AuditLog) -> None:
    with pytest.raises(AccessDenied, match="no API key"):
        rbac_guard.fn(SECURITY, audit=audit)
    assert read_events(audit.path)[-1]["outcome"] == "denied"


def test_access_control_off_lets_anyone_run() -> None:
    assert rbac_guard.fn(SecurityConfig()) == "anonymous"


def test_denials_are_emitted_as_prefect_events() -> None:
    emitted: list[dict[str, Any]] = []
    sink = PrefectAuditSink(None, emit=lambda **kw: emitted.append(kw))
    with pytest.raises(AccessDenied):
        AccessControl.from_config(SECURITY, audit=sink).authorize(KEYS["viewer"], "run_sync")
    assert emitted[-1]["event"] == "apilink.access.denied"
    assert emitted[-1]["resource"]["prefect.resource.id"] == "apilink.principal.viewer1"


def test_guard_accepts_the_access_control_block(audit: AuditLog) -> None:
    block = AccessControlBlock()
    key = block.add_user("ops", "operator")
    assert rbac_guard.fn(block, SecretStr(key), "run_sync", audit=audit) == "ops"
    with pytest.raises(AccessDenied):
        rbac_guard.fn(block, SecretStr(key), "manage_users", audit=audit)


def test_guard_task_options() -> None:
    assert rbac_guard.retries == 0
    assert rbac_guard.persist_result is False
    assert type(rbac_guard.cache_policy).__name__ == "_None"
