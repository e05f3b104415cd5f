"""Every CLI command checks the guide's permission for its caller, as the flow's guard does."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from apilink.audit import AuditLog
from apilink.credentials import EncryptedFileStore
from apilink.credentials.kdf import SCRYPT_FLOOR
from apilink.rbac import AccessControl, FileUserStore, Role
from cli import app
from tests.guide_table import GUIDE_TABLE

ROLES = [role.value for role in Role]
runner = CliRunner()

# command -> (the guide's permission it needs, the roles the guide's table allows)
COMMANDS = {
    command: (permission, GUIDE_TABLE[permission])
    for command, permission in {
        "validate": "view_config",
        "credentials": "manage_credentials",
        "audit": "view_logs",
    }.items()
}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    users = tmp_path / "users.json"
    engine = AccessControl(FileUserStore(users))
    keys = {role: engine.add_user(f"{role}1", role)[1] for role in ROLES}
    monkeypatch.setenv("APILINK_USERS_FILE", str(users))
    monkeypatch.setenv("APILINK_MASTER_PASSWORD", "pw-for-the-cli-test")
    monkeypatch.delenv("APILINK_API_KEY", raising=False)
    store = tmp_path / "creds.enc"
    EncryptedFileStore(store, "pw-for-the-cli-test", kdf_params=SCRYPT_FLOOR).put("a", {"k": "v"})
    audit = tmp_path / "audit.log"
    AuditLog.open(audit).record("test.event", actor="tester", target="t", outcome="ok")
    config = tmp_path / "sync.yaml"
    config.write_text(
        "source: {base_url: 'https://a.example', endpoints: {u: {path: /u}}}\n"
        "target: {base_url: 'https://b.example', endpoints: {p: {path: /p, method: POST}}}\n"
        "mapping: [{source: u, target: p}]\n"
    )
    return {"keys": keys, "store": store, "audit": audit, "config": config}


def invoke(command: str, world: dict[str, object], key: str | None) -> tuple[int, str]:
    args = {
        "validate": ["validate", "-c", str(world["config"])],
        "credentials": ["credentials", "list", "--file", str(world["store"])],
        "audit": ["audit", "verify", str(world["audit"])],
    }[command]
    env = {"APILINK_API_KEY": key} if key is not None else {}
    result = runner.invoke(app, args, env=env)
    return result.exit_code, result.output


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_follows_the_permission_table(
    command: str, role: str, world: dict[str, object]
) -> None:
    permission, allowed = COMMANDS[command]
    keys = world["keys"]
    assert isinstance(keys, dict)

    code, output = invoke(command, world, keys[role])

    if role in allowed:
        assert code == 0, output
    else:
        assert code == 2
        assert permission in output
    assert keys[role] not in output


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_key_is_refused_when_access_control_is_on(
    command: str, world: dict[str, object]
) -> None:
    code, output = invoke(command, world, None)
    assert code == 2
    assert COMMANDS[command][0] in output
