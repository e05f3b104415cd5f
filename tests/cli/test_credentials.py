"""`apilink credentials ...` against a real file and a real OpenBao server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from apilink.credentials import EncryptedFileStore
from cli.credentials import app
from tests.fixtures.openbao import OpenBao

PASSWORD = "cli-master-canary"
TOKEN = "cli-token-canary-77"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def env() -> dict[str, str]:
    return {"APILINK_MASTER_PASSWORD": PASSWORD}


def run(
    runner: CliRunner, args: list[str], env: dict[str, str], input: str | None = None
) -> Result:
    return runner.invoke(app, args, env=env, input=input, catch_exceptions=False)


def test_set_get_list_delete_on_a_file(
    tmp_path: Path, runner: CliRunner, env: dict[str, str]
) -> None:
    file = str(tmp_path / "c.enc")
    result = run(
        runner,
        [
            "set",
            "github_api",
            "--field",
            f"token={TOKEN}",
            "--field",
            "expires_at=4000000000",
            "--file",
            file,
        ],
        env,
    )
    assert result.exit_code == 0, result.stderr
    assert TOKEN not in result.stdout

    masked = run(runner, ["get", "github_api", "--file", file], env)
    assert masked.exit_code == 0
    assert masked.stdout == "expires_at: 4000000000\ntoken: **********\n"

    revealed = run(
        runner, ["get", "github_api", "--field", "token", "--reveal", "--file", file], env
    )
    assert revealed.stdout == f"{TOKEN}\n"

    assert run(runner, ["list", "--file", file], env).stdout == "github_api\n"
    assert EncryptedFileStore(file, PASSWORD).get("github_api")["expires_at"] == 4_000_000_000
    assert run(runner, ["delete", "github_api", "--file", file], env).exit_code == 0
    assert run(runner, ["list", "--file", file], env).stdout == ""


def test_set_from_json_and_password_prompt(tmp_path: Path, runner: CliRunner) -> None:
    file = str(tmp_path / "c.enc")
    source = tmp_path / "cred.json"
    source.write_text(json.dumps({"user": "u", "password": TOKEN}))
    result = run(
        runner, ["set", "db", "--from-json", str(source), "--file", file], {}, input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.stderr
    assert PASSWORD not in result.output and TOKEN not in result.output
    assert EncryptedFileStore(file, PASSWORD).get("db") == {"user": "u", "password": TOKEN}


def test_errors_are_one_line_exit_2_without_secrets(
    tmp_path: Path, runner: CliRunner, env: dict[str, str]
) -> None:
    file = str(tmp_path / "c.enc")
    run(runner, ["set", "a", "--field", f"token={TOKEN}", "--file", file], env)
    cases = [
        (
            ["get", "a", "--file", file],
            {"APILINK_MASTER_PASSWORD": "wrong"},
            "wrong master password",
        ),
        (["get", "missing", "--file", file], env, "no credential named 'missing'"),
        (["get", "a", "--field", "nope", "--file", file], env, "has no field 'nope'"),
        (["set", "b", "--field", "novalue", "--file", file], env, "KEY=VALUE"),
        (["set", "b", "--file", file], env, "--field KEY=VALUE or --from-json"),
        (["list"], env, "exactly one of --file PATH or --config FILE"),
        (["list", "--config", str(tmp_path / "none.yaml")], env, "no such config file"),
    ]
    for args, environment, expected in cases:
        result = runner.invoke(app, args, env=environment)
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, result.stderr)
        assert "Traceback" not in result.output
        assert TOKEN not in result.output and PASSWORD not in result.output


def test_rotate_password(tmp_path: Path, runner: CliRunner, env: dict[str, str]) -> None:
    file = str(tmp_path / "c.enc")
    run(runner, ["set", "a", "--field", f"token={TOKEN}", "--file", file], env)
    result = run(
        runner,
        ["rotate-password", "--file", file],
        {**env, "APILINK_NEW_MASTER_PASSWORD": "next-canary"},
    )
    assert result.exit_code == 0, result.stderr
    assert "next-canary" not in result.output
    assert EncryptedFileStore(file, "next-canary").get("a") == {"token": TOKEN}

    prompted = run(
        runner,
        ["rotate-password", "--file", file],
        {"APILINK_MASTER_PASSWORD": "next-canary"},
        input="third-pw\nthird-pw\n",
    )
    assert prompted.exit_code == 0, prompted.stderr
    assert EncryptedFileStore(file, "third-pw").list() == ["a"]

    wrong = runner.invoke(
        app,
        ["rotate-password", "--file", file],
        env={"APILINK_MASTER_PASSWORD": "next-canary", "APILINK_NEW_MASTER_PASSWORD": "x"},
    )
    assert wrong.exit_code == 2
    assert EncryptedFileStore(file, "third-pw").list() == ["a"]


SYNC = """
source: {{base_url: https://s.example, endpoints: {{l: {{path: /l}}}}}}
target: {{base_url: https://t.example, endpoints: {{c: {{path: /c, method: POST}}}}}}
mapping: [{{source: l, target: c}}]
credentials:
  type: vault
  url: {url}
  auth: {{method: token, token: "${{VAULT_TOKEN}}"}}
  path_prefix: cli/
"""


def test_vault_store_from_a_sync_config(
    tmp_path: Path, runner: CliRunner, openbao: OpenBao
) -> None:
    config = tmp_path / "sync.yaml"
    config.write_text(SYNC.format(url=openbao.url))
    env = {"VAULT_TOKEN": openbao.root_token}
    assert (
        run(
            runner, ["set", "svc", "--field", f"key={TOKEN}", "--config", str(config)], env
        ).exit_code
        == 0
    )
    assert openbao.client().secrets.kv.v2.read_secret_version(
        path="cli/svc", mount_point="secret", raise_on_deleted_version=True
    )["data"]["data"] == {"key": TOKEN}
    assert run(runner, ["list", "--config", str(config)], env).stdout == "svc\n"
    got = run(runner, ["get", "svc", "--field", "key", "--reveal", "--config", str(config)], env)
    assert got.stdout == f"{TOKEN}\n"

    rotate = runner.invoke(app, ["rotate-password", "--config", str(config)], env=env)
    assert rotate.exit_code == 2 and "encrypted credential files only" in rotate.stderr

    denied = runner.invoke(
        app, ["list", "--config", str(config)], env={"VAULT_TOKEN": "bad-canary"}
    )
    assert denied.exit_code == 2
    assert openbao.url in denied.stderr and "bad-canary" not in denied.output


def test_file_store_from_a_sync_config_prompts_for_the_password(
    tmp_path: Path, runner: CliRunner
) -> None:
    config = tmp_path / "sync.yaml"
    text = SYNC.split("credentials:")[0].format() + (
        f"security: {{credential_storage_path: {tmp_path / 'c.enc'}}}\n"
    )
    config.write_text(text)
    result = run(
        runner, ["set", "a", "--field", "k=v", "--config", str(config)], {}, input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.stderr
    assert EncryptedFileStore(tmp_path / "c.enc", PASSWORD).get("a") == {"k": "v"}
