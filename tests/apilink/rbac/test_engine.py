from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from apilink.audit import AuditLog, read_events
from apilink.config.models import SecurityConfig
from apilink.errors import AccessDenied, LastAdminError, RoleError, UserExists
from apilink.rbac import (
    KEY_PREFIX,
    ROLE_PERMISSIONS,
    AccessControl,
    FileUserStore,
    MemoryUserStore,
    Permission,
    Role,
)
from tests.guide_table import GUIDE_TABLE


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit.log", b"k" * 32)


@pytest.fixture
def keyed(audit: AuditLog) -> tuple[AccessControl, dict[str, str]]:
    engine = AccessControl(MemoryUserStore(), audit=audit)
    keys = {role.value: engine.add_user(f"{role.value}1", role)[1] for role in Role}
    return engine, keys


def test_table_is_the_guides() -> None:
    assert {p.value for p in Permission} == set(GUIDE_TABLE)
    for role in Role:
        assert {p.value for p in ROLE_PERMISSIONS[role]} == {
            p for p, roles in GUIDE_TABLE.items() if role.value in roles
        }


@pytest.mark.parametrize("role", [r.value for r in Role])
@pytest.mark.parametrize("permission", sorted(GUIDE_TABLE))
def test_permission_matrix(
    keyed: tuple[AccessControl, dict[str, str]], audit: AuditLog, role: str, permission: str
) -> None:
    engine, keys = keyed
    if role in GUIDE_TABLE[permission]:
        assert engine.authorize(keys[role], permission).username == f"{role}1"
        assert read_events(audit.path)[-1]["action"] == "access.granted"
    else:
        with pytest.raises(AccessDenied) as info:
            engine.authorize(keys[role], permission)
        assert permission in str(info.value) and role in str(info.value)
        assert keys[role] not in str(info.value)
        last = read_events(audit.path)[-1]
        assert (last["action"], last["actor"], last["target"], last["outcome"]) == (
            "access.denied",
            f"{role}1",
            permission,
            "denied",
        )
    assert keys[role] not in audit.path.read_text()


@pytest.mark.parametrize("key", [None, "", "alk_not-a-real-key"])
def test_missing_or_unknown_key_is_denied(
    keyed: tuple[AccessControl, dict[str, str]], key: str | None
) -> None:
    engine, _ = keyed
    with pytest.raises(AccessDenied, match="view_config"):
        engine.authorize(key, "view_config")


def test_access_control_off_allows_anonymous() -> None:
    engine = AccessControl(MemoryUserStore(), enabled=False)
    user = engine.authorize(None, "manage_users")
    assert user.anonymous and user.username == "anonymous"


