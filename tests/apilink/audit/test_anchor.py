"""The anchor check alone: a log rolled back or wiped together with its head verifies by
itself, and is refused against the anchors its lines left (here handed in directly; the
Prefect route is tests/cli/test_audit_prefect.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from apilink.audit import AuditLog, load_audit_key
from apilink.audit.anchor import Anchor, chain_id, check_anchors, parse_anchor
from apilink.audit.log import chain_macs, head_path_for
from apilink.errors import AuditTampered


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AuditLog:
    monkeypatch.setenv("APILINK_AUDIT_KEY", "an-operator-key-" + "k" * 32)
    return AuditLog.open(tmp_path / "audit.log")


def _write(log: AuditLog, count: int, actor: str = "user") -> list[Anchor]:
    anchors = []
    for index in range(count):
        line = log.record("access.denied", actor=f"{actor}{index}", outcome="denied")
        anchor = log.anchor(line)
        assert anchor is not None
        anchors.append(anchor)
    return anchors


def _check(log: AuditLog, anchors: list[Anchor]) -> Any:
    key = load_audit_key(log.path, create=False)
    return check_anchors(chain_macs(log.path, key), anchors, key=key, chain=log.chain)


def test_a_log_that_matches_its_anchors(log: AuditLog) -> None:
    anchors = _write(log, 5)
    report = _check(log, [anchors[1], anchors[3], anchors[3]])
    assert (report.anchored, report.last, report.ignored) == (2, 4, 0)
    assert "up to line 4" in report.summary()


def test_an_older_log_restored_with_its_older_head_is_a_rollback(
    log: AuditLog, tmp_path: Path
) -> None:
    anchors = _write(log, 3)
    shutil.copy(log.path, tmp_path / "old.log")
    shutil.copy(head_path_for(log.path), tmp_path / "old.head")
    anchors += _write(log, 3, actor="later")
    shutil.copy(tmp_path / "old.log", log.path)
    shutil.copy(tmp_path / "old.head", head_path_for(log.path))

    key = load_audit_key(log.path, create=False)
    assert len(chain_macs(log.path, key)) == 3  # the file and head alone: no complaint
    with pytest.raises(AuditTampered) as caught:
        _check(log, anchors)
    assert caught.value.line == 4
    assert str(caught.value).startswith("line 4: missing; Prefect holds an anchor for line 6")


@pytest.mark.parametrize("restarted", [2, 6])
def test_a_log_and_head_wiped_and_restarted_is_refused(log: AuditLog, restarted: int) -> None:
    anchors = _write(log, 4)
    log.path.unlink()
    head_path_for(log.path).unlink()
    anchors += _write(log, restarted, actor="fresh")  # same key, same file: looks like new

    key = load_audit_key(log.path, create=False)
    assert len(chain_macs(log.path, key)) == restarted
    with pytest.raises(AuditTampered) as caught:
        _check(log, anchors)
    assert caught.value.line == 1
    assert "is not the line Prefect holds an anchor for" in str(caught.value)


def test_anchors_not_made_with_the_key_or_of_another_chain_are_ignored(log: AuditLog) -> None:
    anchors = _write(log, 2)
    forged = Anchor(log.chain, 9, "f" * 64, "0" * 64)  # anyone with Prefect API access
    replaced = Anchor(log.chain, 1, "e" * 64, anchors[0].tag)  # a real tag on another MAC
    other = Anchor("another-chain", 9, "f" * 64, "0" * 64)
    report = _check(log, [*anchors, forged, replaced, other])
    assert (report.anchored, report.last, report.ignored) == (2, 2, 2)
    assert "2 anchor(s) not made with this key ignored" in report.summary()


def test_the_chain_is_named_by_key_and_path(tmp_path: Path) -> None:
    key = b"k" * 32
    assert chain_id(key, tmp_path / "a.log") == chain_id(key, tmp_path / "x" / ".." / "a.log")
    assert chain_id(key, tmp_path / "a.log") != chain_id(key, tmp_path / "b.log")
    assert chain_id(key, tmp_path / "a.log") != chain_id(b"j" * 32, tmp_path / "a.log")


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {},
        {"audit": "x"},
        {"audit": {"chain": "c", "seq": "1", "mac": "m", "tag": "t"}},
        {"audit": {"chain": "c", "seq": 0, "mac": "m", "tag": "t"}},
        {"audit": {"chain": "c", "seq": True, "mac": "m", "tag": "t"}},
        {"audit": {"chain": "c", "seq": 1, "mac": 5, "tag": "t"}},
    ],
)
def test_a_malformed_anchor_is_no_anchor(payload: Any) -> None:
    assert parse_anchor(payload) is None


def test_an_anchor_round_trips_through_its_payload(log: AuditLog) -> None:
    (anchor,) = _write(log, 1)
    assert parse_anchor({"audit": anchor.payload(), "target": "t"}) == anchor
