from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from apilink.audit import AuditLog
from apilink.cli.audit import app

runner = CliRunner()


@pytest.fixture
def log_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("APILINK_AUDIT_KEY", raising=False)
    path = tmp_path / "audit.log"
    log = AuditLog.open(path)
    for index in range(4):
        log.record("access.denied", actor=f"user{index}", target="run_sync", outcome="denied")
    return path


def test_verify_ok(log_path: Path) -> None:
    result = runner.invoke(app, ["verify", str(log_path)])
    assert result.exit_code == 0 and "4 lines verified" in result.output


@pytest.mark.parametrize(
    ("tamper", "line"),
    [
        (lambda ls: [*ls[:1], ls[1].replace("user1", "userX"), *ls[2:]], 2),
        (lambda ls: ls[:2] + ls[3:], 3),
        (lambda ls: [ls[0], ls[2], ls[1], ls[3]], 2),
        (lambda ls: ls[:3], 4),
    ],
    ids=["edit", "delete", "reorder", "truncate"],
)
def test_verify_names_the_bad_line(log_path: Path, tamper, line: int) -> None:  # type: ignore[no-untyped-def]
    lines = log_path.read_text().splitlines(keepends=True)
    log_path.write_text("".join(tamper(lines)))
    result = runner.invoke(app, ["verify", str(log_path)])
    assert result.exit_code == 1
    assert f"line {line}:" in result.output


def test_verify_with_env_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APILINK_AUDIT_KEY", "k" * 40)
    path = tmp_path / "a.log"
    AuditLog.open(path).record("x", actor="y")
    assert not Path(str(path) + ".key").exists()
    assert runner.invoke(app, ["verify", str(path)]).exit_code == 0
    monkeypatch.setenv("APILINK_AUDIT_KEY", "j" * 40)
    assert runner.invoke(app, ["verify", str(path)]).exit_code == 1


def test_verify_missing_key_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APILINK_AUDIT_KEY", raising=False)
    result = runner.invoke(app, ["verify", str(tmp_path / "none.log")])
    assert result.exit_code == 2 and "no audit key" in result.output


def test_show_and_tail(log_path: Path) -> None:
    result = runner.invoke(app, ["show", str(log_path)])
    assert result.exit_code == 0 and result.output.count("access.denied") == 4
    result = runner.invoke(app, ["show", str(log_path), "--tail", "1"])
    assert result.output.count("access.denied") == 1 and "user3" in result.output
