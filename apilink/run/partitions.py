"""Split one large sync into partitions that run side by side as separate flow runs.

A config marks itself partitioned with a ``partitions:`` section, in one of three shapes:

```yaml
partitions:                 # page ranges of a page_number endpoint
  type: page_range
  count: 4
  first_page: 1
  last_page: 24             # the last partition reads on past it until the source ends

partitions:                 # id ranges sent as query parameters
  type: id_range
  count: 4
  start: 1
  stop: 100001              # exclusive
  lower_param: id_gte
  upper_param: id_lt

partitions:                 # one partition per value of a query parameter
  type: values
  param: region
  values: [eu, us, apac]
```

:func:`plan_partitions` turns the section into :class:`Partition` objects (pure, no I/O), and
:func:`partition_config` writes one partition into a copy of the *raw* config mapping, the one
still holding its ``${VAR}`` and ``secret://`` references, so what travels to a child run as a
parameter never holds a resolved secret.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apilink.errors import ConfigError
from apilink.run.partitions_config import (
    IdRangePartitions,
    PageRangePartitions,
    PartitionsConfig,
)

if TYPE_CHECKING:
    from apilink.config.models import SyncConfig

__all__ = [
    "Partition",
    "partition_config",
    "partitioned_endpoints",
    "plan_partitions",
    "split_range",
]


@dataclass(frozen=True)
class Partition:
    """One slice of a sync.

    Attributes:
        index: 0-based position in the plan.
        label: what it covers, for flow run names (``pages 7-12``, ``region=eu``).
        params: query parameters added to the split endpoint's requests.
        start_page: first page to read (page ranges only).
        max_pages: how many pages to read; ``None`` reads to the end.
    """

    index: int
    label: str
    params: dict[str, Any] = field(default_factory=dict)
    start_page: int | None = None
    max_pages: int | None = None


def split_range(start: int, stop: int, count: int) -> list[tuple[int, int]]:
    """``[start, stop)`` as at most ``count`` contiguous, non-empty ``(lo, hi)`` ranges.

    Sizes differ by at most one; fewer ranges come back when the span is shorter than ``count``.

    Raises:
        ValueError: for ``count < 1``.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    span = max(stop - start, 0)
    count = min(count, span)
    ranges: list[tuple[int, int]] = []
    lo = start
    for i in range(count):
        size = span // count + (1 if i < span % count else 0)
        ranges.append((lo, lo + size))
        lo += size
    return ranges


def plan_partitions(spec: PartitionsConfig) -> list[Partition]:
    """The partitions ``spec`` describes, in order; together they cover it exactly once."""
    if isinstance(spec, PageRangePartitions):
        ranges = split_range(spec.first_page, spec.last_page + 1, spec.count)
        page_parts: list[Partition] = []
        for i, (lo, hi) in enumerate(ranges):
            last = i == len(ranges) - 1
            open_end = last and spec.open_ended
            label = f"pages {lo}-" if open_end else f"pages {lo}-{hi - 1}"
            page_parts.append(
                Partition(i, label, start_page=lo, max_pages=None if open_end else hi - lo)
            )
        return page_parts
    if isinstance(spec, IdRangePartitions):
        ranges = split_range(spec.start, spec.stop, spec.count)
        id_parts: list[Partition] = []
        for i, (lo, hi) in enumerate(ranges):
            open_end = i == len(ranges) - 1 and spec.open_ended
            params: dict[str, Any] = {spec.lower_param: lo}
            if not open_end:
                params[spec.upper_param] = hi
            label = f"ids {lo}-" if open_end else f"ids {lo}-{hi - 1}"
            id_parts.append(Partition(i, label, params=params))
        return id_parts
    return [
        Partition(i, f"{spec.param}={value}", params={spec.param: value})
        for i, value in enumerate(spec.values)
    ]


def partitioned_endpoints(config: SyncConfig) -> list[str]:
    """The source endpoints a partition narrows, checked against the config.

    Raises:
        ConfigError: when the named endpoint is not a source endpoint, or a page range names an
            endpoint that is not paginated by page number.
    """
    spec = config.partitions
    if spec is None:
        return []
    if spec.endpoint is not None:
        if spec.endpoint not in config.source.endpoints:
            valid = ", ".join(sorted(config.source.endpoints)) or "(none defined)"
            raise ConfigError(
                f"`partitions.endpoint` names {spec.endpoint!r}, which `source.endpoints` does "
                f"not define; defined: {valid}"
            )
        names = [spec.endpoint]
    else:
        names = sorted({rule.source for rule in config.mapping})
    if isinstance(spec, PageRangePartitions):
        for name in names:
            pagination = config.source.endpoints[name].pagination
            kind = pagination.type if pagination is not None else "none"
            if kind != "page_number":
                raise ConfigError(
                    f"`partitions.type: page_range` needs `pagination.type: page_number` on "
                    f"source endpoint {name!r}; it has {kind!r}. Use `id_range` or `values`."
                )
    return names


def partition_config(
    raw: Mapping[str, Any], partition: Partition, endpoints: list[str]
) -> dict[str, Any]:
    """A copy of the raw config mapping that syncs only ``partition``.

    The ``partitions`` section is dropped (a child never fans out again); the sync's ``name`` is
    kept, so idempotency keys at the target do not depend on how the work was split.

    Args:
        raw: the config as written, ``${VAR}`` and ``secret://`` references unexpanded.
        partition: one entry of :func:`plan_partitions`.
        endpoints: the source endpoints to narrow (:func:`partitioned_endpoints`).
    """
    child = copy.deepcopy(dict(raw))
    child.pop("partitions", None)
    for name in endpoints:
        endpoint = child["source"]["endpoints"][name]
        if partition.params:
            endpoint["params"] = {**(endpoint.get("params") or {}), **partition.params}
        if partition.start_page is not None:
            pagination = dict(endpoint["pagination"])
            pagination["start_page"] = partition.start_page
            if partition.max_pages is None:
                pagination.pop("max_pages", None)
            else:
                pagination["max_pages"] = partition.max_pages
            endpoint["pagination"] = pagination
    return child
