"""One convention for every command, run as a user runs it (the ``apilink`` script, no
terminal): 0 ok, 1 the run or check failed, 2 bad input; one ``error:`` line that names what is
valid, and never a Python warning or traceback."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.command import APILINK


def run(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*APILINK, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("APILINK_") and k != "PREFECT_API_URL"
    }
    environ |= {
        "APILINK_USERS_FILE": str(tmp_path / "users.json"),
        "APILINK_AUDIT_FILE": str(tmp_path / "audit.log"),
        "COLUMNS": "200",
    }
    return environ


@pytest.fixture
def admin_env(env: dict[str, str]) -> dict[str, str]:
    first = run("users", "add", "root", "admin", env=env)
    assert first.returncode == 0, first.stderr
    match = re.search(r"(alk_\S+)", first.stdout)
    assert match, first.stdout
    return env | {"APILINK_API_KEY": match.group(1)}


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("users", "add", "eve", "wizard"), "valid roles are: admin, operator, developer, viewer"),
        (("users", "add", "root", "viewer"), "already exists"),
        (("users", "set-role", "root", "wizard"), "valid roles are: admin, operator"),
        (("users", "check", "frobnicate"), "valid permissions are: view_config, edit_config"),
    ],
    ids=["unknown role", "duplicate user", "unknown role on set-role", "unknown permission"],
)
def test_bad_user_input_exits_2_naming_what_is_valid(
    admin_env: dict[str, str], args: tuple[str, ...], says: str
) -> None:
    done = run(*args, env=admin_env)
    assert done.returncode == 2
    assert says in one_error_line(done)


def test_the_valid_roles_and_permissions_are_in_the_help(env: dict[str, str]) -> None:
    assert "admin, operator, developer, viewer" in run("users", "add", "--help", env=env).stdout
    assert "manage_credentials" in run("users", "check", "--help", env=env).stdout


def test_a_missing_audit_log_is_named_as_missing(env: dict[str, str], tmp_path: Path) -> None:
    done = run("audit", "verify", str(tmp_path / "nope.log"), env=env)
    assert done.returncode == 2
    assert "nope.log: no audit log there" in one_error_line(done)


def test_a_missing_credential_file_is_named_as_missing(env: dict[str, str], tmp_path: Path) -> None:
    for command in (("get", "github"), ("list",), ("delete", "github")):
        done = run("credentials", *command, "-f", str(tmp_path / "none.enc"), env=env)
        assert done.returncode == 2
        assert "none.enc: no credential file there yet" in one_error_line(done)


def test_without_a_terminal_the_password_comes_from_stdin_with_no_warning(
    env: dict[str, str], tmp_path: Path
) -> None:
    file = str(tmp_path / "c.enc")
    stored = run(
        "credentials", "set", "db", "--field", "password=pw", "-f", file, env=env, stdin="mp\n"
    )
    assert stored.returncode == 0, stored.stderr
    assert "Warning" not in stored.stderr
    listed = run("credentials", "list", "-f", file, env=env, stdin="mp\n")
    assert (listed.returncode, listed.stdout.split()) == (0, ["db"])

    nothing = run("credentials", "list", "-f", file, env=env)
    assert nothing.returncode == 2
    assert "no terminal to ask it on and nothing on stdin; set APILINK_MASTER_PASSWORD" in (
        one_error_line(nothing)
    )


def test_login_names_its_credential_file_like_the_other_commands(env: dict[str, str]) -> None:
    shown = run("auth", "login", "--help", env=env).stdout
    assert "--file" in shown and "-f" in shown and "--store-file" not in shown
