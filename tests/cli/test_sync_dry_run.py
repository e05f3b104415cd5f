"""``apilink sync --dry-run`` against a third-party API (json-server): nothing is sent, the
counts say what would be, the first mapped records are shown masked as the quarantine masks
them, in the terminal, in ``--json`` and as a Prefect table artifact; no false "UNBALANCED"."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml

from apilink.redaction import MASK
from tests.cli.test_sync import apilink
from tests.cli.test_sync_sources import JSON_SERVER_PAGES, _config
from tests.fixtures.json_server import JsonServer
from tests.security.prefect_api import read_run


def _dry_config(json_server: JsonServer) -> dict[str, Any]:
    pages = {**JSON_SERVER_PAGES, "page_size": 10, "total_header": "X-Total-Count"}
    config = _config(json_server.url, json_server.url, pages)
    config["target"]["auth"] = {"type": "bearer", "token": "${DRY_RUN_CANARY}"}
    config["mapping"][0]["fields"] += [
        {"source": "email", "target": "password"},  # a secret name: masked whatever it holds
        {"target": "note", "value": "${DRY_RUN_CANARY}"},  # a run secret: masked
    ]
    return config


def _dry_run(
    tmp_path: Path, json_server: JsonServer, harness: str, *flags: str
) -> tuple[int, str, str, str]:
    canary = "canary-" + secrets.token_hex(12)
    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(_dry_config(json_server)))
    done = apilink(
        "sync",
        "-c",
        str(path),
        "--dry-run",
        *flags,
        env={"PREFECT_API_URL": harness, "DRY_RUN_CANARY": canary},
    )
    return done.returncode, done.stdout, done.stderr, canary


def test_a_dry_run_previews_what_it_would_send_and_sends_nothing(
    prefect_harness: str, json_server: JsonServer, tmp_path: Path
) -> None:
    code, out, err, canary = _dry_run(tmp_path, json_server, prefect_harness, "--json")
    assert code == 0, err
    outcome = json.loads(out)
    assert outcome["dry_run"] is True
    assert (outcome["extracted"], outcome["would_send"], outcome["loaded"]) == (45, 45, 0)
    assert json_server.records("profiles") == []
    assert not [line for line in json_server.requests() if not line.startswith("GET ")]
    preview = outcome["preview"]
    assert [row["user_id"] for row in preview] == list(range(1, 11))
    assert {row["endpoint"] for row in preview} == {"create_profile"}
    assert all(row["password"] == MASK and row["note"] == MASK for row in preview)
    assert all("@" in row["email"] for row in preview)
    assert "UNBALANCED" not in err and "UNBALANCED" not in out
    assert canary not in out and canary not in err

    # The Prefect run holds the same preview as a table artifact, and no canary anywhere.
    run = read_run(UUID(outcome["run_id"]))
    tables = [a for a in run.artifacts if a.get("key") == "users-to-profiles-dry-run-preview"]
    assert len(tables) == 1
    rows = tables[0]["data"]
    rows = json.loads(rows) if isinstance(rows, str) else rows
    assert [row["user_id"] for row in rows] == list(range(1, 11))
    for label, text in run.texts():
        assert canary not in text, label


def test_the_terminal_summary_says_what_would_be_sent(
    prefect_harness: str, json_server: JsonServer, tmp_path: Path
) -> None:
    code, out, err, canary = _dry_run(tmp_path, json_server, prefect_harness)
    assert code == 0, err
    assert "Dry run: nothing was sent; 45 records would be." in out
    shown = [line for line in out.splitlines() if line.startswith("  create_profile: ")]
    assert len(shown) == 10
    assert f'"password": "{MASK}"' in shown[0] and canary not in out + err
    assert "UNBALANCED" not in out + err
