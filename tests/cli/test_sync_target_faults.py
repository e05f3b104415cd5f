"""`apilink sync` (a subprocess) against a faulty source and target: a storm of 429/503 is
ridden out by the default retry budget, refused credentials stop the run with one error line
and lose nothing, and a record JSON cannot carry fails alone."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from apilink.config.loader import parse_config
from apilink.storage.dead_letter import DeadLetterQueue
from tests.cli.test_sync import apilink
from tests.fixtures.faulty import TOKEN_ENV, FaultyApis
from tests.servers.faulty import FaultPlan, items

STORM = {"rate": 0.4, "kinds": ("429", "503"), "retry_after_seconds": 0, "max_per_key": 10**6}


def sync(
    apis: FaultyApis, config: dict[str, Any], prefect: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], list[str]]:
    """Run `apilink sync --json`; the process, its summary and its `error:` lines."""
    path = apis.state_dir.parent / f"{config['name']}.yaml"
    path.write_text(yaml.safe_dump(config))
    done = apilink("sync", "-c", str(path), "--json", env={"PREFECT_API_URL": prefect, **env})
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    return done, summary, errors


def balanced(summary: dict[str, Any]) -> bool:
    return bool(
        summary["extracted"] == summary["loaded"] + summary["quarantined"] + summary["failed"]
    )


def letters(config: dict[str, Any]) -> list[Any]:
    return DeadLetterQueue.for_sync(parse_config(yaml.safe_dump(config))).read()


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_a_storm_of_429_and_503_is_ridden_out_by_the_default_retries(
    prefect_harness: str, faulty_apis: Callable[..., FaultyApis], batch: bool
) -> None:
    apis = faulty_apis(
        items(60),
        source_plan=FaultPlan(seed=5, **STORM),  # type: ignore[arg-type]
        target_plan=FaultPlan(seed=6, **STORM),  # type: ignore[arg-type]
    )
    config = apis.config(name=name("storm"), batch=batch, attempts=None)  # no retry section

    done, summary, errors = sync(apis, config, prefect_harness)

    assert done.returncode == 0, done.stderr[-2000:]
    assert errors == []
    assert summary == {**summary, "extracted": 60, "loaded": 60, "failed": 0}
    assert balanced(summary)
    assert Counter(r["external_id"] for r in apis.target.records) == Counter(range(1, 61))
    # faults enough that three attempts would not have done: some key met three in a row
    assert apis.source_plan.injected.total() + apis.target.plan.injected.total() >= 10
    assert max([*apis.source_plan.per_key.values(), *apis.target.plan.per_key.values()]) >= 3


def test_a_wrong_target_key_stops_the_run_with_one_error_line_and_a_rerun_sends_all(
    prefect_harness: str, faulty_apis: Callable[..., FaultyApis]
) -> None:
    apis = faulty_apis(items(53))
    config = apis.config(name=name("wrong-key"))
    wrong = "wrong-" + apis.token

    done, summary, errors = sync(apis, config, prefect_harness, **{TOKEN_ENV: wrong})

    assert done.returncode == 1
    assert len(errors) == 1, done.stderr[-3000:]
    assert "target endpoint `items`" in errors[0] and "answered 401 Unauthorized" in errors[0]
    assert "records were dead-lettered" not in errors[0]
    assert "Traceback" not in done.stderr  # not in the run's log either
    assert wrong not in done.stdout + done.stderr and apis.token not in done.stderr
    assert balanced(summary) and summary["failed"] == 0 and summary["loaded"] == 0
    assert letters(config) == []  # nothing dead-lettered one by one
    assert apis.target.records == []

    done, summary, errors = sync(apis, config, prefect_harness)  # the right key again

    assert done.returncode == 0, done.stderr[-2000:]
    assert summary == {**summary, "extracted": 53, "loaded": 53, "failed": 0}
    assert Counter(r["external_id"] for r in apis.target.records) == Counter(range(1, 54))


def test_a_nan_among_records_sent_one_by_one_fails_alone(
    prefect_harness: str, faulty_apis: Callable[..., FaultyApis], tmp_path: Path
) -> None:
    records = items(10)
    records[4]["name"] = float("nan")
    apis = faulty_apis(records)
    config = apis.config(name=name("nan"))

    done, summary, errors = sync(apis, config, prefect_harness)

    assert done.returncode == 1
    assert len(errors) == 1 and "1 of 10 records were dead-lettered" in errors[0]
    assert summary == {**summary, "extracted": 10, "loaded": 9, "failed": 1}
    assert balanced(summary)
    stored = Counter(r["external_id"] for r in apis.target.records)
    assert stored == Counter(i for i in range(1, 11) if i != 5)
    (letter,) = letters(config)
    assert letter.record["external_id"] == 5
    assert "cannot encode as JSON: `name` is nan" in letter.reason
