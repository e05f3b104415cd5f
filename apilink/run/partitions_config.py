"""The ``partitions`` section of a sync config: how one large sync is split (see
:mod:`apilink.run.partitions` for the plan and the child configs).

It imports no config model, so :mod:`apilink.config.models` can compose it without a cycle.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["IdRangePartitions", "PageRangePartitions", "PartitionsConfig", "ValuePartitions"]

_MAX_PARTITIONS = 1_000


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str | None = Field(
        None,
        description="The source endpoint to split; every source endpoint of the mapping when "
        "unset.",
    )


class PageRangePartitions(_Spec):
    """Pages ``first_page..last_page`` of a ``page_number`` endpoint, in ``count`` ranges."""

    type: Literal["page_range"]
    count: int = Field(ge=1, le=_MAX_PARTITIONS)
    first_page: int = Field(1, ge=0)
    last_page: int = Field(ge=0)
    open_ended: bool = Field(
        True,
        description="The last partition reads on until the source has no more pages, so records "
        "added since `last_page` was estimated are not left behind.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> PageRangePartitions:
        if self.last_page < self.first_page:
            raise ValueError("`last_page` must not be before `first_page`")
        return self


class IdRangePartitions(_Spec):
    """Ids ``start <= id < stop`` in ``count`` ranges, sent as two query parameters."""

    type: Literal["id_range"]
    count: int = Field(ge=1, le=_MAX_PARTITIONS)
    start: int
    stop: int
    lower_param: str = Field("id_gte", description="Query parameter of the inclusive lower bound.")
    upper_param: str = Field("id_lt", description="Query parameter of the exclusive upper bound.")
    open_ended: bool = Field(
        False, description="The last partition sends no upper bound (ids at or past `stop`)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> IdRangePartitions:
        if self.stop <= self.start:
            raise ValueError("`stop` must be greater than `start`")
        return self


class ValuePartitions(_Spec):
    """One partition per value of the query parameter ``param``."""

    type: Literal["values"]
    param: str
    values: list[str | int] = Field(min_length=1, max_length=_MAX_PARTITIONS)

    @model_validator(mode="after")
    def _distinct(self) -> ValuePartitions:
        if len(set(self.values)) != len(self.values):
            raise ValueError("`values` must not repeat a value (a record would move twice)")
        return self


PartitionsConfig = Annotated[
    PageRangePartitions | IdRangePartitions | ValuePartitions, Field(discriminator="type")
]
