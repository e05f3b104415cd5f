from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prefect.client.orchestration import get_client

from apilink.demo import demo_config_path
from flows.api_sync import api_sync
from tests.fixtures.apis import DemoApis


def run(**parameters: Any) -> dict[str, Any]:
    result: dict[str, Any] = asyncio.run(api_sync(**parameters))
    return result


def test_demo_sync_moves_every_valid_record_once(prefect_harness: str, demo_apis: DemoApis) -> None:
    summary = run(config_path=demo_config_path())

    bad = len(demo_apis.bad_users)
    assert bad == 8
    assert summary["extracted"] == 120
    assert summary["quarantined"] == bad
    assert summary["valid"] == summary["loaded"] == 120 - bad
    assert summary["failed"] == 0
    assert summary["quarantine_reasons"] == {"field `email` is not a valid email address": bad}

    received = demo_apis.inbox.records
    assert sorted(r["external_id"] for r in received) == sorted(
        u["id"] for u in demo_apis.users if "@" in u["email"]
    )
    first = next(r for r in received if r["external_id"] == 1)
    assert first == {
        "external_id": 1,
        "contact": {"email": "user1@example.com"},
        "name": {"first": "Ada1", "last": "Lovelace1"},
        "created_ts": 1704196800,
        "labels": ["demo"],
    }


def test_dry_run_sends_nothing(prefect_harness: str, demo_apis: DemoApis) -> None:
    summary = run(config_path=demo_config_path(), dry_run=True)
    assert summary["extracted"] == 120
    assert summary["valid"] == 112
    assert summary["loaded"] == 0
    assert demo_apis.inbox.requests == 0
    # What would be sent balances the run, and the first ten of it are shown.
    assert summary["balanced"] and summary["would_send"] == 112
    assert len(summary["preview"]) == 10


def test_counts_artifact_is_published(prefect_harness: str, demo_apis: DemoApis) -> None:
    run(config_path=demo_config_path())

    async def latest() -> Any:
        async with get_client() as client:
            return await client.read_latest_artifacts()

    artifacts = {a.key: a for a in asyncio.run(latest())}
    counts = artifacts["demo-counts"]
    assert counts.type == "table"
    rows = {row["stage"]: row["records"] for row in _table(counts.data)}
    assert rows == {
        "extracted": 120,
        "skipped": 0,
        "valid": 112,
        "quarantined": 8,
        "loaded": 112,
        "failed": 0,
    }
    assert demo_apis.token not in str(counts.data)
    assert "demo-quarantine" in artifacts


def _table(data: Any) -> list[dict[str, Any]]:
    import json

    return json.loads(data) if isinstance(data, str) else data


def test_unknown_endpoint_selection_fails_the_run(
    prefect_harness: str, demo_apis: DemoApis
) -> None:
    from apilink.errors import ConfigError

    with pytest.raises(ConfigError, match="list_users -> create_profile"):
        run(config_path=demo_config_path(), source_endpoint="nope")
    assert demo_apis.inbox.requests == 0
