"""`api_sync(...)` against a target that fails on purpose: a 403 mid-run stops the run with one
error and loses nothing, a record JSON cannot carry fails alone in a batch, and a 429/503
storm is ridden out by the default retry budget. Each run balances:
extracted = loaded + quarantined + failed."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import yaml

from apilink.config.loader import parse_config
from apilink.storage.dead_letter import DeadLetterQueue
from tests.fixtures.faulty import FaultyApis
from tests.fixtures.faulty import run_sync as run
from tests.servers.faulty import FaultPlan, items


def balanced(summary: dict[str, Any]) -> bool:
    counted = summary["loaded"] + summary["quarantined"] + summary["failed"]
    return bool(summary["extracted"] == counted)


def letters(config: dict[str, Any]) -> list[Any]:
    return DeadLetterQueue.for_sync(parse_config(yaml.safe_dump(config))).read()


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_a_403_mid_run_stops_it_at_once_and_a_rerun_delivers_the_rest_once(
    prefect_harness: str, faulty_apis: Callable[..., FaultyApis]
) -> None:
    apis = faulty_apis(items(60))
    apis.target.forbid_after = 30  # the key loses its permission half way
    config = apis.config(name=name("forbidden"), batch=True, chunk_size=20)

    summary, error = run(config)

    assert error is not None
    assert "\n" not in str(error)
    assert "target endpoint `items`" in str(error) and "answered 403 Forbidden" in str(error)
    assert "records were dead-lettered" not in str(error)
    assert balanced(summary) and summary["failed"] == 0
    # whole chunks before the cut are counted (the first, as a rule); the cut one is not
    loaded = summary["loaded"]
    assert loaded % 20 == 0 and loaded < 60
    assert letters(config) == []
    assert 30 <= len(apis.target.records) < 60  # 30, and what was in flight at the cut

    apis.target.forbid_after = None  # permission restored
    rerun, error = run(config)

    assert error is None
    assert rerun["resumed_chunks"] == loaded // 20
    assert rerun == {**rerun, "extracted": 60 - loaded, "loaded": 60 - loaded, "failed": 0}
    assert Counter(r["external_id"] for r in apis.target.records) == Counter(range(1, 61))
    # What of the cut chunk the target accepted was acknowledged within the chunk and is not
    # sent again; at most the requests in flight at the cut are (harmless under their keys).
    target = parse_config(yaml.safe_dump(config)).target
    in_flight = target.max_concurrency * target.endpoints["items"].batch_size
    assert apis.target.duplicates <= in_flight


def test_in_batch_mode_a_nan_record_is_set_aside_and_the_rest_of_its_batch_sent(
    prefect_harness: str, faulty_apis: Callable[..., FaultyApis]
) -> None:
    records = items(30)
    records[9]["name"] = float("inf")
    apis = faulty_apis(records)
    config = apis.config(name=name("nan-batch"), batch=True)

    summary, error = run(config)

    assert error is not None and "1 of 30 records were dead-lettered" in str(error)
    assert summary == {**summary, "extracted": 30, "loaded": 29, "failed": 1}
    assert balanced(summary)
    stored = Counter(r["external_id"] for r in apis.target.records)
    assert stored == Counter(i for i in range(1, 31) if i != 10)
    batches = sorted(len(batch) for batch in apis.target.stored.values())
    assert batches.count(3) == 1  # the batch of 4 that held it went with the other 3
    (letter,) = letters(config)
    assert letter.record["external_id"] == 10
    assert "`name` is inf" in letter.reason and letter.status is None


def test_a_storm_of_429_and_503_on_the_target_is_ridden_out_by_default(
    prefect_harness: str, faulty_apis: Callable[..., FaultyApis]
) -> None:
    storm = FaultPlan(
        seed=11, rate=0.4, kinds=("429", "503"), retry_after_seconds=0, max_per_key=10**6
    )
    apis = faulty_apis(items(40), target_plan=storm)
    config = apis.config(name=name("storm"), attempts=None)  # the default retry section

    summary, error = run(config)

    assert error is None
    assert summary == {**summary, "extracted": 40, "loaded": 40, "failed": 0}
    assert Counter(r["external_id"] for r in apis.target.records) == Counter(range(1, 41))
    assert max(storm.per_key.values()) >= 3  # more than three attempts were needed


def test_a_target_down_for_a_whole_deadline_stops_the_run_and_a_rerun_delivers(
    prefect_harness: str, faulty_apis: Callable[..., FaultyApis]
) -> None:
    down = FaultPlan(rate=1.0, kinds=("503",), retry_after_seconds=0, max_per_key=10**6)
    apis = faulty_apis(items(40), target_plan=down)
    config = apis.config(name=name("down"), attempts=None)
    config["target"]["timeout"] = {**config["target"]["timeout"], "deadline": 1.5}

    summary, error = run(config)

    assert error is not None and "\n" not in str(error)
    assert "target endpoint `items`" in str(error) and "answered 503" in str(error)
    assert "1.5 s deadline" in str(error) and "records were dead-lettered" not in str(error)
    assert balanced(summary) and summary["loaded"] == 0 and summary["failed"] == 0
    assert letters(config) == [] and apis.target.records == []

    down.rate = 0.0  # the target is back
    rerun, error = run(config)

    assert error is None
    assert rerun == {**rerun, "extracted": 40, "loaded": 40, "failed": 0}
    assert Counter(r["external_id"] for r in apis.target.records) == Counter(range(1, 41))
