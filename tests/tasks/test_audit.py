from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect import flow
from pydantic import SecretStr

from apilink.audit import AuditLog, read_events, verify
from apilink.config.models import SecurityConfig
from apilink.errors import AccessDenied
from tasks.audit import PrefectAuditSink, audit_from_parameters, audit_hooks
from tasks.rbac_guard import rbac_guard

KEY = b"h" * 32
CANARY = "CANARY-hook-secret-6610"
SECURITY = SecurityConfig(
    enable_access_control=True,
    users=[
        {"username": "ops", "role": "operator", "api_key": "CANARY-ops-key-1"},
        {"username": "dev", "role": "developer", "api_key": "CANARY-dev-key-2"},
    ],
)


def test_sink_writes_and_emits_the_same_event(tmp_path: Path) -> None:
    emitted: list[dict[str, Any]] = []
    log = AuditLog(tmp_path / "a.log", KEY)
    sink = PrefectAuditSink(log, run_id="r1", emit=lambda **kw: emitted.append(kw))
    sink.record("run.started", actor="ops", target="api_sync", details={"token": CANARY})
    line = read_events(log.path)[0]
    assert emitted[0]["event"] == "apilink.run.started"
    assert emitted[0]["payload"]["details"] == line["details"] == {"token": "**********"}
    assert line["run_id"] == "r1"
    assert emitted[0]["related"][0]["prefect.resource.id"] == "prefect.flow-run.r1"


def test_emit_failure_does_not_lose_the_audit_line(tmp_path: Path) -> None:
    def broken(**_: Any) -> None:
        raise RuntimeError("events down")

    log = AuditLog(tmp_path / "a.log", KEY)
    PrefectAuditSink(log, emit=broken).record("run.failed", actor="x")
    assert verify(log.path, KEY) == 1


@pytest.mark.parametrize("wrapped", ["log", "denial_audit"])
def test_each_emitted_event_carries_its_lines_anchor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wrapped: str
) -> None:
    from apilink.audit.anchor import chain_id, parse_anchor
    from apilink.audit.settings import DenialAudit

    monkeypatch.setenv("APILINK_AUDIT_FILE", str(tmp_path / "a.log"))
    monkeypatch.setenv("APILINK_AUDIT_KEY", KEY.decode())
    emitted: list[dict[str, Any]] = []
    audit = AuditLog(tmp_path / "a.log", KEY) if wrapped == "log" else DenialAudit()
    sink = PrefectAuditSink(audit, run_id="r1", emit=lambda **kw: emitted.append(kw))
    sink.record("access.denied", actor="eve", target="run_sync", outcome="denied")
    sink.record("access.denied", actor="eve", target="run_sync", outcome="denied")

    lines = read_events(tmp_path / "a.log")
    chain = chain_id(KEY, tmp_path / "a.log")
    for event, line in zip(emitted, lines, strict=True):
        anchor = parse_anchor(event["payload"])
        assert anchor is not None
        assert (anchor.chain, anchor.seq, anchor.mac) == (chain, line["seq"], line["mac"])
        assert {
            "prefect.resource.id": f"apilink.audit-chain.{chain}",
            "prefect.resource.role": "audit-chain",
        } in event["related"]


def test_an_event_with_no_audit_line_has_no_anchor() -> None:
    emitted: list[dict[str, Any]] = []
    PrefectAuditSink(None, emit=lambda **kw: emitted.append(kw)).record("run.started", actor="x")
    assert "audit" not in emitted[0]["payload"] and emitted[0]["related"] is None


def test_audit_from_parameters_follows_security_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config: dict[str, Any] = {
        "source": {"base_url": "http://127.0.0.1:1", "endpoints": {"a": {"path": "/a"}}},
        "target": {"base_url": "http://127.0.0.1:2", "endpoints": {"b": {"path": "/b"}}},
        "mapping": [{"source": "a", "target": "b"}],
        "logging": {"security_audit": False},
    }
    assert audit_from_parameters({"config": config}) is None
    assert audit_from_parameters({}) is None
    config["logging"] = {"security_audit": True, "file": str(tmp_path / "audit.log")}
    monkeypatch.setenv("APILINK_AUDIT_FILE", str(tmp_path / "operator.log"))
    # A caller's mapping does not choose where the worker writes: the operator's file.
    log = audit_from_parameters({"config": config})
    assert log is not None and log.path == tmp_path / "operator.log"
    # A config file on the worker's disk keeps the guide's `logging.file`.
    monkeypatch.delenv("APILINK_AUDIT_FILE")
    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(config))
    log = audit_from_parameters({"config_path": str(path)})
    assert log is not None and log.path == tmp_path / "audit.log"


@pytest.mark.usefixtures("prefect_harness")
def test_hooks_and_guard_audit_real_flow_runs(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    emitted: list[dict[str, Any]] = []

    def factory(parameters: Mapping[str, Any]) -> AuditLog:
        return AuditLog(path, KEY)

    @flow(name="audited", **audit_hooks(factory, emit=lambda **kw: emitted.append(kw)))
    def audited(api_key: SecretStr, secret_note: str = CANARY) -> str:
        return rbac_guard(SECURITY, api_key, audit=AuditLog(path, KEY))

    assert audited(SecretStr("CANARY-ops-key-1")) == "ops"
    with pytest.raises(AccessDenied):
        audited(SecretStr("CANARY-dev-key-2"))

    actions = [(e["action"], e["outcome"]) for e in read_events(path)]
    assert actions == [
        ("run.started", "started"),
        ("access.granted", "allowed"),
        ("run.completed", "completed"),
        ("run.started", "started"),
        ("access.denied", "denied"),
        ("run.failed", "failed"),
    ]
    events = read_events(path)
    assert events[1]["run_id"] == events[0]["run_id"] and events[1]["run_id"]
    assert verify(path, KEY) == 6
    text = path.read_text()
    assert "CANARY-ops-key-1" not in text and "CANARY-dev-key-2" not in text
    assert [e["event"] for e in emitted] == [
        "apilink.run.started",
        "apilink.run.completed",
        "apilink.run.started",
        "apilink.run.failed",
    ]


def test_audit_hooks_cover_every_end_state() -> None:
    hooks = audit_hooks(lambda _: None, emit=lambda **kw: None)
    assert set(hooks) == {
        "on_running",
        "on_completion",
        "on_failure",
        "on_crashed",
        "on_cancellation",
    }
