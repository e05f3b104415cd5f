from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest

from apilink.audit import AuditLog, read_events
from apilink.compat.access_control import AccessControlMixin
from apilink.config.models import SecurityConfig
from apilink.errors import AccessDenied
from apilink.rbac import AccessControl
from tests.apilink.rbac.test_engine import GUIDE_TABLE


class ApiLinker(AccessControlMixin):
    """The shape the lead's ApiLinker will have (security_config set in __init__)."""

    def __init__(
        self,
        config: Any = None,
        *,
        security_config: dict[str, Any] | SecurityConfig | None = None,
        audit_log: AuditLog | None = None,
    ) -> None:
        self.security_config = SecurityConfig.model_validate(security_config or {})
        self.audit_log = audit_log


def test_guide_access_control_snippet_runs_as_written() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        # Enable access control
        linker = ApiLinker(
            security_config={
                "enable_access_control": True,
                "users": [
                    {"username": "admin1", "role": "admin"},
                    {"username": "operator1", "role": "operator"},
                    {"username": "viewer1", "role": "viewer"},
                ],
            }
        )
        # Add users programmatically
        user = linker.add_user("developer1", "developer")
        print(f"API Key: {user['api_key']}")
        # List users
        users = linker.list_users()
    assert out.getvalue() == f"API Key: {user['api_key']}\n"
    assert user["api_key"].startswith("alk_")
    assert [u["username"] for u in users] == ["admin1", "developer1", "operator1", "viewer1"]
    assert {u["username"]: u["role"] for u in users}["developer1"] == "developer"
    assert all("api_key" not in u and "key_hash" not in u for u in users)
    assert linker.authenticate(user["api_key"])["username"] == "developer1"  # type: ignore[index]
    assert linker.authenticate("alk_wrong") is None


def test_list_users_does_not_alter_stored_users() -> None:
    linker = ApiLinker(security_config={"enable_access_control": True})
    key = linker.add_user("a", "admin")["api_key"]
    listed = linker.list_users()
    listed[0]["role"] = "viewer"
    listed.clear()
    assert linker.list_users()[0]["role"] == "admin"
    assert linker.authorize(key, "manage_users")["username"] == "a"


def test_access_control_is_built_once() -> None:
    linker = ApiLinker(security_config={"enable_access_control": True})
    assert isinstance(linker.access_control, AccessControl)
    assert linker.access_control is linker.access_control


def test_acting_as_a_user_checks_manage_users(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.log", b"a" * 32)
    linker = ApiLinker(security_config={"enable_access_control": True}, audit_log=audit)
    admin_key = linker.add_user("root", "admin")["api_key"]
    op_key = linker.add_user("op", "operator", as_key=admin_key)["api_key"]
    with pytest.raises(AccessDenied, match="manage_users"):
        linker.add_user("sneaky", "admin", as_key=op_key)
    with pytest.raises(AccessDenied):
        linker.list_users(as_key=op_key)
    assert read_events(audit.path)[-1]["action"] == "access.denied"
    assert "sneaky" not in [u["username"] for u in linker.list_users()]


@pytest.mark.parametrize("role", ["admin", "operator", "developer", "viewer"])
def test_permission_matrix_through_the_python_api(tmp_path: Path, role: str) -> None:
    audit = AuditLog(tmp_path / "audit.log", b"a" * 32)
    linker = ApiLinker(security_config={"enable_access_control": True}, audit_log=audit)
    key = linker.add_user(f"{role}1", role)["api_key"]
    for permission, roles in GUIDE_TABLE.items():
        if role in roles:
            assert linker.authorize(key, permission)["role"] == role
        else:
            with pytest.raises(AccessDenied, match=permission):
                linker.authorize(key, permission)
            assert read_events(audit.path)[-1]["outcome"] == "denied"
    assert key not in audit.path.read_text()
