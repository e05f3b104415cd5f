"""Issue 13, as an attacker tries it: ``api_sync(...)`` / ``partitioned_sync(...)`` called with
the parameters a Prefect caller can send. The worker's operator has set a users file and an
audit file; the caller is not trusted.

Each test asserts that the attack fails, that nothing reached the attacker's loopback host (which
the config names as source and target, with the worker's ``${APILINK_MASTER_PASSWORD}`` and a
``secret://`` credential as headers) and that the worker's audit file holds the denial.
Route: api_sync / partitioned_sync called in process (the deployment route is
tests/e2e/test_access_policy_deploy.py).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from apilink.audit import read_events
from apilink.credentials import EncryptedFileStore
from apilink.credentials.kdf import SCRYPT_FLOOR
from apilink.errors import AccessDenied, PolicyRefused, ProofRejected
from apilink.rbac import AccessControl, FileUserStore
from apilink.rbac.approval import config_digest, issue_child_proof
from blocks.sync_config import SyncConfig
from flows.api_sync import api_sync
from flows.partitioned_sync import partitioned_sync
from tests.fixtures.attacker import Attacker, attack_config

pytestmark = pytest.mark.usefixtures("prefect_harness")

MASTER = "canary-master-password-5f1e"
STORED = "canary-stored-credential-91ab"
WORKER_KEY = "canary-worker-key-" + "7" * 32


@dataclass
class Worker:
    """What the operator set up on the worker."""

    users: Path
    audit: Path
    store: Path
    keys: dict[str, str]

    def denials(self) -> list[dict[str, Any]]:
        if not self.audit.exists():
            return []
        return [e for e in read_events(self.audit) if e["outcome"] == "denied"]


@pytest.fixture
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Worker:
    users = tmp_path / "users.json"
    engine = AccessControl(FileUserStore(users))
    keys = {role: engine.add_user(f"{role}1", role)[1] for role in ("admin", "operator")}
    keys["developer"] = engine.add_user("developer1", "developer")[1]
    store = tmp_path / "worker-creds.enc"
    EncryptedFileStore(store, MASTER, kdf_params=SCRYPT_FLOOR).put("db", {"password": STORED})
    audit = tmp_path / "worker-audit.log"
    monkeypatch.delenv("APILINK_ACCESS_CONTROL")  # unset: caller configs are checked
    monkeypatch.setenv("APILINK_USERS_FILE", str(users))
    monkeypatch.setenv("APILINK_AUDIT_FILE", str(audit))
    monkeypatch.setenv("APILINK_MASTER_PASSWORD", MASTER)
    monkeypatch.setenv("APILINK_WORKER_KEY", WORKER_KEY)
    monkeypatch.setenv("APILINK_API_KEY", keys["admin"])  # the worker's own key: never used
    return Worker(users=users, audit=audit, store=store, keys=keys)


def loot(attacker: Attacker, worker: Worker, **security: Any) -> dict[str, Any]:
    raw = attack_config(attacker.url, **security)
    raw["credentials"] = {"type": "file", "path": str(worker.store)}
    raw["target"]["headers"]["X-Stored"] = "secret://db#password"
    raw["logging"] = {"security_audit": True, "audit_file": "/tmp/caller-chosen-audit.log"}
    return raw


def assert_nothing_leaked(attacker: Attacker, worker: Worker, denials_before: int = 0) -> None:
    assert attacker.requests == []
    assert len(worker.denials()) == denials_before + 1
    text = worker.audit.read_text()
    for secret in (MASTER, STORED, WORKER_KEY, *worker.keys.values()):
        assert secret not in text
    assert json.loads(worker.users.read_text())["users"]  # the users file is intact
    names = {u["username"] for u in json.loads(worker.users.read_text())["users"]}
    assert names == {"admin1", "operator1", "developer1"}


def run(flow: Any = api_sync, **parameters: Any) -> Any:
    return asyncio.run(flow(**parameters))


def test_config_turning_access_control_off_is_refused(attacker: Attacker, worker: Worker) -> None:
    with pytest.raises(PolicyRefused, match=r"enable_access_control: false.*only the worker"):
        run(config=loot(attacker, worker, enable_access_control=False))
    assert_nothing_leaked(attacker, worker)
    assert not Path("/tmp/caller-chosen-audit.log").exists()


def test_config_declaring_users_is_refused(attacker: Attacker, worker: Worker) -> None:
    eve = [{"username": "eve", "role": "admin", "api_key": "eve-key-123456789012"}]
    with pytest.raises(PolicyRefused, match=r"security\.users` declares users"):
        run(
            config=loot(attacker, worker, enable_access_control=True, users=eve),
            api_key=SecretStr("eve-key-123456789012"),
        )
    assert_nothing_leaked(attacker, worker)


def test_config_naming_a_users_file_is_refused(
    attacker: Attacker, worker: Worker, tmp_path: Path
) -> None:
    mine = tmp_path / "eve-users.json"
    _, key = AccessControl(FileUserStore(mine)).add_user("eve", "admin")
    with pytest.raises(PolicyRefused, match="users_file"):
        run(config=loot(attacker, worker, users_file=str(mine)), api_key=SecretStr(key))
    assert_nothing_leaked(attacker, worker)


def test_no_key_does_not_run_as_the_worker(attacker: Attacker, worker: Worker) -> None:
    with pytest.raises(AccessDenied, match="no API key"):
        run(config=loot(attacker, worker))
    assert_nothing_leaked(attacker, worker)


def test_run_sync_alone_cannot_run_a_callers_config(attacker: Attacker, worker: Worker) -> None:
    with pytest.raises(AccessDenied, match=r"edit_config.*operator"):
        run(config=loot(attacker, worker), api_key=SecretStr(worker.keys["operator"]))
    assert_nothing_leaked(attacker, worker)


def test_forged_child_proof_is_rejected(attacker: Attacker, worker: Worker) -> None:
    with pytest.raises(ProofRejected, match="not an apilink seal"):
        run(config=loot(attacker, worker), proof="forged", partition="pages 1-2")
    assert_nothing_leaked(attacker, worker)


def test_proof_made_with_another_key_is_rejected(attacker: Attacker, worker: Worker) -> None:
    raw = loot(attacker, worker)
    proof = issue_child_proof(
        b"x" * 40, parent_run="p", partition="a", digest=config_digest(raw),
        principal="admin1", trusted=True,
    )  # fmt: skip
    with pytest.raises(ProofRejected, match="does not verify"):
        run(config=raw, proof=proof, partition="a")
    assert_nothing_leaked(attacker, worker)


def test_replayed_child_parameters_are_rejected(attacker: Attacker, worker: Worker) -> None:
    """A real proof copied from a child run's parameters into a new run: its parent differs."""
    raw = loot(attacker, worker)
    proof = issue_child_proof(
        WORKER_KEY.encode(), parent_run="0b3c-some-parent", partition="a",
        digest=config_digest(raw), principal="admin1", trusted=True,
    )  # fmt: skip
    with pytest.raises(ProofRejected, match="another parent flow run"):
        run(config=raw, proof=proof, partition="a")
    assert_nothing_leaked(attacker, worker)


