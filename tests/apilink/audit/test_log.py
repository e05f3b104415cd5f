from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from apilink.audit import AuditLog, head_path_for, load_audit_key, read_events, verify
from apilink.errors import AuditTampered
from apilink.redaction import Redactor

KEY = b"0123456789abcdef0123456789abcdef"
CANARY = "CANARY-audit-secret-5521"


def fixed_clock() -> datetime:
    return datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


def write_log(path: Path, count: int = 5) -> AuditLog:
    log = AuditLog(path, KEY, clock=fixed_clock, run_id="run-1")
    for index in range(count):
        log.record("access.granted", actor=f"user{index}", target="run_sync", outcome="allowed")
    return log


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_lines_carry_the_fields_and_verify(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_log(path, 3)
    event = read_events(path)[0]
    assert set(event) == {
        "seq", "ts", "actor", "action", "target", "outcome", "run_id", "details", "mac"
    }  # fmt: skip
    assert event["ts"] == "2030-05-01T12:00:00+00:00" and event["run_id"] == "run-1"
    assert verify(path, KEY) == 3
    for name in (path, head_path_for(path)):
        assert name.stat().st_mode & 0o777 == 0o600


def test_edit_is_detected_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_log(path)
    content = lines(path)
    content[2] = content[2].replace('"allowed"', '"denied"')
    path.write_text("".join(content))
    with pytest.raises(AuditTampered, match=r"^line 3:") as info:
        verify(path, KEY)
    assert info.value.line == 3


def test_deletion_is_detected_at_the_next_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_log(path)
    content = lines(path)
    del content[1]
    path.write_text("".join(content))
    with pytest.raises(AuditTampered, match=r"^line 2:") as info:
        verify(path, KEY)
    assert info.value.line == 2


def test_reorder_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_log(path)
    content = lines(path)
    content[3], content[4] = content[4], content[3]
    path.write_text("".join(content))
    with pytest.raises(AuditTampered, match=r"^line 4:"):
        verify(path, KEY)


def test_truncation_is_detected_by_the_head(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_log(path)
    path.write_text("".join(lines(path)[:3]))
    with pytest.raises(AuditTampered, match=r"^line 4: missing") as info:
        verify(path, KEY)
    assert info.value.line == 4


def test_deleting_the_whole_log_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_log(path)
    path.unlink()
    with pytest.raises(AuditTampered, match=r"^line 1: missing"):
        verify(path, KEY)


def test_removing_the_head_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_log(path)
    head_path_for(path).unlink()
    with pytest.raises(AuditTampered, match="head"):
        verify(path, KEY)


def test_forged_head_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_log(path)
    path.write_text("".join(lines(path)[:3]))
    head = json.loads(head_path_for(path).read_text())
    head["count"] = 3
    head_path_for(path).write_text(json.dumps(head))
    with pytest.raises(AuditTampered, match="head MAC"):
        verify(path, KEY)


def test_wrong_key_fails_at_line_one(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_log(path)
    with pytest.raises(AuditTampered, match=r"^line 1:"):
        verify(path, b"another key of sixteen plus bytes")


def test_writer_refuses_to_extend_a_truncated_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = write_log(path)
    path.write_text("".join(lines(path)[:2]))
    with pytest.raises(AuditTampered):
        log.record("x", actor="y")
    assert len(lines(path)) == 2


def test_head_one_behind_after_a_crash_still_verifies(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_log(path, 2)
    saved_head = head_path_for(path).read_bytes()
    AuditLog(path, KEY).record("x", actor="y")
    head_path_for(path).write_bytes(saved_head)  # as if the process died before the head write
    assert verify(path, KEY) == 3
    AuditLog(path, KEY).record("after", actor="y")
    assert verify(path, KEY) == 4


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"

    def write(index: int) -> None:
        log = AuditLog(path, KEY)
        for step in range(10):
            log.record("event", actor=f"w{index}", details={"step": step})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert verify(path, KEY) == 40


def test_secrets_never_reach_the_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(path, KEY, redactor=Redactor({CANARY}))
    log.record(
        "credential.read",
        actor="admin1",
        target=f"https://api.example.com/x?api_key={CANARY}",
        details={
            "password": "hunter2-plain",
            "note": f"token was {CANARY}",
            "secret_field": SecretStr("another-one-9911"),
            "nested": [{"client_secret": "nested-canary-4411"}],
        },
    )
    text = path.read_text()
    for leaked in (CANARY, "hunter2-plain", "another-one-9911", "nested-canary-4411"):
        assert leaked not in text
    assert verify(path, KEY) == 1


def test_key_file_is_created_once_with_0600(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    key = load_audit_key(path, env={})
    key_file = Path(str(path) + ".key")
    assert key_file.stat().st_mode & 0o777 == 0o600 and len(key) == 32
    assert load_audit_key(path, env={}) == key
    assert load_audit_key(path, env={"APILINK_AUDIT_KEY": "e" * 40}) == b"e" * 40


def test_short_env_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 32"):
        load_audit_key(tmp_path / "a.log", env={"APILINK_AUDIT_KEY": "short"})


def test_verify_does_not_create_a_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no audit key"):
        load_audit_key(tmp_path / "a.log", env={}, create=False)


def test_read_events_tail(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_log(path, 5)
    assert [e["seq"] for e in read_events(path, tail=2)] == [4, 5]
