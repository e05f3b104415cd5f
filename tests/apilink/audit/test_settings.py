"""Where a denial is written: the operator's choice, never the caller's or the current folder."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from apilink.audit.settings import DenialAudit, worker_audit_path
from apilink.config import parse_config
from apilink.config.models import SyncConfig

BASE = {
    "source": {"base_url": "https://a.example", "endpoints": {"u": {"path": "/u"}}},
    "target": {"base_url": "https://b.example", "endpoints": {"p": {"path": "/p"}}},
    "mapping": [{"source": "u", "target": "p"}],
}


def _config(logging: dict[str, object]) -> SyncConfig:
    return parse_config(yaml.safe_dump({**BASE, "logging": logging}), source="<test>")


def test_the_operator_file_wins(tmp_path: Path) -> None:
    env = {"APILINK_AUDIT_FILE": str(tmp_path / "op.log")}
    config = _config({"security_audit": True, "audit_file": str(tmp_path / "own.log")})
    assert worker_audit_path(config, env=env) == tmp_path / "op.log"


def test_without_one_a_trusted_auditing_config_names_its_file(tmp_path: Path) -> None:
    config = _config({"security_audit": True, "audit_file": str(tmp_path / "own.log")})
    assert worker_audit_path(config, env={}) == tmp_path / "own.log"
    env = {"APILINK_STATE_DIR": str(tmp_path / "state")}
    untrusted = worker_audit_path(config, trusted=False, env=env)
    assert untrusted == tmp_path / "state" / "apilink_audit.log"


def test_a_config_without_an_audit_log_never_gets_its_plain_log_written(tmp_path: Path) -> None:
    config = _config({"security_audit": False, "file": str(tmp_path / "plain.log")})
    env = {"APILINK_STATE_DIR": str(tmp_path / "state")}
    assert worker_audit_path(config, env=env) == tmp_path / "state" / "apilink_audit.log"


def test_granted_events_write_nothing_without_a_config_log(tmp_path: Path) -> None:
    env = {"APILINK_AUDIT_FILE": str(tmp_path / "op.log"), "APILINK_AUDIT_KEY": "k" * 40}
    sink = DenialAudit(env=env)
    sink.record("access.granted", actor="a", target="view_logs", outcome="allowed")
    assert not (tmp_path / "op.log").exists()
    line = sink.record("access.denied", actor="eve", target="run_sync", outcome="denied")
    written = [json.loads(x) for x in (tmp_path / "op.log").read_text().splitlines()]
    assert written == [line]
    anchor = sink.anchor(line)
    assert anchor is not None and (anchor.seq, anchor.mac) == (1, line["mac"])
