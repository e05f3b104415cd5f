"""The benchmark's servers and baselines move every valid record exactly once (no timing)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import yaml

from apilink.config import parse_config
from apilink.mapping.mapper import RecordMapper
from apilink.validation import EMAIL_PATTERN
from bench.baselines import Counts, run_batch, run_per_record
from bench.configs import sync_config
from bench.servers import ApiServer, TargetLedger
from bench.users import (
    EMAIL_PATTERN as BENCH_EMAIL_PATTERN,
)
from bench.users import (
    is_valid_user,
    map_user,
    user,
    user_passes_rules,
    valid_count,
)


def test_baselines_check_the_same_email_rule_as_apilink() -> None:
    assert BENCH_EMAIL_PATTERN == EMAIL_PATTERN


def test_the_rules_quarantine_exactly_the_users_marked_invalid() -> None:
    assert [i for i in range(1, 1001) if user_passes_rules(user(i))] == [
        i for i in range(1, 1001) if is_valid_user(i)
    ]
    assert valid_count(1000) == 930


def test_baseline_mapping_equals_apilinks_mapping_of_the_bench_config() -> None:
    config = parse_config(
        yaml.safe_dump(
            sync_config(
                name="t",
                source_url="http://127.0.0.1:1",
                target_url="http://127.0.0.1:2",
                limit=10,
                batch=False,
                concurrency=4,
            )
        )
    )
    mapper = RecordMapper(config.mapping[0].fields)
    for i in (1, 2, 19, 999):
        assert mapper.map(user(i)) == map_user(user(i))


def test_ledger_counts_duplicates_strays_and_bad_shapes() -> None:
    ledger = TargetLedger()
    ledger.reset(30)
    good = map_user(user(1))
    ledger.accept(good)
    ledger.accept(good)
    ledger.accept({**good, "external_id": 20})  # user 20 has a bad email: never to arrive
    ledger.accept({**good, "external_id": 31})  # beyond the run
    ledger.accept({"external_id": 2})
    ledger.accept({**map_user(user(3)), "contact": {"email": "User3@Example.COM"}})
    stats = ledger.stats()
    assert (stats["received"], stats["unique"], stats["duplicates"]) == (6, 2, 1)
    assert (stats["unexpected"], stats["malformed"]) == (2, 2)


@pytest.fixture(scope="module")
def apis() -> Iterator[tuple[str, str]]:
    with ApiServer("source") as source, ApiServer("target") as target:
        yield source, target


def _stats_after(target: str, limit: int, run: object) -> tuple[Counts, dict[str, int]]:
    httpx.post(f"{target}/reset", params={"limit": limit}).raise_for_status()
    counts = asyncio.run(run)  # type: ignore[arg-type]
    return counts, httpx.get(f"{target}/stats").json()


def test_source_pages_users_computed_from_their_id(apis: tuple[str, str]) -> None:
    source, _ = apis
    last = httpx.get(f"{source}/users", params={"page": 3, "per_page": 500, "limit": 1200}).json()
    assert last["meta"] == {"page": 3, "next_page": None}
    assert last["data"] == [user(i) for i in range(1001, 1201)]


@pytest.mark.parametrize("case", ["per-record", "batch"])
def test_baseline_delivers_every_valid_record_once(apis: tuple[str, str], case: str) -> None:
    source, target = apis
    limit = 1_234
    expected = valid_count(limit)
    run = (
        run_per_record(source, target, limit, concurrency=8)
        if case == "per-record"
        else run_batch(source, target, limit, concurrency=4, batch_size=100)
    )
    counts, stats = _stats_after(target, limit, run)
    assert counts == Counts(limit, expected, limit - expected, expected, 0)
    assert stats["unique"] == stats["received"] == expected
    assert stats["duplicates"] == stats["unexpected"] == stats["malformed"] == 0
    per_page = [sum(map(is_valid_user, range(s, min(s + 500, limit + 1)))) for s in (1, 501, 1001)]
    batches = sum(-(-valid // 100) for valid in per_page)  # batches never span pages
    assert stats["requests"] == (expected if case == "per-record" else batches)
