"""Issue 13 through the CLI: loading a config never writes users; seeding them is
``apilink users import``; ``apilink ticket`` checks the caller's key and mints a bound ticket.
Route: CLI (typer runner, the worker's environment set as an operator would)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from apilink.audit import read_events
from apilink.errors import ProofRejected
from apilink.rbac import AccessControl, FileUserStore
from apilink.rbac.approval import verify_ticket
from cli import app
from tests.fixtures.attacker import Attacker, attack_config

runner = CliRunner()
EVE_KEY = "canary-eve-key-0123456789"
WORKER_KEY = "canary-worker-key-" + "3" * 32


@pytest.fixture
def users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    path = tmp_path / "users.json"
    engine = AccessControl(FileUserStore(path))
    keys = {role: engine.add_user(f"{role}1", role)[1] for role in ("admin", "viewer")}
    monkeypatch.setenv("APILINK_USERS_FILE", str(path))
    monkeypatch.setenv("APILINK_AUDIT_FILE", str(tmp_path / "audit.log"))
    monkeypatch.delenv("APILINK_API_KEY", raising=False)
    monkeypatch.setenv("APILINK_MASTER_PASSWORD", "canary-master-pw-for-cli")
    return {"path": str(path), **keys}


def evil(tmp_path: Path, url: str) -> Path:
    raw = attack_config(
        url,
        enable_access_control=True,
        users=[{"username": "eve", "role": "admin", "api_key": EVE_KEY}],
    )
    path = tmp_path / "evil.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def names(users: dict[str, str]) -> set[str]:
    return {u["username"] for u in json.loads(Path(users["path"]).read_text())["users"]}


def denials(tmp_path: Path) -> list[dict[str, object]]:
    return [e for e in read_events(tmp_path / "audit.log") if e["outcome"] == "denied"]


def test_validate_with_declared_users_writes_none(
    users: dict[str, str], tmp_path: Path, attacker: Attacker
) -> None:
    """`APILINK_USERS_FILE=U apilink validate -c evil.yaml` used to make eve an admin of U."""
    config = evil(tmp_path, attacker.url)
    result = runner.invoke(app, ["validate", "-c", str(config)], env={"APILINK_API_KEY": EVE_KEY})
    assert result.exit_code == 2, result.output
    assert names(users) == {"admin1", "viewer1"}
    result = runner.invoke(app, ["users", "list"], env={"APILINK_API_KEY": EVE_KEY})
    assert result.exit_code == 2  # her key works nowhere
    assert attacker.requests == []
    assert EVE_KEY not in Path(users["path"]).read_text()


def test_users_import_is_an_explicit_manage_users_action(
    users: dict[str, str], tmp_path: Path, attacker: Attacker
) -> None:
    config = evil(tmp_path, attacker.url)

    def run(key: str) -> Result:
        return runner.invoke(
            app, ["users", "import", "-c", str(config)], env={"APILINK_API_KEY": key}
        )

    viewer = run(users["viewer"])
    assert viewer.exit_code == 2 and "manage_users" in viewer.output
    assert "eve" not in names(users)
    assert denials(tmp_path)[-1]["actor"] == "viewer1"

    admin = run(users["admin"])
    assert admin.exit_code == 0, admin.output
    assert "imported 1 user(s)" in admin.output
    assert "eve" in names(users)
    assert EVE_KEY not in Path(users["path"]).read_text()  # hashed
    again = run(EVE_KEY)
    assert again.exit_code == 0 and "already there" in again.output
    assert attacker.requests == []


@pytest.fixture
def deployment(prefect_harness: str) -> str:
    from prefect.client.orchestration import get_client

    async def create() -> str:
        async with get_client() as client:
            flow_id = await client.create_flow_from_name("api_sync")
            await client.create_deployment(
                flow_id=flow_id,
                name="ticketed",
                parameters={"config_path": "deployments/demo.yaml"},
            )
        return "api_sync/ticketed"

    return asyncio.run(create())


def test_ticket_checks_the_key_and_binds_the_run(
    users: dict[str, str], tmp_path: Path, deployment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APILINK_WORKER_KEY", WORKER_KEY)
    args = ["ticket", "--deployment", deployment, "--param", "dry_run=true"]
    denied = runner.invoke(app, args, env={"APILINK_API_KEY": users["viewer"]})
    assert denied.exit_code == 2 and "run_sync" in denied.output
    assert denials(tmp_path)[-1]["actor"] == "viewer1"
    nokey = runner.invoke(app, args)
    assert nokey.exit_code == 2 and "no API key" in nokey.output
    assert denials(tmp_path)[-1]["actor"] == "unknown"

    made = runner.invoke(app, args, env={"APILINK_API_KEY": users["admin"]})
    assert made.exit_code == 0, made.output
    ticket = made.stdout.strip().splitlines()[0]
    assert users["admin"] not in ticket and WORKER_KEY not in ticket
    params = {"config_path": "deployments/demo.yaml", "dry_run": True}
    key = WORKER_KEY.encode()
    assert verify_ticket(key, ticket, deployment=deployment, parameters=params)["principal"] == (
        "admin1"
    )
    with pytest.raises(ProofRejected, match="other parameters"):
        verify_ticket(key, ticket, deployment=deployment, parameters={**params, "dry_run": False})
    with pytest.raises(ProofRejected, match="deployment"):
        verify_ticket(key, ticket, deployment="api_sync/other", parameters=params)


def test_ticket_without_a_worker_key_says_how_to_set_one(
    users: dict[str, str], deployment: str
) -> None:
    result = runner.invoke(
        app, ["ticket", "-d", deployment], env={"APILINK_API_KEY": users["admin"]}
    )
    assert result.exit_code == 2
    assert "APILINK_WORKER_KEY" in result.output
