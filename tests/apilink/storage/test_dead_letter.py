"""The dead-letter file: private, secret-free, replayed with the original keys."""

from __future__ import annotations

import asyncio
import json
import stat
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from typer.testing import CliRunner

from apilink.config.loader import parse_config
from apilink.config.models import EndpointConfig, RetryConfig
from apilink.http.sending import RetryPolicy
from apilink.run.loader import DeliveryFailure, Loader
from apilink.storage.dead_letter import DeadLetter, DeadLetterQueue, letters_from_failures, replay
from cli.dlq import app
from tests.fixtures.faulty import FaultyApis
from tests.servers.faulty import items


def letter(n: int, key: str | None = None, **extra: Any) -> DeadLetter:
    fields: dict[str, Any] = {
        "sync": "s",
        "mapping": "items->items",
        "target": "items",
        "stage": "load",
        "record": {"external_id": n, "name": f"item {n}", "email": f"i{n}@x.io"},
        "idempotency_key": key or f"key-{n}",
        "status": 503,
        "reason": "503 Service Unavailable",
        "failed_at": "2025-01-01T00:00:00+00:00",
        **extra,
    }
    return DeadLetter(**fields)


def test_append_read_and_mode(tmp_path: Path) -> None:
    queue = DeadLetterQueue(tmp_path / "dlq" / "s.dead-letter.jsonl")
    assert queue.read() == []
    assert queue.append([letter(1), letter(2)]) == 2
    queue.append([letter(3)])
    assert [x.record["external_id"] for x in queue.read()] == [1, 2, 3]
    assert stat.S_IMODE(queue.path.stat().st_mode) == 0o600


def test_secret_named_fields_are_sealed_in_the_file_and_clear_when_read(tmp_path: Path) -> None:
    queue = DeadLetterQueue(tmp_path / "s.dead-letter.jsonl", filter_fields=["pin"])
    secret = {"external_id": 9, "password": "pw-canary", "card_pin": "1234-canary"}
    queue.append([letter(9, record=secret)])
    queue.settle(delivered=[], failed=[])  # a rewrite keeps them sealed

    assert "canary" not in queue.path.read_text()
    assert queue.read()[0].record == secret
    assert stat.S_IMODE(Path(f"{queue.path}.key").stat().st_mode) == 0o600


def test_settle_removes_delivered_and_keeps_letters_added_meanwhile(tmp_path: Path) -> None:
    queue = DeadLetterQueue(tmp_path / "q.jsonl")
    queue.append([letter(1), letter(2)])
    snapshot = queue.read()
    queue.append([letter(3)])  # a sync wrote while the replay ran
    failed_again = [DeadLetter(**{**snapshot[1].__dict__, "attempts": 2})]
    queue.settle(delivered=[snapshot[0]], failed=failed_again)
    left = queue.read()
    assert [(x.record["external_id"], x.attempts) for x in left] == [(2, 2), (3, 1)]


def test_letters_hold_no_header() -> None:
    config = parse_config(
        yaml.safe_dump(
            {
                "source": {"base_url": "http://127.0.0.1:1", "endpoints": {"a": {"path": "/a"}}},
                "target": {"base_url": "http://127.0.0.1:2", "endpoints": {"b": {"path": "/b"}}},
                "mapping": [{"source": "a", "target": "b"}],
            }
        )
    )
    failure = DeliveryFailure({"id": 1}, 500, "500 Internal Server Error: oops", "k")
    (made,) = letters_from_failures(config, config.mapping[0], [failure])
    assert set(made.__dict__) == {
        "sync", "mapping", "target", "stage", "record", "idempotency_key", "status", "reason",
        "failed_at", "attempts",
    }  # fmt: skip


def _loader(apis: FaultyApis, client: httpx.AsyncClient, batch: bool = False) -> Loader:
    endpoint = EndpointConfig(path="/items", method="POST", batch=batch, batch_size=4)
    policy = RetryPolicy(RetryConfig(max_attempts=2))
    return Loader(client, "items", endpoint, policy, scope="s", concurrency=2)


def test_replay_uses_the_original_key_and_regroups_batches(
    faulty_apis: Callable[..., FaultyApis],
) -> None:
    apis = faulty_apis(items(1))
    apis.target.store("batch-key", [{"external_id": 1}])  # the first attempt did arrive
    letters = [letter(1, "batch-key"), letter(2, "batch-key"), letter(3, "single-key")]

    async def go() -> Any:
        headers = {"Authorization": f"Bearer {apis.token}"}
        async with httpx.AsyncClient(base_url=apis.target_url, headers=headers) as client:
            return await replay(letters, {"items": _loader(apis, client, batch=True)})

    result = asyncio.run(go())
    assert len(result.delivered) == 3 and result.failed == []
    assert apis.target.attempts == Counter({"batch-key": 1, "single-key": 1})
    assert apis.target.duplicates == 1  # the batch was sent once more, whole, and ignored


def test_cli_list_and_retry_keep_what_still_fails(
    faulty_apis: Callable[..., FaultyApis], tmp_path: Path
) -> None:
    apis = faulty_apis(items(1))
    config = apis.config(name="cli-dlq")
    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(config))
    queue = DeadLetterQueue.for_sync(
        parse_config(path.read_text(), env={"FAULTY_TARGET_TOKEN": "x"})
    )
    queue.append([letter(1), letter(2)])
    queue.append([letter(9, record={"external_id": 9, "name": "REJECT 9"})])

    runner = CliRunner()
    listed = runner.invoke(app, ["list", "-c", str(path)])
    assert listed.exit_code == 0, listed.output
    assert "3 dead letter(s)" in listed.output
    as_json = runner.invoke(app, ["list", "-c", str(path), "--json"])
    assert [json.loads(line)["record"]["external_id"] for line in as_json.output.splitlines()] == [
        1,
        2,
        9,
    ]

    retried = runner.invoke(app, ["retry", "-c", str(path)])
    assert retried.exit_code == 1  # one still fails
    assert "delivered 2, still failing 1" in retried.output
    (left,) = queue.read()
    assert left.record["external_id"] == 9 and left.status == 422 and left.attempts == 2
    text = queue.path.read_text()
    assert apis.token not in text and "Bearer" not in text
    assert sorted(r["external_id"] for r in apis.target.records) == [1, 2]


def test_read_masked_shows_no_sealed_value_and_needs_no_key(tmp_path: Path) -> None:
    queue = DeadLetterQueue(tmp_path / "s.dead-letter.jsonl")
    secret = {"external_id": 9, "password": "pw-canary", "nested": [{"token": "tok-canary"}]}
    queue.append([letter(9, record=secret)])
    Path(f"{queue.path}.key").unlink()  # the masked view never opens the key

    (shown,) = queue.read_masked()

    assert shown.record == {
        "external_id": 9,
        "password": "**********",
        "nested": [{"token": "**********"}],
    }
