"""What a run leaves behind: the quarantine file and artifacts, the progress bar, the
``max_invalid_ratio`` verdict; and where a run's config and checkpoint come from (a saved
``SyncConfig`` block, a partition label)."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.orchestration import get_client

from apilink.config import build_config
from apilink.demo import demo_config_path
from apilink.errors import SyncIncomplete
from blocks.sync_config import SyncConfig as SyncConfigBlock
from flows.api_sync import api_sync
from flows.reporting import summary_markdown
from tasks.checkpoint import choose_state_store
from tests.fixtures.apis import DemoApis


def demo_raw(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(Path(demo_config_path()).read_text())
    raw.update(changes)
    return raw


def run(**parameters: Any) -> dict[str, Any]:
    result: dict[str, Any] = asyncio.run(api_sync(**parameters))
    return result


def latest_artifacts() -> dict[str, Any]:
    async def read() -> Any:
        async with get_client() as client:
            return await client.read_latest_artifacts()

    return {a.key: a for a in asyncio.run(read())}


def _data(artifact: Any) -> Any:
    return json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data


def test_quarantined_records_go_to_a_private_file_masked(
    prefect_harness: str, demo_apis: DemoApis, _state_dir: Path
) -> None:
    summary = run(config_path=demo_config_path())

    path = Path(summary["quarantine_file"])
    assert path.is_relative_to(_state_dir / "quarantine" / "demo")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == summary["quarantined"] == 8
    assert {line["record"]["id"] for line in lines} == {u["id"] for u in demo_apis.bad_users}
    assert all(line["reasons"] == ["field `email` is not a valid email address"] for line in lines)
    assert all(line["endpoint"] == "list_users" and line["chunk"] == 0 for line in lines)
    assert demo_apis.token not in path.read_text()


def test_artifacts_show_counts_reasons_first_rows_and_progress(
    prefect_harness: str, demo_apis: DemoApis
) -> None:
    bad_emails = [u["email"] for u in demo_apis.bad_users]
    summary = run(config_path=demo_config_path())

    artifacts = latest_artifacts()
    rows = _data(artifacts["demo-quarantined-rows"])
    assert len(rows) == 8
    assert set(rows[0]) == {"row", "endpoint", "chunk", "key", "reasons"}
    bad_ids = [u["id"] for u in demo_apis.bad_users]
    assert [row["key"] for row in rows] == [f"id={n}" for n in bad_ids]
    assert not any(email in str(rows) for email in bad_emails)
    markdown = artifacts["demo-quarantine"].data
    assert "extracted 120 = loaded 112 + quarantined 8 + dead-lettered 0" in markdown
    assert "field `email` is not a valid email address | 8" in markdown
    assert summary["quarantine_file"] in markdown
    progress = artifacts["demo-progress"]
    assert progress.type == "progress"
    assert float(progress.data) == 100.0
    assert "done: extracted 120" in (progress.description or "")
    for artifact in artifacts.values():
        shown = f"{artifact.data} {artifact.description}"
        assert demo_apis.token not in shown
        assert not any(email in shown for email in bad_emails)  # reasons, never values


def test_max_invalid_ratio_exceeded_loads_nothing_of_the_deciding_chunk(
    prefect_harness: str, demo_apis: DemoApis
) -> None:
    raw = demo_raw()
    raw["mapping"][0]["validation"]["max_invalid_ratio"] = 0.05

    with pytest.raises(SyncIncomplete) as caught:
        run(config=raw)

    message = str(caught.value)
    assert "8 of 120 records of list_users failed validation (6.7%)" in message
    assert "`max_invalid_ratio` allows 5.0%" in message
    assert "chunk #0 (120 records) not loaded" in message
    assert demo_apis.inbox.requests == 0
    assert caught.value.summary.balanced


def test_max_invalid_ratio_within_bounds_runs_through(
    prefect_harness: str, demo_apis: DemoApis
) -> None:
    raw = demo_raw()
    raw["mapping"][0]["validation"]["max_invalid_ratio"] = 0.1
    assert run(config=raw)["loaded"] == 112


def test_max_invalid_ratio_is_judged_on_all_chunks_before_the_last_is_loaded(
    prefect_harness: str, demo_apis: DemoApis
) -> None:
    raw = demo_raw(chunk_size=50)
    raw["mapping"][0]["validation"]["max_invalid_ratio"] = 0.05

    with pytest.raises(SyncIncomplete) as caught:
        run(config=raw)

    summary = caught.value.summary
    # Chunks #0 and #1 (100 records) were loaded; the last one decided and was held back.
    assert summary.extracted == 100
    assert summary.balanced
    assert "chunk #2 (20 records) not loaded" in str(caught.value)
    assert len(demo_apis.inbox.records) == summary.loaded


def test_a_saved_sync_config_block_runs_by_name(prefect_harness: str, demo_apis: DemoApis) -> None:
    SyncConfigBlock(config_yaml=Path(demo_config_path()).read_text()).save(
        "demo-from-block", overwrite=True
    )
    assert run(config_block="demo-from-block")["loaded"] == 112


def test_a_missing_block_and_two_config_sources_are_clear_errors(prefect_harness: str) -> None:
    from apilink.errors import ConfigError

    with pytest.raises(ConfigError, match="no SyncConfig block named 'nope'"):
        run(config_block="nope")
    with pytest.raises(ConfigError, match="give exactly one of `config_path`"):
        run(config_path=demo_config_path(), config_block="nope")


def test_partitions_keep_their_own_checkpoints(prefect_harness: str, demo_apis: DemoApis) -> None:
    raw = demo_raw(name="partition-demo", chunk_size=25)
    raw["target"]["base_url"] = "http://127.0.0.1:9"  # nothing listens: the first load fails
    raw["target"]["retry"] = {"max_attempts": 1}
    with pytest.raises(SyncIncomplete):
        run(config=raw, partition="pages 1-2")

    store = choose_state_store(build_config(raw))
    try:
        state = store.load("partition-demo#pages 1-2")
        assert state is not None and state["mappings"]
        assert store.load("partition-demo") is None
    finally:
        store.delete("partition-demo#pages 1-2")


def test_summary_markdown_escapes_table_cells() -> None:
    from apilink.run.summary import SyncSummary

    summary = SyncSummary(extracted=1, quarantined=1, quarantine_reasons={"a | b": 1})
    assert "| a \\| b | 1 |" in summary_markdown(summary, "x")


def test_a_source_rate_limit_runs_through_a_prefect_global_limit(
    prefect_harness: str, demo_apis: DemoApis
) -> None:
    raw = demo_raw()
    raw["source"]["rate_limit"] = {"requests_per_second": 50, "name": "demo-source-limit"}
    assert run(config=raw)["loaded"] == 112

    async def read() -> Any:
        async with get_client() as client:
            return await client.read_global_concurrency_limit_by_name("demo-source-limit")

    limit = asyncio.run(read())
    assert limit.limit == 50
    assert limit.slot_decay_per_second == 50


def test_the_log_file_tells_a_failed_credential_without_the_password(
    prefect_harness: str, demo_apis: DemoApis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apilink.credentials import EncryptedFileStore
    from apilink.credentials.kdf import SCRYPT_FLOOR
    from apilink.errors import CredentialError

    store = tmp_path / "creds.enc"
    EncryptedFileStore(store, "the-right-one", kdf_params=SCRYPT_FLOOR).put(
        "demo_source", {"token": demo_apis.token}
    )
    wrong = "wrong-password-canary-7f3a"
    monkeypatch.setenv("APILINK_MASTER_PASSWORD", wrong)
    raw = demo_raw()
    raw["source"]["auth"]["token"] = "secret://demo_source#token"
    raw["credentials"] = {"type": "file", "path": str(store)}
    raw["logging"]["file"] = str(tmp_path / "sync.log")

    with pytest.raises(CredentialError):
        run(config=raw)

    text = (tmp_path / "sync.log").read_text()
    assert "cannot decrypt the credential file: wrong master password" in text
    assert wrong not in text
    assert stat.S_IMODE((tmp_path / "sync.log").stat().st_mode) == 0o600
