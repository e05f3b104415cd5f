"""The guard, the audit trail and redaction around a whole api_sync run."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from apilink.audit import load_audit_key, read_events, verify
from apilink.demo import demo_config_path
from apilink.errors import AccessDenied
from apilink.rbac import AccessControl, FileUserStore
from flows.api_sync import api_sync
from tests.fixtures.apis import DemoApis


def secured_config(tmp_path: Path, users: Path) -> Path:
    raw = yaml.safe_load(Path(demo_config_path()).read_text())
    raw["logging"] = {"security_audit": True, "audit_file": str(tmp_path / "audit.log")}
    raw["security"] = {"enable_access_control": True, "users_file": str(users)}
    path = tmp_path / "secured.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(("role", "allowed"), [("operator", True), ("viewer", False)])
def test_guarded_audited_run_leaks_no_secret(
    role: str,
    allowed: bool,
    prefect_harness: str,
    demo_apis: DemoApis,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    users = tmp_path / "users.json"
    _, key = AccessControl(FileUserStore(users)).add_user(f"{role}1", role)
    config = secured_config(tmp_path, users)
    caplog.set_level(logging.DEBUG)

    if allowed:
        summary = asyncio.run(api_sync(config_path=str(config), api_key=SecretStr(key)))
        assert summary["loaded"] == 112
    else:
        with pytest.raises(AccessDenied, match="run_sync"):
            asyncio.run(api_sync(config_path=str(config), api_key=SecretStr(key)))
        assert demo_apis.inbox.requests == 0

    audit = tmp_path / "audit.log"
    assert verify(audit, load_audit_key(audit, create=False)) >= 2
    outcomes = [(e["action"], e["outcome"]) for e in read_events(audit)]
    assert any("denied" in str(o) for o in outcomes) != allowed
    text = audit.read_text() + caplog.text
    assert demo_apis.token not in text
    assert key not in text
