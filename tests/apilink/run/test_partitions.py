from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from apilink.config import parse_config
from apilink.errors import ConfigError
from apilink.run.partitions import (
    partition_config,
    partitioned_endpoints,
    plan_partitions,
    split_range,
)
from apilink.run.partitions_config import (
    IdRangePartitions,
    PageRangePartitions,
    PartitionsConfig,
    ValuePartitions,
)

DEMO = Path(__file__).resolve().parents[3] / "deployments" / "demo_partitioned.yaml"
ENV = {
    "DEMO_SOURCE_URL": "http://127.0.0.1:9001",
    "DEMO_TARGET_URL": "http://127.0.0.1:9002",
    "DEMO_SOURCE_TOKEN": "canary-token",
}
spec_of: TypeAdapter[Any] = TypeAdapter(PartitionsConfig)


@pytest.mark.parametrize(
    ("start", "stop", "count", "expected"),
    [
        (1, 25, 4, [(1, 7), (7, 13), (13, 19), (19, 25)]),
        (0, 10, 3, [(0, 4), (4, 7), (7, 10)]),
        (5, 7, 4, [(5, 6), (6, 7)]),
        (3, 3, 2, []),
    ],
)
def test_split_range_covers_the_span_once(
    start: int, stop: int, count: int, expected: list[tuple[int, int]]
) -> None:
    assert split_range(start, stop, count) == expected


def test_split_range_refuses_zero_parts() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        split_range(0, 10, 0)


def test_page_range_plan_reads_every_page_once_and_the_last_reads_on() -> None:
    plan = plan_partitions(
        PageRangePartitions(type="page_range", count=4, first_page=1, last_page=24)
    )
    assert [(p.start_page, p.max_pages) for p in plan] == [(1, 6), (7, 6), (13, 6), (19, None)]
    assert [p.label for p in plan] == ["pages 1-6", "pages 7-12", "pages 13-18", "pages 19-"]


def test_closed_page_range_bounds_the_last_partition() -> None:
    plan = plan_partitions(
        PageRangePartitions(type="page_range", count=2, last_page=5, open_ended=False)
    )
    assert [(p.start_page, p.max_pages) for p in plan] == [(1, 3), (4, 2)]


def test_id_range_plan_sends_half_open_bounds() -> None:
    plan = plan_partitions(
        IdRangePartitions(type="id_range", count=3, start=0, stop=9, upper_param="before")
    )
    assert [p.params for p in plan] == [
        {"id_gte": 0, "before": 3},
        {"id_gte": 3, "before": 6},
        {"id_gte": 6, "before": 9},
    ]


def test_open_id_range_drops_the_last_upper_bound() -> None:
    plan = plan_partitions(
        IdRangePartitions(type="id_range", count=2, start=0, stop=10, open_ended=True)
    )
    assert plan[-1].params == {"id_gte": 5}
    assert plan[-1].label == "ids 5-"


def test_values_plan_has_one_partition_per_value() -> None:
    plan = plan_partitions(ValuePartitions(type="values", param="region", values=["eu", "us"]))
    assert [(p.label, p.params) for p in plan] == [
        ("region=eu", {"region": "eu"}),
        ("region=us", {"region": "us"}),
    ]


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"type": "page_range", "count": 2, "first_page": 5, "last_page": 4}, "last_page"),
        ({"type": "id_range", "count": 2, "start": 5, "stop": 5}, "stop"),
        ({"type": "values", "param": "r", "values": ["eu", "eu"]}, "repeat"),
        ({"type": "values", "param": "r", "values": []}, "at least 1"),
        ({"type": "page_range", "count": 0, "last_page": 4}, "greater than or equal"),
        ({"type": "pages", "count": 2}, "does not match any of the expected tags"),
    ],
)
def test_bad_sections_are_refused(section: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        spec_of.validate_python(section)


def _demo_raw() -> dict[str, Any]:
    raw = yaml.safe_load(DEMO.read_text())
    assert isinstance(raw, dict)
    return raw


def test_partition_config_narrows_the_raw_config_and_keeps_references() -> None:
    raw = _demo_raw()
    config = parse_config(DEMO.read_text(), env=ENV)
    endpoints = partitioned_endpoints(config)
    plan = plan_partitions(config.partitions)  # type: ignore[arg-type]
    assert endpoints == ["list_users"]

    child = partition_config(raw, plan[1], endpoints)

    assert "partitions" not in child
    pagination = child["source"]["endpoints"]["list_users"]["pagination"]
    assert (pagination["start_page"], pagination["max_pages"]) == (7, 6)
    assert child["source"]["auth"]["token"] == "${DEMO_SOURCE_TOKEN}"
    assert "canary-token" not in yaml.safe_dump(child)
    assert child["name"] == raw["name"]
    assert "start_page" not in raw["source"]["endpoints"]["list_users"]["pagination"]
    # the child is itself a valid, unpartitioned config
    assert parse_config(yaml.safe_dump(child), env=ENV).partitions is None


def test_partition_config_adds_query_params() -> None:
    raw = _demo_raw()
    plan = plan_partitions(ValuePartitions(type="values", param="region", values=["eu"]))
    child = partition_config(raw, plan[0], ["list_users"])
    assert child["source"]["endpoints"]["list_users"]["params"] == {"per_page": 25, "region": "eu"}


def test_open_last_partition_drops_an_inherited_page_cap() -> None:
    raw = _demo_raw()
    raw["source"]["endpoints"]["list_users"]["pagination"]["max_pages"] = 3
    last = plan_partitions(PageRangePartitions(type="page_range", count=2, last_page=4))[-1]
    child = partition_config(raw, last, ["list_users"])
    assert "max_pages" not in child["source"]["endpoints"]["list_users"]["pagination"]


def test_partitioned_endpoints_names_an_unknown_endpoint() -> None:
    raw = _demo_raw()
    raw["partitions"]["endpoint"] = "list_orders"
    config = parse_config(yaml.safe_dump(raw), env=ENV)
    with pytest.raises(ConfigError, match=r"'list_orders'.*defined: list_users"):
        partitioned_endpoints(config)


def test_page_range_needs_page_number_pagination() -> None:
    raw = _demo_raw()
    raw["source"]["endpoints"]["list_users"]["pagination"] = {"type": "cursor"}
    config = parse_config(yaml.safe_dump(raw), env=ENV)
    with pytest.raises(ConfigError, match=r"page_number.*'cursor'"):
        partitioned_endpoints(config)


def test_unpartitioned_config_has_no_partitioned_endpoints() -> None:
    raw = _demo_raw()
    raw.pop("partitions")
    assert partitioned_endpoints(parse_config(yaml.safe_dump(raw), env=ENV)) == []
