from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apilink.audit import read_events
from cli.users import app
from tests.guide_table import GUIDE_TABLE

runner = CliRunner()


def key_of(output: str) -> str:
    match = re.search(r"(alk_\S+)", output)
    assert match, output
    return match.group(1)


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.delenv("APILINK_API_KEY", raising=False)
    monkeypatch.setenv("APILINK_USERS_FILE", str(tmp_path / "users.json"))
    monkeypatch.setenv("APILINK_AUDIT_FILE", str(tmp_path / "audit.log"))
    monkeypatch.delenv("APILINK_AUDIT_KEY", raising=False)
    first = runner.invoke(app, ["add", "root", "admin"])
    assert first.exit_code == 0, first.output
    keys = {"admin": key_of(first.output)}
    for role in ("operator", "developer", "viewer"):
        result = runner.invoke(app, ["add", f"{role}1", role, "--api-key", keys["admin"]])
        assert result.exit_code == 0, result.output
        keys[role] = key_of(result.output)
    return keys


def test_permission_matrix_through_the_cli(setup: dict[str, str], tmp_path: Path) -> None:
    for role, key in setup.items():
        for permission, roles in GUIDE_TABLE.items():
            result = runner.invoke(app, ["check", permission, "--api-key", key])
            if role in roles:
                assert result.exit_code == 0, (role, permission, result.output)
                assert "allowed" in result.output
            else:
                assert result.exit_code == 2, (role, permission, result.output)
                assert permission in result.output and role in result.output
                assert key not in result.output
                assert read_events(tmp_path / "audit.log")[-1]["action"] == "access.denied"
    assert not any(key in (tmp_path / "audit.log").read_text() for key in setup.values())


def test_only_the_first_admin_is_keyless(setup: dict[str, str]) -> None:
    result = runner.invoke(app, ["add", "intruder", "admin"])
    assert result.exit_code == 2 and "no API key" in result.output


def test_operator_cannot_promote_itself(setup: dict[str, str]) -> None:
    result = runner.invoke(app, ["set-role", "operator1", "admin", "--api-key", setup["operator"]])
    assert result.exit_code == 2 and "manage_users" in result.output
    listing = runner.invoke(app, ["list", "--api-key", setup["admin"]])
    assert "operator1\toperator" in listing.output


def test_list_never_shows_keys_or_hashes(setup: dict[str, str], tmp_path: Path) -> None:
    result = runner.invoke(app, ["list", "--api-key", setup["admin"]])
    assert result.exit_code == 0
    assert "sha256" not in result.output
    assert not any(key in result.output for key in setup.values())
    assert (tmp_path / "users.json").stat().st_mode & 0o777 == 0o600


def test_unknown_role_lists_the_valid_ones(setup: dict[str, str]) -> None:
    result = runner.invoke(app, ["add", "x", "Admin", "--api-key", setup["admin"]])
    assert result.exit_code == 2 and "admin, operator, developer, viewer" in result.output


def test_last_admin_is_kept(setup: dict[str, str]) -> None:
    result = runner.invoke(app, ["remove", "root", "--api-key", setup["admin"]])
    assert result.exit_code == 2 and "last admin" in result.output
    result = runner.invoke(app, ["set-role", "root", "viewer", "--api-key", setup["admin"]])
    assert result.exit_code == 2


def test_revoke_and_rotate(setup: dict[str, str]) -> None:
    admin = setup["admin"]
    assert runner.invoke(app, ["revoke", "viewer1", "--api-key", admin]).exit_code == 0
    assert runner.invoke(app, ["check", "view_config", "--api-key", setup["viewer"]]).exit_code == 2
    rotated = runner.invoke(app, ["rotate", "viewer1", "--api-key", admin])
    new_key = key_of(rotated.output)
    assert runner.invoke(app, ["check", "view_config", "--api-key", new_key]).exit_code == 0
    assert runner.invoke(app, ["remove", "viewer1", "--api-key", admin]).exit_code == 0
    assert runner.invoke(app, ["check", "view_config", "--api-key", new_key]).exit_code == 2
