from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from apilink.audit import AuditLog
from cli.audit import app

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
    assert result.exit_code == 2 and "none.log: no audit log there" in result.output
    (tmp_path / "keyless.log").write_text("")
    result = runner.invoke(app, ["verify", str(tmp_path / "keyless.log")])
    assert result.exit_code == 2 and "no audit key" in result.output


def test_show_and_tail(log_path: Path) -> None:
    result = runner.invoke(app, ["show", str(log_path)])
    assert result.exit_code == 0 and result.output.count("access.denied") == 4
    result = runner.invoke(app, ["show", str(log_path), "--tail", "1"])
    assert result.output.count("access.denied") == 1 and "user3" in result.output


@pytest.mark.parametrize("where", ["top", "details"])
def test_verify_rejects_a_duplicated_key_naming_the_line(log_path: Path, where: str) -> None:
    """Route: the CLI. A line whose MAC covers ``"actor":"user3"`` but that first says
    ``"actor":"mallory"`` (what a first-key-wins reader shows) is refused, naming the line."""
    lines = log_path.read_text().splitlines(keepends=True)
    if where == "top":
        forged = lines[3].replace('{"action"', '{"actor": "mallory", "action"', 1)
        key = "actor"
    else:
        forged = lines[3].replace('"details": {}', '"details": {"x": 1, "x": 1}', 1)
        key = "x"
    assert forged != lines[3]
    log_path.write_text("".join([*lines[:3], forged]))

    result = runner.invoke(app, ["verify", str(log_path)])

    assert result.exit_code == 1
    assert f"line 4: the key '{key}' appears twice" in result.output
    shown = runner.invoke(app, ["show", str(log_path)])
    assert shown.exit_code == 1 and "mallory" not in shown.output