def test_keys_are_random_prefixed_and_stored_hashed(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    engine = AccessControl(FileUserStore(path))
    _, key1 = engine.add_user("a", "admin")
    _, key2 = engine.add_user("b", "viewer")
    assert key1.startswith(KEY_PREFIX) and key1 != key2
    assert len(key1) - len(KEY_PREFIX) >= 22  # >= 128 bits of base64
    text = path.read_text()
    assert key1 not in text and key2 not in text and "sha256:" in text
    assert path.stat().st_mode & 0o777 == 0o600
    assert engine.authorize(key2, "view_config").username == "b"


@pytest.mark.parametrize("bad", ["Admin", " admin", "admin ", "superuser", ""])
def test_unknown_or_misspelt_roles_are_refused(bad: str) -> None:
    engine = AccessControl(MemoryUserStore())
    with pytest.raises(RoleError) as info:
        engine.add_user("x", bad)
    assert "admin, operator, developer, viewer" in str(info.value)


def test_unknown_permission_is_refused(keyed: tuple[AccessControl, dict[str, str]]) -> None:
    engine, keys = keyed
    with pytest.raises(RoleError, match="valid permissions"):
        engine.authorize(keys["admin"], "run_everything")


def test_operator_cannot_raise_its_own_role(
    keyed: tuple[AccessControl, dict[str, str]], audit: AuditLog
) -> None:
    engine, keys = keyed
    operator = engine.authorize(keys["operator"], "view_config")
    with pytest.raises(AccessDenied, match="manage_users"):
        engine.set_role("operator1", "admin", actor=operator)
    assert engine.get_user("operator1").role is Role.OPERATOR
    assert read_events(audit.path)[-1]["action"] == "access.denied"
    admin = engine.authorize(keys["admin"], "manage_users")
    assert engine.set_role("operator1", "admin", actor=admin).role is Role.ADMIN


def test_last_admin_cannot_be_removed_or_demoted() -> None:
    engine = AccessControl(MemoryUserStore())
    engine.add_user("root", "admin")
    with pytest.raises(LastAdminError):
        engine.set_role("root", "viewer")
    with pytest.raises(LastAdminError):
        engine.remove_user("root")
    engine.add_user("root2", "admin")
    engine.set_role("root", "viewer")
    with pytest.raises(LastAdminError):
        engine.remove_user("root2")


def test_duplicate_user_is_refused() -> None:
    engine = AccessControl(MemoryUserStore())
    engine.add_user("a", "viewer")
    with pytest.raises(UserExists):
        engine.add_user("a", "admin")


def test_revoked_key_no_longer_works(keyed: tuple[AccessControl, dict[str, str]]) -> None:
    engine, keys = keyed
    engine.revoke_key("viewer1")
    with pytest.raises(AccessDenied):
        engine.authorize(keys["viewer"], "view_config")
    new_key = engine.issue_key("viewer1")
    assert engine.authorize(new_key, "view_config").username == "viewer1"


def test_keys_expire_by_the_injected_clock() -> None:
    clock = Clock()
    engine = AccessControl(MemoryUserStore(), clock=clock)
    _, key = engine.add_user("temp", "viewer", expires_at=clock.now + timedelta(hours=1))
    assert engine.authorize(key, "view_config").username == "temp"
    clock.now += timedelta(hours=1)
    with pytest.raises(AccessDenied, match="not valid"):
        engine.authorize(key, "view_config")


def test_config_users_have_predefined_keys_hashed(tmp_path: Path) -> None:
    canary = "CANARY-predefined-key-7731"
    path = tmp_path / "users.json"
    security = SecurityConfig(
        enable_access_control=True,
        users_file=str(path),
        users=[{"username": "admin1", "role": "admin", "api_key": canary}],
    )
    engine = AccessControl.from_config(security)
    assert not path.exists()  # loading a config never writes users (issue 13)
    with pytest.raises(AccessDenied):
        engine.authorize(canary, "manage_users")
    assert engine.import_users(security) == ["admin1"]  # the explicit manage_users action
    assert engine.authorize(canary, "manage_users").username == "admin1"
    assert canary not in path.read_text()
    assert canary not in repr(engine.list_users())
    assert json.loads(path.read_text())["users"][0]["key_hash"].startswith("sha256:")


def test_config_users_without_a_users_file_live_in_memory() -> None:
    security = SecurityConfig(
        enable_access_control=True,
        users=[{"username": "op1", "role": "operator", "api_key": "k" * 20}],
    )
    assert AccessControl.from_config(security).authorize("k" * 20, "run_sync").username == "op1"


def test_import_users_needs_manage_users(tmp_path: Path) -> None:
    engine = AccessControl(FileUserStore(tmp_path / "u.json"))
    engine.add_user("admin0", "admin")
    viewer, _ = engine.add_user("viewer0", "viewer")
    security = SecurityConfig(users=[{"username": "eve", "role": "admin", "api_key": "e" * 20}])
    with pytest.raises(AccessDenied, match="manage_users"):
        engine.import_users(security, actor=viewer)
    assert "eve" not in {u.username for u in engine.list_users()}


def test_config_user_with_unknown_role_is_refused() -> None:
    security = SecurityConfig(users=[{"username": "x", "role": "root"}])
    with pytest.raises(RoleError, match="valid roles"):
        AccessControl.from_config(security)


def test_user_changes_are_audited(audit: AuditLog) -> None:
    engine = AccessControl(MemoryUserStore(), audit=audit)
    engine.add_user("a", "admin")
    engine.add_user("b", "viewer")
    engine.set_role("b", "developer")
    engine.revoke_key("b")
    engine.remove_user("b")
    actions = [event["action"] for event in read_events(audit.path)]
    assert actions == [
        "user.added",
        "user.added",
        "user.role_changed",
        "key.revoked",
        "user.removed",
    ]
