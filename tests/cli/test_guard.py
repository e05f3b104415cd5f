"""Every CLI denial is one line in the operator's audit file, with a config or without one.

Route: the CLI (``apilink ...`` through typer's runner). Trusted: the worker's operator, who
names the audit file (``APILINK_AUDIT_FILE``) and holds the key. Not trusted: the caller.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apilink.audit import AuditLog, load_audit_key, verify
from apilink.credentials import EncryptedFileStore
from apilink.credentials.kdf import SCRYPT_FLOOR
from apilink.rbac import AccessControl, FileUserStore
from cli import app

runner = CliRunner()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path | str]:
    users = tmp_path / "users.json"
    engine = AccessControl(FileUserStore(users))
    _, admin = engine.add_user("admin1", "admin")
    _, viewer = engine.add_user("viewer1", "viewer")
    monkeypatch.setenv("APILINK_USERS_FILE", str(users))
    monkeypatch.setenv("APILINK_MASTER_PASSWORD", "pw-for-the-guard-test")
    monkeypatch.setenv("APILINK_AUDIT_FILE", str(tmp_path / "operator-audit.log"))
    monkeypatch.delenv("APILINK_API_KEY", raising=False)
    monkeypatch.delenv("APILINK_AUDIT_KEY", raising=False)
    store = tmp_path / "creds.enc"
    EncryptedFileStore(store, "pw-for-the-guard-test", kdf_params=SCRYPT_FLOOR).put("a", {"k": "v"})
    other_log = tmp_path / "other.log"
    AuditLog.open(other_log).record("test.event", actor="tester")
    config = tmp_path / "sync.yaml"
    config.write_text(
        "source: {base_url: 'https://a.example', endpoints: {u: {path: /u}}}\n"
        "target: {base_url: 'https://b.example', endpoints: {p: {path: /p, method: POST}}}\n"
        "mapping: [{source: u, target: p}]\n"
    )
    return {
        "users": users,
        "store": store,
        "other_log": other_log,
        "config": config,
        "audit": tmp_path / "operator-audit.log",
        "admin": admin,
        "viewer": viewer,
    }


def _args(command: str, world: dict[str, Path | str]) -> list[str]:
    return {
        "validate": ["validate", "-c", str(world["config"])],
        "credentials list": ["credentials", "list", "--file", str(world["store"])],
        "audit verify": ["audit", "verify", str(world["other_log"])],
        "users list": ["users", "list", "--users-file", str(world["users"])],
    }[command]


def _lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


# validate takes a config (with no audit log of its own); the three others take none.
@pytest.mark.parametrize("command", ["validate", "credentials list", "audit verify", "users list"])
@pytest.mark.parametrize("key", ["none", "wrong", "viewer"])
def test_a_denial_is_one_line_in_the_operator_file(
    command: str, key: str, world: dict[str, Path | str]
) -> None:
    api_key = {"none": None, "wrong": "not-a-key-" + "x" * 30, "viewer": str(world["viewer"])}[key]
    env = {"APILINK_API_KEY": api_key} if api_key is not None else {}
    audit = Path(world["audit"])

    result = runner.invoke(app, _args(command, world), env=env)

    denials = [line for line in _lines(audit) if line["outcome"] == "denied"]
    if result.exit_code == 0:  # the viewer is allowed this one (validate, audit verify)
        assert key == "viewer" and denials == []
        return
    assert result.exit_code == 2, result.output
    assert len(denials) == 1, _lines(audit)
    assert denials[0]["action"] == "access.denied"
    assert denials[0]["actor"] == ("viewer1" if key == "viewer" else "unknown")
    assert denials[0]["target"] in result.output  # the permission the error names
    assert verify(audit, load_audit_key(audit, create=False)) == len(_lines(audit))
    if api_key is not None:
        assert api_key not in audit.read_text()


def test_without_an_operator_file_denials_go_to_the_state_folder(
    world: dict[str, Path | str], monkeypatch: pytest.MonkeyPatch, _state_dir: Path
) -> None:
    monkeypatch.delenv("APILINK_AUDIT_FILE")
    result = runner.invoke(app, _args("credentials list", world))
    assert result.exit_code == 2
    lines = _lines(_state_dir / "apilink_audit.log")
    assert [(line["action"], line["target"]) for line in lines] == [
        ("access.denied", "manage_credentials")
    ]
    assert not Path("apilink_audit.log").exists()  # never the current directory


def test_a_config_audit_log_and_the_operator_file_each_hold_the_denial_once(
    world: dict[str, Path | str], tmp_path: Path
) -> None:
    config = Path(world["config"])
    own = tmp_path / "config-audit.log"
    config.write_text(
        config.read_text() + f"logging: {{security_audit: true, audit_file: '{own}'}}\n"
    )
    result = runner.invoke(app, ["validate", "-c", str(config)])
    assert result.exit_code == 2
    for path in (own, Path(world["audit"])):
        assert [line["outcome"] for line in _lines(path)] == ["denied"], path


def test_the_config_audit_log_alone_when_it_is_the_operator_file(
    world: dict[str, Path | str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Path(world["config"])
    audit = Path(world["audit"])
    config.write_text(
        config.read_text() + f"logging: {{security_audit: true, audit_file: '{audit}'}}\n"
    )
    result = runner.invoke(app, ["validate", "-c", str(config)])
    assert result.exit_code == 2
    assert [line["outcome"] for line in _lines(audit)] == ["denied"]
    granted = runner.invoke(
        app, ["validate", "-c", str(config)], env={"APILINK_API_KEY": str(world["viewer"])}
    )
    assert granted.exit_code == 0, granted.output
    assert [line["outcome"] for line in _lines(audit)] == ["denied", "allowed"]
