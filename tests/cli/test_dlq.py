"""``apilink dlq list``: sealed dead-letter values are masked for every role and shown only to
``manage_credentials`` with ``--reveal``, which is audited; a denied reveal is audited too.

Route: the CLI (``apilink dlq list`` through typer's runner). Trusted: the worker's operator
(the seal key, ``APILINK_AUDIT_FILE``). Not trusted: a caller with only ``view_results``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apilink.audit import load_audit_key, verify
from apilink.config.loader import load_config
from apilink.rbac import AccessControl, FileUserStore, Role
from apilink.storage.dead_letter import DeadLetter, DeadLetterQueue
from cli import app
from tests.security.canaries import Canaries, assert_no_canary

runner = CliRunner()
ROLES = [role.value for role in Role]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    users = tmp_path / "users.json"
    engine = AccessControl(FileUserStore(users))
    keys = {role: engine.add_user(f"{role}1", role)[1] for role in ROLES}
    monkeypatch.setenv("APILINK_USERS_FILE", str(users))
    monkeypatch.setenv("APILINK_AUDIT_FILE", str(tmp_path / "audit.log"))
    monkeypatch.delenv("APILINK_API_KEY", raising=False)
    monkeypatch.delenv("APILINK_AUDIT_KEY", raising=False)
    config = tmp_path / "sync.yaml"
    config.write_text(
        "name: dlq-test\n"
        f"state_dir: '{tmp_path / 'state'}'\n"
        "source: {base_url: 'https://a.example', endpoints: {u: {path: /u}}}\n"
        "target: {base_url: 'https://b.example', endpoints: {p: {path: /p, method: POST}}}\n"
        "mapping: [{source: u, target: p}]\n"
    )
    canaries = Canaries()
    record = {
        "external_id": 7,
        "name": "visible-name",
        "password": canaries.new("password"),
        "nested": {"api_token": canaries.new("token")},
    }
    queue = DeadLetterQueue.for_sync(load_config(config))
    queue.append(
        [
            DeadLetter(
                sync="dlq-test",
                mapping="u->p",
                target="p",
                stage="load",
                record=record,
                idempotency_key="k" * 32,
                status=500,
                reason="server error",
                failed_at="2026-01-01T00:00:00+00:00",
            )
        ]
    )
    assert_no_canary(canaries, queue.path)  # sealed at rest
    return {
        "keys": keys,
        "config": config,
        "audit": tmp_path / "audit.log",
        "canaries": canaries,
        "record": record,
    }


def _audit(world: dict[str, object]) -> list[dict[str, object]]:
    path = world["audit"]
    assert isinstance(path, Path)
    if not path.exists():
        return []
    assert verify(path, load_audit_key(path, create=False)) >= 1
    return [json.loads(line) for line in path.read_text().splitlines()]


def _list(world: dict[str, object], role: str, *extra: str) -> tuple[int, str]:
    keys = world["keys"]
    assert isinstance(keys, dict)
    args = ["dlq", "list", "-c", str(world["config"]), *extra]
    result = runner.invoke(app, args, env={"APILINK_API_KEY": keys[role]})
    return result.exit_code, result.output


@pytest.mark.parametrize("role", ROLES)
def test_list_masks_sealed_values_for_every_role(role: str, world: dict[str, object]) -> None:
    code, output = _list(world, role, "--json")

    assert code == 0, output
    canaries = world["canaries"]
    assert isinstance(canaries, Canaries)
    assert_no_canary(canaries, ("dlq list --json", output))
    shown = json.loads(output.splitlines()[0])["record"]
    assert shown["name"] == "visible-name" and shown["external_id"] == 7
    assert shown["password"] == "**********" and shown["nested"]["api_token"] == "**********"
    assert _audit(world) == []  # a masked listing opens nothing


@pytest.mark.parametrize("role", ["operator", "developer", "viewer"])
def test_reveal_is_denied_and_audited_without_manage_credentials(
    role: str, world: dict[str, object]
) -> None:
    code, output = _list(world, role, "--reveal")

    assert code == 2
    assert "manage_credentials" in output
    canaries = world["canaries"]
    assert isinstance(canaries, Canaries)
    assert_no_canary(canaries, ("dlq list --reveal", output))
    lines = _audit(world)
    assert [(x["action"], x["actor"], x["target"], x["outcome"]) for x in lines] == [
        ("access.denied", f"{role}1", "manage_credentials", "denied")
    ]


def test_reveal_shows_sealed_values_to_manage_credentials_and_is_audited(
    world: dict[str, object],
) -> None:
    code, output = _list(world, "admin", "--reveal")

    assert code == 0, output
    assert json.loads(output.splitlines()[0])["record"] == world["record"]
    lines = _audit(world)
    assert [(x["action"], x["actor"], x["outcome"]) for x in lines] == [
        ("dead_letters.revealed", "admin1", "ok")
    ]
    assert lines[0]["details"] == {"letters": 1}
    canaries = world["canaries"]
    assert isinstance(canaries, Canaries)
    audit = world["audit"]
    assert isinstance(audit, Path)
    assert_no_canary(canaries, audit)  # the audit line names the file, not the values
