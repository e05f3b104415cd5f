"""`apilink validate` warns about literal secrets and prints its result as JSON: a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.fixtures.command import APILINK
from tests.security.canaries import Canaries, assert_no_canary

CONFIG = """
source:
  base_url: https://a.example.com
  auth: {{type: bearer, token: {token}}}
  endpoints:
    list: {{path: /items}}
target:
  base_url: https://b.example.com
  auth: {{type: api_key, key: "${{TARGET_KEY}}"}}
  endpoints:
    add: {{path: /items, method: POST}}
mapping: [{{source: list, target: add, fields: [{{source: id, target: id}}]}}]
"""


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "TARGET_KEY": "from-the-environment", **(env or {})}
    environ.pop("APILINK_USERS_FILE", None)
    return subprocess.run(
        [*APILINK, *args], capture_output=True, text=True, timeout=120, env=environ
    )


def test_a_literal_token_is_a_warning_naming_the_field(tmp_path: Path) -> None:
    canaries = Canaries()
    config = tmp_path / "sync.yaml"
    config.write_text(CONFIG.format(token=f"sk-live-{canaries.new('token')}"))

    done = run("validate", "-c", str(config))

    assert done.returncode == 0, done.stderr
    assert "valid (list -> add)" in done.stdout
    (warning,) = done.stderr.splitlines()
    assert warning.startswith("warning: `source.auth.token` looks like a plain-text secret")
    assert "${VAR}" in warning and "secret://" in warning
    assert_no_canary(canaries, done.stdout, done.stderr)

    strict = run("validate", "-c", str(config), "--strict")
    assert strict.returncode == 2


def test_references_give_no_warning(tmp_path: Path) -> None:
    config = tmp_path / "sync.yaml"
    config.write_text(CONFIG.format(token="secret://crm#token"))
    done = run("validate", "-c", str(config), "--strict")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_validate_json_on_a_valid_config(tmp_path: Path) -> None:
    canaries = Canaries()
    config = tmp_path / "sync.yaml"
    config.write_text(CONFIG.format(token=canaries.new("token")))

    done = run("validate", "-c", str(config), "--json")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] is True
    assert result["errors"] == []
    assert result["mappings"] == ["list -> add"]
    assert len(result["warnings"]) == 1 and "`source.auth.token`" in result["warnings"][0]
    assert done.stderr == ""
    assert_no_canary(canaries, done.stdout)


def test_validate_json_on_a_bad_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "sync.yaml"
    config.write_text(
        CONFIG.format(token="secret://crm#token").replace("path: /items}", "pat: /x}", 1)
    )

    done = run("validate", "-c", str(config), "--json")

    assert done.returncode == 2
    result = json.loads(done.stdout)
    assert result["ok"] is False
    assert any("source.endpoints.list" in error for error in result["errors"])
    assert result["mappings"] == []


def test_validate_json_on_a_missing_file(tmp_path: Path) -> None:
    done = run("validate", "-c", str(tmp_path / "nowhere.yaml"), "--json")
    assert done.returncode == 2
    result = json.loads(done.stdout)
    assert result["ok"] is False and "no such config file" in result["errors"][0]