def test_proof_for_another_config_is_rejected(attacker: Attacker, worker: Worker) -> None:
    proof = issue_child_proof(
        WORKER_KEY.encode(), parent_run="p", partition="a", digest="0" * 64,
        principal="admin1", trusted=True,
    )  # fmt: skip
    with pytest.raises(ProofRejected, match="another"):
        run(config=loot(attacker, worker), proof=proof, partition="a")
    assert_nothing_leaked(attacker, worker)


def test_block_edited_outside_apilink_must_be_reapproved(
    attacker: Attacker, worker: Worker
) -> None:
    engine = AccessControl(FileUserStore(worker.users))
    benign = loot(attacker, worker)
    benign["source"]["base_url"] = benign["target"]["base_url"] = "https://example.invalid"
    block = SyncConfig(config=benign)
    block.save_checked("attack-13", access=engine, api_key=worker.keys["developer"])
    # Then someone with Prefect API access edits it (the approval stays as it was).
    edited = SyncConfig.load("attack-13")
    assert isinstance(edited, SyncConfig)
    edited.config = loot(attacker, worker)
    edited.save("attack-13", overwrite=True)
    with pytest.raises(ProofRejected, match="edited outside apilink: re-approve it"):
        run(config_block="attack-13", api_key=SecretStr(worker.keys["operator"]))
    assert_nothing_leaked(attacker, worker)


def test_unapproved_block_needs_edit_config(attacker: Attacker, worker: Worker) -> None:
    SyncConfig(config=loot(attacker, worker)).save("attack-13-raw", overwrite=True)
    with pytest.raises(AccessDenied, match="edit_config"):
        run(config_block="attack-13-raw", api_key=SecretStr(worker.keys["operator"]))
    assert_nothing_leaked(attacker, worker)


def test_partitioned_sync_refuses_and_audits(attacker: Attacker, worker: Worker) -> None:
    raw = loot(attacker, worker, enable_access_control=False)
    with pytest.raises(PolicyRefused, match="enable_access_control"):
        run(partitioned_sync, config=raw)
    assert_nothing_leaked(attacker, worker)


def test_partitioned_sync_without_a_key_is_denied_and_audited(
    attacker: Attacker, worker: Worker
) -> None:
    with pytest.raises(AccessDenied, match="no API key"):
        run(partitioned_sync, config=loot(attacker, worker))
    assert_nothing_leaked(attacker, worker)


def test_worker_without_users_names_what_to_set(
    attacker: Attacker, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("APILINK_USERS_FILE")
    with pytest.raises(AccessDenied, match="APILINK_USERS_FILE or APILINK_ACCESS_CONTROL_BLOCK"):
        run(config=loot(attacker, worker), api_key=SecretStr(worker.keys["admin"]))
    assert_nothing_leaked(attacker, worker)
